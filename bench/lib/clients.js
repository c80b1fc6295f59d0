"use strict";
// A process of real socket.io-client clients (transports: ["websocket"]) on one server, so that
// their CPU is not the server's. It counts "m" deliveries and reports them to the driver
// (bench/lib/child.js deliveryCounter); it answers "ack-me" broadcasts.
//
//   argv[2]: JSON { url, n, rooms: [[room, ...] per client] | undefined }
const { io: ioc } = require("socket.io-client");
const { deliveryCounter, main } = require("./child");

const cfg = JSON.parse(process.argv[2]);
const delivered = deliveryCounter(cfg.n);

main(async () => {
  const sockets = [];
  for (let i = 0; i < cfg.n; i++) {
    const rooms = cfg.rooms && cfg.rooms[i];
    const socket = ioc(cfg.url, {
      forceNew: true,
      reconnection: false,
      transports: ["websocket"],
      query: rooms && rooms.length ? { rooms: rooms.join(",") } : {},
    });
    socket.on("m", delivered);
    socket.on("ack-me", (arg, cb) => cb("ok"));
    sockets.push(new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    }));
  }
  await Promise.all(sockets);
  process.send({ up: true });
});
