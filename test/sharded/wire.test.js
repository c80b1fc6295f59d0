"use strict";
// What our sharded servers SPUBLISH and (un)subscribe, byte for byte, against spec 7.3 (generated from
// @socket.io/redis-adapter 8.3.0's createShardedAdapter, mode "dynamic", uids a1a1... and b1b1...,
// request ids f000000000000001...). Our uids and request ids are 16 hex characters too, so they are
// substituted in place. Captured with MONITOR; the clients' frames are checked as well.
const assert = require("node:assert/strict");
const { startRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { sleep, waitFor } = require("../helpers/util");
const { ours, monitor, frames } = require("./helpers");

const hex = (s) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const UID_A = "a1a1a1a1a1a1a1a1";
const UID_B = "b1b1b1b1b1b1b1b1";
const SID_B = "TFufkVTnTsz6FIXZAAAB";

const SH = {
  SH1: ["socket.io#/#", '{"type":3,"data":{"packet":{"type":2,"data":["hello","world",42]},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"a1a1a1a1a1a1a1a1","nsp":"/"}'],
  SH2: ["socket.io#/#room1#", '{"type":3,"data":{"packet":{"type":2,"data":["news",{"a":1}]},"opts":{"rooms":["room1"],"except":[],"flags":{}}},"uid":"a1a1a1a1a1a1a1a1","nsp":"/"}'],
  SH3: [
    "socket.io#/#",
    hex(`84 a4 74 79 70 65 03 a4 64 61 74 61 82 a6 70 61 63 6b 65 74 82 a4 74 79 70 65 02 a4 64 61 74 61
      93 a3 62 69 6e c4 04 de ad be ef a1 78 a4 6f 70 74 73 83 a5 72 6f 6f 6d 73 90 a6 65 78 63 65 70
      74 91 a5 72 6f 6f 6d 33 a5 66 6c 61 67 73 80 a3 75 69 64 b0 61 31 61 31 61 31 61 31 61 31 61 31
      61 31 61 31 a3 6e 73 70 a1 2f`),
  ],
  SH4: ["socket.io#/#", '{"type":3,"data":{"packet":{"type":2,"data":["direct",1]},"opts":{"rooms":["TFufkVTnTsz6FIXZAAAB"],"except":[],"flags":{}}},"uid":"a1a1a1a1a1a1a1a1","nsp":"/"}'],
  SH5: ["socket.io#/#", '{"type":3,"data":{"packet":{"type":2,"data":["ping",7]},"requestId":"f000000000000001","opts":{"rooms":[],"except":[],"flags":{"timeout":1000}}},"uid":"a1a1a1a1a1a1a1a1","nsp":"/"}'],
  SH5count: ["socket.io#/#a1a1a1a1a1a1a1a1#", '{"type":11,"data":{"requestId":"f000000000000001","clientCount":1},"uid":"b1b1b1b1b1b1b1b1","nsp":"/"}'],
  SH5ack: ["socket.io#/#a1a1a1a1a1a1a1a1#", '{"type":12,"data":{"requestId":"f000000000000001","packet":"pongB"},"uid":"b1b1b1b1b1b1b1b1","nsp":"/"}'],
  SH6: ["socket.io#/#", '{"type":9,"data":{"packet":["hello","world",1]},"uid":"a1a1a1a1a1a1a1a1","nsp":"/"}'],
  SH6b: ["socket.io#/#", '{"type":9,"data":{"requestId":"f000000000000002","packet":["question",1]},"uid":"a1a1a1a1a1a1a1a1","nsp":"/"}'],
  SH6bresp: ["socket.io#/#a1a1a1a1a1a1a1a1#", '{"type":10,"data":{"requestId":"f000000000000002","packet":2},"uid":"b1b1b1b1b1b1b1b1","nsp":"/"}'],
  SH7: ["socket.io#/#", '{"type":7,"data":{"opts":{"rooms":["room2"],"except":[],"flags":{}},"requestId":"f000000000000003"},"uid":"a1a1a1a1a1a1a1a1","nsp":"/"}'],
  SH8join: ["socket.io#/#", '{"type":4,"data":{"opts":{"rooms":["room1"],"except":[],"flags":{}},"rooms":["room9"]},"uid":"a1a1a1a1a1a1a1a1","nsp":"/"}'],
  SH8leave: ["socket.io#/#", '{"type":5,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"rooms":["room9"]},"uid":"a1a1a1a1a1a1a1a1","nsp":"/"}'],
  SH8disc: ["socket.io#/#", '{"type":6,"data":{"opts":{"rooms":["nobody"],"except":[],"flags":{}},"close":true},"uid":"a1a1a1a1a1a1a1a1","nsp":"/"}'],
};

function substitute(buf, pairs) {
  let out = Buffer.from(buf);
  for (const [from, to] of pairs) {
    const f = Buffer.from(from);
    const t = Buffer.from(to);
    assert.equal(f.length, t.length, `${from} -> ${to}`);
    for (let i = out.indexOf(f); i !== -1; i = out.indexOf(f, i + 1)) t.copy(out, i);
  }
  return out;
}

describe("sharded wire bytes equal the spec 7.3 vectors", function () {
  this.timeout(20000);
  let redis, tap, cluster, cA, cB, fA, fB;
  const A = () => cluster.ios[0];
  const B = () => cluster.ios[1];
  const uidA = () => A().of("/").adapter.uid;
  const uidB = () => B().of("/").adapter.uid;

  before(async function () {
    redis = await startRedis();
    tap = await monitor(redis.port);
    const impl = ours();
    cluster = await createServers({ count: 2, adapter: () => impl.factory(redis.url, { subscriptionMode: "dynamic" }) });
    for (const io of cluster.ios) io.on("connection", (socket) => socket.join(socket.handshake.auth.rooms || []));
    B().on("question", (n, cb) => cb(n + 1));
    cA = await cluster.connect(0, { auth: { rooms: ["room1", "room3"] } });
    cB = await cluster.connect(1, { auth: { rooms: ["room1", "room2"] } });
    fA = frames(cA);
    fB = frames(cB);
    cA.on("ping", (n, cb) => cb("pongA"));
    cB.on("ping", (n, cb) => cb("pongB"));
    await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/#room1#")).endsWith("2"), 5000);
  });

  after(async function () {
    if (cluster) await cluster.closeAll();
    if (tap) tap.close();
    if (redis) await redis.stop();
  });

  function ids(extra = []) {
    return [[UID_A, uidA()], [UID_B, uidB()], [SID_B, cB.id], ...extra];
  }

  async function published(name, extra, { from = 0 } = {}) {
    const [channelTpl, payloadTpl] = SH[name];
    const pairs = ids(extra);
    const channel = substitute(Buffer.from(channelTpl), pairs).toString();
    const want = substitute(Buffer.from(payloadTpl), pairs);
    const wantUid = Buffer.from(from === 0 ? uidA() : uidB());
    const candidates = () => tap.find("spublish", channel).filter((c) => c.args[1].includes(wantUid));
    try {
      await waitFor(() => candidates().some((c) => c.args[1].equals(want)), 3000, { what: `${name} on ${channel}` });
    } catch (err) {
      assert.fail(`${name}: want ${want.toString("hex")} (${want}) on ${channel}, got: ${candidates().map((c) => c.args[1]).join(" | ")}`);
    }
    const got = candidates().find((c) => c.args[1].equals(want));
    return got.args[1];
  }

  function requestIdIn(payload) {
    return JSON.parse(payload.toString()).data.requestId;
  }

  it("SETUP: SSUBSCRIBE main, response and room channels", function () {
    // (several channels may share one SSUBSCRIBE command)
    const subs = tap.find("ssubscribe").flatMap((c) => c.args.map(String));
    for (const ch of ["socket.io#/#", `socket.io#/#${uidA()}#`, `socket.io#/#${uidB()}#`, "socket.io#/#room2#", "socket.io#/#room3#"]) {
      assert.ok(subs.includes(ch), `${ch} in ${subs}`);
    }
    assert.equal(subs.filter((s) => s === "socket.io#/#room1#").length, 2);
    assert.ok(!subs.some((s) => s.includes(cA.id) || s.includes(cB.id)), "dynamic: no socket-id channel");
  });

  it("SH1 plain broadcast", async function () {
    tap.reset();
    fA.length = fB.length = 0;
    A().emit("hello", "world", 42);
    await published("SH1");
    await waitFor(() => fA.length && fB.length, 3000);
    assert.deepEqual([fA, fB], [['2["hello","world",42]'], ['2["hello","world",42]']]);
  });

  it("SH2 single-room broadcast", async function () {
    tap.reset();
    fA.length = fB.length = 0;
    A().to("room1").emit("news", { a: 1 });
    await published("SH2");
    await waitFor(() => fA.length && fB.length, 3000);
    assert.deepEqual([fA, fB], [['2["news",{"a":1}]'], ['2["news",{"a":1}]']]);
  });

  it("SH3 except + binary", async function () {
    tap.reset();
    fA.length = fB.length = 0;
    A().except("room3").emit("bin", Buffer.from([0xde, 0xad, 0xbe, 0xef]), "x");
    await published("SH3");
    await waitFor(() => fB.length >= 2, 3000);
    await sleep(100);
    assert.equal(fA.length, 0);
    assert.equal(fB[0], '51-["bin",{"_placeholder":true,"num":0},"x"]');
    assert.equal(Buffer.from(fB[1]).toString("hex"), "deadbeef");
  });

  it("SH4 to a socket id", async function () {
    tap.reset();
    fA.length = fB.length = 0;
    A().to(cB.id).emit("direct", 1);
    await published("SH4");
    await waitFor(() => fB.length, 3000);
    assert.deepEqual(fB, ['2["direct",1]']);
  });

  it("SH5 broadcast with ack", async function () {
    tap.reset();
    fB.length = 0;
    const answers = await A().timeout(1000).emitWithAck("ping", 7);
    assert.deepEqual(answers.sort(), ["pongA", "pongB"]);
    const req = await waitFor(() => tap.find("spublish", "socket.io#/#").find((c) => c.args[1].includes(Buffer.from('"ping"'))), 3000);
    const rid = requestIdIn(req.args[1]);
    await published("SH5", [["f000000000000001", rid]]);
    await waitFor(() => tap.find("pubsub").some((c) => c.args.map(String).join(" ") === "SHARDNUMSUB socket.io#/#"), 3000);
    await published("SH5count", [["f000000000000001", rid]], { from: 1 });
    await published("SH5ack", [["f000000000000001", rid]], { from: 1 });
    assert.match(fB[0], /^2\d+\["ping",7\]$/);
  });

  it("SH6 serverSideEmit", async function () {
    tap.reset();
    A().serverSideEmit("hello", "world", 1);
    await published("SH6");
  });

  it("SH6b serverSideEmitWithAck", async function () {
    tap.reset();
    assert.deepEqual(await A().serverSideEmitWithAck("question", 1), [2]);
    const req = await waitFor(() => tap.find("spublish", "socket.io#/#").find((c) => c.args[1].includes(Buffer.from('"question"'))), 3000);
    const rid = requestIdIn(req.args[1]);
    await published("SH6b", [["f000000000000002", rid]]);
    await published("SH6bresp", [["f000000000000002", rid]], { from: 1 });
  });

  it("SH7 fetchSockets", async function () {
    tap.reset();
    const sockets = await A().in("room2").fetchSockets();
    assert.deepEqual(sockets.map((s) => s.id), [cB.id]);
    const req = await waitFor(() => tap.find("spublish", "socket.io#/#").find((c) => c.args[1].includes(Buffer.from('"type":7'))), 3000);
    const rid = requestIdIn(req.args[1]);
    await published("SH7", [["f000000000000003", rid]]);
    // The answer carries B's handshake (headers, time, port differ per run): compare its frame.
    const answer = await waitFor(() => tap.find("spublish", `socket.io#/#${uidA()}#`)[0], 3000, { what: "the answer" });
    const resp = answer.args[1].toString();
    const head = `{"type":8,"data":{"requestId":"${rid}","sockets":[{"id":"${cB.id}","handshake":{"headers":{`;
    assert.ok(resp.startsWith(head), resp);
    assert.ok(resp.endsWith(`"auth":{"rooms":["room1","room2"]}},"rooms":["${cB.id}","room1","room2"],"data":{}}]},"uid":"${uidB()}","nsp":"/"}`), resp);
    const hs = JSON.parse(resp).data.sockets[0].handshake;
    assert.deepEqual(Object.keys(hs), ["headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"]);
  });

  it("SH8 socketsJoin / socketsLeave / disconnectSockets", async function () {
    tap.reset();
    A().in("room1").socketsJoin("room9");
    await published("SH8join");
    await waitFor(() => tap.find("ssubscribe", "socket.io#/#room9#").length === 2, 3000, { what: "both SSUBSCRIBE room9" });
    A().socketsLeave("room9");
    await published("SH8leave");
    await waitFor(() => tap.find("sunsubscribe", "socket.io#/#room9#").length === 2, 3000, { what: "both SUNSUBSCRIBE room9" });
    A().in("nobody").disconnectSockets(true);
    await published("SH8disc");
  });

  it("SH9 serverCount", async function () {
    tap.reset();
    assert.equal(await A().of("/").adapter.serverCount(), 2);
    await waitFor(() => tap.find("pubsub").length, 3000);
    assert.deepEqual(tap.find("pubsub").map((c) => c.args.map(String)), [["SHARDNUMSUB", "socket.io#/#"]]);
  });

  it("SH10 close", async function () {
    tap.reset();
    const uid = uidA();
    await A().close();
    // one loop turn's unsubscribes leave as one SUNSUBSCRIBE with several channels
    await waitFor(() => tap.find("sunsubscribe").flatMap((c) => c.args).length >= 2, 3000);
    const unsub = tap.find("sunsubscribe").flatMap((c) => c.args.map(String));
    assert.ok(unsub.includes("socket.io#/#") && unsub.includes(`socket.io#/#${uid}#`), String(unsub));
    assert.equal(tap.find("spublish").length, 0, "close publishes nothing");
  });
});
