"use strict";
// The shared driver of the benches: child processes over IPC, a redis-server of our own, runs that
// alternate between the adapters, medians, the table and bench/results/latest.json.
const fs = require("node:fs");
const os = require("node:os");
const net = require("node:net");
const path = require("node:path");
const { fork, execFileSync } = require("node:child_process");
const { startRedis, RawRedis } = require("../../test/helpers/redis");
const { features } = require("./adapters");

const QUICK = process.env.BENCH_QUICK === "1";
const RESULTS = path.join(__dirname, "..", "results", "latest.json");

// --name value from argv, else the full or quick default.
function arg(name, full, quick = full) {
  const i = process.argv.indexOf(`--${name}`);
  if (i > 0) return Number(process.argv[i + 1]);
  return QUICK ? quick : full;
}

function median(a) {
  const s = a.slice().sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function percentile(a, p) {
  const s = a.slice().sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

// A forked child speaking {id, cmd, args} -> {id, result|error}; other messages go to onMessage.
class Child {
  static async start(file, cfg, { onMessage, execArgv: own = [] } = {}) {
    // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to every child: for profiling.
    const execArgv = [...own, ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(" ").filter(Boolean) : [])];
    const child = new Child(fork(path.join(__dirname, file), [JSON.stringify(cfg)], { stdio: "inherit", execArgv }), onMessage);
    child.ready = await child._first((m) => m.up);
    return child;
  }

  constructor(proc, onMessage) {
    this.proc = proc;
    this.nextId = 1;
    this.calls = new Map();
    this.waiters = [];
    this.onMessage = onMessage || (() => {});
    this.exited = new Promise((r) => proc.once("exit", r));
    proc.on("message", (m) => {
      if (m.id !== undefined && this.calls.has(m.id)) {
        const c = this.calls.get(m.id);
        this.calls.delete(m.id);
        if (m.error) c.reject(new Error(m.error));
        else c.resolve(m.result);
        return;
      }
      this.waiters = this.waiters.filter((w) => !w(m));
      this.onMessage(m);
    });
    proc.once("exit", (code, signal) => {
      for (const c of this.calls.values()) c.reject(new Error(`child exited (${code}, ${signal})`));
      this.calls.clear();
    });
  }

  // Resolves with the first message that `pred` accepts (or rejects if the child exits first).
  _first(pred) {
    return new Promise((resolve, reject) => {
      this.waiters.push((m) => (pred(m) ? (resolve(m), true) : false));
      this.proc.once("exit", (code) => reject(new Error(`child exited with ${code} before it was ready`)));
    });
  }

  call(cmd, args) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.proc.send({ id, cmd, args });
    });
  }

  send(m) {
    if (this.proc.connected) this.proc.send(m);
  }

  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.send({ cmd: "exit" });
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

// `url` is the Redis URL, or the redis object of withRedis(): then a TLS variant gets its rediss:// URL and CA.
function startServer(url, variant, extra = {}) {
  let ca;
  if (typeof url === "object") {
    if (variant.tls && !url.tlsUrl) throw new Error(`variant ${variant.key} needs a Redis with TLS (withRedis(fn, { tls: true }))`);
    ca = variant.tls ? url.ca : undefined;
    url = variant.tls ? url.tlsUrl : url.url;
  }
  return Child.start("server.js", { impl: variant.impl, url, options: variant.options, coalesceWrites: !!variant.coalesceWrites, ca, ...extra });
}

function startClients(port, n, rooms, onMessage) {
  return Child.start("clients.js", { url: `http://127.0.0.1:${port}`, n, rooms }, { onMessage });
}

// Client processes whose progress reports feed an emitting server's credit (the slowest wins).
class ClientGroup {
  constructor() {
    this.procs = [];
    this.progress = [];
    this.done = [];
    this.emitter = null;
  }

  async add(port, n, rooms) {
    const i = this.procs.length;
    this.progress.push(0);
    const proc = await startClients(port, n, rooms, (m) => {
      if (m.progress !== undefined) {
        this.progress[i] = m.progress;
        if (this.emitter) this.emitter.send({ cmd: "credit", value: Math.min(...this.progress) });
      } else if (m.done) {
        this.done[i](m);
      }
    });
    this.procs.push(proc);
    return proc;
  }

  // Every process expects `total` deliveries; resolves with one promise per process ({t, count}).
  async expect(total, step, emitter) {
    this.emitter = emitter || null;
    this.progress = this.progress.map(() => 0);
    const dones = this.procs.map((_, i) => new Promise((r) => (this.done[i] = r)));
    await Promise.all(this.procs.map((p) => p.call("expect", { total, step })));
    return dones;
  }

  stop() {
    return Promise.all(this.procs.map((p) => p.stop()));
  }
}

// Resolves with a promise-returning function, or rejects after ms.
function within(ms, promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

// Redis of our own (pub/sub output buffers unlimited, so floods are never cut), or REDIS_URL. With tls, it
// also listens with TLS (certificates of test/helpers/tls.js): tlsUrl and ca go to the TLS variants, the
// plain port stays for the plain variants and the bench's own raw writers.
async function withRedis(fn, { tls = false } = {}) {
  if (process.env.REDIS_URL) {
    if (tls) throw new Error("the TLS benches start their own Redis: unset REDIS_URL");
    const u = new URL(process.env.REDIS_URL);
    return fn({ url: process.env.REDIS_URL, host: u.hostname, port: Number(u.port || 6379) });
  }
  const redis = await startRedis({ args: ["--client-output-buffer-limit", "pubsub", "0", "0", "0"], tls: tls ? {} : undefined });
  try {
    const info = { url: redis.url, host: "127.0.0.1", port: redis.port };
    if (tls) Object.assign(info, { tlsUrl: redis.tlsUrl, ca: require("../../test/helpers/tls").certs().ca });
    return await fn(info);
  } finally {
    await redis.stop();
  }
}

// The subscriber counts of `channels` added up; `kind` "SHARDNUMSUB" counts sharded subscriptions.
async function numsub(redis, channels, kind = "NUMSUB") {
  const raw = await RawRedis.connect(redis.port, redis.host);
  try {
    const reply = await raw.command("PUBSUB", kind, ...channels);
    let sum = 0;
    for (let i = 1; i < reply.length; i += 2) sum += Number(reply[i]);
    return sum;
  } finally {
    await raw.close();
  }
}

// Waits until the subscriber counts of `channels` add up to `n` (`kind` as for numsub).
async function waitSubscribed(redis, n, channels = ["socket.io-request#/#"], timeoutMs = 10000, kind = "NUMSUB") {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const have = await numsub(redis, channels, kind);
    if (have === n) return;
    if (Date.now() > deadline) throw new Error(`expected ${n} subscriptions on ${channels.length} channel(s), have ${have}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A raw connection that writes prepared RESP bytes (replies are read and dropped).
async function rawWriter(redis) {
  const sock = net.connect(redis.port, redis.host);
  await new Promise((r, j) => sock.once("connect", r).once("error", j));
  sock.on("data", () => {});
  return sock;
}

function resp(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

// A single-room broadcast exactly as @socket.io/redis-adapter 8.3.0 publishes it (spec 2.x).
function upstreamBroadcast(room, data, uid = "XXXXXX") {
  const notepack = require("notepack.io");
  const msg = notepack.encode([uid, { type: 2, data, nsp: "/" }, { rooms: [room], except: [], flags: {} }]);
  return resp(["PUBLISH", `socket.io#/#${room}#`, msg]);
}

// A single-room broadcast exactly as @socket.io/redis-adapter 8.3.0's createShardedAdapter publishes it (a
// ClusterAdapter BROADCAST message, JSON, spec 7.3 SH2), on `channel`: "socket.io#/#" is where a "static"
// node sends it ("dynamic" nodes use the room's channel, "socket.io#/#<room>#").
function upstreamShardedBroadcast(channel, room, data, uid = "a1a1a1a1a1a1a1a1") {
  const msg = JSON.stringify({
    type: 3,
    data: { packet: { type: 2, data }, opts: { rooms: [room], except: [], flags: {} } },
    uid,
    nsp: "/",
  });
  return resp(["SPUBLISH", channel, msg]);
}

function machine() {
  const cpuinfo = fs.existsSync("/proc/cpuinfo") ? fs.readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = (cpuinfo.match(/^model name\s*:\s*(.*)$/m) || [])[1] || os.cpus()[0].model;
  let redisVersion = "";
  try {
    redisVersion = (execFileSync(process.env.REDIS_SERVER_BIN || "redis-server", ["--version"]).toString().match(/v=(\S+)/) || [])[1];
  } catch {
    redisVersion = "unknown";
  }
  return {
    cpu: model,
    cores: os.cpus().length,
    node: process.version,
    redis: redisVersion,
    os: `${os.type()} ${os.release()}`,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    date: new Date().toISOString(),
  };
}

// Runs `once(variant, rep)` for every variant, alternating, `reps` times. `once` resolves with an
// object of named figures; returns { [variant.key]: { [figure]: [values per rep] } }.
async function alternate(variants, reps, once) {
  const raw = {};
  for (const v of variants) raw[v.key] = {};
  for (let rep = 0; rep < reps; rep++) {
    for (const v of variants) {
      const figures = await once(v, rep);
      for (const [k, x] of Object.entries(figures)) (raw[v.key][k] = raw[v.key][k] || []).push(x);
      process.stderr.write(`  rep ${rep + 1}/${reps} ${v.key}: ${Object.entries(figures).map(([k, x]) => `${k}=${fmt(x)}`).join(" ")}\n`);
    }
  }
  return raw;
}

function fmt(x) {
  if (typeof x !== "number") return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

// Builds a table row from the medians. `better` is "lower" (CPU, latency; target: ratio <= t) or
// "higher" (rates; target: ratio >= t). The first ours variant decides PASS/MISS.
function row({ metric, unit, figure, raw, upstream = "upstream", ours, target, better = "lower", note }) {
  const med = (key) => (raw[key] && raw[key][figure] ? median(raw[key][figure]) : null);
  const u = med(upstream);
  const oursFigures = {};
  const ratios = {};
  for (const key of ours) {
    const o = med(key);
    oursFigures[key] = o;
    ratios[key] = u && o !== null ? o / u : null;
  }
  const first = ratios[ours[0]];
  let verdict = "";
  if (target !== undefined && first !== null) verdict = (better === "lower" ? first <= target : first >= target) ? "PASS" : "MISS";
  return { metric, unit, figure, upstream: u, ours: oursFigures, ratios, target, better, verdict, note };
}

const LABELS = {
  upstream: "upstream",
  ours: "ours",
  "ours-nocoalesce": "ours (coalesce off)",
  "ours-dynamic": "ours (dynamic)",
  "ours-coalesce": "ours + coalesceWrites(io)",
  "upstream-tls": "upstream over TLS",
  "ours-tls": "ours over TLS",
};

function printRows(rows) {
  const lines = ["| metric | upstream 8.3.0 | ours | ratio ours/upstream | target | |", "|---|---|---|---|---|---|"];
  for (const r of rows) {
    const keys = Object.keys(r.ours);
    const ours = keys.map((k) => (keys.length > 1 ? `${LABELS[k] || k}: ` : "") + (r.ours[k] === null ? "n/a" : `${fmt(r.ours[k])} ${r.unit}`)).join("<br>");
    const ratios = keys.map((k) => (keys.length > 1 ? `${LABELS[k] || k}: ` : "") + (r.ratios[k] === null ? "n/a" : r.ratios[k].toFixed(3))).join("<br>");
    const target = r.target === undefined ? "" : `${r.better === "lower" ? "<=" : ">="} ${r.target}`;
    lines.push(`| ${r.metric} | ${r.upstream === null ? "n/a" : `${fmt(r.upstream)} ${r.unit}`} | ${ours} | ${ratios} | ${target} | ${r.verdict} |`);
  }
  console.log(lines.join("\n"));
}

// Merges one scenario's results into bench/results/latest.json.
function save(scenario, data) {
  let all = {};
  try {
    all = JSON.parse(fs.readFileSync(RESULTS, "utf8"));
  } catch {
    all = {};
  }
  all.machine = machine();
  all.scenarios = all.scenarios || {};
  all.scenarios[scenario] = { ...data, quick: QUICK, date: new Date().toISOString() };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, JSON.stringify(all, null, 2) + "\n");
}

// The common main(): prints the header, runs `body(redis, feats)` which returns
// { rows, raw, params, notes }, prints the table and saves it. `redisOptions` go to withRedis.
function main(scenario, body, redisOptions) {
  (async () => {
    const m = machine();
    const feats = features();
    console.log(`\n## ${scenario}${QUICK ? " (BENCH_QUICK=1: smoke run, figures not meaningful)" : ""}`);
    console.log(`machine: ${m.cpu}, ${m.cores} cores, node ${m.node}, redis ${m.redis}, load ${m.loadavg.join(" ")}`);
    const out = await withRedis((redis) => body(redis, feats), redisOptions);
    const notes = out.notes || [];
    if (!feats.coalesceWrites && out.variants && out.variants.includes("ours-nocoalesce")) {
      notes.push("coalesceWrites is not supported by this build: both ours columns ran the same code");
    }
    console.log(`command: node bench/${scenario}.js ${Object.entries(out.params).map(([k, v]) => `--${k} ${v}`).join(" ")}\n`);
    printRows(out.rows);
    for (const n of notes) console.log(`note: ${n}`);
    save(scenario, { params: out.params, features: feats, rows: out.rows, raw: out.raw, notes });
  })().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}

// One receive-and-discard repetition: a server process starts and subscribes (waitReady), then a raw
// connection writes the whole flood and the sentinel; the figure is the server's own CPU from the start of
// the flood to the sentinel's arrival, per flooded message.
async function discardOnce(redis, variant, { flood, sentinel, count, waitReady }) {
  const server = await startServer(redis, variant, { sentinel: true });
  try {
    await waitReady();
    const writer = await rawWriter(redis);
    await server.call("cpuStart");
    writer.write(flood);
    writer.write(sentinel);
    const { cpuMicros } = await within(120000, server.call("sentinel", { k: 1 }), "sentinel");
    writer.destroy();
    return { cpuPerMessage: cpuMicros / count };
  } finally {
    await server.stop();
  }
}

module.exports = {
  discardOnce,
  QUICK,
  RESULTS,
  arg,
  median,
  percentile,
  Child,
  ClientGroup,
  startServer,
  startClients,
  within,
  withRedis,
  numsub,
  waitSubscribed,
  rawWriter,
  resp,
  upstreamBroadcast,
  upstreamShardedBroadcast,
  machine,
  alternate,
  row,
  printRows,
  fmt,
  save,
  main,
};
