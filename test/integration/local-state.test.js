"use strict";

// One membership index: socket.io-adapter's `rooms`/`sids` Maps. C keeps only the set of rooms this node holds
// (told when a room is created and deleted), to drop a broadcast for a room it does not hold before decoding it,
// without calling JS; JS picks the targets of the rest from the Maps, as socket.io-adapter's apply() does.
// - the Maps are socket.io-adapter's own, kept up to date synchronously, and what socket.io reads;
// - a room miss (on a room channel, or on the main channel naming rooms not held) never reaches JS, with a few
//   rooms held and with 20,000, and follows rooms as they are created and deleted;
// - the sockets a broadcast from another server reaches are exactly those apply() selects on the same Maps,
//   for every mix of rooms, exceptions, numbers and socket ids, in the classic and the sharded adapter.

const assert = require("node:assert/strict");
const notepack = require("notepack.io");
const { Adapter } = require("socket.io-adapter");
const { startRedis, isRedisAvailable, RawRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor } = require("../helpers/util");
const { createAdapter, createShardedAdapter } = require("../..");

// Counts what reaches JS from the native receive path: batches, and records per adapter.
function tapBatches(adapter) {
  const native = adapter._client;
  const deliver = native._deliverBatch;
  const onrecord = adapter._onrecord;
  const tap = { batches: 0, records: 0 };
  native._deliverBatch = function (buf, words) {
    tap.batches++;
    return deliver.call(this, buf, words);
  };
  adapter._onrecord = function (...args) {
    tap.records++;
    return onrecord.apply(this, args);
  };
  tap.restore = () => {
    native._deliverBatch = deliver;
    adapter._onrecord = onrecord;
  };
  return tap;
}

// A broadcast exactly as @socket.io/redis-adapter 8.3.0 publishes it (from another server, uid "other").
function classic(rooms, except, data) {
  return notepack.encode(["other", { type: 2, data, nsp: "/" }, { rooms, except, flags: {} }]);
}

// The same from an upstream createShardedAdapter node (a ClusterAdapter BROADCAST message, JSON).
function sharded(rooms, except, data) {
  return JSON.stringify({ type: 3, data: { packet: { type: 2, data }, opts: { rooms, except, flags: {} } }, uid: "other-sharded-uid", nsp: "/" });
}

describe("local state: socket.io-adapter's Maps are the only membership index", function () {
  this.timeout(30000);
  let redis;
  let cluster;
  let pub;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  afterEach(async function () {
    if (pub) pub.close();
    pub = null;
    if (cluster) await cluster.closeAll();
    cluster = null;
  });

  async function start(factory = () => createAdapter(redis.url)) {
    cluster = await createServers({ count: 1, adapter: factory });
    pub = await RawRedis.connect(redis.port);
    const { waitForSubscribers } = require("../helpers/redis");
    await waitForSubscribers(redis.port, 1);
    return cluster.ios[0].of("/").adapter;
  }

  it("keeps adapter.rooms and adapter.sids as socket.io-adapter's Maps, which socket.io reads, in step at once", async function () {
    const adapter = await start();
    const io = cluster.ios[0];
    assert.equal(Object.getPrototypeOf(adapter.rooms), Map.prototype);
    assert.equal(Object.getPrototypeOf(adapter.sids), Map.prototype);
    const a = await cluster.connect(0);
    const b = await cluster.connect(0);
    const sa = cluster.serverSocket(0, a);
    const sb = cluster.serverSocket(0, b);
    // socket.rooms is the adapter's own Set, not a copy
    assert.equal(sa.rooms, adapter.sids.get(a.id));
    assert.ok(sa.rooms instanceof Set && adapter.rooms.get(a.id) instanceof Set);
    sa.join(["x", 7, "7"]);
    assert.equal(adapter.rooms.get("x").has(a.id), true);
    assert.notEqual(adapter.rooms.get(7), adapter.rooms.get("7"));
    assert.equal(adapter.rooms.get(7), adapter.rooms.get(7)); // the same Set each time
    const members = adapter.rooms.get("x");
    sb.join("x");
    assert.equal(adapter.rooms.get("x"), members);
    assert.deepEqual([...members], [a.id, b.id]);
    // socket.io's own uses: fetchSockets, socketsJoin/Leave, disconnectSockets, all synchronous locally
    assert.deepEqual((await io.in("x").fetchSockets()).map((s) => s.id), [a.id, b.id]);
    assert.deepEqual((await io.in(7).except(b.id).fetchSockets()).map((s) => s.id), [a.id]);
    io.in(b.id).socketsJoin(["y", 8]);
    assert.deepEqual([...sb.rooms], [b.id, "x", "y", 8]);
    io.in("y").socketsLeave("x");
    assert.deepEqual([...adapter.rooms.get("x")], [a.id]);
    io.in("y").disconnectSockets(true);
    await waitFor(() => !adapter.sids.has(b.id), 3000, { what: "b disconnected" });
    assert.equal(adapter.rooms.has("y"), false);
    assert.equal(adapter.rooms.has(b.id), false);
    assert.deepEqual([...adapter.rooms.keys()], [a.id, "x", 7, "7"]);
    // the Maps hold Sets only; nothing else was added per socket
    for (const [, ids] of adapter.rooms) assert.equal(Object.getPrototypeOf(ids), Set.prototype);
  });

  it("drops a broadcast for a room it does not hold in C, without calling JS, and follows rooms as they come and go", async function () {
    const adapter = await start();
    const client = await cluster.connect(0);
    const socket = cluster.serverSocket(0, client);
    socket.join(["held", 7]);
    const got = [];
    client.on("m", (x) => got.push(x));
    const stats0 = adapter.stats;
    const tap = tapBatches(adapter);
    try {
      // 1. room channels of rooms not held (a name, a number held as a string only, a number not held)
      for (let i = 0; i < 300; i++) pub.publish(`socket.io#/#other-${i}#`, classic([`other-${i}`], [], ["m", "miss"]));
      pub.publish("socket.io#/#8#", classic([8], [], ["m", "miss"]));
      // 2. the main channel, naming rooms not held: decoded in C, no target there
      for (let i = 0; i < 100; i++) pub.publish("socket.io#/#", classic(["other", 9, "7 "], [], ["m", "miss"]));
      // 3. then one it holds (a number room, on its channel "7")
      await pub.publish("socket.io#/#7#", classic([7], [], ["m", "hit"]));
      await waitFor(() => got.length === 1, 5000, { what: "the broadcast to a held room" });
      assert.deepEqual(got, ["hit"]);
      assert.equal(tap.batches, 1);
      assert.equal(tap.records, 1);
      const s = adapter.stats;
      assert.equal(s.ignoredRoom - stats0.ignoredRoom, 301);
      assert.equal(s.ignoredNoTarget - stats0.ignoredNoTarget, 100);
      assert.equal(s.delivered - stats0.delivered, 1);

      // a room deleted (its last member left) is a miss again; created again, a hit
      socket.leave("held");
      let ignored = adapter.stats.ignoredRoom;
      await pub.publish("socket.io#/#held#", classic(["held"], [], ["m", "gone"]));
      await waitFor(() => adapter.stats.ignoredRoom === ignored + 1, 5000, { what: "the miss counted" });
      socket.join("held");
      await pub.publish("socket.io#/#held#", classic(["held"], [], ["m", "back"]));
      await waitFor(() => got.length === 2, 5000, { what: "the broadcast to the room joined again" });
      assert.deepEqual(got, ["hit", "back"]);
      socket.leave("held");
      const before = tap.batches;
      ignored = adapter.stats.ignoredRoom;
      await pub.publish("socket.io#/#held#", classic(["held"], [], ["m", "gone"]));
      await pub.publish("socket.io#/#7#", classic([7], [], ["m", "last"]));
      await waitFor(() => got.length === 3, 5000, { what: "the last broadcast" });
      assert.deepEqual(got, ["hit", "back", "last"]);
      assert.equal(tap.batches - before, 1);
      assert.equal(adapter.stats.ignoredRoom - ignored, 1);
    } finally {
      tap.restore();
    }
  });

  it("drops misses without calling JS with 20,000 rooms held too", async function () {
    const adapter = await start();
    const client = await cluster.connect(0);
    cluster.serverSocket(0, client).join("sentinel");
    // 20,000 sockets in their own room (ids with no connection behind them: only the adapter's state counts)
    for (let i = 0; i < 20000; i++) adapter.addAll(`fake-${i}`, new Set([`fake-${i}`]));
    assert.equal(adapter.rooms.size, 20002);
    let got = 0;
    client.on("m", () => got++);
    const ignored = adapter.stats.ignoredRoom;
    const tap = tapBatches(adapter);
    try {
      for (let i = 0; i < 2000; i++) pub.publish(`socket.io#/#fake-${20000 + i}#`, classic([`fake-${20000 + i}`], [], ["m", i]));
      await pub.publish("socket.io#/#sentinel#", classic(["sentinel"], [], ["m", "sentinel"]));
      await waitFor(() => got === 1, 5000, { what: "the sentinel" });
      assert.equal(tap.batches, 1);
      assert.equal(adapter.stats.ignoredRoom - ignored, 2000);
    } finally {
      tap.restore();
      for (let i = 0; i < 20000; i++) adapter.delAll(`fake-${i}`);
    }
    assert.equal(adapter.rooms.size, 2);
  });

  it("hears of rooms through the room log: many in one tick, non-ASCII and very long names, numbers", async function () {
    const adapter = await start();
    const client = await cluster.connect(0);
    const socket = cluster.serverSocket(0, client);
    const got = [];
    client.on("m", (x) => got.push(x));
    // 5,000 rooms created in one tick: the 4 KiB log fills and is handed to C many times on the way
    const many = Array.from({ length: 5000 }, (_, i) => `many-${i}-${"x".repeat(i % 40)}`);
    const odd = ["é-ü", "日本語", "😀 emoji", "", "a\u0000b", "L".repeat(40000)]; // the last is too long for the log
    socket.join([...many, ...odd, 3.5, -0, 2 ** 40, 1.5e-7]);
    const rooms = [many[0], many[4999], ...odd, 3.5, 0, 2 ** 40, 1.5e-7];
    for (const room of rooms) pub.publish(`socket.io#/#${room}#`, classic([room], [], ["m", String(room).slice(0, 20)]));
    await pub.publish("socket.io#/#nobody#", classic(["nobody"], [], ["m", "miss"]));
    await waitFor(() => got.length === rooms.length, 5000, { what: "a broadcast to each room" });
    assert.deepEqual(got, rooms.map((r) => String(r).slice(0, 20)));
    // deleted through the log as well: all misses now, and nothing reaches JS
    socket.leave("é-ü");
    for (const room of many) socket.leave(room);
    socket.leave(odd[5]);
    socket.leave(3.5);
    const ignored = adapter.stats.ignoredRoom;
    const tap = tapBatches(adapter);
    try {
      for (const room of [many[0], many[4999], "é-ü", odd[5], "3.5"]) pub.publish(`socket.io#/#${room}#`, classic([room], [], ["m", "gone"]));
      await pub.publish("socket.io#/#日本語#", classic(["日本語"], [], ["m", "still"]));
      await waitFor(() => got.length === rooms.length + 1, 5000, { what: "the last broadcast" });
      assert.equal(got[got.length - 1], "still");
      assert.equal(adapter.stats.ignoredRoom - ignored, 5);
      assert.equal(tap.records, 1);
    } finally {
      tap.restore();
    }
  });

  // Rooms per client, then broadcasts from "another server" with every mix of rooms and exceptions: each must
  // reach exactly the sockets socket.io-adapter's apply() picks on the same Maps.
  const CASES = [
    [[], []],
    [["a"], []],
    [["a", "b"], []],
    [["b", "a", "b"], []],
    [["a"], ["b"]],
    [[], ["a"]],
    [[], ["a", "nobody"]],
    [["nobody"], []],
    [["nobody", "c"], []],
    [[7], []],
    [["7"], []],
    [[7, "7"], ["b"]],
    [["a", "c"], ["self:1"]],
    [["self:2"], []],
    [[], ["self:0", "self:3"]],
    [["a", "b", "c", 7], ["c"]],
    [["é-ü"], []],
  ];
  const ROOMS = [["a", 7], ["a", "b"], ["b", "c", "7"], ["c", "é-ü"]];

  for (const kind of ["classic", "sharded"]) {
    it(`reaches the sockets socket.io-adapter's apply() selects, for every mix of rooms and exceptions (${kind})`, async function () {
      const factory = kind === "classic" ? () => createAdapter(redis.url) : () => createShardedAdapter(redis.url, { subscriptionMode: "static" });
      let adapter;
      if (kind === "classic") {
        adapter = await start(factory);
      } else {
        cluster = await createServers({ count: 1, adapter: factory });
        pub = await RawRedis.connect(redis.port);
        await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/#")).endsWith("1"), 5000, { what: "the sharded subscription" });
        adapter = cluster.ios[0].of("/").adapter;
      }
      const clients = [];
      for (let i = 0; i < ROOMS.length; i++) {
        clients.push(await cluster.connect(0));
        cluster.serverSocket(0, clients[i]).join(ROOMS[i]);
      }
      const name = (r) => (typeof r === "string" && r.startsWith("self:") ? clients[Number(r.slice(5))].id : r);
      const received = clients.map(() => []);
      clients.forEach((c, i) => c.on("case", (k) => received[i].push(k)));
      const expected = clients.map(() => []);
      for (let k = 0; k < CASES.length; k++) {
        const [rooms, except] = CASES[k].map((list) => list.map(name));
        Adapter.prototype.apply.call(adapter, { rooms: new Set(rooms), except: new Set(except) }, (socket) => {
          expected[clients.findIndex((c) => c.id === socket.id)].push(k);
        });
        if (kind === "classic") {
          const channel = rooms.length === 1 ? `socket.io#/#${rooms[0]}#` : "socket.io#/#";
          pub.publish(channel, classic(rooms, except, ["case", k]));
        } else {
          pub.command("SPUBLISH", "socket.io#/#", sharded(rooms, except, ["case", k]));
        }
      }
      // the last case reaches everyone: once it has, every earlier one has been delivered
      const all = CASES.length;
      if (kind === "classic") await pub.publish("socket.io#/#", classic([], [], ["case", all]));
      else await pub.command("SPUBLISH", "socket.io#/#", sharded([], [], ["case", all]));
      await waitFor(() => received.every((r) => r.includes(all)), 5000, { what: "the last case" });
      for (const e of expected) e.push(all);
      assert.deepEqual(received, expected);
      assert.ok(expected.every((e) => e.length > 1) && expected.some((e) => e.length < CASES.length / 2), "the cases select some sockets and not others");
    });
  }
});
