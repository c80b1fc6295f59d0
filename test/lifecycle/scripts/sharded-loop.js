"use strict";
// Sharded adapters (createShardedAdapter, each mode in turn) created, used and closed in a loop, on a
// standalone Redis or, with "cluster" as third argument, through a cluster target: room subscriptions come
// and go, a broadcast crosses two servers, requests are answered, and each round closes a server right
// after it sent a request that may still be pending. The process must then exit on its own.
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { createShardedAdapter } = require("../../..");
const url = process.argv[2];
const rounds = Number(process.argv[3] || 3);
const target = process.argv[4] === "cluster" ? { cluster: [url] } : url;
const MODES = ["static", "dynamic", "dynamic-private"];

async function server(mode) {
  const io = new Server({ adapter: createShardedAdapter(target, { subscriptionMode: mode }) });
  io.of("/").adapter.on("error", () => {});
  await new Promise((r) => io.listen(0) && io.httpServer.once("listening", r));
  return io;
}

async function connect(io) {
  const client = ioc(`http://127.0.0.1:${io.httpServer.address().port}`, { transports: ["websocket"] });
  await new Promise((r) => client.once("connect", r));
  return client;
}

async function until(check) {
  for (let i = 0; i < 500 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
}

(async () => {
  for (let i = 0; i < rounds; i++) {
    const mode = MODES[i % MODES.length];
    const a = await server(mode);
    const b = await server(mode);
    await until(async () => (await a.of("/").adapter.serverCount()) === 2);
    a.on("connection", (s) => s.join(["room", `r${i}`]));
    b.on("connection", (s) => s.join("room"));
    const ca = await connect(a);
    const cb = await connect(b);
    // Room channels in the dynamic modes: let the SSUBSCRIBEs land before broadcasting.
    await new Promise((r) => setTimeout(r, 50));
    const got = Promise.all([ca, cb].map((c) => new Promise((r) => c.once("hi", r))));
    a.to("room").emit("hi", i, Buffer.from([i]));
    await got;
    const sockets = await b.fetchSockets();
    if (sockets.length !== 2) throw new Error(`fetchSockets gave ${sockets.length}`);
    b.on("ping", (cb2) => cb2("pong"));
    const replies = await a.serverSideEmitWithAck("ping");
    if (replies.length !== 1 || replies[0] !== "pong") throw new Error(`serverSideEmitWithAck gave ${replies}`);
    cb.close();
    await b.close();
    // Asked as b goes away: it may wait for b's answer; the base class times it out (as upstream).
    const pending = a.timeout(500).fetchSockets().then(
      () => "resolved",
      (err) => err.message,
    );
    ca.close();
    await a.close();
    await pending;
  }
  console.log("ok");
})();
