"use strict";
// createShardedAdapter's target forms (URL, options object, our createClient object, node-redis v4 and
// ioredis clients), its options (channelPrefix, subscriptionMode, upstream's Object.assign rules) and
// the connection-state-recovery quirk of spec 2.6.
const assert = require("node:assert/strict");
const Redis = require("ioredis");
const { createClient: createNodeRedis } = require("redis");
const { startRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor } = require("../helpers/util");
const { createShardedAdapter, createClient } = require("../..");
const { upstream, next } = require("./helpers");

describe("createShardedAdapter targets and options", function () {
  this.timeout(20000);
  let redis;
  const closers = [];

  before(async function () {
    redis = await startRedis();
  });

  afterEach(async function () {
    for (const close of closers.splice(0).reverse()) await close();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  async function pair(factories, opts = {}) {
    const cluster = await createServers({ count: factories.length, adapter: (i) => factories[i], ...opts });
    closers.push(() => cluster.closeAll());
    return cluster;
  }

  it("accepts a URL, an options object, a createClient() object, node-redis and ioredis clients", async function () {
    const nr = createNodeRedis({ url: redis.url });
    const nrSub = nr.duplicate();
    const io1 = new Redis({ port: redis.port, host: "127.0.0.1", lazyConnect: true });
    const own = createClient(redis.url);
    own.on("error", () => {});
    closers.push(async () => {
      io1.disconnect();
      await own.close();
    });
    const factories = [
      createShardedAdapter(redis.url),
      createShardedAdapter({ host: "127.0.0.1", port: redis.port }, { subscriptionMode: "static" }),
      createShardedAdapter(own, { subscriptionMode: "static" }),
      createShardedAdapter(nr, nrSub, { subscriptionMode: "static" }),
      createShardedAdapter(io1, io1.duplicate(), { subscriptionMode: "static" }),
    ];
    const cluster = await pair(factories);
    await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/#")).endsWith("5"), 5000);
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await cluster.connect(i));
    const p = Promise.all(clients.map((c) => next(c, "hi")));
    cluster.ios[3].emit("hi", 3);
    for (const args of await p) assert.deepEqual(args, [3]);
    assert.equal(await cluster.ios[4].of("/").adapter.serverCount(), 5);
  });

  it("channelPrefix, and upstream's Object.assign defaults (an explicit undefined wins)", async function () {
    const cluster = await pair([createShardedAdapter(redis.url, { channelPrefix: "app" }), createShardedAdapter(redis.url, { channelPrefix: undefined })]);
    const [a, b] = cluster.ios.map((io) => io.of("/").adapter);
    assert.equal(a.channel, "app#/#");
    assert.equal(b.channel, "undefined#/#");
    assert.equal(a.responseChannel, `app#/#${a.uid}#`);
    assert.match(a.uid, /^[0-9a-f]{16}$/);
    await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "app#/#", "undefined#/#")) === "app#/#\n1\nundefined#/#\n1", 3000);
  });

  it("an unknown subscriptionMode acts as \"static\", as upstream", async function () {
    const cluster = await pair([createShardedAdapter(redis.url, { subscriptionMode: "sometimes" })]);
    const c = await cluster.connect(0);
    cluster.serverSocket(0, c).join("lonely");
    await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/#")).endsWith("1"), 3000);
    assert.deepEqual((await redis.cli("PUBSUB", "SHARDCHANNELS", "socket.io#/#lonely*")), "");
    assert.equal(cluster.ios[0].of("/").adapter.computeChannel({ type: 3, data: { opts: { rooms: ["lonely"] } } }), "socket.io#/#");
  });

  it("with connection state recovery: local clients get an extra \"\" and remote ones null, like upstream", async function () {
    const up = upstream();
    closers.push(() => up.cleanup());
    const serverOpts = { connectionStateRecovery: {} };
    const cluster = await pair([createShardedAdapter(redis.url), await up.factory(redis.url)], { serverOpts });
    await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/#")).endsWith("2"), 5000);
    const cOurs = await cluster.connect(0);
    const cUp = await cluster.connect(1);
    let p = Promise.all([next(cOurs, "csr"), next(cUp, "csr")]);
    cluster.ios[0].emit("csr", 1);
    assert.deepEqual(await p, [[1, ""], [1, null]]);
    p = Promise.all([next(cOurs, "csr"), next(cUp, "csr")]);
    cluster.ios[1].emit("csr", 2);
    assert.deepEqual(await p, [[2, null], [2, ""]]);
  });
});
