"use strict";

// A fake Redis Sentinel for tests: a TCP server speaking RESP whose answers the test decides (see fake()).

const net = require("node:net");

// Reads RESP commands (arrays of bulk strings) from a stream; calls onCommand(args) for each.
function commandReader(onCommand) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length === 0 || buf[0] !== 0x2a) return;
      let p = buf.indexOf("\r\n");
      if (p < 0) return;
      const n = parseInt(buf.subarray(1, p).toString(), 10);
      let off = p + 2;
      const args = [];
      for (let k = 0; k < n; k++) {
        p = buf.indexOf("\r\n", off);
        if (p < 0) return;
        const len = parseInt(buf.subarray(off + 1, p).toString(), 10);
        if (buf.length < p + 2 + len + 2) return;
        args.push(buf.subarray(p + 2, p + 2 + len).toString());
        off = p + 2 + len + 2;
      }
      buf = buf.subarray(off);
      onCommand(args);
    }
  };
}

const bulk = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const arr = (...items) => `*${items.length}\r\n${items.join("")}`;
const addr = (host, port) => arr(bulk(host), bulk(String(port)));
const instance = (fields) => arr(...Object.entries(fields).flatMap(([k, v]) => [bulk(k), bulk(v)]));

// A fake server: answer(args) gives the reply to each command (a RESP string), or null for the default
// (+PONG, +OK, empty arrays for SENTINEL sentinels / replicas). SUBSCRIBE is confirmed and the socket
// remembered; push(text) sends a +switch-master message to every subscriber.
function fake(answer) {
  const sockets = new Set();
  const subscribers = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => {
      sockets.delete(sock);
      subscribers.delete(sock);
    });
    sock.on("error", () => {});
    sock.on(
      "data",
      commandReader((args) => {
        server.commands.push(args);
        const cmd = args[0].toUpperCase();
        const r = answer(args, sock);
        if (r !== null && r !== undefined) return void sock.write(r);
        if (cmd === "SUBSCRIBE") {
          subscribers.add(sock);
          sock.write(arr(bulk("subscribe"), bulk(args[1]), ":1\r\n"));
        } else if (cmd === "PING") sock.write(subscribers.has(sock) ? arr(bulk("pong"), bulk("")) : "+PONG\r\n");
        else if (cmd === "SENTINEL") sock.write("*0\r\n");
        else sock.write("+OK\r\n");
      }),
    );
  });
  server.commands = [];
  server.asked = (sub) => server.commands.filter((a) => a[0].toUpperCase() === "SENTINEL" && a[1] === sub).length;
  server.push = (text) => {
    for (const s of subscribers) s.write(arr(bulk("message"), bulk("+switch-master"), bulk(text)));
  };
  server.subscribers = () => subscribers.size;
  server.stop = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

module.exports = { fake, commandReader, bulk, arr, addr, instance };
