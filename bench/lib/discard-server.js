"use strict";
// A Socket.IO server on one adapter ("upstream" or "hiredis") with one client in room "held". It
// measures its own CPU time from "start" until the sentinel broadcast reaches its client.
const path = require("node:path");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");

const [impl, url] = process.argv.slice(2);

async function adapterFactory() {
  if (impl === "upstream") {
    const { createClient } = require("redis");
    const pub = createClient({ url });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    return require("@socket.io/redis-adapter").createAdapter(pub, sub);
  }
  return require(path.join(__dirname, "..", "..")).createAdapter(url);
}

(async () => {
  const io = new Server({ adapter: await adapterFactory() });
  io.on("connection", (socket) => socket.join("held"));
  io.listen(0);
  await new Promise((r) => io.httpServer.once("listening", r));
  const client = ioc(`http://127.0.0.1:${io.httpServer.address().port}`, { transports: ["websocket"] });
  await new Promise((r) => client.once("connect", r));
  let t0 = null;
  process.on("message", (m) => {
    if (m !== "start") return;
    t0 = process.cpuUsage();
    process.send("started");
  });
  client.on("sentinel", () => {
    const d = process.cpuUsage(t0);
    process.send({ cpuMicros: d.user + d.system });
    // Nothing to clean up gracefully: the parent only wanted the figure.
    setTimeout(() => process.exit(0), 20);
  });
  process.send("up");
})();
