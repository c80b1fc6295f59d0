"use strict";
// Socket.IO servers with our adapter created, used and closed in a loop; the process must exit on its own.
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { createAdapter } = require("../../..");
const url = process.argv[2];
const rounds = Number(process.argv[3] || 5);

(async () => {
  for (let i = 0; i < rounds; i++) {
    const io = new Server({ adapter: createAdapter(url) });
    io.of("/admin");
    io.on("connection", (s) => s.join("room" + i));
    await new Promise((r) => io.listen(0) && io.httpServer.once("listening", r));
    const port = io.httpServer.address().port;
    const client = ioc(`http://127.0.0.1:${port}`, { transports: ["websocket"] });
    await new Promise((r) => client.once("connect", r));
    const got = new Promise((r) => client.once("hi", r));
    io.to("room" + i).emit("hi", i, Buffer.from([i]));
    await got;
    client.close();
    await io.close();
  }
  console.log("ok");
})();
