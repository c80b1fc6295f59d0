"use strict";

// Hostile and malformed payloads for the adapter's channels. Deterministic (seeded), generated
// from notepack.io encodings plus hand-written msgpack headers.

const notepack = require("notepack.io");

function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function randomPayloads(count, seed, maxLen = 200) {
  const next = rng(seed);
  const out = [];
  for (let i = 0; i < count; i++) {
    const len = next() % maxLen;
    const b = Buffer.alloc(len);
    for (let k = 0; k < len; k++) b[k] = next() & 0xff;
    out.push(b);
  }
  return out;
}

const hex = (s) => Buffer.from(s.replace(/\s+/g, ""), "hex");

// Every proper prefix of `buf` (for long buffers, a sample of them).
function truncations(buf, maxCount = 64) {
  const out = [];
  const step = Math.max(1, Math.floor(buf.length / maxCount));
  for (let n = 1; n < buf.length; n += step) out.push(buf.subarray(0, n));
  return out;
}

// msgpack headers claiming enormous sizes, reserved bytes and broken extensions
const HEADERS = [
  "dd 7f ff ff ff", // array32 of 2^31-1 elements
  "dd ff ff ff ff",
  "c6 40 00 00 00", // bin32 of 1 GiB
  "c6 ff ff ff ff 00",
  "db ff ff ff ff 61", // str32 of 4 GiB
  "df 7f ff ff ff", // map32 of 2^31-1 pairs
  "c8 ff ff 00",
  "c7 ff 05",
  "c1", // never used
  "", // empty
  "93", // array of 3 with no elements
  "93 c0 c0", // array of 3 with 2 elements
  "93 a3 61 62 63 83", // map header without pairs
  "d4 00 00", // legacy undefined at top level
  "93 c1 c1 c1",
  "de ff ff", // map16 of 65535 pairs, no data
  "dc ff ff c0", // array16 of 65535, one element
].map(hex);

// ext32 type 0 claiming 2 GiB: notepack.io allocates and fills that much before failing
// (about 10 s of blocked event loop per message), so it is kept apart for upstream runs.
const AMPLIFICATION = [hex("c9 7f ff ff ff 00"), hex("c9 10 00 00 00 00 01 02")];

function deepArrays(levels, leaf = Buffer.from([0xc0])) {
  return Buffer.concat([Buffer.alloc(levels, 0x91), leaf]);
}

function deepMaps(levels) {
  // {"a": {"a": ... nil}}
  const one = hex("81 a1 61");
  return Buffer.concat([Buffer.concat(new Array(levels).fill(one)), hex("c0")]);
}

const FLAGS = { rooms: [], except: [], flags: {} };

// Broadcast envelopes of the wrong shape. `nsp` is the real namespace name.
function badEnvelopes(nsp = "/") {
  const uid = "evil01";
  const packet = (data) => ({ type: 2, data, nsp });
  const values = [
    [1, 2, 3],
    "just a string",
    42,
    null,
    {},
    [],
    [uid],
    [uid, packet(["garbage"])], // missing opts
    [uid, "packet", FLAGS],
    [uid, 7, FLAGS],
    [uid, null, FLAGS],
    [uid, packet("not an array"), FLAGS],
    [uid, packet({ 0: "garbage" }), FLAGS],
    [uid, { type: 2, data: ["garbage"], nsp: 5 }, FLAGS],
    [uid, { type: 2, data: ["garbage"], nsp: ["/"] }, FLAGS],
    [uid, packet(["garbage"]), { rooms: "room", except: [], flags: {} }],
    [uid, packet(["garbage"]), { rooms: [{}], except: [], flags: {} }],
    [uid, packet(["garbage"]), { rooms: [[["room"]]], except: [], flags: {} }],
    [uid, packet(["garbage"]), { rooms: [], except: 5, flags: {} }],
    [uid, packet(["garbage"]), { rooms: [], except: [null, true], flags: {} }],
    [uid, packet(["garbage"]), "opts"],
    [uid, packet(["garbage"]), [1, 2]],
    [5, packet(["garbage"]), FLAGS],
    [{ uid }, packet(["garbage"]), FLAGS],
    [uid, packet(["garbage"]), FLAGS, "extra", "elements"],
  ];
  const out = values.map((v) => notepack.encode(v));
  // valid encodings followed by trailing bytes
  out.push(Buffer.concat([notepack.encode([uid, packet(["garbage"]), FLAGS]), hex("00 00")]));
  // a 100k-level structure inside otherwise valid packet data
  const head = Buffer.concat([
    hex("93"),
    notepack.encode(uid),
    hex("83"),
    notepack.encode("type"),
    hex("02"),
    notepack.encode("data"),
    hex("92"),
    notepack.encode("garbage"),
    deepArrays(100000),
    notepack.encode("nsp"),
    notepack.encode(nsp),
    notepack.encode(FLAGS),
  ]);
  out.push(head);
  return out;
}

// Maps with "__proto__" keys (JSON.parse makes it an own key, which notepack then encodes).
function protoPayloads(nsp = "/") {
  const evil = (o) => JSON.parse(JSON.stringify(o).replace(/"PROTO"/g, '"__proto__"'));
  return [
    evil({ PROTO: { polluted: "yes", rooms: ["room"] } }),
    evil(["evil01", { PROTO: { polluted: "yes" }, type: 2, data: ["proto-event"], nsp }, FLAGS]),
    evil([
      "evil01",
      { type: 2, data: ["proto-event", { PROTO: { polluted: "yes" } }], nsp },
      { PROTO: { rooms: ["room"], polluted: "yes" }, except: [], flags: { PROTO: { volatile: true, polluted: "yes" } } },
    ]),
    evil(["evil01", { type: 2, data: ["proto-event"], nsp }, { rooms: [], except: [], flags: {}, PROTO: { polluted: "yes" } }]),
  ].map((v) => notepack.encode(v));
}

// Broadcast payloads (for K#N# and K#N#room#).
function broadcastGarbage(nsp = "/", seed = 1, { amplification = true } = {}) {
  const valid = notepack.encode([
    "evil01",
    { type: 2, data: ["garbage", Buffer.from([1, 2, 3]), { a: [1, "two", 3.5] }], nsp },
    { rooms: ["room", 123], except: ["x"], flags: { volatile: true } },
  ]);
  return [
    ...randomPayloads(100, seed),
    ...truncations(valid),
    ...HEADERS,
    ...(amplification ? AMPLIFICATION : []),
    deepArrays(100000),
    deepMaps(100000),
    ...badEnvelopes(nsp),
    ...protoPayloads(nsp),
  ];
}

// Request/response payloads: JSON-looking and msgpack-looking garbage. None of them is a
// well-formed request that would have an effect.
function requestGarbage(seed = 2, { amplification = true } = {}) {
  const json = [
    "{",
    "{}",
    "{\"type\":",
    "{\"type\":99,\"uid\":\"evil01\",\"requestId\":\"r1\"}",
    "{\"type\":\"1\",\"uid\":5}",
    "{\"type\":5,\"uid\":\"evil01\",\"requestId\":\"r2\",\"opts\":null}",
    "{\"type\":5,\"uid\":\"evil01\",\"requestId\":\"r3\",\"opts\":{\"rooms\":5,\"except\":{}}}",
    "{\"type\":2,\"uid\":\"evil01\",\"opts\":{\"rooms\":[[]],\"except\":5},\"rooms\":\"nope\"}",
    "{\"type\":6,\"uid\":\"evil01\",\"data\":\"not an array\"}",
    "{\"type\":6,\"uid\":\"evil01\",\"data\":{}}",
    "{\"__proto__\":{\"polluted\":\"yes\"},\"type\":99}",
    "{\"requestId\":{\"__proto__\":{\"polluted\":\"yes\"}},\"type\":8,\"clientCount\":\"x\"}",
    "{\"requestId\":5,\"rooms\":7}",
    "{\"requestId\":\"unknown\",\"sockets\":\"x\"}",
    "{" + "\"a\":{".repeat(50000) + "}".repeat(50001),
    "{\"x\":" + "[".repeat(100000),
    "{\u0000\u00ff",
  ].map((s) => Buffer.from(s));
  const mp = [
    notepack.encode({ type: 7, requestId: "r4", uid: "evil01", packet: "x", opts: 5 }),
    notepack.encode({ type: 7, requestId: "r5", uid: "evil01", packet: { type: 2, data: "x", nsp: "/" }, opts: { rooms: 5 } }),
    notepack.encode({ type: 9, requestId: "unknown", packet: [1, 2] }),
    notepack.encode([1, 2, 3]),
  ];
  return [
    ...randomPayloads(100, seed),
    ...json,
    ...mp,
    ...HEADERS,
    ...(amplification ? AMPLIFICATION : []),
    deepArrays(100000),
    deepMaps(100000),
  ];
}

module.exports = { broadcastGarbage, requestGarbage, randomPayloads, deepArrays, deepMaps, HEADERS, AMPLIFICATION };
