"use strict";

// A real 6-node Redis Cluster over TLS (client ports, cluster bus and replication all TLS; nodes announced by
// IP, so each node's certificate is verified against its IP address, as node-redis and ioredis do): the
// sharded adapter on three servers, each seeded at a different node, every room's channel subscribed on its
// slot's master; the classic adapter; upstream's sharded adapter on a node-redis cluster client over TLS in
// the same fleet; ioredis and node-redis cluster clients read as targets; a servername every node fails.

const assert = require("node:assert/strict");
const { createCluster } = require("redis");
const IORedis = require("ioredis");
const { createShardedAdapter: upstreamSharded } = require("@socket.io/redis-adapter");
const { isRedisAvailable, redisCli } = require("../helpers/redis");
const { RedisCluster } = require("../helpers/rediscluster");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep } = require("../helpers/util");
const { certs } = require("../helpers/tls");
const lib = require("../..");

describe("TLS: Redis Cluster (6 nodes, every link TLS)", function () {
  this.timeout(90000);
  let rc;
  let cluster;
  let errors;
  let extra; // user clients to close

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    rc = await RedisCluster.start({ tls: {} });
  });

  after(async function () {
    if (rc) await rc.stop();
  });

  beforeEach(function () {
    errors = [];
    extra = [];
  });

  afterEach(async function () {
    if (cluster) await cluster.closeAll();
    cluster = null;
    for (const c of extra.splice(0)) {
      try {
        if (c instanceof IORedis.Cluster) c.disconnect();
        else await c.disconnect();
      } catch {
        // closed
      }
    }
  });

  const seed = (i, tls = { ca: certs().ca }) => ({ cluster: [{ host: "127.0.0.1", port: rc.tlsPorts[i % 6] }], tls });

  function ours(make, target, opts) {
    const f = make(target, opts);
    f.on("error", (err) => errors.push(err));
    return f;
  }

  it("the sharded adapter: 3 servers, rooms spread over the masters, each channel on its owner only", async function () {
    cluster = await createServers({ count: 3, adapter: (i) => ours(lib.createShardedAdapter, seed(i * 2), { subscriptionMode: "dynamic" }) });
    const rooms = Array.from({ length: 12 }, (_, i) => `room-${i}`);
    const receiver = await cluster.connect(2);
    for (const r of rooms) cluster.serverSocket(2, receiver).join(r);
    const sender = await cluster.connect(0);
    const owners = new Set(await Promise.all(rooms.map((r) => rc.ownerOf(`socket.io#/#${r}#`))));
    assert.equal(owners.size, 3, "the rooms' channels live on all 3 masters");
    // every room channel is subscribed on its owner (asked of each master over its plain port)
    await waitFor(
      async () => {
        for (const r of rooms) {
          const ch = `socket.io#/#${r}#`;
          const owner = await rc.ownerOf(ch);
          const n = parseInt((await redisCli(owner, "PUBSUB", "SHARDNUMSUB", ch)).split("\n").pop(), 10);
          if (n !== 1) return false;
        }
        return true;
      },
      10000,
      { what: "room channels subscribed on their owners" },
    );
    const got = new Set();
    receiver.on("r", (room) => got.add(room));
    for (let attempt = 0; attempt < 40 && got.size < rooms.length; attempt++) {
      for (const r of rooms) if (!got.has(r)) cluster.ios[0].to(r).emit("r", r);
      await sleep(50);
    }
    assert.equal(got.size, rooms.length, `rooms delivered: ${[...got].sort().join(",")}`);
    const all = [];
    sender.on("all", (v) => all.push(v));
    cluster.ios[1].emit("all", 1);
    await waitFor(() => all.length === 1, 3000, { what: "broadcast to all" });
    assert.equal((await cluster.ios[1].fetchSockets()).length, 2);
    assert.deepEqual(errors, []);
  });

  it("the classic adapter and the Emitter on the cluster over TLS", async function () {
    cluster = await createServers({ count: 2, adapter: (i) => ours(lib.createAdapter, seed(i + 1)) });
    const a = await cluster.connect(0);
    const b = await cluster.connect(1);
    const got = [];
    b.on("x", (v) => got.push(`b:${v}`));
    a.on("x", (v) => got.push(`a:${v}`));
    const emitter = new lib.Emitter(seed(5));
    try {
      // until both servers have subscribed: a broadcast from each server reaches the other's client (a
      // server's own clients get its broadcasts locally, which proves nothing about its subscription)
      for (let attempt = 0; attempt < 100 && !(got.includes("b:from-0") && got.includes("a:from-1")); attempt++) {
        if (!got.includes("b:from-0")) cluster.ios[0].emit("x", "from-0");
        if (!got.includes("a:from-1")) cluster.ios[1].emit("x", "from-1");
        await sleep(50);
      }
      assert.ok(got.includes("b:from-0") && got.includes("a:from-1"), JSON.stringify(got));
      // (late copies of the server broadcasts above may still come: only the emitter's count)
      const fromEmitter = () => got.filter((v) => v.endsWith(":from-emitter")).sort();
      emitter.emit("x", "from-emitter");
      // on a timeout, the comparison below says which client missed it
      await waitFor(() => fromEmitter().length >= 2, 5000, { what: "emitter broadcast" }).catch(() => {});
      await sleep(50); // and never twice
      assert.deepEqual(fromEmitter(), ["a:from-emitter", "b:from-emitter"]);
    } finally {
      await emitter.close();
    }
  });

  it("a fleet with upstream's sharded adapter on a node-redis cluster client over TLS; node-redis and ioredis cluster clients as targets", async function () {
    const ca = certs().ca;
    const nr = createCluster({ rootNodes: [{ url: `rediss://127.0.0.1:${rc.tlsPorts[0]}` }], defaults: { socket: { tls: true, ca } } });
    nr.on("error", () => {});
    extra.push(nr);
    await nr.connect();
    const nrSub = nr.duplicate();
    nrSub.on("error", () => {});
    extra.push(nrSub);
    await nrSub.connect();
    const io = new IORedis.Cluster([{ host: "127.0.0.1", port: rc.tlsPorts[3] }], { redisOptions: { tls: { ca } }, lazyConnect: true });
    io.on("error", () => {});
    extra.push(io);
    cluster = await createServers({
      count: 3,
      adapter: (i) => (i === 0 ? upstreamSharded(nr, nrSub) : i === 1 ? ours(lib.createShardedAdapter, nr) : ours(lib.createShardedAdapter, io)),
    });
    const clients = [await cluster.connect(0), await cluster.connect(1), await cluster.connect(2)];
    const got = clients.map(() => []);
    clients.forEach((c, i) => c.on("m", (v) => got[i].push(v)));
    await sleep(300);
    for (const [from, tag] of [[0, "upstream"], [1, "ours-nr"], [2, "ours-io"]]) {
      for (let attempt = 0; attempt < 40; attempt++) {
        cluster.ios[from].emit("m", `${tag}-${attempt}`);
        await sleep(50);
        if (got.every((g) => g.some((v) => v.startsWith(tag)))) break;
      }
      assert.ok(
        got.every((g) => g.some((v) => v.startsWith(tag))),
        `${tag}: ${JSON.stringify(got)}`,
      );
    }
    assert.equal(io.status, "wait", "the ioredis cluster client was only read");
    assert.deepEqual(errors, []);
  });

  it("a servername no node's certificate has is refused on every node (ERR_TLS_CERT_ALTNAME_INVALID)", async function () {
    const client = lib.createClient(seed(0, { ca: certs().ca, servername: "redis.example" }));
    const codes = [];
    client.on("error", (err) => codes.push(`${err.code} ${err.message}`));
    try {
      await waitFor(() => codes.length >= 2, 5000, { what: "errors" });
      assert.ok(codes.every((c) => c.startsWith("ERR_TLS_CERT_ALTNAME_INVALID")), codes.join("\n"));
      assert.ok(!client.isReady);
    } finally {
      await client.close();
    }
  });
});
