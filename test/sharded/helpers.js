"use strict";
// Shared by the sharded suites: adapter factories (ours and upstream's createShardedAdapter on
// node-redis v4 clients), a MONITOR tap that parses every command Redis executes (SPUBLISH payloads
// included, byte for byte), and a tap on the raw engine.io frames a client receives.
const net = require("node:net");
const { createShardedAdapter } = require("../..");
const adapters = require("../helpers/adapters");

const MODES = ["static", "dynamic", "dynamic-private"];

function ours() {
  const errors = [];
  return {
    name: "ours",
    errors,
    factory(url, opts) {
      const inner = createShardedAdapter(url, opts);
      return function (nsp) {
        const adapter = new inner(nsp);
        if (inner.client && inner.client.listenerCount("error") === 0) inner.client.on("error", (err) => errors.push(err));
        return adapter;
      };
    },
    async cleanup() {},
  };
}

// @socket.io/redis-adapter's createShardedAdapter on node-redis v4 clients.
function upstream() {
  return adapters.upstream("createShardedAdapter");
}

// Decodes one MONITOR line's arguments: "quoted" strings with \xHH, \", \\, \n, \r, \t, \a, \b.
function parseMonitorLine(line) {
  const start = line.indexOf('] "');
  if (start < 0) return null;
  const args = [];
  let i = start + 2;
  while (i < line.length) {
    if (line[i] !== '"') {
      i++;
      continue;
    }
    i++;
    const bytes = [];
    while (i < line.length && line[i] !== '"') {
      if (line[i] === "\\") {
        const c = line[i + 1];
        if (c === "x") {
          bytes.push(parseInt(line.slice(i + 2, i + 4), 16));
          i += 4;
          continue;
        }
        const map = { n: 10, r: 13, t: 9, a: 7, b: 8, '"': 34, "\\": 92 };
        bytes.push(map[c] !== undefined ? map[c] : c.charCodeAt(0));
        i += 2;
        continue;
      }
      bytes.push(line.charCodeAt(i) & 0xff);
      i++;
    }
    i++;
    args.push(Buffer.from(bytes));
  }
  return args;
}

// MONITOR over a raw socket (latin1, so bytes survive). commands: [{name, args: [Buffer]}].
function monitor(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    let buf = "";
    const tap = {
      commands: [],
      reset() {
        tap.commands = [];
      },
      find(name, channel) {
        return tap.commands.filter((c) => c.name === name && (channel === undefined || c.args[0].toString() === channel));
      },
      close() {
        sock.destroy();
      },
    };
    sock.setEncoding("latin1");
    sock.once("error", reject);
    sock.on("connect", () => sock.write("*1\r\n$7\r\nMONITOR\r\n"));
    sock.on("data", (chunk) => {
      buf += chunk;
      let k;
      while ((k = buf.indexOf("\r\n")) >= 0) {
        const line = buf.slice(0, k);
        buf = buf.slice(k + 2);
        if (line === "+OK") {
          sock.off("error", reject);
          sock.on("error", () => {});
          resolve(tap);
          continue;
        }
        const args = line.startsWith("+") ? parseMonitorLine(line) : null;
        if (args && args.length > 0) tap.commands.push({ name: args[0].toString().toLowerCase(), args: args.slice(1) });
      }
    });
  });
}

// Every raw engine.io packet (type "message") a client receives: strings and Buffers.
function frames(client) {
  const list = [];
  client.io.engine.on("packet", (p) => {
    if (p.type === "message") list.push(p.data);
  });
  return list;
}

// Resolves with the arguments of the next `ev` on a client, or on each of an array of clients (an array of
// argument lists); rejects after timeoutMs.
function next(target, ev, timeoutMs = 5000) {
  if (Array.isArray(target)) return Promise.all(target.map((c) => next(c, ev, timeoutMs)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${target.id} got no ${ev}`)), timeoutMs);
    target.once(ev, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

// Records every `ev` on the given clients (to show who did NOT receive something).
function recordEach(clients, ev) {
  const got = new Map(clients.map((c) => [c, []]));
  for (const c of clients) c.on(ev, (...args) => got.get(c).push(args));
  return {
    of: (c) => got.get(c),
    stop: () => clients.forEach((c) => c.off(ev)),
  };
}

module.exports = { MODES, ours, upstream, monitor, parseMonitorLine, frames, next, recordEach };
