"use strict";

// An adapter its namespace dropped without close() (a Server or a namespace thrown away) must not keep its
// Redis subscriptions, its slot in the shared client, or the client itself alive: it is collected, and
// its channels are unsubscribed as close() would have done. Another adapter on the same client is
// untouched.

const assert = require("node:assert/strict");
const { Server } = require("socket.io");
const { startRedis, isRedisAvailable, RawRedis } = require("../helpers/redis");
const { waitFor } = require("../helpers/util");
const { createAdapter, createShardedAdapter } = require("../..");

async function list(redis, ...args) {
  const out = await redis.cli(...args);
  return out === "" ? [] : out.split("\n").sort();
}

// Builds a throw-away Server whose namespace `name` holds sockets in rooms, and returns nothing that
// refers to it: only the adapter factory (and so the shared client) stays reachable.
function throwAway(factory, name) {
  const io = new Server();
  io.adapter(factory);
  const adapter = io.of(name).adapter;
  for (let i = 0; i < 20; i++) adapter.addAll(`sid-${i}`, new Set([`sid-${i}`, `room-${i % 5}`]));
}

async function collect(check, what) {
  await waitFor(
    async () => {
      global.gc();
      await new Promise((resolve) => setImmediate(resolve));
      return check();
    },
    10000,
    { interval: 50, what },
  );
}

describe("an adapter collected without close()", function () {
  this.timeout(30000);
  let redis;

  before(async function () {
    if (!isRedisAvailable() || typeof global.gc !== "function") this.skip();
    redis = await startRedis();
  });

  after(async () => {
    if (redis) await redis.stop();
  });

  it("classic, subscriptionMode 'dynamic': its room channels, pattern-free channels and request channels go", async function () {
    const factory = createAdapter(redis.url, { subscriptionMode: "dynamic" });
    const keep = new Server();
    keep.adapter(factory);
    keep.of("/kept").adapter.addAll("kept-sid", new Set(["kept-sid", "kept-room"]));
    try {
      const client = factory.client;
      const before = client._adapters.size;
      throwAway(factory, "/gone"); // its "/" and "/gone"
      await waitFor(async () => (await list(redis, "PUBSUB", "CHANNELS", "*#/gone#*")).length >= 1 + 20 + 5 + 3, 5000, { what: "the throw-away namespace subscribed" });
      const kept = await list(redis, "PUBSUB", "CHANNELS", "*#/kept#*");
      assert.ok(kept.length >= 4, kept.join(","));
      assert.equal(client._adapters.size, before + 2);
      await collect(async () => (await list(redis, "PUBSUB", "CHANNELS", "*#/gone#*")).length === 0, "the collected adapter's channels unsubscribed");
      await collect(() => client._adapters.size === before, "the collected adapter forgotten by its client");
      // the other namespace on the same connection keeps every channel
      assert.deepEqual(await list(redis, "PUBSUB", "CHANNELS", "*#/kept#*"), kept);
      assert.equal(client.isReady, true);
    } finally {
      for (const nsp of keep._nsps.values()) await nsp.adapter.close();
    }
  });

  it("classic, pattern mode: its pattern goes; the last adapter's collection releases the factory's client", async function () {
    const factory = createAdapter(redis.url);
    throwAway(factory, "/gone-p");
    await waitFor(async () => Number(await redis.cli("PUBSUB", "NUMPAT")) === 2, 5000, { what: "the patterns of its \"/\" and \"/gone-p\" subscribed" });
    const client = factory.client;
    await collect(async () => Number(await redis.cli("PUBSUB", "NUMPAT")) === 0, "the patterns unsubscribed");
    await collect(() => client._closing !== null, "the factory's client released");
    await client._closing;
    assert.equal(factory.client, null);
  });

  it("a request in flight keeps its adapter until it settles: the caller is answered", async function () {
    // A silent second "server": subscribed to the request channel, never answering.
    const silent = await RawRedis.connect(redis.port);
    await silent.command("SUBSCRIBE", "socket.io-request#/pending#");
    const factory = createAdapter(redis.url, { requestsTimeout: 1500 });
    try {
      const { request } = await (async () => {
        const io = new Server();
        io.adapter(factory);
        const adapter = io.of("/pending").adapter;
        await waitFor(() => factory.client.isReady, 5000, { what: "connected" });
        return { request: adapter.fetchSockets({ rooms: new Set() }) };
      })();
      let settled = false;
      const started = Date.now();
      const outcome = request.then(
        () => ({}),
        (err) => ({ err }),
      );
      outcome.then(() => (settled = true));
      for (let i = 0; i < 30 && !settled; i++) {
        global.gc();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(settled, "the request was answered");
      const { err } = await outcome;
      assert.ok(err, "by its timeout");
      assert.match(err.message, /timeout|timed out/i);
      assert.ok(Date.now() - started >= 1300);
    } finally {
      silent.sock.destroy();
    }
  });

  it("sharded, subscriptionMode 'dynamic': its room channels and main channels go", async function () {
    const factory = createShardedAdapter(redis.url, { subscriptionMode: "dynamic" });
    const keep = new Server();
    keep.adapter(factory);
    keep.of("/kept-s").adapter.addAll("kept-sid", new Set(["kept-sid", "kept-room"]));
    try {
      throwAway(factory, "/gone-s");
      await waitFor(async () => (await list(redis, "PUBSUB", "SHARDCHANNELS", "*/gone-s*")).length >= 2 + 5, 5000, { what: "the throw-away namespace subscribed" });
      const kept = await list(redis, "PUBSUB", "SHARDCHANNELS", "*/kept-s*");
      assert.ok(kept.length >= 2, kept.join(","));
      await collect(async () => (await list(redis, "PUBSUB", "SHARDCHANNELS", "*/gone-s*")).length === 0, "the collected adapter's shard channels unsubscribed");
      assert.deepEqual(await list(redis, "PUBSUB", "SHARDCHANNELS", "*/kept-s*"), kept);
    } finally {
      for (const nsp of keep._nsps.values()) await nsp.adapter.close();
    }
  });
});
