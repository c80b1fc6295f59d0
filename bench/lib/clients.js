"use strict";
// A process of real socket.io-client clients (transports: ["websocket"]) on one server, so that
// their CPU is not the server's. It counts "m" deliveries and reports them to the driver; it
// answers "ack-me" broadcasts.
//
//   argv[2]: JSON { url, n, rooms: [[room, ...] per client] | undefined }
//
// Driver -> {cmd: "expect", total, step}: reset the count; report {progress: perClient} each time
// `step` more deliveries per client have arrived (on average), and {done: true, t} at `total`.
const { performance } = require("node:perf_hooks");
const { io: ioc } = require("socket.io-client");

const cfg = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();

let count = 0;
let total = Infinity;
let stepTotal = Infinity;
let nextReport = Infinity;

function onMessage() {
  count++;
  if (count >= nextReport) {
    process.send({ progress: Math.floor(count / cfg.n) });
    nextReport += stepTotal;
  }
  if (count === total) process.send({ done: true, t: now(), count });
}

process.on("message", (m) => {
  if (m.cmd === "expect") {
    const a = m.args || {};
    count = 0;
    total = a.total;
    stepTotal = a.step * cfg.n;
    nextReport = stepTotal;
    process.send({ id: m.id, result: {} });
  } else if (m.cmd === "count") {
    process.send({ id: m.id, result: { count } });
  } else if (m.cmd === "exit") {
    process.exit(0);
  }
});

(async () => {
  const sockets = [];
  for (let i = 0; i < cfg.n; i++) {
    const rooms = cfg.rooms && cfg.rooms[i];
    const socket = ioc(cfg.url, {
      forceNew: true,
      reconnection: false,
      transports: ["websocket"],
      query: rooms && rooms.length ? { rooms: rooms.join(",") } : {},
    });
    socket.on("m", onMessage);
    socket.on("ack-me", (arg, cb) => cb("ok"));
    sockets.push(new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    }));
  }
  await Promise.all(sockets);
  process.send({ up: true });
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
