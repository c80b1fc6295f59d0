"use strict";
// A process of Primus Node clients (websockets transformer) on one server, so that their CPU is not the
// server's. Each client joins the rooms given in its query; the process counts "data" events and reports
// them to the driver.
//
//   argv[2]: JSON { url, n, rooms: "a,b" }
//
// Driver -> {cmd: "expect", total, step}: reset the count; report {progress: perClient} each time `step`
// more deliveries per client have arrived (on average), and {done: true, t} at `total`.
const { performance } = require("node:perf_hooks");
const Primus = require("primus");

const cfg = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();

let count = 0;
let total = Infinity;
let stepTotal = Infinity;
let nextReport = Infinity;

function onData() {
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
  } else if (m.cmd === "exit") {
    process.exit(0);
  }
});

(async () => {
  const Socket = Primus.createSocket({ transformer: "websockets", parser: "json" });
  const opened = [];
  for (let i = 0; i < cfg.n; i++) {
    const client = new Socket(`${cfg.url}/?rooms=${encodeURIComponent(cfg.rooms)}`, { strategy: false });
    client.on("data", onData);
    client.on("error", (err) => console.error("client:", err.message));
    opened.push(new Promise((resolve) => client.once("open", resolve)));
  }
  await Promise.all(opened);
  process.send({ up: true });
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
