"use strict";
// createShardedAdapter on a standalone Redis 7, every subscription mode: two socket.io servers with
// our adapter, two clients each (and one on /admin), every cross-server operation of spec 2.
const assert = require("node:assert/strict");
const { startRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { sleep, waitFor } = require("../helpers/util");
const { MODES, ours, monitor, next, recordEach } = require("./helpers");

for (const mode of MODES) {
  describe(`sharded adapter, subscriptionMode "${mode}"`, function () {
    this.timeout(20000);
    let redis, cluster, tap, impl;
    let c0a, c0b, c1a, c1b, admin0, admin1;
    const io = (i) => cluster.ios[i];

    before(async function () {
      redis = await startRedis();
      tap = await monitor(redis.port);
      impl = ours();
      cluster = await createServers({ count: 2, adapter: () => impl.factory(redis.url, { subscriptionMode: mode }), namespaces: ["/admin"] });
      await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/#")).endsWith("2"), 5000, { what: "2 subscribers" });
      c0a = await cluster.connect(0);
      c0b = await cluster.connect(0);
      c1a = await cluster.connect(1);
      c1b = await cluster.connect(1);
      admin0 = await cluster.connect(0, { nsp: "/admin" });
      admin1 = await cluster.connect(1, { nsp: "/admin" });
      cluster.serverSocket(0, c0a).join("r");
      cluster.serverSocket(1, c1a).join(["r", "r2"]);
      cluster.serverSocket(0, c0b).join("r2");
      if (mode !== "static") {
        await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/#r#")).endsWith("2"), 5000, { what: "room channel" });
      }
    });

    after(async function () {
      if (cluster) await cluster.closeAll();
      if (tap) tap.close();
      if (redis) await redis.stop();
    });

    it("subscribes as the mode says (main, own response channel, room channels)", async function () {
      const channels = (await redis.cli("PUBSUB", "SHARDCHANNELS")).split("\n").filter(Boolean).sort();
      const uids = [0, 1].map((i) => io(i).of("/").adapter.uid);
      const expected = ["socket.io#/#", "socket.io#/admin#", ...uids.map((u) => `socket.io#/#${u}#`)];
      for (const i of [0, 1]) expected.push(`socket.io#/admin#${io(i).of("/admin").adapter.uid}#`);
      if (mode !== "static") expected.push("socket.io#/#r#", "socket.io#/#r2#");
      if (mode === "dynamic-private") {
        for (const c of [c0a, c0b, c1a, c1b]) expected.push(`socket.io#/#${c.id}#`);
        for (const c of [admin0, admin1]) expected.push(`socket.io#/admin#${c.id}#`);
      }
      assert.deepEqual(channels, expected.sort());
    });

    it("broadcasts to all, across servers, through the native path", async function () {
      const before = io(1).of("/").adapter.stats.delivered;
      const p = next([c0a, c0b, c1a, c1b], "all");
      io(0).emit("all", "world", 42, { a: [1, null, "é"] });
      for (const args of await p) assert.deepEqual(args, ["world", 42, { a: [1, null, "é"] }]);
      assert.equal(io(1).of("/").adapter.stats.delivered, before + 1);
    });

    it("broadcasts to a room, on the channel the mode says", async function () {
      const rec = recordEach([c0b, c1b], "room");
      tap.reset();
      const p = next([c0a, c1a], "room");
      io(0).to("r").emit("room", 1);
      for (const args of await p) assert.deepEqual(args, [1]);
      await sleep(150);
      assert.deepEqual([rec.of(c0b), rec.of(c1b)], [[], []]);
      rec.stop();
      const channel = mode === "static" ? "socket.io#/#" : "socket.io#/#r#";
      assert.equal(tap.find("spublish", channel).length, 1, `published on ${channel}`);
    });

    it("broadcasts with except", async function () {
      const rec = recordEach([c0a, c1a], "exc");
      const p = next([c0b, c1b], "exc");
      io(1).except("r").emit("exc", "x");
      await p;
      await sleep(150);
      assert.deepEqual([rec.of(c0a), rec.of(c1a)], [[], []]);
      rec.stop();
    });

    it("broadcasts to several rooms, each socket once", async function () {
      const rec = recordEach([c0a, c0b, c1a, c1b], "multi");
      io(0).to("r").to("r2").emit("multi", 1);
      await waitFor(() => rec.of(c0a).length && rec.of(c0b).length && rec.of(c1a).length, 3000);
      await sleep(150);
      assert.deepEqual([c0a, c0b, c1a, c1b].map((c) => rec.of(c).length), [1, 1, 1, 0]);
      rec.stop();
    });

    it("broadcasts to a socket id on another server", async function () {
      const rec = recordEach([c0a, c0b, c1a], "direct");
      tap.reset();
      const p = next([c1b], "direct");
      io(0).to(c1b.id).emit("direct", 7);
      assert.deepEqual(await p, [[7]]);
      await sleep(150);
      assert.deepEqual([c0a, c0b, c1a].map((c) => rec.of(c).length), [0, 0, 0]);
      rec.stop();
      const channel = mode === "dynamic-private" ? `socket.io#/#${c1b.id}#` : "socket.io#/#";
      assert.equal(tap.find("spublish", channel).length, 1, `published on ${channel}`);
    });

    it("broadcasts binary (msgpack on the wire)", async function () {
      tap.reset();
      const p = next([c0a, c0b, c1a, c1b], "bin");
      io(1).emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) }, "s");
      for (const [b, o, s] of await p) {
        assert.deepEqual([...b], [1, 2, 3]);
        assert.deepEqual([...o.nested], [4]);
        assert.equal(s, "s");
      }
      const pub = tap.find("spublish", "socket.io#/#");
      assert.equal(pub.length, 1);
      assert.equal(pub[0].args[1][0], 0x84, "a msgpack map of 4");
    });

    it("volatile and compress(false) broadcasts arrive", async function () {
      let p = next([c0a, c1b], "vol");
      io(0).volatile.emit("vol", 1);
      await p;
      p = next([c0a, c1b], "cmp");
      io(1).compress(false).emit("cmp", 2);
      await p;
    });

    it("local broadcasts stay on the server", async function () {
      const rec = recordEach([c1a, c1b], "loc");
      tap.reset();
      const p = next([c0a, c0b], "loc");
      io(0).local.emit("loc", 1);
      await p;
      await sleep(150);
      assert.deepEqual([rec.of(c1a), rec.of(c1b)], [[], []]);
      assert.equal(tap.find("spublish").length, 0);
      rec.stop();
    });

    it("keeps namespaces apart", async function () {
      const rec = recordEach([c0a, c1a], "ns");
      const p = next([admin0, admin1], "ns");
      io(0).of("/admin").emit("ns", "adm");
      for (const args of await p) assert.deepEqual(args, ["adm"]);
      await sleep(150);
      assert.deepEqual([rec.of(c0a), rec.of(c1a)], [[], []]);
      rec.stop();
    });

    it("broadcasts with acks", async function () {
      for (const c of [c0a, c0b, c1a, c1b]) c.once("ping", (n, cb) => cb(`pong-${c.id}`));
      const answers = await io(0).timeout(3000).emitWithAck("ping", 7);
      assert.deepEqual(answers.sort(), [c0a, c0b, c1a, c1b].map((c) => `pong-${c.id}`).sort());
    });

    it("broadcasts with acks to a room on another server", async function () {
      c1a.once("ping2", (cb) => cb({ ok: Buffer.from([9]) }));
      const answers = await io(0).to("r2").except(c0b.id).timeout(3000).emitWithAck("ping2");
      assert.equal(answers.length, 1);
      assert.deepEqual([...answers[0].ok], [9]);
    });

    it("fetchSockets", async function () {
      cluster.serverSocket(1, c1a).data = { user: "one" };
      const sockets = await io(0).in("r").fetchSockets();
      assert.deepEqual(sockets.map((s) => s.id).sort(), [c0a.id, c1a.id].sort());
      const remote = sockets.find((s) => s.id === c1a.id);
      assert.deepEqual(remote.data, { user: "one" });
      assert.deepEqual([...remote.rooms].sort(), [c1a.id, "r", "r2"].sort());
      assert.equal(typeof remote.handshake.headers, "object");
    });

    it("serverSideEmit without and with ack", async function () {
      const got = new Promise((resolve) => io(1).once("sse", (...args) => resolve(args)));
      io(0).serverSideEmit("sse", 1, "two");
      assert.deepEqual(await got, [1, "two"]);
      io(1).once("question", (n, cb) => cb(n * 2));
      assert.deepEqual(await io(0).serverSideEmitWithAck("question", 21), [42]);
    });

    it("socketsJoin and socketsLeave on another server", async function () {
      await io(0).in(c1b.id).socketsJoin("joined");
      await waitFor(() => cluster.serverSocket(1, c1b).rooms.has("joined"), 3000);
      const p = next([c1b], "j");
      io(0).to("joined").emit("j", 1);
      await p;
      await io(0).in(c1b.id).socketsLeave("joined");
      await waitFor(() => !cluster.serverSocket(1, c1b).rooms.has("joined"), 3000);
    });

    it("serverCount", async function () {
      assert.equal(await io(0).of("/").adapter.serverCount(), 2);
      assert.equal(await io(1).of("/admin").adapter.serverCount(), 2);
    });

    it("disconnectSockets on another server", async function () {
      const extra = await cluster.connect(1);
      const gone = new Promise((resolve) => extra.once("disconnect", resolve));
      await io(0).in(extra.id).disconnectSockets(true);
      assert.equal(await gone, "io server disconnect");
    });

    it("nothing invalid was counted, and responses went only to their requester", function () {
      for (const i of [0, 1]) {
        const s = io(i).of("/").adapter.stats;
        assert.equal(s.invalid, 0, `server ${i}: ${JSON.stringify(s)}`);
      }
    });

    it("close() unsubscribes every sharded channel", async function () {
      tap.reset();
      await cluster.closeAll();
      await waitFor(async () => (await redis.cli("PUBSUB", "SHARDCHANNELS")) === "", 3000, { what: "no shard channels" });
      // channels, not commands: unsubscribes of one loop turn go out as one SUNSUBSCRIBE
      assert.ok(tap.find("sunsubscribe").flatMap((c) => c.args).length >= 4);
    });
  });
}
