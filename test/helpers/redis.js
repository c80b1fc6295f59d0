"use strict";

// Starts throw-away redis-server processes for tests, plus two ways to talk to them:
// redisCli() (execFile of redis-cli) and RawRedis (a minimal binary-safe RESP2 client, used
// to publish arbitrary bytes). Processes are killed when the test process exits.

const { spawn, execFile } = require("node:child_process");
const { EventEmitter } = require("node:events");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

const REDIS_SERVER = process.env.REDIS_SERVER_BIN || "redis-server";
const REDIS_CLI = process.env.REDIS_CLI_BIN || "redis-cli";

const live = new Set(); // child processes still running

process.on("exit", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

// The kernel's ephemeral range (outgoing connections take their local port from it). A server that a test
// kills and restarts on the same port must not live in it: while it is down, any outgoing connection (the
// adapter reconnecting, a cluster node dialling its peers) may take that port, and the restart then fails with
// "Address already in use".
function ephemeralLow() {
  try {
    const lo = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(lo) && lo > 12000) return lo;
  } catch {
    // not Linux: fall through
  }
  return 32768;
}

// Whether `port` can be listened on at 127.0.0.1 right now.
function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

// A free TCP port on 127.0.0.1 below the ephemeral range (see ephemeralLow), such that port + k is free too
// for each k in `also` (a cluster node's bus port is port + 10000). Random, so that concurrent jobs rarely
// try the same one; checked by listening on it.
// A port handed out once (and its `also` companions) is never handed out again by this process: a port
// picked for a server that has not started yet (a cluster's sixth node, its bus port) looks free.
const handedOut = new Set();
async function freePort(also = []) {
  const top = ephemeralLow() - 1 - Math.max(0, ...also);
  const low = 10000;
  if (top <= low + 100) throw new Error("freePort: no room below the ephemeral port range");
  for (let i = 0; i < 1000; i++) {
    const p = low + Math.floor(Math.random() * (top - low));
    const all = [p, ...also.map((k) => p + k)];
    if (all.some((q) => handedOut.has(q))) continue;
    let ok = true;
    for (const q of all) ok = ok && (await portFree(q));
    if (!ok || all.some((q) => handedOut.has(q))) continue;
    for (const q of all) handedOut.add(q);
    return p;
  }
  throw new Error("freePort: no free port found in 1000 tries");
}

// Sends a raw PING and resolves true on "+PONG" or "-NOAUTH" (false otherwise), within `timeoutMs`.
function ping(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    let data = "";
    const finish = (ok) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (chunk) => {
      data += chunk.toString("latin1");
      // a password-protected server answers -NOAUTH: it is up all the same
      if (data.includes("\r\n")) finish(data.startsWith("+PONG") || data.startsWith("-NOAUTH"));
    });
    sock.on("error", () => finish(false));
  });
}

// Whether suites can start redis-server here. Under CI it is always "yes", so that a missing
// server fails loudly instead of skipping.
function isRedisAvailable() {
  if (process.env.CI) return Promise.resolve(true);
  return new Promise((resolve) => {
    execFile(REDIS_SERVER, ["--version"], (err) => resolve(!err));
  });
}

// startRedis({ args: [...extra redis-server args], unixSocket: true, startTimeout: 5000, tls })
// -> { port, url, socketPath, unixUrl, pid, stop(), kill(signal), restart(), pause(), resume(), running }
// tls: { authClients: "no" | "yes" | "optional", server: a pair of helpers/tls.js certs(), port, plain }
// adds a TLS listener: handle.tlsPort, handle.tlsUrl (rediss://localhost:tlsPort). The plain port stays
// open for the test's own tools unless plain is false (then port is 0 and cli() speaks TLS).
async function startRedis(opts = {}) {
  const tlsOpts = opts.tls || null;
  const tlsHelpers = tlsOpts ? require("./tls") : null;
  const plain = !tlsOpts || tlsOpts.plain !== false;
  const port = plain ? opts.port || (await freePort()) : 0;
  const tlsPort = tlsOpts ? tlsOpts.port || (await freePort()) : undefined;
  const extra = opts.args || [];
  const startTimeout = opts.startTimeout || 5000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hra-redis-"));
  const socketPath = opts.unixSocket ? path.join(dir, "redis.sock") : undefined;

  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--save", "",
    "--appendonly", "no",
    "--dir", dir,
    "--daemonize", "no",
    "--loglevel", "warning",
  ];
  if (socketPath) args.push("--unixsocket", socketPath, "--unixsocketperm", "700");
  if (tlsOpts) args.push(...tlsHelpers.redisTlsArgs(tlsPort, tlsOpts));
  args.push(...extra);
  const alive = (ms) => (plain ? ping(port, ms) : tlsHelpers.tlsPing(tlsPort, ms));

  let child = null;
  let exitPromise = null;
  let stderr = "";

  async function spawnServer() {
    stderr = "";
    // redis-server logs to stdout (warnings only, at this log level): kept, so that a server that exits at
    // once says why (a port in use, a locked nodes.conf) in the error
    child = spawn(REDIS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    const proc = child;
    const keep = (d) => {
      if (stderr.length < 4096) stderr += d.toString();
    };
    proc.stdout.on("data", keep);
    proc.stderr.on("data", keep);
    exitPromise = new Promise((resolve) => {
      proc.on("exit", (code, signal) => {
        live.delete(proc);
        resolve({ code, signal });
      });
      proc.on("error", (err) => {
        live.delete(proc);
        resolve({ code: -1, signal: null, error: err });
      });
    });
    let exited = null;
    exitPromise.then((r) => (exited = r));
    const deadline = Date.now() + startTimeout;
    while (Date.now() < deadline) {
      if (exited) {
        throw new Error(`redis-server exited early (${JSON.stringify(exited)}): ${stderr.trim()}`);
      }
      if (await alive(200)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    proc.kill("SIGKILL");
    throw new Error(`redis-server on port ${port || tlsPort} did not answer PING within ${startTimeout} ms`);
  }

  // Sends `signal` and waits (bounded) for the process to exit.
  async function kill(signal = "SIGKILL", timeoutMs = 5000) {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const proc = child;
    const done = exitPromise;
    if (signal === "SIGTERM" || signal === "SIGINT") {
      // a paused server would never handle SIGTERM
      try {
        proc.kill("SIGCONT");
      } catch {
        // ignore
      }
    }
    proc.kill(signal);
    let timer;
    const result = await Promise.race([
      done,
      new Promise((r) => (timer = setTimeout(() => r("timeout"), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (result === "timeout") {
      proc.kill("SIGKILL");
      await done;
    }
  }

  await spawnServer();

  const handle = {
    port,
    host: "127.0.0.1",
    url: `redis://127.0.0.1:${port}`,
    tlsPort,
    tlsUrl: tlsOpts ? `rediss://localhost:${tlsPort}` : undefined,
    socketPath,
    unixUrl: socketPath ? `unix://${socketPath}` : undefined,
    get pid() {
      return child && child.pid;
    },
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    kill,
    // Graceful stop (SIGTERM, SIGKILL after 5 s), then removes the temp dir.
    async stop() {
      await kill("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    },
    // Starts a new server on the same port (and socket path) after kill(); resolves once it answers PING.
    // The port was ours a moment ago, but something else may hold it briefly (an outgoing connection of
    // another test's process, on a shared machine): "Address already in use" is retried for up to 10 s.
    async restart() {
      await kill("SIGKILL");
      const deadline = Date.now() + 10000;
      for (;;) {
        try {
          await spawnServer();
          return;
        } catch (err) {
          if (!/already in use/i.test(err.message) || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    pause() {
      if (child) child.kill("SIGSTOP");
    },
    resume() {
      if (child) child.kill("SIGCONT");
    },
    cli: (...cliArgs) => (plain ? redisCli(port, ...cliArgs) : redisCliRaw(["-h", "127.0.0.1", "-p", String(tlsPort), ...tlsHelpers.cliTlsArgs()], cliArgs)),
  };
  return handle;
}

// Runs `redis-cli -p port args...` and resolves with its trimmed stdout (rejects on error).
function redisCli(port, ...args) {
  return redisCliRaw(["-h", "127.0.0.1", "-p", String(port)], args);
}

function redisCliRaw(connArgs, args) {
  return new Promise((resolve, reject) => {
    execFile(
      REDIS_CLI,
      [...connArgs, ...args.map(String)],
      { timeout: 5000 },
      (err, stdout, stderr) => {
        if (err) {
          err.message += ` (stderr: ${stderr})`;
          reject(err);
        } else {
          resolve(stdout.trim());
        }
      }
    );
  });
}

// PUBSUB NUMSUB of one channel, as a number.
async function numsub(port, channel) {
  const out = await redisCli(port, "PUBSUB", "NUMSUB", channel);
  const lines = out.split("\n");
  return parseInt(lines[lines.length - 1], 10);
}

// Waits until `n` connections are subscribed to the request channel of `nsp` (every classic
// adapter node subscribes to it right after its pattern), i.e. the nodes are listening.
function waitForSubscribers(port, n, { key = "socket.io", nsp = "/", timeoutMs = 5000 } = {}) {
  const channel = `${key}-request#${nsp}#`;
  const deadline = Date.now() + timeoutMs;
  return (async () => {
    for (;;) {
      const count = await numsub(port, channel);
      if (count === n) return;
      if (Date.now() >= deadline) {
        throw new Error(`expected ${n} subscribers on ${channel}, have ${count} after ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
}

// A minimal binary-safe RESP2 client over one TCP connection. Commands are pipelined in order.
// Pub/sub pushes ("message", "pmessage") are emitted as 'push' with the reply array (Buffers).
class RawRedis extends EventEmitter {
  static connect(port, host = "127.0.0.1") {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host });
      sock.once("error", reject);
      sock.once("connect", () => {
        sock.off("error", reject);
        resolve(new RawRedis(sock));
      });
    });
  }

  constructor(sock) {
    super();
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.pending = [];
    sock.setNoDelay(true);
    sock.on("data", (chunk) => this._onData(chunk));
    sock.on("error", (err) => this._failAll(err));
    sock.on("close", () => this._failAll(new Error("connection closed")));
  }

  // command("PUBLISH", "chan", Buffer) -> Promise<reply>; error replies reject.
  command(...args) {
    const parts = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
    }
    return new Promise((resolve, reject) => {
      if (this.sock.destroyed) return reject(new Error("connection closed"));
      this.pending.push({ resolve, reject });
      this.sock.write(Buffer.concat(parts));
    });
  }

  publish(channel, payload) {
    return this.command("PUBLISH", channel, payload);
  }

  close() {
    return new Promise((resolve) => {
      if (this.sock.destroyed) return resolve();
      const timer = setTimeout(() => this.sock.destroy(), 500);
      this.sock.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.sock.end();
    });
  }

  _failAll(err) {
    const p = this.pending;
    this.pending = [];
    for (const { reject } of p) reject(err);
  }

  _onData(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const r = parseReply(this.buf, 0);
      if (!r) return;
      this.buf = this.buf.subarray(r.end);
      if (Array.isArray(r.value) && r.value.length > 0 && Buffer.isBuffer(r.value[0])) {
        const kind = r.value[0].toString();
        if (kind === "message" || kind === "pmessage" || kind === "smessage") {
          this.emit("push", r.value);
          continue;
        }
      }
      const p = this.pending.shift();
      if (!p) continue;
      if (r.value instanceof Error) p.reject(r.value);
      else p.resolve(r.value);
    }
  }
}

// Parses one RESP2 reply at `off`; returns { value, end } or null when incomplete.
function parseReply(buf, off) {
  const nl = buf.indexOf("\r\n", off);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[off]);
  const line = buf.toString("latin1", off + 1, nl);
  const next = nl + 2;
  switch (type) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new Error(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return null;
      return { value: buf.subarray(next, next + len), end: next + len + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const out = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, pos);
        if (!r) return null;
        out.push(r.value);
        pos = r.end;
      }
      return { value: out, end: pos };
    }
    default:
      throw new Error(`bad RESP reply type ${JSON.stringify(type)}`);
  }
}

module.exports = {
  startRedis,
  redisCli,
  numsub,
  waitForSubscribers,
  freePort,
  portFree,
  ping,
  isRedisAvailable,
  RawRedis,
};
