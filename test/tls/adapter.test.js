"use strict";

// The adapters over TLS: a real redis-server with only a TLS port for the adapters (its plain port is for
// the test's own tools), certificates the test made with the openssl CLI (test/helpers/tls.js), servers with
// socket.io-client clients. Broadcasts, rooms, requests between servers, the sharded adapter, payloads that
// take many TLS records, and Redis killed and restarted under TLS (flows again within 2 s).

const assert = require("node:assert/strict");
const { startRedis, waitForSubscribers, isRedisAvailable } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { sleep, waitFor } = require("../helpers/util");
const { certs } = require("../helpers/tls");
const lib = require("../..");

// Emits `event` from `io` every 50 ms until `client` receives it; resolves with the time taken.
function pollUntilReceived(io, client, event, limitMs) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    let n = 0;
    const timer = setInterval(() => {
      if (Date.now() - start > limitMs) {
        cleanup();
        reject(new Error(`'${event}' not received within ${limitMs} ms (${n} emits)`));
        return;
      }
      io.emit(event, ++n);
    }, 50);
    const handler = () => {
      cleanup();
      resolve(Date.now() - start);
    };
    function cleanup() {
      clearInterval(timer);
      client.off(event, handler);
    }
    client.on(event, handler);
    io.emit(event, ++n);
  });
}

describe("TLS: adapters across Socket.IO servers over rediss://", function () {
  this.timeout(30000);
  let redis;
  let cluster;
  let errors;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    redis = await startRedis({ tls: {} });
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  afterEach(async function () {
    if (cluster) await cluster.closeAll();
    cluster = null;
  });

  // A factory whose client's errors are collected (and which verifies the server against the test CA).
  function factory(make, opts) {
    const f = make({ url: redis.tlsUrl, tls: { ca: certs().ca } }, opts);
    f.on("error", (err) => errors.push(err));
    return f;
  }

  beforeEach(function () {
    errors = [];
  });

  it("broadcasts, rooms and requests between 3 servers, with socket.io-client clients", async function () {
    cluster = await createServers({ count: 3, adapter: () => factory(lib.createAdapter) });
    await waitForSubscribers(redis.port, 3);
    const clients = [await cluster.connect(0), await cluster.connect(1), await cluster.connect(2)];
    cluster.serverSocket(2, clients[2]).join("room");

    const got = clients.map(() => []);
    clients.forEach((c, i) => c.on("hello", (v) => got[i].push(v)));
    cluster.ios[0].emit("hello", "all");
    cluster.ios[1].to("room").emit("hello", "room");
    await waitFor(() => got[0].length === 1 && got[1].length === 1 && got[2].length === 2, 3000, { what: "deliveries" });
    assert.deepEqual(got, [["all"], ["all"], ["all", "room"]]);

    const sockets = await cluster.ios[0].fetchSockets();
    assert.equal(sockets.length, 3);
    assert.deepEqual((await cluster.ios[1].in("room").fetchSockets()).map((s) => s.id), [clients[2].id]);
    cluster.ios[1].on("ask", (n, cb) => cb(n * 2));
    cluster.ios[2].on("ask", (n, cb) => cb(n * 3));
    assert.deepEqual((await cluster.ios[0].serverSideEmitWithAck("ask", 7)).sort(), [14, 21]);
    clients.forEach((c) => c.on("ack-me", (cb) => cb(c.id)));
    const acks = await cluster.ios[1].timeout(2000).emitWithAck("ack-me");
    assert.deepEqual(acks.sort(), clients.map((c) => c.id).sort());
    assert.deepEqual(errors, []);
  });

  it("carries payloads of many TLS records both ways (1 MiB broadcasts)", async function () {
    cluster = await createServers({ count: 2, adapter: () => factory(lib.createAdapter) });
    await waitForSubscribers(redis.port, 2);
    const b = await cluster.connect(1);
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const received = [];
    b.on("big", (buf, i) => received.push([Buffer.from(buf), i]));
    for (let i = 0; i < 5; i++) cluster.ios[0].emit("big", big, i);
    await waitFor(() => received.length === 5, 10000, { what: "5 large broadcasts" });
    for (const [buf, i] of received) assert.ok(buf.equals(big), `payload ${i} intact`);
    assert.deepEqual(
      received.map((r) => r[1]),
      [0, 1, 2, 3, 4],
    );
  });

  it("the sharded adapter (SSUBSCRIBE / SPUBLISH) over TLS", async function () {
    cluster = await createServers({ count: 2, adapter: () => factory(lib.createShardedAdapter, { subscriptionMode: "dynamic" }) });
    const a = await cluster.connect(0);
    const b = await cluster.connect(1);
    cluster.serverSocket(1, b).join("r1");
    await sleep(100);
    const t = await pollUntilReceived(cluster.ios[0].to("r1"), b, "sharded", 5000);
    assert.ok(t < 2000);
    const got = [];
    a.on("all", (v) => got.push(["a", v]));
    b.on("all", (v) => got.push(["b", v]));
    cluster.ios[1].emit("all", 1);
    await waitFor(() => got.length === 2, 3000, { what: "a broadcast to all" });
    assert.equal((await cluster.ios[0].fetchSockets()).length, 2);
    assert.deepEqual(errors, []);
  });

  it("broadcasts flow again within 2 s after Redis is killed and restarted under TLS", async function () {
    cluster = await createServers({ count: 2, adapter: () => factory(lib.createAdapter) });
    await waitForSubscribers(redis.port, 2);
    const a = await cluster.connect(0);
    const b = await cluster.connect(1);
    await pollUntilReceived(cluster.ios[0], b, "before", 3000);

    await redis.kill("SIGKILL");
    for (let i = 0; i < 5; i++) {
      cluster.ios[0].emit("during", i);
      await sleep(20);
    }
    await sleep(300);
    await redis.restart();
    const restartedAt = Date.now();
    const ab = await pollUntilReceived(cluster.ios[0], b, "after-ab", 5000);
    const ba = await pollUntilReceived(cluster.ios[1], a, "after-ba", 5000);
    const elapsed = Date.now() - restartedAt;
    assert.ok(elapsed < 2000, `broadcasts resumed ${elapsed} ms after the restart (0->1 ${ab} ms, 1->0 ${ba} ms)`);
    await waitForSubscribers(redis.port, 2, { timeoutMs: 2000 });
    assert.ok(errors.length > 0, "the outage was reported");
    for (const err of errors) assert.match(err.code, /^E[A-Z]+$/, `a connection error, not a TLS one: ${err.code} ${err.message}`);
  });
});
