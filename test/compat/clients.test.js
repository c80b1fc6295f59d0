"use strict";

// Drop-in use: createAdapter(pubClient, subClient) given node-redis v4 or ioredis clients. The
// adapter reads their host/port/password/db and opens its own connections; the user's clients
// stay usable and are closed by the user. Redis here requires a password.

const assert = require("node:assert/strict");
const { createClient } = require("redis");
const Redis = require("ioredis");
const { startRedis, redisCli, isRedisAvailable } = require("../helpers/redis");
const adapters = require("../helpers/adapters");
const { createServers } = require("../helpers/servers");
const { barrier } = require("../helpers/cluster");
const { record } = require("../helpers/util");

const PASSWORD = "s3cret-pw";
const impl = adapters.implementation();
const createAdapter =
  impl.name === "upstream" ? require("@socket.io/redis-adapter").createAdapter : require("../..").createAdapter;

describe(`createAdapter with node-redis v4 and ioredis clients [${impl.name}]`, function () {
  this.timeout(15000);
  let redis;
  let userClients;
  let cluster;
  let recs;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip(); // no redis-server on this machine
    redis = await startRedis({ args: ["--requirepass", PASSWORD] });
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(function () {
    userClients = [];
    recs = [];
  });

  afterEach(async function () {
    for (const r of recs) r.stop();
    if (cluster) await cluster.closeAll();
    cluster = null;
    await Promise.allSettled(
      userClients.splice(0).map((c) => {
        if (c instanceof Redis) return c.quit().catch(() => c.disconnect());
        return c.isOpen ? c.disconnect() : undefined;
      })
    );
  });

  async function nodeRedisPair() {
    const pub = createClient({ url: `redis://:${PASSWORD}@127.0.0.1:${redis.port}/3` });
    const sub = pub.duplicate();
    for (const c of [pub, sub]) {
      c.on("error", () => {});
      userClients.push(c);
    }
    await Promise.all([pub.connect(), sub.connect()]);
    return [pub, sub];
  }

  function ioredisPair() {
    const pub = new Redis({ host: "127.0.0.1", port: redis.port, password: PASSWORD, db: 2 });
    const sub = pub.duplicate();
    for (const c of [pub, sub]) {
      c.on("error", () => {});
      userClients.push(c);
    }
    return [pub, sub];
  }

  const cli = (...args) => redisCli(redis.port, "--no-auth-warning", "-a", PASSWORD, ...args);

  async function numsubAuth(channel) {
    const out = await cli("PUBSUB", "NUMSUB", channel);
    return parseInt(out.split("\n").pop(), 10);
  }

  it("broadcasts between servers built from node-redis, ioredis and upstream", async function () {
    const upstreamAdapter = require("@socket.io/redis-adapter").createAdapter;
    cluster = await createServers({
      count: 3,
      adapter: async (i) => {
        if (i === 0) return createAdapter(...(await nodeRedisPair()));
        if (i === 1) return createAdapter(...ioredisPair());
        return upstreamAdapter(...(await nodeRedisPair()));
      },
    });
    for (let t = 0; t < 250 && (await numsubAuth("socket.io-request#/#")) !== 3; t++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await numsubAuth("socket.io-request#/#"), 3);
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await cluster.connect(i));
    cluster.serverSocket(1, clients[1]).join("room");
    const r = record(clients, "hello");
    recs.push(r);
    for (let i = 0; i < 3; i++) {
      cluster.ios[i].emit("hello", i);
      await barrier(cluster.ios[i], clients);
    }
    cluster.ios[0].to("room").emit("hello", "room");
    await barrier(cluster.ios[0], clients);
    assert.deepEqual(r.counts(), [3, 4, 3]);
    for (const io of cluster.ios) assert.equal(await io.of("/").adapter.serverCount(), 3);
  });

  it("leaves the user's clients usable and open after io.close()", async function () {
    const [pub, sub] = await nodeRedisPair();
    const [ipub, isub] = ioredisPair();
    cluster = await createServers({
      count: 2,
      adapter: (i) => (i === 0 ? createAdapter(pub, sub) : createAdapter(ipub, isub)),
    });
    for (let t = 0; t < 250 && (await numsubAuth("socket.io-request#/#")) !== 2; t++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await numsubAuth("socket.io-request#/#"), 2);
    await cluster.closeAll();
    cluster = null;
    // all adapters unsubscribed
    for (let t = 0; t < 100 && (await numsubAuth("socket.io-request#/#")) !== 0; t++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await numsubAuth("socket.io-request#/#"), 0);
    // the user's clients still work
    assert.equal(await pub.ping(), "PONG");
    assert.equal(await ipub.ping(), "PONG");
    if (impl.name !== "upstream") {
      // drop-in: the user's subscriber clients were never put in subscriber mode by us
      assert.equal(await sub.ping(), "PONG");
      assert.equal(await isub.ping(), "PONG");
    }
  });

  it("fails to connect (without crashing) when the password is wrong", async function () {
    if (impl.name === "upstream") this.skip(); // upstream never sees a password, the client does
    const { createClient: createNative } = require("../..");
    const client = createNative({ host: "127.0.0.1", port: redis.port, password: "wrong" });
    const errors = [];
    client.on("error", (err) => errors.push(err));
    try {
      const { waitFor } = require("../helpers/util");
      await waitFor(() => errors.length > 0, 3000, { what: "an 'error' event" });
      assert.ok(errors[0] instanceof Error);
      assert.ok(errors[0].code, `error has a code: ${errors[0].message}`);
    } finally {
      await client.close();
    }
  });

});
