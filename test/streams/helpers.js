"use strict";
// Shared by the streams suites: adapter factories (ours, and @socket.io/redis-streams-adapter 0.3.1 on a
// node-redis v4 client), and waits for a fleet to be listening: every reader blocked in XREAD (an
// entry written before a reader's first XREAD "$" is never seen, by upstream's design) and every
// server subscribed to the namespace's public channel.
const net = require("node:net");
const { createStreamsAdapter } = require("../..");
const { redisCli } = require("../helpers/redis");
const { bounded } = require("../helpers/util");

function ours() {
  const errors = [];
  return {
    name: "ours",
    errors,
    factory(url, opts) {
      const inner = createStreamsAdapter(url, opts);
      inner.on("error", (err) => errors.push(err));
      return inner;
    },
    async cleanup() {},
  };
}

// upstream with a connected node-redis v4 client (it duplicates it for its reader and subscriber).
// A short BLOCK by default: upstream's io.close() waits for the pending XREAD to return.
function upstream() {
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  const { createClient } = require("redis");
  const clients = [];
  return {
    name: "upstream",
    async factory(url, opts) {
      const client = createClient({ url, socket: { reconnectStrategy: () => 50 } });
      client.on("error", () => {});
      clients.push(client);
      await client.connect();
      return createAdapter(client, Object.assign({ blockTimeInMs: 300 }, opts));
    },
    async cleanup() {
      await Promise.all(clients.splice(0).map((c) => c.isOpen && bounded(c.quit(), 2000)));
    },
  };
}

async function clientList(port) {
  return (await redisCli(port, "CLIENT", "LIST")).split("\n");
}

// Waits until `readers` connections are blocked in XREAD and `subscribers` listen on <prefix>#<nsp>#, and
// the readers of our servers among `ios` know where they start (their first command, XREVRANGE, has been
// answered: what is written from then on is theirs). Upstream's readers of an earlier test may still be
// blocked for up to their BLOCK time after it closed: waitForNoReaders() between tests.
async function waitForFleet(port, { readers, subscribers = readers, nsp = "/", prefix = "socket.io", timeoutMs = 5000, ios = [] }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const started = ios.every((io) => {
      const stats = io.of(nsp).adapter.stats;
      return !stats || !stats.reader || stats.reader.lastId !== "$";
    });
    if (!started) {
      if (Date.now() > deadline) throw new Error("a reader of ours has not started");
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    const lines = await clientList(port);
    const blocked = lines.filter((l) => / cmd=xread /.test(l)).length;
    const subs = await redisCli(port, "PUBSUB", "NUMSUB", `${prefix}#${nsp}#`);
    const n = parseInt(subs.split("\n").pop(), 10);
    if (blocked >= readers && n >= subscribers) return;
    if (Date.now() > deadline) throw new Error(`fleet not listening: ${blocked}/${readers} readers, ${n}/${subscribers} subscribers`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Waits until no connection is blocked in XREAD (the readers of the last test are gone).
async function waitForNoReaders(port, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while ((await clientList(port)).some((l) => / cmd=xread /.test(l))) {
    if (Date.now() > deadline) throw new Error("readers of an earlier test are still blocked in XREAD");
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Resolves with the arguments of the next `ev` on a client (or each client of an array).
function next(target, ev, timeoutMs = 5000) {
  if (Array.isArray(target)) return Promise.all(target.map((c) => next(c, ev, timeoutMs)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${ev}" within ${timeoutMs} ms`)), timeoutMs);
    target.once(ev, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

// XRANGE of the whole stream as [{ id, fields: { uid, nsp, type, data } }] (redis-cli --no-raw is not
// needed: values are printed one per line and none of ours contains a newline).
async function entries(port, stream = "socket.io") {
  const out = await redisCli(port, "XRANGE", stream, "-", "+");
  const lines = out.split("\n").filter((l) => l.length > 0);
  const list = [];
  for (let i = 0; i < lines.length; ) {
    const id = lines[i++];
    const fields = {};
    while (i + 1 < lines.length && !/^\d+-\d+$/.test(lines[i])) {
      fields[lines[i]] = lines[i + 1];
      i += 2;
    }
    list.push({ id, fields });
  }
  return list;
}

// A proxy on a fixed port that can be cut (every connection closed, nothing accepted) and restored.
async function cuttableProxy(target) {
  const socks = new Set();
  let server = null;
  let port = 0;
  const listen = () =>
    new Promise((resolve, reject) => {
      server = net.createServer((c) => {
        const u = net.connect(target, "127.0.0.1");
        for (const s of [c, u]) {
          socks.add(s);
          s.on("error", () => {});
          s.on("close", () => socks.delete(s));
        }
        c.on("close", () => u.destroy());
        u.on("close", () => c.destroy());
        c.pipe(u);
        u.pipe(c);
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        port = server.address().port;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    cut() {
      for (const s of socks) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
    restore: listen,
    close() {
      for (const s of socks) s.destroy();
      return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    },
  };
}

module.exports = { ours, upstream, waitForFleet, waitForNoReaders, next, entries, cuttableProxy };
