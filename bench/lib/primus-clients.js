"use strict";
// A process of Primus Node clients (websockets transformer) on one server, so that their CPU is not the
// server's. Each client joins the rooms given in its query; the process counts "data" events and reports
// them to the driver (bench/lib/child.js deliveryCounter).
//
//   argv[2]: JSON { url, n, rooms: "a,b" }
const Primus = require("primus");
const { deliveryCounter, main } = require("./child");

const cfg = JSON.parse(process.argv[2]);
const delivered = deliveryCounter(cfg.n);

main(async () => {
  const Socket = Primus.createSocket({ transformer: "websockets", parser: "json" });
  const opened = [];
  for (let i = 0; i < cfg.n; i++) {
    const client = new Socket(`${cfg.url}/?rooms=${encodeURIComponent(cfg.rooms)}`, { strategy: false });
    client.on("data", delivered);
    client.on("error", (err) => console.error("client:", err.message));
    opened.push(new Promise((resolve) => client.once("open", resolve)));
  }
  await Promise.all(opened);
  process.send({ up: true });
});
