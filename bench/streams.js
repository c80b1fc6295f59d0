"use strict";
// Streams: @socket.io/redis-streams-adapter 0.3.1 (node-redis 4 client) against createStreamsAdapter, on
// the same Redis, alternating, medians of --reps runs, in this process.
//
// 1. receive path, room miss: one server holding one socket in room "held"; --entries stream entries
//    for room "other" (what upstream writes for io.to("other").emit("m", <100 chars>)) are written by
//    `redis-cli --pipe` (another process, from a file), then one for "held". The figure is this process's CPU
//    (process.cpuUsage()) from before the first entry until the client has the last one, per entry.
// 2. receive path, room hit, to 1 and to 100 websocket clients (socket.io-client in a separate process, all
//    in room "held"): --hits1 / --hits100 entries for "held", written the same way; this process's CPU from
//    before the first entry until every client has every message, per entry.
// 3. requests across 3 servers in this process, each with 100 websocket clients (another process):
//    --requests sequential fetchSockets() and serverSideEmitWithAck() from the first server, p50 and p99.
// 4. io.close() to process exit: a child process with one server (default blockTimeInMs, 5000) closes it
//    once its reader is blocked in XREAD, and reports how long it lived after io.close().
//
//   node bench/streams.js [--entries 20000] [--hits1 20000] [--hits100 2000] [--requests 500] [--reps 5]
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const h = require("./lib/harness");
const { startRedis, redisCli } = require("../test/helpers/redis");
const { createStreamsAdapter } = require("..");

const ENTRIES = h.arg("entries", 20000, 2000);
const REPS = h.arg("reps", 5, 1);
const HITS1 = h.arg("hits1", 20000, 2000);
const HITS100 = h.arg("hits100", 2000, 200);
const REQUESTS = h.arg("requests", 500, 50);

function resp(args) {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

function entry(room, text) {
  const data = JSON.stringify({ packet: { type: 2, data: ["m", text] }, opts: { rooms: [room], except: [], flags: {} } });
  return resp(["XADD", "socket.io", "MAXLEN", "~", "100000", "*", "uid", "0123456789abcdef", "nsp", "/", "type", "3", "data", data]);
}

// redis-cli --pipe reads the commands from a file: this process spends nothing on writing them.
function pipe(port, file) {
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(file, "r");
    const child = spawn("redis-cli", ["-p", String(port), "--pipe"], { stdio: [fd, "ignore", "inherit"] });
    fs.closeSync(fd);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --pipe: ${code}`))));
  });
}

async function blockedReaders(port) {
  return (await redisCli(port, "CLIENT", "LIST")).split("\n").filter((l) => / cmd=xread /.test(l)).length;
}

async function factory(kind, url) {
  if (kind === "ours") return { adapter: createStreamsAdapter(url), close: async () => {} };
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  const { createClient } = require("redis");
  const client = createClient({ url });
  client.on("error", () => {});
  await client.connect();
  return { adapter: createAdapter(client, { blockTimeInMs: 200 }), close: () => client.quit() };
}

async function receiveMiss(kind, redis, misses) {
  await redis.cli("DEL", "socket.io");
  const f = await factory(kind, redis.url);
  const io = new Server({ adapter: f.adapter });
  io.listen(0);
  const port = io.httpServer.address().port;
  io.on("connection", (s) => s.join("held"));
  const client = ioc(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true });
  await new Promise((r) => client.on("connect", r));
  while ((await blockedReaders(redis.port)) < 1) await new Promise((r) => setTimeout(r, 10));
  const got = new Promise((resolve) => client.on("m", (t) => t === "last" && resolve()));
  const before = process.cpuUsage();
  await pipe(redis.port, misses);
  await got;
  const cpu = process.cpuUsage(before);
  client.close();
  await io.close();
  await f.close();
  return (cpu.user + cpu.system) / ENTRIES;
}

async function receiveHit(kind, redis, file, clients, n) {
  await redis.cli("DEL", "socket.io");
  const f = await factory(kind, redis.url);
  const io = new Server({ adapter: f.adapter });
  io.listen(0);
  io.on("connection", (s) => s.join("held"));
  const group = new h.ClientGroup();
  try {
    await group.add(io.httpServer.address().port, clients);
    while ((await blockedReaders(redis.port)) < 1) await new Promise((r) => setTimeout(r, 10));
    // every client counts every entry: the process is done at n x clients deliveries
    const [done] = await group.expect(n * clients, n * clients);
    const before = process.cpuUsage();
    await pipe(redis.port, file);
    await h.within(120000, done, "deliveries");
    const cpu = process.cpuUsage(before);
    return (cpu.user + cpu.system) / n;
  } finally {
    await group.stop();
    await io.close();
    await f.close();
  }
}

async function requests(kind, redis) {
  await redis.cli("DEL", "socket.io");
  const fs3 = [];
  const ios = [];
  const group = new h.ClientGroup();
  try {
    for (let i = 0; i < 3; i++) {
      const f = await factory(kind, redis.url);
      fs3.push(f);
      const io = new Server({ adapter: f.adapter });
      io.listen(0);
      io.on("ping", (cb) => cb("pong"));
      ios.push(io);
      await group.add(io.httpServer.address().port, 100);
    }
    while ((await ios[0].of("/").adapter.serverCount()) < 3) await new Promise((r) => setTimeout(r, 10));
    const fetch = [];
    const emit = [];
    for (let i = 0; i < REQUESTS; i++) {
      let t = process.hrtime.bigint();
      const sockets = await ios[0].fetchSockets();
      fetch.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (sockets.length !== 300) throw new Error(`fetchSockets: ${sockets.length}`);
      t = process.hrtime.bigint();
      await ios[0].serverSideEmitWithAck("ping");
      emit.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return { fetch50: h.percentile(fetch, 50), fetch99: h.percentile(fetch, 99), emit50: h.percentile(emit, 50), emit99: h.percentile(emit, 99) };
  } finally {
    await group.stop();
    for (const io of ios) await io.close();
    for (const f of fs3) await f.close();
  }
}

function closeToExit(kind, url) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, "lib", "streams-close.js"), kind, url], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", () => {
      const m = /closed-to-exit (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`no figure: ${out}`));
    });
  });
}

(async () => {
  const redis = await startRedis();
  try {
    const text = "x".repeat(100);
    const misses = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hra-bench-")), "misses.resp");
    fs.writeFileSync(misses, Array.from({ length: ENTRIES }, () => entry("other", text)).join("") + entry("held", "last"));
    const hitFile = (n) => {
      const file = path.join(path.dirname(misses), `hits-${n}.resp`);
      fs.writeFileSync(file, Array.from({ length: n }, () => entry("held", text)).join(""));
      return file;
    };
    const hits1 = hitFile(HITS1);
    const hits100 = hitFile(HITS100);
    const hit1 = { upstream: [], ours: [] };
    const hit100 = { upstream: [], ours: [] };
    const miss = { upstream: [], ours: [] };
    const req = { upstream: [], ours: [] };
    const exit = { upstream: [], ours: [] };
    for (let r = 0; r < REPS; r++) {
      for (const kind of ["upstream", "ours"]) {
        if (process.env.BENCH_VERBOSE) console.error(`rep ${r} ${kind}`);
        miss[kind].push(await receiveMiss(kind, redis, misses));
        hit1[kind].push(await receiveHit(kind, redis, hits1, 1, HITS1));
        hit100[kind].push(await receiveHit(kind, redis, hits100, 100, HITS100));
        exit[kind].push(await closeToExit(kind, redis.url));
        req[kind].push(await requests(kind, redis));
      }
    }
    const m = { upstream: h.median(miss.upstream), ours: h.median(miss.ours) };
    const e = { upstream: h.median(exit.upstream), ours: h.median(exit.ours) };
    console.log(`streams, ${ENTRIES} entries, median of ${REPS}`);
    console.log(`receive, room miss, CPU per entry: upstream ${m.upstream.toFixed(2)} us, ours ${m.ours.toFixed(2)} us, ratio ${(m.ours / m.upstream).toFixed(3)}`);
    for (const [what, r] of [
      ["receive, room hit, 1 client, CPU per entry", hit1],
      ["receive, room hit, 100 clients, CPU per entry", hit100],
    ]) {
      const u = h.median(r.upstream);
      const o = h.median(r.ours);
      console.log(`${what}: upstream ${u.toFixed(2)} us, ours ${o.toFixed(2)} us, ratio ${(o / u).toFixed(3)}`);
    }
    for (const key of ["fetch50", "fetch99", "emit50", "emit99"]) {
      const u = h.median(req.upstream.map((r) => r[key]));
      const o = h.median(req.ours.map((r) => r[key]));
      const what = { fetch50: "fetchSockets p50", fetch99: "fetchSockets p99", emit50: "serverSideEmitWithAck p50", emit99: "serverSideEmitWithAck p99" }[key];
      console.log(`${what} (3 servers x 100 clients): upstream ${u.toFixed(2)} ms, ours ${o.toFixed(2)} ms, ratio ${(o / u).toFixed(3)}`);
    }
    console.log(`io.close() to process exit (blockTimeInMs 5000): upstream ${e.upstream} ms, ours ${e.ours} ms`);
  } finally {
    await redis.stop();
  }
})();
