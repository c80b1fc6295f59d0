"use strict";
// A Socket.IO server process on one adapter, driven by the bench over IPC. It measures its own CPU
// time (process.cpuUsage()) so that neither the clients nor the driver count against it.
//
//   argv[2]: JSON { impl, url, options, sentinel, coalesceWrites, ca } (ca: PEM, url rediss://: over TLS)
//
// Sockets join the rooms listed in their handshake query (`rooms=a,b,c`). With `sentinel`, the
// process also holds one in-process client in room "sentinel", whose "sentinel" event tells the
// driver that everything published before it has been processed here. With `coalesceWrites`, the
// process calls our exported coalesceWrites(io) on the server (for adapters that do not apply it). With
// `holdRooms: n`, the namespace adapter holds n more rooms ("held-0" ...), one member each (socket ids with
// no connection behind them: only the adapter's local state counts).
const { performance } = require("node:perf_hooks");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { adapterFactory } = require("./adapters");
const { now, cpuClock, serve, main } = require("./child");

const cfg = JSON.parse(process.argv[2]);
const tick = () => new Promise((r) => setImmediate(r));
const clock = cpuClock();

let io = null;
let credit = 0;
let creditWaiter = null;

// Emits n broadcasts ("m", i) as fast as the driver's credits allow: at most `window` broadcasts
// beyond what the slowest client process has reported, `batch` per event-loop turn. With `rate`
// (broadcasts per second), never ahead of that schedule either; returns the rate actually held.
async function broadcast({ n, window, batch, room, rate }) {
  credit = 0;
  let sent = 0;
  const target = room ? io.to(room) : io;
  const start = now();
  while (sent < n) {
    const limit = Math.min(n, credit + window);
    if (sent >= limit) {
      await new Promise((r) => (creditWaiter = r));
      continue;
    }
    let end = Math.min(limit, sent + batch);
    if (rate) {
      const due = Math.min(end, Math.floor(((now() - start) * rate) / 1000) + 1);
      if (due <= sent) {
        await new Promise((r) => setTimeout(r, Math.max(1, start + (sent * 1000) / rate - now())));
        continue;
      }
      end = due;
    }
    while (sent < end) target.emit("m", sent++);
    await tick();
  }
  const seconds = (now() - start) / 1000;
  return { sent, rate: seconds > 0 ? sent / seconds : 0 };
}

// Publishes n single-room broadcasts for rooms nobody holds (with `toAll`: n io.emit() to everyone),
// `batch` per loop turn, then one to room "sentinel". Returns when the last one was handed to the adapter.
async function publish({ n, batch, toAll = false }) {
  const start = now();
  clock.start();
  for (let sent = 0; sent < n; ) {
    const end = Math.min(n, sent + batch);
    if (toAll) for (; sent < end; sent++) io.emit("m", sent);
    else for (; sent < end; sent++) io.to("nobody" + (sent % 1000)).emit("m", sent);
    await tick();
  }
  io.to("sentinel").emit("sentinel", n);
  const stats = io.of("/").adapter.stats;
  return { start, dropped: stats ? stats.publishDropped : 0 };
}

// Sequential round trips of one kind; returns the latencies in milliseconds.
async function requests({ kind, n, expect }) {
  const once = {
    fetchSockets: async () => (await io.fetchSockets()).length,
    serverSideEmitWithAck: async () => (await io.serverSideEmitWithAck("ping", 1)).length,
    ack: async () => (await io.timeout(5000).emitWithAck("ack-me", 1)).length,
  }[kind];
  if (!once) throw new Error(`unknown request kind ${kind}`);
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const got = await once();
    ms.push(performance.now() - t);
    if (got !== expect) throw new Error(`${kind}: ${got} answers, expected ${expect}`);
  }
  return { ms };
}

// Emits n single-room broadcasts to rooms picked (deterministically) from `rooms`, `batch` per loop turn,
// then one to room "sentinel".
async function emitRooms({ n, rooms, batch, seed = 1 }) {
  let x = seed >>> 0 || 1;
  for (let sent = 0; sent < n; ) {
    const end = Math.min(n, sent + batch);
    for (; sent < end; sent++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      io.to(rooms[(x >>> 0) % rooms.length]).emit("m", sent);
    }
    await tick();
  }
  io.to("sentinel").emit("sentinel", n);
  return { sent: n };
}

const commands = {
  ...clock.commands,
  broadcast,
  publish,
  emitRooms,
  requests,
  stats: () => {
    const s = io.of("/").adapter.stats;
    return s ? { ...s } : null;
  },
};

// the driver's notice "credit": how far the slowest client process has got (see broadcast())
function onCredit({ value }) {
  credit = value;
  if (creditWaiter) {
    const w = creditWaiter;
    creditWaiter = null;
    w();
  }
}

serve(commands, () => io.close(), { credit: onCredit });

main(async () => {
  io = new Server({ adapter: await adapterFactory(cfg.impl, cfg.url, cfg.options, cfg.ca) });
  io.on("connection", (socket) => {
    const rooms = socket.handshake.query.rooms;
    if (rooms) socket.join(String(rooms).split(","));
  });
  io.on("ping", (arg, cb) => cb("pong")); // serverSideEmitWithAck from another server
  io.listen(0);
  if (cfg.holdRooms) {
    const adapter = io.of("/").adapter;
    for (let i = 0; i < cfg.holdRooms; i++) adapter.addAll(`held-sid-${i}`, new Set([`held-${i}`]));
  }
  if (cfg.coalesceWrites) require("../..").coalesceWrites(io);
  await new Promise((r) => io.httpServer.once("listening", r));
  const port = io.httpServer.address().port;
  if (cfg.sentinel) {
    const client = ioc(`http://127.0.0.1:${port}`, { transports: ["websocket"], query: { rooms: "sentinel" } });
    client.on("sentinel", () => clock.seen());
    await new Promise((r) => client.once("connect", r));
  }
  process.send({ up: true, port });
});
