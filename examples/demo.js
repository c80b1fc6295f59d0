"use strict";

// Demo: three Socket.IO servers in this process share one Redis through socket.io-hiredis-adapter.
// Clients connected to different servers join rooms, and for about 10 seconds each server in turn
// broadcasts (to everyone, to a room, to one socket on another server); every line shows which
// clients, on which servers, received it. Then everything is closed and the process exits by itself.
//
//   npm run demo                      starts a throw-away redis-server on a free port
//   REDIS_URL=redis://host:6379 npm run demo
//   DEMO_SECONDS=5 npm run demo
//   DEMO_ADAPTER=upstream npm run demo   the same with @socket.io/redis-adapter (dev dependency)

const http = require("node:http");
const net = require("node:net");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");

const DURATION_MS = Number(process.env.DEMO_SECONDS || 10) * 1000;
const INTERVAL_MS = 500;
const SERVERS = 3;
const NAMES = [
  ["alice", "bob"],
  ["carol", "dave"],
  ["erin", "frank"],
];
// room membership, by client name
const ROOMS = {
  chat: ["alice", "carol", "erin"],
  ops: ["bob", "frank"],
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${line}`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(300, () => done(false));
    sock.on("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (d) => done(d.toString().startsWith("+PONG")));
    sock.on("error", () => done(false));
  });
}

// Starts redis-server on a free port; resolves { url, stop() }.
async function startRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hiredis-demo-"));
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" }
  );
  const killOnExit = () => child.kill("SIGKILL");
  process.on("exit", killOnExit);
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.on("error", (err) => {
    console.error(`could not start redis-server (${err.message}); install it or set REDIS_URL`);
  });
  for (let i = 0; i < 250; i++) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await ping(port)) {
      return {
        url: `redis://127.0.0.1:${port}`,
        async stop() {
          child.kill("SIGTERM");
          await exited;
          process.off("exit", killOnExit);
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await sleep(20);
  }
  child.kill("SIGKILL");
  throw new Error("redis-server did not start");
}

async function makeAdapterFactory(url) {
  if (process.env.DEMO_ADAPTER === "upstream") {
    const { createAdapter } = require("@socket.io/redis-adapter");
    const { createClient } = require("redis");
    const pub = createClient({ url });
    const sub = pub.duplicate();
    pub.on("error", (e) => log(`redis error: ${e.message}`));
    sub.on("error", (e) => log(`redis error: ${e.message}`));
    await Promise.all([pub.connect(), sub.connect()]);
    return { factory: createAdapter(pub, sub), close: () => Promise.all([pub.quit(), sub.quit()]) };
  }
  const { createAdapter } = require("..");
  return { factory: createAdapter(url), close: async () => {} };
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

function connectClient(port, name) {
  const socket = connect(`http://127.0.0.1:${port}`, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    auth: { name },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} could not connect`)), 5000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function main() {
  let redis = null;
  let url = process.env.REDIS_URL;
  if (!url) {
    redis = await startRedis();
    url = redis.url;
    log(`started redis-server at ${url}`);
  } else {
    log(`using Redis at ${url}`);
  }

  const servers = [];
  const adapters = [];
  const clients = []; // { name, server (1-based), socket }
  const received = new Map(); // message text -> [{ name, server }]

  try {
    for (let i = 0; i < SERVERS; i++) {
      const a = await makeAdapterFactory(url);
      adapters.push(a);
      const httpServer = http.createServer();
      const io = new Server(httpServer, { adapter: a.factory });
      io.on("connection", (socket) => {
        const name = socket.handshake.auth.name;
        for (const [room, members] of Object.entries(ROOMS)) {
          if (members.includes(name)) socket.join(room);
        }
      });
      const port = await listen(httpServer);
      servers.push({ io, port, n: i + 1 });
      log(`server ${i + 1} listening on http://127.0.0.1:${port}`);
    }

    // wait until every server's adapter is subscribed (serverCount = PUBSUB NUMSUB); it rejects
    // while the connection is still being established
    for (let t = 0; ; t++) {
      const counts = await Promise.all(servers.map((s) => s.io.of("/").adapter.serverCount().catch(() => 0)));
      if (counts.every((c) => c === SERVERS)) break;
      if (t > 250) throw new Error(`servers did not all subscribe (serverCount: ${counts})`);
      await sleep(20);
    }

    for (const s of servers) {
      for (const name of NAMES[s.n - 1]) {
        const socket = await connectClient(s.port, name);
        const client = { name, server: s.n, socket };
        socket.on("news", (text) => {
          if (!received.has(text)) received.set(text, []);
          received.get(text).push(client);
        });
        clients.push(client);
      }
    }
    log(`clients: ${clients.map((c) => `${c.name}@${c.server}`).join(", ")}`);
    log(`rooms: ${Object.entries(ROOMS).map(([r, m]) => `'${r}' = ${m.join(", ")}`).join("; ")}`);
    await sleep(100); // let the connection handlers' joins settle

    const started = Date.now();
    let seq = 0;
    while (Date.now() - started < DURATION_MS) {
      seq++;
      const from = servers[(seq - 1) % SERVERS];
      const kind = Math.floor((seq - 1) / SERVERS) % 4;
      const text = `hello #${seq}`;
      let target;
      if (kind === 0) {
        target = "everyone";
        from.io.emit("news", text);
      } else if (kind === 1) {
        target = "room 'chat'";
        from.io.to("chat").emit("news", text);
      } else if (kind === 2) {
        target = "room 'ops'";
        from.io.to("ops").emit("news", text);
      } else {
        // one socket, on the next server
        const other = clients.find((c) => c.server === (from.n % SERVERS) + 1);
        target = `socket of ${other.name}@${other.server}`;
        from.io.to(other.socket.id).emit("news", text);
      }
      await sleep(INTERVAL_MS);
      const got = received.get(text) || [];
      const onServers = [...new Set(got.map((c) => c.server))].sort().join(",") || "none";
      const who = got.map((c) => `${c.name}@${c.server}`).join(", ");
      log(`server ${from.n} -> ${target}: '${text}' received by clients on servers ${onServers} (${who})`);
      received.delete(text);
    }

    for (const s of servers) {
      const stats = s.io.of("/").adapter.stats;
      if (stats) log(`server ${s.n} adapter stats: ${JSON.stringify(stats)}`);
    }
  } finally {
    log("shutting down");
    for (const c of clients) c.socket.disconnect();
    await Promise.allSettled(servers.map((s) => s.io.close()));
    await Promise.allSettled(adapters.map((a) => a.close()));
    if (redis) await redis.stop();
    log("done");
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
