"use strict";
// Our sharded node and upstream's (@socket.io/redis-adapter 8.3.0 createShardedAdapter on node-redis
// v4) on one Redis 7, in each subscription mode and each direction. Then hand-made JSON broadcasts
// (whitespace, odd number and string spellings, duplicate keys, key order...) SPUBLISHed to both:
// our clients must receive exactly the frames upstream's clients receive.
const assert = require("node:assert/strict");
const { startRedis, RawRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { sleep, waitFor } = require("../helpers/util");
const { MODES, ours, upstream, frames, next } = require("./helpers");

for (const mode of MODES) {
  describe(`mixed fleet with upstream's sharded adapter, mode "${mode}"`, function () {
    this.timeout(20000);
    let redis, cluster, up, me;
    let cOurs, cUp;
    const impls = [];

    before(async function () {
      redis = await startRedis();
      me = ours();
      up = upstream();
      impls.push(me, up);
      // server 0: ours, server 1: upstream
      cluster = await createServers({
        count: 2,
        adapter: (i) => (i === 0 ? me : up).factory(redis.url, { subscriptionMode: mode }),
      });
      await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/#")).endsWith("2"), 5000);
      for (const io of cluster.ios) io.on("connection", (s) => s.join(s.handshake.auth.rooms || []));
      cOurs = await cluster.connect(0, { auth: { rooms: ["shared", "onlyOurs"] } });
      cUp = await cluster.connect(1, { auth: { rooms: ["shared", "onlyUp"] } });
      if (mode !== "static") {
        await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/#shared#")).endsWith("2"), 5000);
      }
    });

    after(async function () {
      if (cluster) await cluster.closeAll();
      for (const impl of impls) await impl.cleanup();
      if (redis) await redis.stop();
    });

    for (const [from, to, name] of [
      [0, 1, "ours -> upstream"],
      [1, 0, "upstream -> ours"],
    ]) {
      describe(name, function () {
        const target = () => (to === 0 ? cOurs : cUp);
        const io = () => cluster.ios[from];

        it("broadcast to all, to a room, to a socket id, binary", async function () {
          let p = next(target(), "all");
          io().emit("all", 1, "two", { three: [3] });
          assert.deepEqual(await p, [1, "two", { three: [3] }]);
          p = next(target(), "room");
          io().to("shared").emit("room", "r");
          assert.deepEqual(await p, ["r"]);
          p = next(target(), "direct");
          io().to(target().id).emit("direct", "d");
          assert.deepEqual(await p, ["d"]);
          p = next(target(), "bin");
          io().to(to === 0 ? "onlyOurs" : "onlyUp").emit("bin", Buffer.from([1, 2]), { b: Buffer.from([3]) });
          const [b, o] = await p;
          assert.deepEqual([[...b], [...o.b]], [[1, 2], [3]]);
        });

        it("broadcast with acks", async function () {
          cOurs.once("ack", (cb) => cb("fromOurs"));
          cUp.once("ack", (cb) => cb(Buffer.from([7])));
          const answers = await io().timeout(3000).emitWithAck("ack");
          assert.equal(answers.length, 2);
          assert.ok(answers.includes("fromOurs"));
          assert.deepEqual([...answers.find((a) => a !== "fromOurs")], [7]);
        });

        it("fetchSockets", async function () {
          const sockets = await io().in("shared").fetchSockets();
          assert.deepEqual(sockets.map((s) => s.id).sort(), [cOurs.id, cUp.id].sort());
          const remote = sockets.find((s) => s.id === target().id);
          assert.ok([...remote.rooms].includes("shared"));
        });

        it("serverSideEmit with and without ack", async function () {
          const other = cluster.ios[to];
          const got = new Promise((resolve) => other.once("sse", (...a) => resolve(a)));
          io().serverSideEmit("sse", { x: 1 });
          assert.deepEqual(await got, [{ x: 1 }]);
          other.once("q", (n, cb) => cb(n + 1));
          assert.deepEqual(await io().serverSideEmitWithAck("q", 1), [2]);
        });

        it("socketsJoin and disconnectSockets", async function () {
          await io().in(target().id).socketsJoin("late");
          await waitFor(() => cluster.serverSocket(to, target()).rooms.has("late"), 3000);
          const p = next(target(), "late");
          io().to("late").emit("late", 1);
          await p;
          await io().in(target().id).socketsLeave("late");
          await waitFor(() => !cluster.serverSocket(to, target()).rooms.has("late"), 3000);
          const extra = await cluster.connect(to);
          const gone = new Promise((resolve) => extra.once("disconnect", resolve));
          io().in(extra.id).disconnectSockets(true);
          assert.equal(await gone, "io server disconnect");
        });

        it("serverCount", async function () {
          assert.equal(await io().of("/").adapter.serverCount(), 2);
        });
      });
    }
  });
}

// Hand-made JSON broadcasts: what our server's clients receive equals what upstream's receive.
const CASES = [
  ["canonical", '["e",1,"two",{"a":[true,false,null]}]'],
  ["whitespace", '[ "e" , 1 ,\n{"a" : 2} ]'],
  ["number spellings", '["e",1.0,1e2,1E21,-0,0.1e1,123456789012345678901234567890,1e-7,5e-324,-1.5e+300]'],
  ["escapes", '["e","\\u0041\\/\\u00e9\\ud83d\\ude00\\b\\f\\n\\r\\t\\u0001\\u001F\\"\\\\"]'],
  ["lone surrogates", '["e","\\ud800x","\\udfff"]'],
  ["duplicate keys", '["e",{"a":1,"b":2,"a":3}]'],
  ["index keys", '["e",{"b":1,"2":2,"1":3,"a":4,"10":5}]'],
  ["index keys in order", '["e",{"0":1,"1":2,"x":3}]'],
  ["__proto__ key", '["e",{"__proto__":{"x":1},"y":2}]'],
  ["toJSON key", '["e",{"toJSON":"nope"}]'],
  ["deep", '["e",' + "[".repeat(50) + "]".repeat(50) + "]"],
  ["non-ASCII raw", '["e","日本語 ✓"]'],
  ["numeric event", "[42,1]"],
  ["empty object and array", '["e",{},[],""]'],
];

describe("hand-made JSON broadcasts: our frames equal upstream's", function () {
  this.timeout(20000);
  let redis, cluster, raw, me, up, fOurs, fUp, cOurs, cUp;

  before(async function () {
    redis = await startRedis();
    me = ours();
    up = upstream();
    cluster = await createServers({ count: 2, adapter: (i) => (i === 0 ? me : up).factory(redis.url), namespaces: ["/admin"] });
    cOurs = await cluster.connect(0, { nsp: "/admin" });
    cUp = await cluster.connect(1, { nsp: "/admin" });
    fOurs = frames(cOurs);
    fUp = frames(cUp);
    raw = await RawRedis.connect(redis.port);
    await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/admin#")).endsWith("2"), 5000);
  });

  after(async function () {
    if (raw) await raw.close();
    if (cluster) await cluster.closeAll();
    await up.cleanup();
    if (redis) await redis.stop();
  });

  for (const [name, data] of CASES) {
    it(name, async function () {
      fOurs.length = fUp.length = 0;
      const msg = `{"type":3,"data":{"packet":{"type":2,"data":${data}},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"0123456789abcdef","nsp":"/admin"}`;
      JSON.parse(msg); // the case is valid JSON
      await raw.command("SPUBLISH", "socket.io#/admin#", Buffer.from(msg));
      await waitFor(() => fUp.length > 0 && fOurs.length > 0, 3000, { what: `${name} on both` });
      await sleep(20);
      assert.deepEqual(fOurs, fUp);
    });
  }

  it("took the native path for the canonical case and JS for the others", function () {
    const s = cluster.ios[0].of("/admin").adapter.stats;
    assert.equal(s.invalid, 0);
    // canonical, numeric event, empty object and array, non-ASCII raw and toJSON key are canonical
    assert.ok(s.delivered >= 5, JSON.stringify(s));
    assert.ok(s.delivered < CASES.length, JSON.stringify(s));
  });
});
