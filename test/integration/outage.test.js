"use strict";

// Redis is killed (SIGKILL) and restarted on the same port: broadcasts between two servers must
// flow again within 2 s of the restart, with no application code involved.

const assert = require("node:assert/strict");
const { startRedis, waitForSubscribers, isRedisAvailable } = require("../helpers/redis");
const { implementation } = require("../helpers/adapters");
const { createServers } = require("../helpers/servers");
const { sleep, waitFor } = require("../helpers/util");

const impl = implementation();

// Emits `event` from `io` every 50 ms until `client` receives it; resolves with the time taken.
function pollUntilReceived(io, client, event, limitMs) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    let n = 0;
    const handler = () => {
      cleanup();
      resolve(Date.now() - start);
    };
    const timer = setInterval(() => {
      if (Date.now() - start > limitMs) {
        cleanup();
        reject(new Error(`'${event}' not received within ${limitMs} ms (${n} emits)`));
        return;
      }
      n++;
      io.emit(event, n);
    }, 50);
    function cleanup() {
      clearInterval(timer);
      client.off(event, handler);
    }
    client.on(event, handler);
    n++;
    io.emit(event, n);
  });
}

describe(`Redis outage and restart [${impl.name}]`, function () {
  this.timeout(20000);
  let redis;
  let cluster;

  before(async function () {
    if (impl.subscribes === false) this.skip();
    if (!(await isRedisAvailable())) this.skip(); // no redis-server on this machine
  });

  beforeEach(async function () {
    redis = await startRedis();
    cluster = await createServers({ count: 2, adapter: () => impl.factory(redis.url) });
    await waitForSubscribers(redis.port, 2);
  });

  afterEach(async function () {
    if (cluster) await cluster.closeAll();
    await impl.cleanup();
    if (redis) await redis.stop();
  });

  it("broadcasts flow again within 2 s after Redis is killed and restarted", async function () {
    const a = await cluster.connect(0);
    const b = await cluster.connect(1);

    // works before
    await pollUntilReceived(cluster.ios[0], b, "before", 2000);

    await redis.kill("SIGKILL");
    // publishing while Redis is down must not throw nor crash
    for (let i = 0; i < 5; i++) {
      cluster.ios[0].emit("during", i);
      cluster.ios[1].emit("during", i);
      await sleep(20);
    }
    await sleep(300);
    await redis.restart();
    const restartedAt = Date.now();

    const ab = await pollUntilReceived(cluster.ios[0], b, "after-ab", 5000);
    const ba = await pollUntilReceived(cluster.ios[1], a, "after-ba", 5000);
    const elapsed = Date.now() - restartedAt;
    assert.ok(elapsed < 2000, `broadcasts resumed ${elapsed} ms after the restart (0->1 ${ab} ms, 1->0 ${ba} ms)`);
    // both nodes are subscribed again
    await waitForSubscribers(redis.port, 2, { timeoutMs: 2000 });
    if (impl.errors) {
      assert.ok(impl.errors.length > 0, "the clients reported the outage with 'error' events");
      for (const err of impl.errors) assert.equal(typeof err.code, "string", err.message);
    }
  });

  it("survives Redis being paused (SIGSTOP) and resumed", async function () {
    const b = await cluster.connect(1);
    redis.pause();
    try {
      cluster.ios[0].emit("paused", 1);
      await sleep(500);
    } finally {
      redis.resume();
    }
    const t = await pollUntilReceived(cluster.ios[0], b, "resumed", 5000);
    assert.ok(t < 2000, `resumed after ${t} ms`);
  });

  it("a broadcast with ack while Redis is down ends with a timeout error, not a crash", async function () {
    const b = await cluster.connect(1);
    b.on("acked", (cb) => cb("ok"));
    const unhandled = [];
    const onUnhandled = (reason) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      await redis.kill("SIGKILL");
      await sleep(100);
      const result = await new Promise((resolve) => {
        cluster.ios[0].timeout(500).emit("acked", (err, responses) => resolve({ err, responses }));
      });
      assert.ok(result.err instanceof Error, "the ack callback gets an error");
      await sleep(50);
      assert.deepEqual(unhandled.map(String), []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    await redis.restart();
  });

  it("holds publishes made while disconnected, and sends them once Redis is back", async function () {
    if (impl.name !== "hiredis") this.skip(); // stats are this package's addition
    await cluster.connect(1);
    const adapter = cluster.ios[0].of("/").adapter;
    assert.equal(typeof adapter.stats.publishDropped, "number");
    const before = adapter.stats.publishDropped;
    await redis.kill("SIGKILL");
    await sleep(200); // let the connection notice
    for (let i = 0; i < 3; i++) cluster.ios[0].emit("held", i);
    assert.equal(adapter.stats.publishDropped, before, "not refused");
    assert.equal(adapter._client.stats().command.held, 3);
    await redis.restart();
    await waitFor(() => adapter._client.stats().command.replayed === 3, 3000, { what: "the held publishes sent" });
    assert.equal(adapter._client.stats().command.held, 0);
  });
});
