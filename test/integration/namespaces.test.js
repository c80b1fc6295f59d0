"use strict";

// Dynamic (regex) namespaces and a custom channel `key`, across three servers.

const assert = require("node:assert/strict");
const { startRedis, waitForSubscribers, numsub, RawRedis, isRedisAvailable } = require("../helpers/redis");
const { implementation } = require("../helpers/adapters");
const { createServers } = require("../helpers/servers");
const { startCluster, barrier } = require("../helpers/cluster");
const { record, waitFor } = require("../helpers/util");

const impl = implementation();
const subscribes = impl.subscribes !== false;

describe(`namespaces and key [${impl.name}]`, function () {
  this.timeout(10000);
  let redis;
  const toClose = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip(); // no redis-server on this machine
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  afterEach(async function () {
    for (const fn of toClose.splice(0).reverse()) await fn();
    await impl.cleanup();
  });

  describe("dynamic namespaces", function () {
    let cluster;
    const DYN = /^\/dyn-\d+$/;

    beforeEach(async function () {
      cluster = await createServers({ count: 3, adapter: () => impl.factory(redis.url), namespaces: [DYN] });
      toClose.push(() => cluster.closeAll());
    });

    // two clients of /dyn-1 and one of /dyn-2 on every server
    async function connectAll() {
      const dyn1 = [];
      const dyn2 = [];
      for (let i = 0; i < 3; i++) {
        dyn1.push(await cluster.connect(i, { nsp: "/dyn-1" }), await cluster.connect(i, { nsp: "/dyn-1" }));
        dyn2.push(await cluster.connect(i, { nsp: "/dyn-2" }));
      }
      if (subscribes) {
        await waitForSubscribers(redis.port, 3, { nsp: "/dyn-1" });
        await waitForSubscribers(redis.port, 3, { nsp: "/dyn-2" });
      }
      return { dyn1, dyn2 };
    }

    it("broadcasts to a dynamic child namespace from another server", async function () {
      const { dyn1, dyn2 } = await connectAll();
      const r1 = record(dyn1, "dyn");
      const r2 = record(dyn2, "dyn");
      toClose.push(() => (r1.stop(), r2.stop()));
      cluster.ios[0].of("/dyn-1").emit("dyn", "one");
      await barrier(cluster.ios[0], dyn1, { nsp: "/dyn-1" });
      await barrier(cluster.ios[0], dyn2, { nsp: "/dyn-2" });
      assert.deepEqual(r1.counts(), [1, 1, 1, 1, 1, 1]);
      assert.deepEqual(r2.counts(), [0, 0, 0]);
      assert.deepEqual(r1.calls[5][0], ["one"]);
    });

    it("broadcasts through the parent namespace to every child on every server", async function () {
      const { dyn1, dyn2 } = await connectAll();
      const r1 = record(dyn1, "parent");
      const r2 = record(dyn2, "parent");
      toClose.push(() => (r1.stop(), r2.stop()));
      cluster.namespaces[1][0].emit("parent", 1); // the ParentNamespace made at start-up
      await barrier(cluster.ios[1], dyn1, { nsp: "/dyn-1" });
      await barrier(cluster.ios[1], dyn2, { nsp: "/dyn-2" });
      assert.deepEqual(r1.counts(), [1, 1, 1, 1, 1, 1]);
      assert.deepEqual(r2.counts(), [1, 1, 1]);
    });

    it("broadcasts to a room of a dynamic namespace", async function () {
      const { dyn1 } = await connectAll();
      cluster.serverSocket(0, dyn1[1], "/dyn-1").join("dr");
      cluster.serverSocket(2, dyn1[4], "/dyn-1").join("dr");
      const r = record(dyn1, "droom");
      toClose.push(() => r.stop());
      cluster.ios[1].of("/dyn-1").to("dr").emit("droom");
      await barrier(cluster.ios[1], dyn1, { nsp: "/dyn-1" });
      assert.deepEqual(r.counts(), [0, 1, 0, 0, 1, 0]);
    });

    it("a child namespace exists only where a client connected to it", async function () {
      if (!subscribes) this.skip();
      await cluster.connect(0, { nsp: "/dyn-7" });
      await waitForSubscribers(redis.port, 1, { nsp: "/dyn-7" });
      await cluster.connect(2, { nsp: "/dyn-7" });
      await waitForSubscribers(redis.port, 2, { nsp: "/dyn-7" });
      assert.equal(await cluster.ios[0].of("/dyn-7").adapter.serverCount(), 2);
    });
  });

  describe("custom key", function () {
    let fx;
    let spy;

    beforeEach(async function () {
      fx = await startCluster({
        redis,
        factory: () => impl.factory(redis.url, { key: "alt" }),
        key: "alt",
        waitSubscribers: subscribes,
      });
      toClose.push(() => fx.close());
      spy = await RawRedis.connect(redis.port);
      toClose.push(() => spy.close());
    });

    it("uses the key for every channel and still broadcasts", async function () {
      const messages = [];
      spy.on("push", (m) => {
        if (String(m[0]) === "pmessage") messages.push(String(m[2]));
      });
      await spy.command("PSUBSCRIBE", "*");
      const r = record(fx.all(), "keyed");
      toClose.push(() => r.stop());
      fx.ios[2].emit("keyed", 1);
      fx.ios[2].to(fx.clients["/"][0][0].id).emit("keyed", 2);
      await barrier(fx.ios[2], fx.all());
      assert.deepEqual(r.counts(), [2, 1, 1, 1, 1, 1]);
      if (subscribes) {
        assert.equal(await numsub(redis.port, "alt-request#/#"), 3);
        assert.equal(await numsub(redis.port, "socket.io-request#/#"), 0);
        await waitFor(() => messages.length >= 3, 2000, { what: "spied publishes" });
        assert.ok(messages.includes("alt#/#"), JSON.stringify(messages));
        assert.ok(messages.includes(`alt#/#${fx.clients["/"][0][0].id}#`), JSON.stringify(messages));
        assert.deepEqual(messages.filter((ch) => !ch.startsWith("alt")), []);
      }
    });
  });
});
