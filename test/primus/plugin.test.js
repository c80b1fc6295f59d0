"use strict";
// Three Primus 8 servers on the plugin, one redis-server, Primus's own Node clients: rooms across servers,
// the Room and Spark API as primus-redis-rooms has it, and none of its leaks.
const assert = require("node:assert/strict");
const { startRedis, isRedisAvailable, redisCli } = require("../helpers/redis");
const { waitFor, never, sleep } = require("../helpers/util");
const { createClient } = require("../..");
const { Fleet, rawWebSocket } = require("./helpers");

describe("Primus plugin: three servers", function () {
  let redis;
  let fleet;

  before(async function () {
    if (!(await isRedisAvailable())) this.skip();
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(function () {
    fleet = new Fleet(redis);
  });

  afterEach(async function () {
    await fleet.close();
  });

  it("room.write reaches the room's sparks on every server, and only them", async function () {
    const [n0, n1, n2] = [await fleet.node(), await fleet.node(), await fleet.node()];
    await fleet.subscribed();
    const a = await fleet.connect(n0, "a");
    const b = await fleet.connect(n0, "b");
    const c = await fleet.connect(n1, "c");
    const d = await fleet.connect(n2, "d");
    const e = await fleet.connect(n2, "e");
    assert.equal(a.spark.join("r1"), n0.primus.room("r1"));
    c.spark.join("r1");
    d.spark.join("r1");
    e.spark.join("r2");
    n0.primus.room("r1").write({ hello: "world", n: [1, 2.5, null] });
    n2.primus.room("r2").write("only e");
    await waitFor(() => a.received.length === 1 && c.received.length === 1 && d.received.length === 1 && e.received.length === 1);
    for (const x of [a, c, d]) assert.deepEqual(x.received, [{ hello: "world", n: [1, 2.5, null] }]);
    assert.deepEqual(e.received, ["only e"]);
    await never(() => b.received.length > 0 || e.received.length > 1 || a.received.length > 1, 200);
    // Remote deliveries went through C's pass-through: no JSON.parse for them.
    assert.equal(n1.primus.rooms.stats.passthrough, 1);
    assert.equal(n2.primus.rooms.stats.delivered, 1);
    // n1 has no spark in r2: dropped in C.
    assert.equal(n1.primus.rooms.stats.ignoredRoom, 1);
    assert.equal(n0.primus.rooms.stats.ignoredOwn, 1);
  });

  it("join returns the room, clients() is updated synchronously, leave emits 'leave', an emptied room is removed", async function () {
    const n0 = await fleet.node();
    const a = await fleet.connect(n0, "a");
    const b = await fleet.connect(n0, "b");
    const room = a.spark.join("lobby");
    assert.equal(room.name, "lobby");
    assert.deepEqual(room.clients(), [a.spark]);
    assert.equal(b.spark.join(room), room);
    assert.equal(a.spark.join("lobby"), room); // twice: once
    assert.deepEqual(room.clients(), [a.spark, b.spark]);
    const leaves = [];
    n0.primus.on("leave", (r, s) => leaves.push([r.name, s.query.name]));
    assert.equal(a.spark.leave("lobby"), room);
    assert.deepEqual(room.clients(), [b.spark]);
    assert.deepEqual(leaves, [["lobby", "a"]]);
    assert.equal(a.spark.leave("nowhere"), undefined);
    b.spark.leave(room);
    assert.deepEqual(room.clients(), []);
    assert.equal(n0.primus.rooms.stats.rooms, 0);
    // A kept Room object acts on its name's current room.
    const again = a.spark.join("lobby");
    assert.notEqual(again, room);
    assert.deepEqual(room.clients(), [a.spark]);
    assert.equal(n0.primus.room("lobby"), again);
    // primus.room looks names up as upstream does ('+' + name); only strings make rooms.
    a.spark.join("5");
    assert.equal(n0.primus.room(5).name, "5");
    assert.throws(() => n0.primus.room(6), TypeError);
    assert.throws(() => a.spark.join(null), TypeError);
    assert.throws(() => n0.primus.room("x").write(null), { code: "ERR_STREAM_NULL_VALUES" });
  });

  it("leaveAll() and a disconnect leave a spark in no room, here or in C", async function () {
    const [n0, n1] = [await fleet.node(), await fleet.node()];
    await fleet.subscribed();
    const a = await fleet.connect(n1, "a");
    const b = await fleet.connect(n1, "b");
    const names = Array.from({ length: 10 }, (_, i) => `room-${i}`);
    for (const name of names) {
      a.spark.join(name);
      b.spark.join(name);
    }
    assert.equal(a.spark._rooms.length, 10);
    a.spark.leaveAll();
    assert.deepEqual(a.spark._rooms, []);
    for (const name of names) assert.deepEqual(n1.primus.room(name).clients(), [b.spark]);
    b.client.end();
    await waitFor(() => b.spark._rooms.length === 0);
    for (const name of names) assert.deepEqual(n1.primus.rooms.room(name).clients(), []);
    const before = n1.primus.rooms.stats;
    for (const name of names) n0.primus.room(name).write(name);
    await waitFor(() => n1.primus.rooms.stats.received === before.received + 10);
    // Nobody holds those rooms any more: every message was dropped in C.
    assert.equal(n1.primus.rooms.stats.ignoredRoom, before.ignoredRoom + 10);
    assert.equal(n1.primus.rooms.stats.delivered, before.delivered);
    assert.deepEqual(a.received, []);
  });

  it("sends exactly what spark.write would: pass-through, outgoing transformers, another parser", async function () {
    const plain = await fleet.node();
    const transformed = await fleet.node();
    const parser = { encoder: (d, fn) => fn(null, `<${JSON.stringify(d)}>`), decoder: (d, fn) => fn(null, d) };
    const custom = await fleet.node("ours", {}, { parser });
    const sender = await fleet.node();
    await fleet.subscribed();
    transformed.primus.transform("outgoing", (packet) => {
      packet.data = { wrapped: packet.data };
    });
    const p = await fleet.connect(plain, "p");
    const t = await fleet.connect(transformed, "t");
    const cspark = await new Promise((resolve) => {
      custom.primus.once("connection", resolve);
      // a raw websocket: the custom parser's client is not generated here
      const WebSocket = require("ws");
      const ws = new WebSocket(`ws://127.0.0.1:${custom.port}/primus?name=c`);
      ws.on("error", () => {});
      fleet.clients.push({ end: () => ws.close() });
    });
    for (const s of [p.spark, t.spark, cspark]) s.join("room");
    const data = { s: "line\u2028para\u2029end", n: 1e21, list: [true, false, null, "é"], o: { "1": 1, b: 2 } };
    sender.primus.room("room").write(data);
    sender.primus.room("room").write("x");
    await waitFor(() => plain.packets.get("p").length >= 2 && transformed.packets.get("t").length >= 2 && custom.packets.get("c").length >= 2);
    const json = (v) => JSON.stringify(v).replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
    const ids = (packets) => packets.filter((x) => !String(x).startsWith('"primus::'));
    assert.deepEqual(ids(plain.packets.get("p")), [json(data), json("x")]);
    assert.deepEqual(ids(transformed.packets.get("t")), [json({ wrapped: data }), json({ wrapped: "x" })]);
    assert.deepEqual(ids(custom.packets.get("c")), [`<${json(data)}>`, '<"x">']);
    assert.equal(plain.primus.rooms.stats.passthrough, 2);
    await waitFor(() => p.received.length === 2);
    assert.deepEqual(p.received, [data, "x"]);
  });

  it("pre-built frames are the bytes ws.send(text) would write; other sockets get ws.send", async function () {
    const WebSocket = require("ws");
    const receiver = await fleet.node("ours", {}, { record: false, compression: true });
    const sender = await fleet.node();
    await fleet.subscribed();
    const a = await rawWebSocket(receiver.port, "a");
    const b = await rawWebSocket(receiver.port, "b");
    const deflated = [];
    const c = new WebSocket(`ws://127.0.0.1:${receiver.port}/primus?name=c`, { perMessageDeflate: true });
    c.on("message", (m, isBinary) => deflated.push([m.toString(), isBinary]));
    fleet.clients.push({ end: () => c.close() }, { end: a.close }, { end: b.close });
    await waitFor(() => receiver.sparks.size === 3);
    assert.equal(receiver.sparks.get("c").socket.extensions, "permessage-deflate");
    for (const name of ["a", "b", "c"]) receiver.sparks.get(name).join("room");
    const values = ["x".repeat(125), "y".repeat(126), { big: "z".repeat(70000) }, { s: "\u2028é😀" }, [1, 2, 3]];
    for (const v of values) sender.primus.room("room").write(v);
    const json = (v) => JSON.stringify(v).replace(/\u2028/g, "\\u2028");
    const frames = Buffer.concat(values.map((v) => Buffer.concat(WebSocket.Sender.frame(Buffer.from(json(v)), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }))));
    await waitFor(() => a.bytes().length >= frames.length && b.bytes().length >= frames.length && deflated.length === values.length);
    assert.ok(a.bytes().equals(frames));
    assert.ok(b.bytes().equals(frames));
    assert.deepEqual(deflated, values.map((v) => [json(v), false]));
    assert.equal(receiver.primus.rooms.stats.frames, 2 * values.length);
    assert.equal(receiver.primus.rooms.stats.deliveries, 3 * values.length);
  });

  it("room.write(undefined) and messages without data send nothing, as upstream", async function () {
    const [n0, n1] = [await fleet.node(), await fleet.node()];
    await fleet.subscribed();
    const a = await fleet.connect(n1, "a");
    a.spark.join("r");
    n0.primus.room("r").write(undefined);
    n0.primus.room("r").write(1);
    await waitFor(() => a.received.length === 1);
    assert.deepEqual(a.received, [1]);
    assert.equal(n1.primus.rooms.stats.received, 2);
  });

  it("primus.destroy() closes the connections it opened, and only those", async function () {
    const clientsOf = async () => (await redisCli(redis.port, "CLIENT", "LIST")).split("\n").filter(Boolean).length;
    const base = await clientsOf();
    const shared = createClient({ host: "127.0.0.1", port: redis.port });
    shared.on("error", () => {});
    const own = await fleet.node();
    const borrowing = await fleet.node("ours", { host: undefined, port: undefined, client: shared });
    await waitFor(async () => (await clientsOf()) === base + 4);
    assert.equal(borrowing.primus.rooms.client, shared);
    await new Promise((resolve) => own.primus.destroy({ timeout: 0 }, resolve));
    await new Promise((resolve) => borrowing.primus.destroy({ timeout: 0 }, resolve));
    fleet.nodes = [];
    await waitFor(async () => (await clientsOf()) === base + 2);
    assert.equal(shared.isReady, true);
    await shared.close();
    await waitFor(async () => (await clientsOf()) === base);
  });

  it("subscribes <channel>.*, publishes on <channel>.<uuid>, drops the subscription on destroy", async function () {
    const n0 = await fleet.node();
    await fleet.subscribed();
    assert.equal(n0.primus.rooms.pattern, "primus.*");
    assert.match(n0.primus.rooms.channel, /^primus\.[0-9a-f-]{36}$/);
    await new Promise((resolve) => n0.primus.destroy({ timeout: 0 }, resolve));
    fleet.nodes = [];
    await sleep(50);
    assert.equal(Number(await redisCli(redis.port, "PUBSUB", "NUMPAT")), 0);
  });
});
