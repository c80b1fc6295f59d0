"use strict";
// A fleet mixing the plugin with primus-redis-rooms 0.3.2 on one Redis: messages flow both ways, the bytes
// each publishes are the same for tricky data, and sparks on either kind of node are sent the same packets.
const assert = require("node:assert/strict");
const { startRedis, isRedisAvailable, RawRedis } = require("../helpers/redis");
const { waitFor, never } = require("../helpers/util");
const { Fleet } = require("./helpers");

// Values whose JSON.stringify has opinions: key order, -0, NaN, undefined members, toJSON, unicode. (Not
// null: an objectMode Writable refuses it, upstream's Room too.)
function trickyValues() {
  const withToJSON = { toJSON: () => ({ replaced: true }), ignored: 1 };
  return [
    { b: 1, a: 2, "10": 3, "2": 4, "-1": 5, "01": 6 },
    -0,
    [-0, NaN, Infinity, -Infinity, 1e21, 1e-7, 123456789012345680000, 5e-324, 0.1 + 0.2],
    { u: undefined, f() {}, s: Symbol("x"), n: null, a: [undefined, () => 1, Symbol("y")] },
    withToJSON,
    new Date(0),
    [withToJSON, { nested: { toJSON: (key) => `key:${key}` } }],
    "line\u2028separator\u2029paragraph",
    { "\u2028": "\u2029", emoji: "\ud83d\ude00", lone: "\ud800", lone2: "x\udfff", nul: "\u0000", ctl: "\u001f\u007f", q: '"\\/' },
    "é ü 日本 \u00a0",
    Buffer.from("hi"),
    new Map([[1, 2]]),
    { __proto__: { inherited: 1 }, own: 2 },
    JSON.parse('{"__proto__": {"x": 1}, "constructor": "c"}'),
    "",
    [],
    {},
    true,
    0,
    "primus::ping::1",
    Array.from({ length: 50 }, (_, i) => ({ i, s: "v".repeat(i) })),
  ];
}

describe("Primus plugin: mixed fleet with primus-redis-rooms 0.3.2", function () {
  let redis;
  let fleet;
  let tap;

  before(async function () {
    if (!(await isRedisAvailable())) this.skip();
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(async function () {
    fleet = new Fleet(redis);
    tap = await RawRedis.connect(redis.port);
  });

  afterEach(async function () {
    await fleet.close();
    await tap.close();
  });

  it("rooms span both kinds of node, in both directions", async function () {
    const up = await fleet.node("upstream");
    const our = await fleet.node("ours");
    await fleet.subscribed();
    const u = await fleet.connect(up, "u");
    const o = await fleet.connect(our, "o");
    const o2 = await fleet.connect(our, "o2");
    u.spark.join("chat");
    o.spark.join("chat");
    o2.spark.join("other");
    up.primus.room("chat").write({ from: "upstream" });
    await waitFor(() => u.received.length === 1 && o.received.length === 1);
    our.primus.room("chat").write({ from: "ours" });
    await waitFor(() => u.received.length === 2 && o.received.length === 2);
    assert.deepEqual(u.received, [{ from: "upstream" }, { from: "ours" }]);
    assert.deepEqual(o.received, [{ from: "upstream" }, { from: "ours" }]);
    our.primus.room("other").write(1);
    up.primus.room("other").write(2);
    await waitFor(() => o2.received.length === 2);
    assert.deepEqual(o2.received, [1, 2]);
    await never(() => u.received.length > 2, 100);
  });

  it("publishes the same bytes as primus-redis-rooms for tricky data", async function () {
    const up = await fleet.node("upstream");
    const our = await fleet.node("ours");
    await tap.command("PSUBSCRIBE", "primus.*");
    await fleet.subscribed(1);
    const seen = { [up.primus.rooms.channel]: [], [our.primus.rooms.channel]: [] };
    tap.on("push", (m) => seen[m[2].toString()].push(m[3]));
    const values = trickyValues();
    const rooms = ["room", "é\u2028名", "\ud800lone", "__proto__", "constructor", "", "a,b"];
    for (const node of [up, our]) {
      for (const name of rooms) for (const v of values) node.primus.room(name).write(v);
    }
    const n = rooms.length * values.length;
    await waitFor(() => seen[up.primus.rooms.channel].length === n && seen[our.primus.rooms.channel].length === n);
    const a = seen[up.primus.rooms.channel];
    const b = seen[our.primus.rooms.channel];
    for (let i = 0; i < n; i++) assert.ok(a[i].equals(b[i]), `message ${i}: ${a[i]} vs ${b[i]}`);
  });

  it("sparks on either kind of node are sent the same packets, from either kind of publisher", async function () {
    const upSender = await fleet.node("upstream");
    const ourSender = await fleet.node("ours");
    const upReceiver = await fleet.node("upstream");
    const ourReceiver = await fleet.node("ours");
    await fleet.subscribed();
    const u = await fleet.connect(upReceiver, "u");
    const o = await fleet.connect(ourReceiver, "o");
    const rooms = ["r", "\ud800lone", "__proto__"];
    for (const name of rooms) {
      u.spark.join(name);
      o.spark.join(name);
    }
    const values = trickyValues();
    for (const sender of [upSender, ourSender]) {
      for (const name of rooms) for (const v of values) sender.primus.room(name).write(v);
    }
    const want = 2 * rooms.length * values.length;
    await waitFor(() => upReceiver.packets.get("u").length === want && ourReceiver.packets.get("o").length === want, 5000);
    assert.deepEqual(ourReceiver.packets.get("o"), upReceiver.packets.get("u"));
    // (the client treats the "primus::ping::1" string as its protocol, on both)
    await waitFor(() => u.received.length === want - 2 * rooms.length && o.received.length === u.received.length);
    assert.deepEqual(o.received, u.received);
    assert.ok(ourReceiver.primus.rooms.stats.passthrough > 0);
  });
});
