#!/usr/bin/env node
"use strict";
// Regenerates the committed seed corpus of the fuzz targets (test/fuzz/corpus/<target>/) from the spec's
// test vectors (protocol.md sections 7.2 and 7.3: every published payload, msgpack hex dumps and JSON texts)
// plus hand-written RESP replies. Deterministic: the same spec gives the same files.
//   node scripts/fuzz-seeds.js [path/to/protocol.md]   (default ../shared/spec/protocol.md)
const fs = require("node:fs");
const path = require("node:path");
const crypto = require("node:crypto");

const root = path.join(__dirname, "..");
const specPath = process.argv[2] || path.join(root, "..", "shared", "spec", "protocol.md");
const spec = fs.readFileSync(specPath, "utf8");
const corpus = path.join(root, "test", "fuzz", "corpus");

// Each published payload: { channel, bytes }
const payloads = [];
const lines = spec.split("\n");
for (let i = 0; i < lines.length; i++) {
  const m = /PUBLISH to channel `([^`]*)`/.exec(lines[i]);
  if (!m) continue;
  const channel = m[1];
  for (let j = i + 1; j < Math.min(lines.length, i + 40); j++) {
    if (/PUBLISH to channel/.test(lines[j]) || /^####/.test(lines[j])) break;
    const js = /payload \(UTF-8 JSON text, these exact bytes\): `(.*)`\s*$/.exec(lines[j]);
    if (js) {
      payloads.push({ channel, bytes: Buffer.from(js[1], "utf8") });
      break;
    }
    if (lines[j].trim() === "```") {
      const hex = [];
      for (let k = j + 1; k < lines.length && lines[k].trim() !== "```"; k++) hex.push(lines[k].replace(/^[0-9a-f]{4}\s+/, ""));
      payloads.push({ channel, bytes: Buffer.from(hex.join(" ").replace(/\s+/g, ""), "hex") });
      break;
    }
  }
}
if (payloads.length < 20) throw new Error(`only ${payloads.length} payloads found in ${specPath}`);

function write(target, bytes) {
  const dir = path.join(corpus, target);
  fs.mkdirSync(dir, { recursive: true });
  const name = crypto.createHash("sha1").update(bytes).digest("hex").slice(0, 16);
  fs.writeFileSync(path.join(dir, name), bytes);
}
for (const t of ["resp", "envelope", "encoder", "json", "adapter", "sentinel"]) fs.rmSync(path.join(corpus, t), { recursive: true, force: true });

const isJson = (b) => b[0] === 0x7b || b[0] === 0x5b;
// envelope: the classic broadcast payloads (msgpack arrays)
for (const p of payloads) if (p.bytes[0] === 0x93) write("envelope", p.bytes);
// encoder: flag byte + the packet data of each classic broadcast (msgpack of packet.data), found by decoding
const notepack = require("notepack.io");
for (const p of payloads) {
  if (p.bytes[0] !== 0x93) continue;
  try {
    const [, packet] = notepack.decode(p.bytes);
    const data = notepack.encode(packet.data);
    write("encoder", Buffer.concat([Buffer.from([0x00]), data]));
    write("encoder", Buffer.concat([Buffer.from([0x16]), data]));
  } catch {}
}
// json: every JSON payload
for (const p of payloads) if (isJson(p.bytes)) write("json", p.bytes);
// adapter: records [selector][len16][payload] on the channel kind each payload was published on
function rec(sel, bytes) {
  const h = Buffer.alloc(3);
  h[0] = sel;
  h.writeUInt16BE(Math.min(bytes.length, 0xffff), 1);
  return Buffer.concat([h, bytes.subarray(0, 0xffff)]);
}
for (const p of payloads) {
  let which;
  if (p.channel.includes("-request#")) which = 3;
  else if (/-response#[^#]*#[^#]+#$/.test(p.channel)) which = 5;
  else if (p.channel.includes("-response#")) which = 4;
  else which = p.channel.endsWith("#/#") ? 0 : 1;
  // a request first (selector 7) so that responses have something to match, then the message
  write("adapter", Buffer.concat([rec(7 << 2, Buffer.from([3])), rec(which << 2, p.bytes)]));
  write("adapter", rec((which << 2) | 1, p.bytes));
}
// resp: replies as Redis sends them
const bulk = (b) => Buffer.concat([Buffer.from(`$${b.length}\r\n`), Buffer.from(b), Buffer.from("\r\n")]);
const arr = (...xs) => Buffer.concat([Buffer.from(`*${xs.length}\r\n`), ...xs]);
const resp = [
  Buffer.from("+OK\r\n"),
  Buffer.from("-NOPERM this user has no permissions to access one of the channels used as arguments\r\n"),
  Buffer.from(":12345\r\n"),
  Buffer.from("$-1\r\n"),
  Buffer.from("*-1\r\n"),
  Buffer.from("$2147483648\r\nabc"),
  Buffer.from("*4294967296\r\n"),
  arr(bulk("subscribe"), bulk("socket.io-request#/#"), Buffer.from(":1\r\n")),
  arr(bulk("psubscribe"), bulk("socket.io#/#*"), Buffer.from(":2\r\n")),
  arr(bulk("ssubscribe"), bulk("socket.io#/#"), Buffer.from(":1\r\n")),
  arr(bulk("sunsubscribe"), bulk("socket.io#/#room1#"), Buffer.from(":0\r\n")),
  arr(bulk("PUBSUB"), arr(bulk("socket.io-request#/#"), Buffer.from(":3\r\n"))),
  arr(arr(arr(arr(Buffer.from(":1\r\n")))), Buffer.from("$-1\r\n"), Buffer.from("*0\r\n")),
];
for (const p of payloads.slice(0, 40)) {
  resp.push(arr(bulk("pmessage"), bulk("socket.io#/#*"), bulk(p.channel), bulk(p.bytes)));
  resp.push(arr(bulk("message"), bulk(p.channel), bulk(p.bytes)));
  resp.push(arr(bulk("smessage"), bulk(p.channel), bulk(p.bytes)));
}
for (const r of resp) {
  write("resp", Buffer.concat([Buffer.from([0]), r]));
  write("resp", Buffer.concat([Buffer.from([7]), r, r]));
}
// sentinel: what Sentinels answer (addresses, replica and Sentinel lists, errors), ROLE replies, and
// +switch-master texts (the target reads its whole input as one too)
const kv = (o) => arr(...Object.entries(o).flatMap(([k, v]) => [bulk(k), bulk(v)]));
const sentinel = [
  arr(bulk("127.0.0.1"), bulk("6379")),
  arr(bulk("redis-0.example"), bulk("6380")),
  Buffer.from("$-1\r\n"),
  Buffer.from("-ERR No such master with that name\r\n"),
  arr(kv({ name: "127.0.0.1:7001", ip: "127.0.0.1", port: "7001", flags: "slave", "master-link-status": "ok" }), kv({ ip: "127.0.0.1", port: "7002", flags: "slave,s_down", "master-link-status": "err" })),
  arr(kv({ name: "s1", ip: "127.0.0.1", port: "26380", flags: "sentinel" })),
  arr(bulk("master"), Buffer.from(":3129\r\n"), arr(arr(bulk("127.0.0.1"), bulk("7001"), bulk("3129")))),
  arr(bulk("slave"), bulk("127.0.0.1"), Buffer.from(":6379\r\n"), bulk("connected"), Buffer.from(":3129\r\n")),
  arr(bulk("sentinel"), arr(bulk("mymaster"))),
  Buffer.from("-READONLY You can't write against a read only replica.\r\n"),
  Buffer.from("-NOPERM this user has no permissions to run the 'role' command\r\n"),
  Buffer.from("mymaster 127.0.0.1 6379 127.0.0.1 6380"),
];
for (const r of sentinel) write("sentinel", r);
write("sentinel", Buffer.concat(sentinel.slice(0, 8)));
// primus: primus-redis-rooms bodies ([selector 0: another node's channel][body]), the shape it publishes and
// the off-shape ones the Primus front must handle as it does (test/primus/hostile.test.js has more)
fs.rmSync(path.join(corpus, "primus"), { recursive: true, force: true });
const primusBodies = [
  JSON.stringify({ room: "r", data: { hello: "world", list: [1, 2.5, null, true], s: "\u2028" } }),
  JSON.stringify({ room: "r" }),
  JSON.stringify({ room: "undefined", data: [] }),
  '{"room":5,"data":1}',
  '{"room":["a","b"],"data":"x"}',
  '{"room":{"toString":1},"data":1}',
  '{"room":{},"data":{"__proto__":{"a":1}}}',
  '{"r\\u006fom":"\\ud800","data":-0}',
  "null",
  "[1]",
  '{"room":"r"',
];
for (const b of primusBodies) write("primus", Buffer.concat([Buffer.from([0]), Buffer.from(b, "utf8")]));

// streams: the 0.3.1 entries of spec streams.md 3 as fields ([selector][type 0xff uid 0xff data]), the same
// and two more in XREAD replies as Redis sends them ([selector 1][RESP]), and an XREVRANGE answer.
fs.rmSync(path.join(corpus, "streams"), { recursive: true, force: true });
const streamEntries = [
  ["3", '{"packet":{"type":2,"data":["chat",{"text":"hi"},42]},"opts":{"rooms":["room1"],"except":["room2"],"flags":{}}}'],
  ["3", "gqZwYWNrZXSCpHR5cGUCpGRhdGGSo2JpbsQDAQIDpG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgA=="],
  ["4", '{"opts":{"rooms":["room1"],"except":[],"flags":{}},"rooms":["room3"]}'],
  ["6", '{"opts":{"rooms":["gpWniHwH35TCw1r2AAAA"],"except":[],"flags":{}},"close":true}'],
  ["3", '{"packet":{"type":2,"data":["v"]},"opts":{"rooms":[],"except":[],"flags":{"volatile":true}},"requestId":"x"}'],
];
for (const [type, data] of streamEntries) {
  write("streams", Buffer.concat([Buffer.from([0]), Buffer.from(`${type}\xff3dd9ade00ea8bb5a\xff${data}`, "latin1")]));
}
const xentries = streamEntries.map(([type, data], i) => `*2\r\n${bulk(`1796288280005-${i}`)}*8\r\n${bulk("uid")}${bulk("3dd9ade00ea8bb5a")}${bulk("nsp")}${bulk("/")}${bulk("type")}${bulk(type)}${bulk("data")}${bulk(data)}`);
write("streams", Buffer.concat([Buffer.from([0xf1]), Buffer.from(`*1\r\n*2\r\n${bulk("socket.io")}*${xentries.length}\r\n${xentries.join("")}`, "utf8")]));
write("streams", Buffer.concat([Buffer.from([0x01]), Buffer.from("*-1\r\n", "utf8")]));
write("streams", Buffer.concat([Buffer.from([0xf3]), Buffer.from(`*1\r\n${xentries[0]}`, "utf8")]));
write("streams", Buffer.concat([Buffer.from([0x03]), Buffer.from("*0\r\n", "utf8")]));

const counts = {};
for (const t of fs.readdirSync(corpus)) counts[t] = fs.readdirSync(path.join(corpus, t)).length;
console.log(`${payloads.length} spec payloads -> ${JSON.stringify(counts)}`);
