"use strict";

// A mixed fleet on one Redis: servers on @socket.io/redis-adapter 8.3.0 (node-redis v4 clients)
// and servers on this package, plus @socket.io/redis-emitter 5.1.0. Broadcasts must cross in
// both directions with identical results.

const assert = require("node:assert/strict");
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");
const { startRedis, waitForSubscribers, isRedisAvailable } = require("../helpers/redis");
const adapters = require("../helpers/adapters");
const { createServers } = require("../helpers/servers");
const { barrier } = require("../helpers/cluster");
const { record, waitFor } = require("../helpers/util");

const oursName = adapters.implementation().name;

describe(`mixed fleet: @socket.io/redis-adapter 8.3.0 + [${oursName}] + redis-emitter 5.1.0`, function () {
  this.timeout(15000);
  let redis;
  let upstream;
  let ours;
  let cluster; // server 0: upstream, server 1: ours, server 2: upstream, server 3: ours
  let clients; // clients[nsp][i] = [c, c]
  let recs;
  const KINDS = ["upstream", "ours", "upstream", "ours"];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip(); // no redis-server on this machine
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(async function () {
    recs = [];
    upstream = adapters.upstream();
    ours = adapters.implementation(); // ADAPTER=upstream validates this suite with upstream only
    cluster = await createServers({
      count: 4,
      adapter: (i) => (KINDS[i] === "upstream" ? upstream.factory(redis.url) : ours.factory(redis.url)),
      namespaces: ["/admin"],
    });
    await waitForSubscribers(redis.port, 4, { nsp: "/" });
    await waitForSubscribers(redis.port, 4, { nsp: "/admin" });
    clients = { "/": [], "/admin": [] };
    for (const nsp of ["/", "/admin"]) {
      for (let i = 0; i < 4; i++) {
        clients[nsp].push([await cluster.connect(i, { nsp }), await cluster.connect(i, { nsp })]);
      }
    }
  });

  afterEach(async function () {
    for (const r of recs) r.stop();
    if (cluster) await cluster.closeAll();
    await upstream.cleanup();
    await ours.cleanup();
  });

  const all = (nsp = "/") => clients[nsp].flat();
  const ss = (i, j, nsp = "/") => cluster.serverSocket(i, clients[nsp][i][j], nsp);
  const listen = (sockets, ev) => {
    const r = record(sockets, ev);
    recs.push(r);
    return r;
  };
  // barrier from every server: all earlier publishes have arrived everywhere
  async function settle(nsp = "/") {
    for (const io of cluster.ios) await barrier(io, all(nsp), { nsp });
  }

  for (const [from, label] of [
    [0, "upstream -> ours"],
    [1, "ours -> upstream"],
  ]) {
    describe(label, function () {
      it("broadcasts to all", async function () {
        const r = listen(all(), "all");
        cluster.ios[from].emit("all", "x", 1, { y: [true, null] });
        await settle();
        assert.deepEqual(r.counts(), [1, 1, 1, 1, 1, 1, 1, 1]);
        for (const calls of r.calls) assert.deepEqual(calls[0], ["x", 1, { y: [true, null] }]);
      });

      it("broadcasts to a room", async function () {
        ss(0, 1).join("r");
        ss(1, 0).join("r");
        ss(2, 0).join("r");
        ss(3, 1).join("r");
        const r = listen(all(), "room");
        cluster.ios[from].to("r").emit("room");
        await settle();
        assert.deepEqual(r.counts(), [0, 1, 1, 0, 1, 0, 0, 1]);
      });

      it("broadcasts to several rooms once", async function () {
        ss(1, 1).join(["a", "b"]);
        ss(0, 0).join(["a", "b"]);
        ss(3, 0).join("b");
        const r = listen(all(), "multi");
        cluster.ios[from].to(["a", "b"]).emit("multi");
        await settle();
        assert.deepEqual(r.counts(), [1, 0, 0, 1, 0, 0, 1, 0]);
      });

      it("broadcasts with except", async function () {
        ss(0, 0).join("x");
        ss(1, 1).join("x");
        ss(3, 0).join("x");
        const r = listen(all(), "except");
        cluster.ios[from].except("x").emit("except");
        await settle();
        assert.deepEqual(r.counts(), [0, 1, 1, 0, 1, 1, 0, 1]);
      });

      it("sends to a socket id on the other implementation", async function () {
        const target = from === 0 ? clients["/"][1][1] : clients["/"][2][0];
        const r = listen(all(), "direct");
        cluster.ios[from].to(target.id).emit("direct", 5);
        await settle();
        const expected = all().map((c) => (c === target ? 1 : 0));
        assert.deepEqual(r.counts(), expected);
      });

      it("sends binary arguments", async function () {
        const r = listen(all(), "bin");
        const payload = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0]);
        cluster.ios[from].emit("bin", payload, { inner: Buffer.from([1]) });
        await settle();
        assert.deepEqual(r.counts(), [1, 1, 1, 1, 1, 1, 1, 1]);
        for (const [[b, o]] of r.calls) {
          assert.ok(Buffer.isBuffer(b) || b instanceof ArrayBuffer);
          assert.deepEqual(Buffer.from(b), payload);
          assert.deepEqual(Buffer.from(o.inner), Buffer.from([1]));
        }
      });

      it("broadcasts to a numeric room", async function () {
        ss(0, 0).join(42);
        ss(1, 1).join(42);
        ss(3, 0).join(42);
        const r = listen(all(), "num");
        cluster.ios[from].to(42).emit("num");
        await settle();
        assert.deepEqual(r.counts(), [1, 0, 0, 1, 0, 0, 1, 0]);
      });

      it("broadcasts to a namespace", async function () {
        const root = listen(all("/"), "nsp");
        const admin = listen(all("/admin"), "nsp");
        cluster.ios[from].of("/admin").emit("nsp", "admins");
        await settle("/admin");
        await settle("/");
        assert.deepEqual(admin.counts(), [1, 1, 1, 1, 1, 1, 1, 1]);
        assert.deepEqual(root.counts(), [0, 0, 0, 0, 0, 0, 0, 0]);
      });

      it("fetchSockets sees the sockets of both implementations", async function () {
        ss(0, 1).join("f");
        ss(1, 0).join("f");
        ss(3, 1).join("f");
        ss(3, 1).data = { from: "ours" };
        ss(0, 1).data = { from: "upstream" };
        const sockets = await cluster.ios[from].in("f").fetchSockets();
        const ids = [clients["/"][0][1].id, clients["/"][1][0].id, clients["/"][3][1].id];
        assert.deepEqual(sockets.map((s) => s.id).sort(), ids.sort());
        const byId = new Map(sockets.map((s) => [s.id, s]));
        assert.deepEqual(byId.get(clients["/"][3][1].id).data, { from: "ours" });
        assert.deepEqual(byId.get(clients["/"][0][1].id).data, { from: "upstream" });
        assert.equal((await cluster.ios[from].fetchSockets()).length, 8);
      });

      it("serverSideEmitWithAck gets an answer from every other server", async function () {
        cluster.ios.forEach((io, i) => io.on("who", (cb) => cb(`${KINDS[i]}-${i}`)));
        const answers = await cluster.ios[from].serverSideEmitWithAck("who");
        const expected = [0, 1, 2, 3].filter((i) => i !== from).map((i) => `${KINDS[i]}-${i}`);
        assert.deepEqual(answers.sort(), expected.sort());
      });

      it("broadcast with ack collects answers from clients on both implementations", async function () {
        for (const client of all()) client.on("ack", (cb) => cb(client.id));
        const answers = await cluster.ios[from].timeout(3000).emitWithAck("ack");
        assert.deepEqual(answers.sort(), all().map((cl) => cl.id).sort());
      });

      it("socketsJoin and disconnectSockets apply on both implementations", async function () {
        ss(0, 0).join("grp");
        ss(1, 1).join("grp");
        cluster.ios[from].in("grp").socketsJoin("grp2");
        await waitFor(() => ss(0, 0).rooms.has("grp2") && ss(1, 1).rooms.has("grp2"), 3000, { what: "join" });
        const gone = [clients["/"][0][0], clients["/"][1][1]].map(
          (cl) => new Promise((resolve) => cl.once("disconnect", resolve))
        );
        cluster.ios[from].in("grp2").disconnectSockets();
        await Promise.all(gone);
      });

      it("honours local on both implementations", async function () {
        const r = listen(all(), "loc");
        cluster.ios[from].local.emit("loc");
        await settle();
        const expected = [0, 0, 0, 0, 0, 0, 0, 0];
        expected[from * 2] = expected[from * 2 + 1] = 1;
        assert.deepEqual(r.counts(), expected);
      });
    });
  }

  it("serverCount() agrees on both implementations", async function () {
    for (const io of cluster.ios) assert.equal(await io.of("/").adapter.serverCount(), 4);
  });

  describe("@socket.io/redis-emitter 5.1.0", function () {
    let emitterClient;
    let emitter;

    beforeEach(async function () {
      emitterClient = createClient({ url: redis.url });
      emitterClient.on("error", () => {});
      await emitterClient.connect();
      emitter = new Emitter(emitterClient);
    });

    afterEach(async function () {
      if (emitterClient && emitterClient.isOpen) await emitterClient.disconnect();
    });

    // the emitter's publishes come from another connection: wait for counts, then settle
    async function expectCounts(r, expected, nsp = "/") {
      const total = expected.reduce((a, b) => a + b, 0);
      await waitFor(() => r.counts().reduce((a, b) => a + b, 0) >= total, 3000, { what: `${total} deliveries` });
      await settle(nsp);
      assert.deepEqual(r.counts(), expected);
    }

    it("emits to all", async function () {
      const r = listen(all(), "em-all");
      emitter.emit("em-all", 1, Buffer.from([9, 9]));
      await expectCounts(r, [1, 1, 1, 1, 1, 1, 1, 1]);
      for (const [[n, b]] of r.calls) {
        assert.equal(n, 1);
        assert.deepEqual(Buffer.from(b), Buffer.from([9, 9]));
      }
    });

    it("emits to a room", async function () {
      ss(1, 0).join("er");
      ss(3, 1).join("er");
      ss(0, 1).join("er");
      const r = listen(all(), "em-room");
      emitter.to("er").emit("em-room");
      await expectCounts(r, [0, 1, 1, 0, 0, 0, 0, 1]);
    });

    it("emits with except", async function () {
      ss(1, 0).join("ex");
      ss(3, 1).join("ex");
      const r = listen(all(), "em-except");
      emitter.except("ex").emit("em-except");
      await expectCounts(r, [1, 1, 0, 1, 1, 1, 1, 0]);
    });

    it("emits to a room except another room", async function () {
      ss(1, 0).join(["t", "u"]);
      ss(1, 1).join("t");
      ss(3, 0).join("t");
      const r = listen(all(), "em-te");
      emitter.to("t").except("u").emit("em-te");
      await expectCounts(r, [0, 0, 0, 1, 0, 0, 1, 0]);
    });

    it("emits to a namespace", async function () {
      const root = listen(all("/"), "em-nsp");
      const admin = listen(all("/admin"), "em-nsp");
      emitter.of("/admin").emit("em-nsp", "a");
      await expectCounts(admin, [1, 1, 1, 1, 1, 1, 1, 1], "/admin");
      await settle("/");
      assert.deepEqual(root.counts(), [0, 0, 0, 0, 0, 0, 0, 0]);
    });

    it("serverSideEmit from the emitter reaches every server", async function () {
      const got = cluster.ios.map(
        (io, i) => new Promise((resolve) => io.once("from-emitter", (...args) => resolve([i, ...args])))
      );
      emitter.serverSideEmit("from-emitter", "x", 2);
      assert.deepEqual(await Promise.all(got), [0, 1, 2, 3].map((i) => [i, "x", 2]));
    });

    it("socketsJoin / socketsLeave / disconnectSockets from the emitter", async function () {
      ss(1, 0).join("e-src");
      ss(2, 1).join("e-src");
      emitter.in("e-src").socketsJoin("e-dst");
      await waitFor(() => ss(1, 0).rooms.has("e-dst") && ss(2, 1).rooms.has("e-dst"), 3000, { what: "join" });
      emitter.in("e-src").socketsLeave("e-dst");
      await waitFor(() => !ss(1, 0).rooms.has("e-dst") && !ss(2, 1).rooms.has("e-dst"), 3000, { what: "leave" });
      const gone = [clients["/"][1][0], clients["/"][2][1]].map(
        (cl) => new Promise((resolve) => cl.once("disconnect", resolve))
      );
      emitter.in("e-src").disconnectSockets();
      await Promise.all(gone);
      assert.ok(clients["/"][3][0].connected);
    });

    it("emits volatile and compress(false) broadcasts", async function () {
      const r = listen(all(), "em-flags");
      emitter.volatile.emit("em-flags", 1);
      await expectCounts(r, [1, 1, 1, 1, 1, 1, 1, 1]);
      emitter.compress(false).emit("em-flags", 2);
      await expectCounts(r, [2, 2, 2, 2, 2, 2, 2, 2]);
    });
  });
});
