#!/usr/bin/env node
"use strict";
// Soak test: its own redis-server, 3 Socket.IO server processes on our adapter, a 4th process with
// socket.io-client clients joined to rooms. The servers publish io.to(room).emit("m", origin, seq, ts)
// at the target rate (spread over the 3 servers and the rooms); every client checks that, per origin,
// the sequence numbers of its room arrive without gap or duplicate. Every --interval seconds each
// server reports RSS, heap used and process.getActiveResourcesInfo().length. At the end: the curve,
// target vs achieved rate, and a verdict (zero loss, RSS and handles flat); exit code 0 (pass) / 1.
//
//   node test/soak/soak.js [--minutes 10 | --seconds 600] [--rate 10000] [--interval 10]
//                          [--clients 4] [--rss-slack 0.15] [--handles-slack 0.15] [--window 1] [--json]
//                          [--selftest-drop N]  (clients ignore every Nth message: the verdict must FAIL)
//
// Flow control: when clients fall more than --window seconds of deliveries behind, the servers pause
// until the backlog halves (so the run measures what the machine sustains instead of buffering
// without bound); "achieved" counts pauses as time spent.

const { fork } = require("node:child_process");

const ROLE = process.env.SOAK_ROLE || "driver";
const SERVERS = 3;

function parseArgs(argv) {
  const o = { drop: 0, seconds: 600, rate: 10000, interval: 10, clients: 4, rssSlack: 0.15, handlesSlack: 0.15, window: 1, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n < 0) throw new Error(`bad value for ${a}: ${argv[i]}`);
      return n;
    };
    if (a === "--minutes") o.seconds = v() * 60;
    else if (a === "--seconds") o.seconds = v();
    else if (a === "--rate") o.rate = v();
    else if (a === "--interval") o.interval = v();
    else if (a === "--clients") o.clients = Math.max(1, Math.floor(v()));
    else if (a === "--rss-slack") o.rssSlack = v();
    else if (a === "--handles-slack") o.handlesSlack = v();
    else if (a === "--window") o.window = v();
    else if (a === "--json") o.json = true;
    else if (a === "--selftest-drop") o.drop = v(); // clients ignore every Nth message: proves loss is detected
    else if (a === "--help" || a === "-h") {
      console.log("usage: node test/soak/soak.js [--minutes N | --seconds N] [--rate MSG_PER_S] [--interval S] [--clients PER_SERVER] [--rss-slack F] [--handles-slack F] [--window S] [--json]");
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// --- server process ----------------------------------------------------------------------------
function runServer() {
  const http = require("node:http");
  const { Server } = require("socket.io");
  const { createAdapter } = require("../..");
  const index = Number(process.env.SOAK_INDEX);
  const rooms = Number(process.env.SOAK_ROOMS);
  const factory = createAdapter({ host: "127.0.0.1", port: Number(process.env.SOAK_REDIS_PORT) });
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: factory });
  io.on("connection", (socket) => socket.join(String(socket.handshake.query.room)));
  factory.client.on("error", (err) => process.send({ type: "redis-error", code: err.code, message: err.message }));

  const seq = new Array(rooms).fill(0);
  let sent = 0;
  let rate = 0; // this server's share, messages per second
  let running = false;
  let credit = 0;
  let last = 0;
  let timer = null;
  let nextRoom = 0;

  function tick() {
    const now = performance.now();
    credit = Math.min(credit + ((now - last) * rate) / 1000, rate * 0.05 + 1); // at most 50 ms of catch-up
    last = now;
    const n = Math.floor(credit);
    credit -= n;
    const ts = Date.now();
    for (let k = 0; k < n; k++) {
      const r = nextRoom;
      nextRoom = (nextRoom + 1) % rooms;
      io.to("r" + r).emit("m", index, ++seq[r], ts);
    }
    sent += n;
  }

  function report() {
    const m = process.memoryUsage();
    return { type: "report", index, rss: m.rss, heapUsed: m.heapUsed, handles: process.getActiveResourcesInfo().length, sent, seq: [...seq], stats: io.of("/").adapter.stats };
  }

  process.on("message", (msg) => {
    if (msg.cmd === "start" || msg.cmd === "resume") {
      if (msg.rate !== undefined) rate = msg.rate;
      if (!running) {
        running = true;
        last = performance.now();
        timer = setInterval(tick, 2);
      }
    } else if (msg.cmd === "pause" || msg.cmd === "stop") {
      running = false;
      clearInterval(timer);
      if (msg.cmd === "stop") process.send({ type: "stopped", index, sent, seq: [...seq] });
    } else if (msg.cmd === "progress") {
      process.send({ type: "progress", index, sent, seq: [...seq] });
    } else if (msg.cmd === "report") {
      process.send(report());
    } else if (msg.cmd === "exit") {
      io.close(() => process.exit(0));
      setTimeout(() => process.exit(0), 3000).unref();
    }
  });
  process.on("disconnect", () => process.exit(0));
  httpServer.listen(0, "127.0.0.1", () => {
    const check = () => {
      if (factory.client && factory.client.isReady) process.send({ type: "listening", index, port: httpServer.address().port });
      else setTimeout(check, 20);
    };
    check();
  });
}

// --- clients process ---------------------------------------------------------------------------
function runClients() {
  const { io: ioc } = require("socket.io-client");
  const ports = JSON.parse(process.env.SOAK_PORTS);
  const perServer = Number(process.env.SOAK_CLIENTS);
  const drop = Number(process.env.SOAK_DROP || 0);
  let seen = 0;
  const clients = [];
  let received = 0;
  let gaps = 0; // messages missing in a sequence
  let disorder = 0; // duplicates or going backwards
  let latencySum = 0;
  let latencyMax = 0;
  let latencyN = 0;
  let disconnects = 0;

  ports.forEach((port, s) => {
    for (let j = 0; j < perServer; j++) {
      const room = j; // every room has one client on every server
      const socket = ioc(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true, reconnection: false, query: { room: "r" + room } });
      const c = { socket, server: s, room, next: new Array(ports.length).fill(1), count: new Array(ports.length).fill(0) };
      socket.on("m", (origin, seq, ts) => {
        if (drop > 0 && ++seen % drop === 0) return;
        received++;
        c.count[origin]++;
        const expected = c.next[origin];
        if (seq > expected) gaps += seq - expected;
        else if (seq < expected) disorder++;
        if (seq >= expected) c.next[origin] = seq + 1;
        const lat = Date.now() - ts;
        latencySum += lat;
        latencyN++;
        if (lat > latencyMax) latencyMax = lat;
      });
      socket.on("disconnect", () => disconnects++);
      clients.push(c);
    }
  });

  let connected = 0;
  for (const c of clients) {
    c.socket.once("connect", () => {
      if (++connected === clients.length) process.send({ type: "connected", count: clients.length });
    });
    c.socket.on("connect_error", (err) => process.send({ type: "fatal", message: `client connect_error: ${err.message}` }));
  }

  process.on("message", (msg) => {
    if (msg.cmd === "progress") {
      const m = process.memoryUsage();
      process.send({ type: "progress", received, gaps, disorder, disconnects, rss: m.rss, latencyAvg: latencyN ? latencySum / latencyN : 0, latencyMax });
      latencySum = latencyN = latencyMax = 0;
    } else if (msg.cmd === "final") {
      process.send({
        type: "final",
        received,
        gaps,
        disorder,
        disconnects,
        clients: clients.map((c) => ({ server: c.server, room: c.room, count: c.count, last: c.next.map((n) => n - 1) })),
      });
    } else if (msg.cmd === "exit") {
      for (const c of clients) c.socket.disconnect();
      setTimeout(() => process.exit(0), 200);
    }
  });
  process.on("disconnect", () => process.exit(0));
}

// --- driver ------------------------------------------------------------------------------------
async function runDriver() {
  const opts = parseArgs(process.argv.slice(2));
  const { startRedis } = require("../helpers/redis");
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const log = (...a) => {
    if (!opts.json) console.log(...a);
  };
  const rooms = opts.clients;
  const children = [];
  let redis = null;
  let fatal = null;

  function spawn(role, env) {
    const child = fork(__filename, [], { env: { ...process.env, SOAK_ROLE: role, ...env }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    children.push(child);
    child.on("exit", (code, signal) => {
      if (!shuttingDown) fatal = fatal || `${role} process exited (${code ?? signal})`;
    });
    return child;
  }
  function waitMsg(child, type, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off("message", on);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what || type}`));
      }, timeoutMs);
      function on(msg) {
        if (msg.type === "fatal") {
          clearTimeout(timer);
          child.off("message", on);
          reject(new Error(msg.message));
        } else if (msg.type === type) {
          clearTimeout(timer);
          child.off("message", on);
          resolve(msg);
        }
      }
      child.on("message", on);
    });
  }
  let shuttingDown = false;
  async function shutdown() {
    shuttingDown = true;
    for (const c of children) if (c.connected) c.send({ cmd: "exit" });
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : Promise.race([new Promise((r) => c.once("exit", r)), sleep(4000)]))));
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    if (redis) await redis.stop();
  }
  process.on("SIGINT", () => {
    shutdown().then(() => process.exit(130));
  });

  let result;
  try {
    redis = await startRedis();
    const servers = [];
    for (let i = 0; i < SERVERS; i++) {
      servers.push(spawn("server", { SOAK_INDEX: String(i), SOAK_ROOMS: String(rooms), SOAK_REDIS_PORT: String(redis.port) }));
    }
    const ports = (await Promise.all(servers.map((s, i) => waitMsg(s, "listening", 10000, `server ${i} ready`)))).map((m) => m.port);
    const clientsProc = spawn("clients", { SOAK_PORTS: JSON.stringify(ports), SOAK_CLIENTS: String(opts.clients), SOAK_DROP: String(opts.drop) });
    await waitMsg(clientsProc, "connected", 15000, "clients connected");
    const deliveriesPerMessage = SERVERS; // each room has one client on each server
    log(`soak: redis :${redis.port}, servers :${ports.join(" :")}, ${opts.clients * SERVERS} clients in ${rooms} rooms, ` +
      `target ${opts.rate} msg/s for ${opts.seconds} s (x${deliveriesPerMessage} client deliveries), report every ${opts.interval} s`);

    const ask = (child, cmd, type) => {
      const p = waitMsg(child, type, 10000, `${type} from ${cmd}`);
      child.send({ cmd });
      return p;
    };
    const rows = [];
    const redisErrors = [];
    servers.forEach((s) => s.on("message", (m) => m.type === "redis-error" && redisErrors.push(`${m.code} ${m.message}`)));

    const share = opts.rate / SERVERS;
    const t0 = Date.now();
    for (const s of servers) s.send({ cmd: "start", rate: share });
    let paused = false;
    let pausedMs = 0;
    let pausedAt = 0;
    let lastSent = 0;
    let lastReceived = 0;
    let lastRowAt = t0;
    const windowDeliveries = Math.max(2000, opts.rate * deliveriesPerMessage * opts.window);
    let nextReport = t0 + opts.interval * 1000;
    const deadline = t0 + opts.seconds * 1000;
    let latencyMaxInRow = 0;
    let latencyAvgInRow = 0;
    rows.push(await sample(0));

    async function sample(elapsed) {
      const reports = await Promise.all(servers.map((s) => ask(s, "report", "report")));
      const cp = await ask(clientsProc, "progress", "progress");
      const sent = reports.reduce((a, r) => a + r.sent, 0);
      const now = Date.now();
      const dt = (now - lastRowAt) / 1000 || 1;
      const row = {
        t: Math.round(elapsed / 1000),
        sentRate: Math.round((sent - lastSent) / dt),
        deliveryRate: Math.round((cp.received - lastReceived) / dt),
        latencyAvg: Math.round(Math.max(latencyAvgInRow, cp.latencyAvg)),
        latencyMax: Math.max(latencyMaxInRow, cp.latencyMax),
        clientsRss: cp.rss,
        servers: reports.map((r) => ({ rss: r.rss, heapUsed: r.heapUsed, handles: r.handles })),
      };
      latencyMaxInRow = latencyAvgInRow = 0;
      lastSent = sent;
      lastReceived = cp.received;
      lastRowAt = now;
      return row;
    }

    while (Date.now() < deadline) {
      if (fatal) throw new Error(fatal);
      await sleep(200);
      // flow control
      const progress = await Promise.all(servers.map((s) => ask(s, "progress", "progress")));
      const cp = await ask(clientsProc, "progress", "progress");
      latencyMaxInRow = Math.max(latencyMaxInRow, cp.latencyMax);
      latencyAvgInRow = Math.max(latencyAvgInRow, cp.latencyAvg);
      const expected = progress.reduce((a, p) => a + p.sent, 0) * deliveriesPerMessage;
      const backlog = expected - cp.received;
      if (!paused && backlog > windowDeliveries) {
        paused = true;
        pausedAt = Date.now();
        for (const s of servers) s.send({ cmd: "pause" });
      } else if (paused && backlog < windowDeliveries / 2) {
        paused = false;
        pausedMs += Date.now() - pausedAt;
        for (const s of servers) s.send({ cmd: "resume" });
      }
      if (Date.now() >= nextReport) {
        nextReport += opts.interval * 1000;
        const row = await sample(Date.now() - t0);
        rows.push(row);
        log(formatRow(row));
      }
    }
    if (paused) pausedMs += Date.now() - pausedAt;
    const stops = await Promise.all(servers.map((s) => {
      const p = waitMsg(s, "stopped", 10000);
      s.send({ cmd: "stop" });
      return p;
    }));
    const duration = (Date.now() - t0) / 1000;
    const totalSent = stops.reduce((a, s) => a + s.sent, 0);
    // drain: wait (bounded) until every client has everything that was sent
    const expectedTotal = totalSent * deliveriesPerMessage;
    let final = null;
    const drainDeadline = Date.now() + 15000;
    for (;;) {
      final = await ask(clientsProc, "final", "final");
      if (final.received >= expectedTotal || Date.now() > drainDeadline) break;
      await sleep(100);
    }
    // per client and origin: what arrived against what that origin sent to the client's room
    let lost = 0;
    for (const c of final.clients) {
      for (let o = 0; o < SERVERS; o++) {
        const sentToRoom = stops[o].seq[c.room];
        lost += Math.max(0, sentToRoom - c.count[o]);
      }
    }
    const verdict = judge(rows, opts, { lost, gaps: final.gaps, disorder: final.disorder, disconnects: final.disconnects, redisErrors });
    result = {
      target: opts.rate,
      achieved: Math.round(totalSent / duration),
      deliveriesPerSecond: Math.round(final.received / duration),
      duration: Math.round(duration * 10) / 10,
      throttledPercent: Math.round((pausedMs / 1000 / duration) * 1000) / 10,
      sent: totalSent,
      expectedDeliveries: expectedTotal,
      received: final.received,
      lost,
      gaps: final.gaps,
      disorder: final.disorder,
      clientDisconnects: final.disconnects,
      redisErrors,
      rows,
      verdict,
    };
    if (!opts.json) {
      console.log("");
      console.log(header());
      for (const r of rows) console.log(formatRow(r));
      console.log("");
      console.log(`rate: target ${opts.rate} msg/s, achieved ${result.achieved} msg/s (${result.deliveriesPerSecond} client deliveries/s), throttled ${result.throttledPercent}% of the time`);
      console.log(`messages: sent ${totalSent}, deliveries expected ${expectedTotal}, received ${final.received}, lost ${lost}, sequence gaps ${final.gaps}, out of order ${final.disorder}`);
      for (const line of verdict.lines) console.log(line);
      console.log(`VERDICT: ${verdict.pass ? "PASS" : "FAIL"}`);
    }
  } catch (err) {
    result = { error: err.message, verdict: { pass: false, lines: [`error: ${err.message}`] } };
    if (!opts.json) console.error(`soak: ${err.stack}`);
  } finally {
    await shutdown();
  }
  console.log("SOAK_RESULT " + JSON.stringify(result));
  process.exit(result.verdict.pass ? 0 : 1);
}

function header() {
  const s = [0, 1, 2].map((i) => `srv${i} rss/heap MB handles`.padEnd(25)).join(" ");
  return `${"t(s)".padStart(5)} ${"sent/s".padStart(7)} ${"deliv/s".padStart(8)} ${"lat avg/max ms".padStart(15)} ${s} ${"clients rss".padStart(11)}`;
}

function formatRow(r) {
  const mb = (b) => (b / 1048576).toFixed(1);
  const s = r.servers.map((x) => `${mb(x.rss)}/${mb(x.heapUsed)} ${x.handles}`.padEnd(25)).join(" ");
  return `${String(r.t).padStart(5)} ${String(r.sentRate).padStart(7)} ${String(r.deliveryRate).padStart(8)} ${`${r.latencyAvg}/${r.latencyMax}`.padStart(15)} ${s} ${mb(r.clientsRss).padStart(11)}`;
}

// Flat: the last third's average is within `slack` of the middle third's (growth only).
function judge(rows, opts, counts) {
  const lines = [];
  let pass = true;
  const samples = rows.slice(1); // t=0 is before any traffic
  const thirds = (xs) => {
    const n = xs.length;
    const avg = (a) => a.reduce((x, y) => x + y, 0) / a.length;
    return { mid: avg(xs.slice(Math.floor(n / 3), Math.floor((2 * n) / 3))), last: avg(xs.slice(Math.floor((2 * n) / 3))) };
  };
  if (samples.length < 3) {
    lines.push(`curve: only ${samples.length} samples, RSS/handles flatness not judged (run longer or lower --interval)`);
  } else {
    for (let i = 0; i < 3; i++) {
      const rss = thirds(samples.map((r) => r.servers[i].rss));
      const handles = thirds(samples.map((r) => r.servers[i].handles));
      const rssOk = rss.last <= rss.mid * (1 + opts.rssSlack);
      const handlesOk = handles.last <= handles.mid * (1 + opts.handlesSlack) + 2;
      pass = pass && rssOk && handlesOk;
      lines.push(
        `server ${i}: RSS middle third ${(rss.mid / 1048576).toFixed(1)} MB, last third ${(rss.last / 1048576).toFixed(1)} MB (${pct(rss.last, rss.mid)}, limit +${Math.round(opts.rssSlack * 100)}%) ${rssOk ? "flat" : "GROWING"}; ` +
          `handles ${handles.mid.toFixed(1)} -> ${handles.last.toFixed(1)} ${handlesOk ? "flat" : "GROWING"}`,
      );
    }
  }
  const lossOk = counts.lost === 0 && counts.gaps === 0 && counts.disorder === 0;
  pass = pass && lossOk && counts.disconnects === 0;
  lines.push(`loss: ${counts.lost} lost, ${counts.gaps} gaps, ${counts.disorder} out of order, ${counts.disconnects} client disconnects ${lossOk && counts.disconnects === 0 ? "OK" : "FAIL"}`);
  if (counts.redisErrors.length) lines.push(`redis errors on the servers: ${counts.redisErrors.slice(0, 5).join("; ")}`);
  return { pass, lines };
}

function pct(a, b) {
  const p = ((a / b - 1) * 100).toFixed(1);
  return `${p >= 0 ? "+" : ""}${p}%`;
}

if (ROLE === "server") runServer();
else if (ROLE === "clients") runClients();
else runDriver();
