"use strict";
// Primus: primus-redis-rooms 0.3.2 (its node_redis 2.8 clients) against our plugin (socket.io-hiredis-adapter/
// primus), on the same Redis, alternating, medians of --reps runs. One Primus 8 server process (websockets
// transformer); the figure is its own CPU (process.cpuUsage()) per message it receives from Redis. The
// messages are byte for byte what a primus-redis-rooms node publishes (JSON.stringify({ room, data }) on
// primus.<uuid>), written by a raw connection of this process.
//
// 1. no local spark in the room: the server holds 101 rooms (one in-process client in "sentinel" and
//    held0..held99); N messages for 1,000 other rooms, then one for "sentinel". CPU from the start of the
//    flood to the sentinel's arrival, per message.
// 2. 1 local spark, 3. 100 local sparks: Primus Node clients in a separate process, all in room "room"; the
//    messages for "room" are written in chunks, at most --window chunks beyond what the slowest client has
//    counted (so nothing piles up unboundedly in socket buffers). CPU from the first chunk until every
//    client has every message, per message.
// Ours runs as shipped (write coalescing on) and with coalesceWrites: false.
//
//   node bench/primus.js [--discard 200000] [--messages1 50000] [--messages100 5000] [--reps 5] [--window 4]
const fs = require("node:fs");
const path = require("node:path");
const h = require("./lib/harness");
const { RawRedis } = require("../test/helpers/redis");

const DISCARD = h.arg("discard", 200000, 20000);
const N1 = h.arg("messages1", 50000, 5000);
const N100 = h.arg("messages100", 5000, 500);
const REPS = h.arg("reps", 5, 1);
const WINDOW = h.arg("window", 4, 4);
const RESULTS = path.join(__dirname, "results", "primus.json");
// --only discard,spark1: a subset of the three parts (the results file is then not written)
const ONLY = (process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : "discard,spark1,spark100").split(",");

const VARIANTS = [
  { key: "upstream", impl: "upstream" },
  { key: "ours", impl: "ours" },
  { key: "ours-nocoalesce", impl: "ours", coalesceWrites: false },
];
const LABELS = { upstream: "primus-redis-rooms 0.3.2", ours: "ours", "ours-nocoalesce": "ours, coalescing off" };

// What a primus-redis-rooms node publishes for room.write(data).
function message(room, i) {
  const data = { type: "chat", user: `user${i % 100}`, text: "hello world", n: i };
  return h.resp(["PUBLISH", "primus.0b7c2a4e-5d1f-4e8a-9c3b-bench0000001", JSON.stringify({ room, data })]);
}

function startServer(redis, variant, sentinelRooms) {
  return h.Child.start("primus-server.js", { impl: variant.impl, port: redis.port, coalesceWrites: variant.coalesceWrites, sentinelRooms });
}

// One server means one pattern subscription (PUBSUB NUMPAT counts distinct patterns).
async function waitPattern(redis) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const raw = await RawRedis.connect(redis.port, redis.host);
    const n = await raw.command("PUBSUB", "NUMPAT");
    await raw.close();
    if (n === 1) return;
    if (Date.now() > deadline) throw new Error("the server did not PSUBSCRIBE primus.*");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function discardOnce(redis, variant, flood, sentinel) {
  const held = ["sentinel", ...Array.from({ length: 100 }, (_, i) => `held${i}`)];
  const server = await startServer(redis, variant, held);
  try {
    await waitPattern(redis);
    const writer = await h.rawWriter(redis);
    await server.call("cpuStart");
    writer.write(flood);
    writer.write(sentinel);
    const { cpuMicros } = await h.within(120000, server.call("sentinel", { k: 1 }), "sentinel");
    writer.destroy();
    return { cpuPerMessage: cpuMicros / DISCARD };
  } finally {
    await server.stop();
  }
}

async function sparksOnce(redis, variant, clients, chunks, perChunk) {
  const server = await startServer(redis, variant, ["sentinel"]);
  let progress = 0;
  let wake = null;
  let done = null;
  const finished = new Promise((r) => (done = r));
  const group = await h.Child.start(
    "primus-clients.js",
    { url: `http://127.0.0.1:${server.ready.port}`, n: clients, rooms: "room" },
    {
      onMessage: (m) => {
        if (m.progress !== undefined) {
          progress = m.progress;
          if (wake) wake();
        } else if (m.done) done(m);
      },
    },
  );
  try {
    await waitPattern(redis);
    const n = chunks.length * perChunk;
    await group.call("expect", { total: n * clients, step: Math.max(1, perChunk / 2) });
    const writer = await h.rawWriter(redis);
    await server.call("cpuStart");
    for (let c = 0; c < chunks.length; c++) {
      while (progress < (c - WINDOW) * perChunk) await new Promise((r) => (wake = r));
      writer.write(chunks[c]);
    }
    await h.within(300000, finished, "deliveries");
    const { cpuMicros } = await server.call("cpuRead");
    writer.destroy();
    return { cpuPerMessage: cpuMicros / n };
  } finally {
    await group.stop();
    await server.stop();
  }
}

function chunked(n, perChunk) {
  const out = [];
  for (let i = 0; i < n; i += perChunk) {
    const msgs = [];
    for (let k = i; k < Math.min(n, i + perChunk); k++) msgs.push(message("room", k));
    out.push(Buffer.concat(msgs));
  }
  return out;
}

function printTable(rows) {
  const lines = ["| metric | primus-redis-rooms 0.3.2 | ours | ratio ours/upstream | target | |", "|---|---|---|---|---|---|"];
  for (const r of rows) {
    const keys = Object.keys(r.ours);
    const ours = keys.map((k) => `${LABELS[k]}: ${r.ours[k] === null ? "n/a" : `${h.fmt(r.ours[k])} ${r.unit}`}`).join("<br>");
    const ratios = keys.map((k) => `${LABELS[k]}: ${r.ratios[k] === null ? "n/a" : r.ratios[k].toFixed(3)}`).join("<br>");
    lines.push(`| ${r.metric} | ${h.fmt(r.upstream)} ${r.unit} | ${ours} | ${ratios} | <= ${r.target} | ${r.verdict} |`);
  }
  console.log(lines.join("\n"));
}

(async () => {
  const m = h.machine();
  console.log(`\n## primus${h.QUICK ? " (BENCH_QUICK=1: smoke run, figures not meaningful)" : ""}`);
  console.log(`machine: ${m.cpu}, ${m.cores} cores, node ${m.node}, redis ${m.redis}, load ${m.loadavg.join(" ")}`);
  const params = { discard: DISCARD, messages1: N1, messages100: N100, reps: REPS, window: WINDOW };
  console.log(`command: node bench/primus.js ${Object.entries(params).map(([k, v]) => `--${k} ${v}`).join(" ")}\n`);
  const out = await h.withRedis(async (redis) => {
    const flood = Buffer.concat(Array.from({ length: DISCARD }, (_, i) => message(`other${i % 1000}`, i)));
    const sentinel = h.resp(["PUBLISH", "primus.0b7c2a4e-5d1f-4e8a-9c3b-bench0000001", JSON.stringify({ room: "sentinel", data: "sentinel" })]);
    const one = chunked(N1, 1000);
    const hundred = chunked(N100, 50);
    const raw = {};
    if (ONLY.includes("discard")) raw.discard = await h.alternate(VARIANTS, REPS, (v) => discardOnce(redis, v, flood, sentinel));
    if (ONLY.includes("spark1")) raw.spark1 = await h.alternate(VARIANTS, REPS, (v) => sparksOnce(redis, v, 1, one, 1000));
    if (ONLY.includes("spark100")) raw.spark100 = await h.alternate(VARIANTS, REPS, (v) => sparksOnce(redis, v, 100, hundred, 50));
    return raw;
  });
  const ours = ["ours", "ours-nocoalesce"];
  const rows = [];
  if (out.discard) rows.push(h.row({ metric: "no local spark in the room: CPU per message", unit: "us", figure: "cpuPerMessage", raw: out.discard, ours, target: 0.1 }));
  if (out.spark1) rows.push(h.row({ metric: "1 local spark: CPU per message", unit: "us", figure: "cpuPerMessage", raw: out.spark1, ours, target: 0.3 }));
  if (out.spark100) rows.push(h.row({ metric: "100 local sparks: CPU per message", unit: "us", figure: "cpuPerMessage", raw: out.spark100, ours, target: 0.3 }));
  printTable(rows);
  if (rows.length === 3) fs.writeFileSync(RESULTS, JSON.stringify({ machine: m, params, quick: h.QUICK, rows, raw: out }, null, 2) + "\n");
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
