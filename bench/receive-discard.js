"use strict";
// receive-and-discard: CPU a server spends per message for rooms it does not hold.
// One server process (upstream @socket.io/redis-adapter 8.3.0 with node-redis 4, or ours); a raw
// connection floods N single-room broadcasts, encoded exactly as upstream publishes them, then one
// sentinel for a room the server holds. CPU comes from the server process's own process.cpuUsage().
// Runs alternate between the two adapters; medians of --reps runs; prints both figures and the ratio.
//
//   node bench/receive-discard.js [--messages 200000] [--reps 5]
const os = require("node:os");
const net = require("node:net");
const path = require("node:path");
const { fork, execFileSync } = require("node:child_process");
const notepack = require("notepack.io");
const { startRedis } = require("../test/helpers/redis");

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const N = arg("messages", 200000);
const REPS = arg("reps", 5);

function resp(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

function broadcast(room, data) {
  const msg = notepack.encode(["XXXXXX", { type: 2, data, nsp: "/" }, { rooms: [room], except: [], flags: {} }]);
  return resp(["PUBLISH", `socket.io#/#${room}#`, msg]);
}

const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function once(impl, url, port, flood, sentinel) {
  const child = fork(path.join(__dirname, "lib", "discard-server.js"), [impl, url]);
  const next = () => new Promise((r) => child.once("message", r));
  await next(); // up
  child.send("start");
  await next(); // started
  const sock = net.connect(port, "127.0.0.1");
  await new Promise((r) => sock.once("connect", r));
  sock.on("data", () => {}); // PUBLISH replies
  sock.write(flood);
  sock.write(sentinel);
  const { cpuMicros } = await next();
  sock.destroy();
  await new Promise((r) => child.once("exit", r));
  return cpuMicros / N;
}

(async () => {
  const redis = await startRedis();
  try {
    const flood = Buffer.concat(Array.from({ length: N }, (_, i) => broadcast("other" + (i % 1000), ["ev", i])));
    const sentinel = broadcast("held", ["sentinel"]);
    const results = { upstream: [], hiredis: [] };
    for (let rep = 0; rep < REPS; rep++) {
      for (const impl of ["upstream", "hiredis"]) results[impl].push(await once(impl, redis.url, redis.port, flood, sentinel));
    }
    const u = median(results.upstream);
    const h = median(results.hiredis);
    const redisVersion = execFileSync("redis-server", ["--version"]).toString().trim();
    console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, ${redisVersion}`);
    console.log(`command: node bench/receive-discard.js --messages ${N} --reps ${REPS}`);
    console.log("");
    console.log("| metric | upstream 8.3.0 (median) | ours (median) | ratio ours/upstream |");
    console.log("|---|---|---|---|");
    console.log(`| receive-and-discard CPU per message | ${u.toFixed(3)} us | ${h.toFixed(3)} us | ${(h / u).toFixed(3)} |`);
    console.log("");
    console.log(`raw (us/message): ${JSON.stringify(results)}`);
  } finally {
    await redis.stop();
  }
})();
