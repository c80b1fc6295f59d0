"use strict";
// What our servers publish, byte for byte, against the vectors of spec 7.2 (generated from the real
// @socket.io/redis-adapter 8.3.0). The vectors were made with uids "A-root"/"A-admn" and request ids
// "req001"...; both are 6 characters, so ours are substituted in place before comparing.
const assert = require("node:assert/strict");
const notepack = require("notepack.io");
const { startRedis, RawRedis, waitForSubscribers } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { sleep, waitFor } = require("../helpers/util");
const { createAdapter } = require("../..");

const hex = (s) => Buffer.from(s.replace(/\s+/g, ""), "hex");

// spec 7.2, publishes of server A
const VECTORS = {
  V1: { channel: "socket.io#/#", hex: "93 a6 41 2d 72 6f 6f 74 83 a4 74 79 70 65 02 a4 64 61 74 61 93 a5 68 65 6c 6c 6f a5 77 6f 72 6c 64 2a a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 90 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 80" },
  V2: { channel: "socket.io#/#room1#", hex: "93 a6 41 2d 72 6f 6f 74 83 a4 74 79 70 65 02 a4 64 61 74 61 92 a4 6e 65 77 73 83 a1 61 01 a1 62 92 c3 c0 a1 63 cb 3f f8 00 00 00 00 00 00 a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 91 a5 72 6f 6f 6d 31 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 80" },
  V3: { channel: "socket.io#/#", hex: "93 a6 41 2d 72 6f 6f 74 83 a4 74 79 70 65 02 a4 64 61 74 61 93 a3 62 69 6e c4 04 de ad be ef a1 78 a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 90 a6 65 78 63 65 70 74 91 a5 72 6f 6f 6d 33 a5 66 6c 61 67 73 80" },
  V3b: { channel: "socket.io#/#", hex: "93 a6 41 2d 72 6f 6f 74 83 a4 74 79 70 65 02 a4 64 61 74 61 92 a5 6d 75 6c 74 69 01 a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 92 a5 72 6f 6f 6d 31 a5 72 6f 6f 6d 32 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 82 a8 76 6f 6c 61 74 69 6c 65 c3 a8 63 6f 6d 70 72 65 73 73 c2" },
  V3d: { channel: "socket.io#/#123#", hex: "93 a6 41 2d 72 6f 6f 74 83 a4 74 79 70 65 02 a4 64 61 74 61 91 a3 6e 75 6d a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 91 7b a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 80" },
  V3e: { channel: "socket.io#/admin#", hex: "93 a6 41 2d 61 64 6d 6e 83 a4 74 79 70 65 02 a4 64 61 74 61 92 a3 61 64 6d 01 a3 6e 73 70 a6 2f 61 64 6d 69 6e 83 a5 72 6f 6f 6d 73 90 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 80" },
  V4: { channel: "socket.io-request#/#", hex: "85 a3 75 69 64 a6 41 2d 72 6f 6f 74 a9 72 65 71 75 65 73 74 49 64 a6 72 65 71 30 30 31 a4 74 79 70 65 07 a6 70 61 63 6b 65 74 83 a4 74 79 70 65 02 a4 64 61 74 61 92 a4 70 69 6e 67 07 a3 6e 73 70 a1 2f a4 6f 70 74 73 83 a5 72 6f 6f 6d 73 90 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 81 a7 74 69 6d 65 6f 75 74 cd 03 e8" },
  V4b: { channel: "socket.io-request#/#", hex: "85 a3 75 69 64 a6 41 2d 72 6f 6f 74 a9 72 65 71 75 65 73 74 49 64 a6 72 65 71 30 30 32 a4 74 79 70 65 07 a6 70 61 63 6b 65 74 83 a4 74 79 70 65 02 a4 64 61 74 61 92 a7 70 69 6e 67 42 69 6e c4 01 01 a3 6e 73 70 a1 2f a4 6f 70 74 73 83 a5 72 6f 6f 6d 73 91 a5 72 6f 6f 6d 32 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 81 a7 74 69 6d 65 6f 75 74 cd 03 e8" },
  V5: { channel: "socket.io-request#/#", json: '{"uid":"A-root","type":6,"data":["hello","world",1]}' },
  V5b: { channel: "socket.io-request#/#", json: '{"uid":"A-root","requestId":"req003","type":6,"data":["question",1]}' },
  V6: { channel: "socket.io-request#/#", json: '{"uid":"A-root","requestId":"req004","type":5,"opts":{"rooms":["room2"],"except":[]}}' },
  V7: { channel: "socket.io-request#/#", json: '{"uid":"A-root","type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room9"]}' },
  V8: { channel: "socket.io-request#/#", json: '{"uid":"A-root","requestId":"req005","type":1}' },
  V9: { channel: "socket.io-request#/#", json: '{"uid":"A-root","type":4,"opts":{"rooms":["nobody"],"except":[]},"close":true}' },
};

// spec 7.2, answers of server B to A's requests (B holds a client in room1, room2 and 123)
const ANSWERS = {
  V4count: '{"type":8,"requestId":"req001","clientCount":1}',
  V4ack: "83 a4 74 79 70 65 09 a9 72 65 71 75 65 73 74 49 64 a6 72 65 71 30 30 31 a6 70 61 63 6b 65 74 a5 70 6f 6e 67 42",
  V4back: "83 a4 74 79 70 65 09 a9 72 65 71 75 65 73 74 49 64 a6 72 65 71 30 30 32 a6 70 61 63 6b 65 74 c4 01 ff",
  V5b: '{"type":6,"requestId":"req003","data":2}',
};

// Replaces every occurrence of a 6-byte ASCII token.
function substitute(buf, from, to) {
  const f = Buffer.from(from);
  const t = Buffer.from(to);
  assert.equal(f.length, t.length);
  const out = Buffer.from(buf);
  for (let i = out.indexOf(f); i !== -1; i = out.indexOf(f, i + 1)) t.copy(out, i);
  return out;
}

function requestIdOf(payload) {
  const v = payload[0] === 0x7b ? JSON.parse(payload.toString()) : notepack.decode(payload);
  return v.requestId;
}

describe("wire bytes equal the spec 7.2 vectors", function () {
  this.timeout(20000);
  let redis, monitor, cluster, cA, cB;
  let seen = [];

  before(async function () {
    redis = await startRedis();
    monitor = await RawRedis.connect(redis.port);
    await monitor.command("PSUBSCRIBE", "*");
    monitor.on("push", (v) => seen.push({ channel: v[2].toString(), payload: v[3] }));
    cluster = await createServers({ count: 2, adapter: () => createAdapter(redis.url), namespaces: ["/admin"] });
    await waitForSubscribers(redis.port, 2);
    await waitForSubscribers(redis.port, 2, { nsp: "/admin" });
    cluster.ios[1].on("connection", (socket) => {
      socket.join(["room1", "room2"]);
      socket.join(123);
    });
    cluster.ios[0].on("connection", (socket) => socket.join(["room1", "room3"]));
    cluster.ios[1].on("question", (n, cb) => cb(n + 1));
    cA = await cluster.connect(0);
    cB = await cluster.connect(1);
    cA.on("ping", (n, cb) => cb("pongA"));
    cB.on("ping", (n, cb) => cb("pongB"));
    cB.on("pingBin", (b, cb) => cb(Buffer.from([0xff])));
    await waitFor(() => cluster.ios[1].of("/").adapter.rooms.has(123), 2000);
  });

  after(async function () {
    if (cluster) await cluster.closeAll();
    if (monitor) await monitor.close();
    if (redis) await redis.stop();
  });

  const A = () => cluster.ios[0];
  const uidA = () => A().of("/").adapter.uid;

  async function capture(action, { channel, count = 1 }) {
    seen = [];
    await action();
    await waitFor(() => seen.filter((m) => m.channel === channel).length >= count, 3000, { what: `a publish on ${channel}` });
    await sleep(50);
    return seen;
  }

  function expectBroadcast(name, msgs, uid = uidA(), vectorUid = "A-root") {
    const v = VECTORS[name];
    const got = msgs.find((m) => m.channel === v.channel);
    assert.ok(got, `${name}: nothing published on ${v.channel}`);
    assert.equal(got.payload.toString("hex"), substitute(hex(v.hex), vectorUid, uid).toString("hex"), name);
  }

  function expectJson(name, msgs, rid) {
    const v = VECTORS[name];
    const got = msgs.find((m) => m.channel === v.channel && m.payload.toString().includes(`"uid":"${uidA()}"`));
    assert.ok(got, `${name}: no request from A on ${v.channel}`);
    let text = v.json.replace("A-root", uidA());
    if (rid) text = text.replace(/req00\d/, rid);
    assert.equal(got.payload.toString(), text, name);
    return got;
  }

  it("V1 plain broadcast", async function () {
    expectBroadcast("V1", await capture(() => A().emit("hello", "world", 42), VECTORS.V1));
  });

  it("V2 single-room broadcast", async function () {
    expectBroadcast("V2", await capture(() => A().to("room1").emit("news", { a: 1, b: [true, null], c: 1.5 }), VECTORS.V2));
  });

  it("V3 except + binary", async function () {
    expectBroadcast("V3", await capture(() => A().except("room3").emit("bin", Buffer.from([0xde, 0xad, 0xbe, 0xef]), "x"), VECTORS.V3));
  });

  it("V3b several rooms + volatile + compress(false)", async function () {
    expectBroadcast("V3b", await capture(() => A().to(["room1", "room2"]).volatile.compress(false).emit("multi", 1), VECTORS.V3b));
  });

  it("V3d numeric room", async function () {
    expectBroadcast("V3d", await capture(() => A().to(123).emit("num"), VECTORS.V3d));
  });

  it("V3e other namespace", async function () {
    const msgs = await capture(() => A().of("/admin").emit("adm", 1), VECTORS.V3e);
    expectBroadcast("V3e", msgs, A().of("/admin").adapter.uid, "A-admn");
  });

  it("V4 broadcast with ack: request, client count and ack", async function () {
    let result;
    const msgs = await capture(
      () => A().timeout(1000).emit("ping", 7, (err, responses) => (result = { err, responses })),
      { channel: "socket.io-response#/#", count: 2 },
    );
    const req = msgs.find((m) => m.channel === VECTORS.V4.channel);
    const rid = requestIdOf(req.payload);
    const expected = substitute(substitute(hex(VECTORS.V4.hex), "A-root", uidA()), "req001", rid);
    assert.equal(req.payload.toString("hex"), expected.toString("hex"));
    const answers = msgs.filter((m) => m.channel === "socket.io-response#/#").map((m) => m.payload);
    assert.ok(answers.some((p) => p.toString() === ANSWERS.V4count.replace("req001", rid)), "client count answer");
    assert.ok(answers.some((p) => p.toString("hex") === substitute(hex(ANSWERS.V4ack), "req001", rid).toString("hex")), "ack answer");
    await waitFor(() => result, 2000, { what: "the ack callback" });
    assert.equal(result.err, null);
    assert.deepEqual(result.responses.sort(), ["pongA", "pongB"]);
  });

  it("V4b broadcast with ack, binary payload and binary ack", async function () {
    let result;
    const msgs = await capture(
      () => A().to("room2").timeout(1000).emit("pingBin", Buffer.from([1]), (err, responses) => (result = { err, responses })),
      { channel: "socket.io-response#/#", count: 2 },
    );
    const req = msgs.find((m) => m.channel === VECTORS.V4b.channel);
    const rid = requestIdOf(req.payload);
    assert.equal(req.payload.toString("hex"), substitute(substitute(hex(VECTORS.V4b.hex), "A-root", uidA()), "req002", rid).toString("hex"));
    const answers = msgs.filter((m) => m.channel === "socket.io-response#/#").map((m) => m.payload.toString("hex"));
    assert.ok(answers.includes(substitute(hex(ANSWERS.V4back), "req002", rid).toString("hex")), "binary ack answer");
    await waitFor(() => result, 2000, { what: "the ack callback" });
    assert.deepEqual(result.responses, [Buffer.from([0xff])]);
  });

  it("V5 serverSideEmit without ack", async function () {
    expectJson("V5", await capture(() => A().serverSideEmit("hello", "world", 1), VECTORS.V5));
  });

  it("V5b serverSideEmitWithAck: request and answer", async function () {
    let responses;
    const msgs = await capture(async () => {
      responses = await A().serverSideEmitWithAck("question", 1);
    }, { channel: "socket.io-response#/#" });
    const req = msgs.find((m) => m.channel === VECTORS.V5b.channel);
    const rid = requestIdOf(req.payload);
    expectJson("V5b", msgs, rid);
    assert.ok(msgs.some((m) => m.payload.toString() === ANSWERS.V5b.replace("req003", rid)), "the answer");
    assert.deepEqual(responses, [2]);
  });

  it("V6 fetchSockets request", async function () {
    let sockets;
    const msgs = await capture(async () => {
      sockets = await A().in("room2").fetchSockets();
    }, { channel: "socket.io-response#/#" });
    const req = msgs.find((m) => m.channel === VECTORS.V6.channel);
    expectJson("V6", msgs, requestIdOf(req.payload));
    assert.deepEqual(sockets.map((s) => s.id), [cB.id]);
    assert.deepEqual([...sockets[0].rooms], [cB.id, "room1", "room2", 123]);
  });

  it("V7 socketsJoin", async function () {
    expectJson("V7", await capture(() => A().in("room1").socketsJoin(["room9"]), VECTORS.V7));
  });

  it("V8 allRooms", async function () {
    let rooms;
    const msgs = await capture(async () => {
      rooms = await A().of("/").adapter.allRooms();
    }, { channel: "socket.io-response#/#" });
    const req = msgs.find((m) => m.channel === VECTORS.V8.channel);
    const rid = requestIdOf(req.payload);
    expectJson("V8", msgs, rid);
    const answer = msgs.find((m) => m.channel === "socket.io-response#/#");
    assert.equal(answer.payload.toString(), `{"requestId":"${rid}","rooms":["${cB.id}","room1","room2",123,"room9"]}`);
    assert.ok(rooms.has(123) && rooms.has("room3") && rooms.has(cA.id));
  });

  it("V9 disconnectSockets", async function () {
    expectJson("V9", await capture(() => A().in("nobody").disconnectSockets(true), VECTORS.V9));
  });
});
