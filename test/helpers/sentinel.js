"use strict";

// A throw-away Redis Sentinel deployment for tests: 1 master, N replicas (redis-server --replicaof) and M
// Sentinels (`redis-server <conf> --sentinel`, the same binary as redis-sentinel), all on free ports of
// 127.0.0.1, with writable config files in a temp dir and short timings (down-after 1 s, failover-timeout
// 3 s), so a failover takes about 1 to 3 s. Processes are killed when the test process exits.
//
// With `tls` every process gets a TLS port too (helpers/tls.js certificates) and `tls-replication yes`: the
// replicas replicate over TLS, the Sentinels monitor the nodes and talk to each other over TLS, and so every
// address a Sentinel gives (SENTINEL get-master-addr-by-name, replicas, sentinels, +switch-master) is a TLS
// port. The plain ports stay open for the test's own tools only (a client given the TLS ports never
// learns them).

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { startRedis, freePort, ping, RawRedis } = require("./redis");

const REDIS_SERVER = process.env.REDIS_SERVER_BIN || "redis-server";
const live = new Set();
process.on("exit", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One Sentinel process on `port`, its config in `dir` (Sentinel rewrites it: it must be writable).
function sentinelProcess({ port, tlsPort, tls, hostnames, dir, name, masterPort, quorum, downAfterMs, failoverTimeoutMs, password, masterPassword }) {
  const conf = path.join(dir, `sentinel-${port}.conf`);
  const lines = [
    `port ${port}`,
    "bind 127.0.0.1",
    "daemonize no",
    `dir ${dir}`,
    "loglevel warning",
    ...(hostnames ? ["sentinel resolve-hostnames yes", "sentinel announce-hostnames yes", "sentinel announce-ip localhost"] : []),
    `sentinel monitor ${name} ${hostnames ? "localhost" : "127.0.0.1"} ${masterPort} ${quorum}`,
    `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
    `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} 2`,
  ];
  if (password) lines.push(`requirepass ${password}`);
  if (masterPassword) lines.push(`sentinel auth-pass ${name} ${masterPassword}`);
  if (tls) {
    const c = require("./tls").certs();
    const s = tls.server || c.server;
    lines.push(`tls-port ${tlsPort}`, `tls-cert-file ${s.certFile}`, `tls-key-file ${s.keyFile}`, `tls-ca-cert-file ${c.caFile}`, "tls-replication yes", `tls-auth-clients ${tls.authClients || "no"}`);
  }
  fs.writeFileSync(conf, lines.join("\n") + "\n");
  let child = null;
  let exited = null;
  const handle = {
    port,
    tlsPort,
    host: "127.0.0.1",
    conf,
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (handle.running) return;
      exited = null;
      let stderr = "";
      child = spawn(REDIS_SERVER, [conf, "--sentinel"], { stdio: ["ignore", "ignore", "pipe"] });
      live.add(child);
      const proc = child;
      proc.stderr.on("data", (d) => {
        if (stderr.length < 4096) stderr += d.toString();
      });
      exited = new Promise((resolve) => {
        proc.on("exit", (code, signal) => {
          live.delete(proc);
          resolve({ code, signal });
        });
      });
      const deadline = Date.now() + 5000;
      let gone = null;
      exited.then((r) => (gone = r));
      while (Date.now() < deadline) {
        if (gone) throw new Error(`sentinel on ${port} exited early (${JSON.stringify(gone)}): ${stderr.trim()}`);
        if (await ping(port, 200)) return;
        await sleep(20);
      }
      throw new Error(`sentinel on ${port} did not answer PING`);
    },
    async kill(signal = "SIGKILL") {
      if (!handle.running) return;
      child.kill(signal);
      await exited;
    },
    // A command to this Sentinel (a new connection each time), resolving with the reply.
    async command(...args) {
      const c = await RawRedis.connect(port);
      try {
        if (password) await c.command("AUTH", password);
        return await c.command(...args);
      } finally {
        await c.close();
      }
    },
  };
  return handle;
}

/**
 * startSentinelGroup({ replicas = 2, sentinels = 3, name = "mymaster", downAfterMs = 1000,
 *   failoverTimeoutMs = 3000, sentinelPassword, masterPassword, tls: { authClients, server }, hostnames })
 * hostnames: every process is named `localhost`, never 127.0.0.1 (Sentinel's resolve-hostnames and
 *   announce-hostnames, replica-announce-ip, sentinel announce-ip): the Sentinels give names, not addresses.
 * -> { name, nodes: [redis handles, master first], sentinels: [handles], sentinelList: [{ host, port }] (the
 *      TLS ports with tls),
 *      masterPort(), master(), replicas(), watchSwitch(), failover(), waitSettled(), stop() }
 */
async function startSentinelGroup(opts = {}) {
  const {
    replicas = 2,
    sentinels = 3,
    name = "mymaster",
    downAfterMs = 1000,
    failoverTimeoutMs = 3000,
    sentinelPassword,
    masterPassword,
    tls,
    hostnames,
  } = opts;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hra-sentinel-"));
  const common = ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "1"];
  if (masterPassword) common.push("--requirepass", masterPassword, "--masterauth", masterPassword);
  if (tls) common.push("--tls-replication", "yes");
  if (hostnames) common.push("--replica-announce-ip", "localhost");
  const nodes = [];
  const group = { name, nodes, sentinels: [], dir };
  // The port the Sentinels know a node by.
  const known = (n) => (tls ? n.tlsPort : n.port);
  group.known = known;
  try {
    nodes.push(await startRedis({ args: common, tls }));
    for (let i = 0; i < replicas; i++) {
      nodes.push(await startRedis({ args: [...common, "--replicaof", hostnames ? "localhost" : "127.0.0.1", String(known(nodes[0]))], tls }));
    }
    const quorum = Math.max(1, Math.floor(sentinels / 2) + 1);
    for (let i = 0; i < sentinels; i++) {
      const sport = await freePort();
      const s = sentinelProcess({
        port: sport,
        tlsPort: tls ? await freePort() : undefined,
        tls,
        hostnames,
        dir,
        name,
        masterPort: known(nodes[0]),
        quorum,
        downAfterMs,
        failoverTimeoutMs,
        password: sentinelPassword,
        masterPassword,
      });
      await s.start();
      group.sentinels.push(s);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  async function stopAll() {
    for (const s of group.sentinels) await s.kill().catch(() => {});
    for (const n of nodes) await n.stop().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }

  // The first running Sentinel's view of the master's port.
  async function masterPort() {
    for (const s of group.sentinels) {
      if (!s.running) continue;
      try {
        const r = await s.command("SENTINEL", "get-master-addr-by-name", name);
        if (Array.isArray(r)) return Number(r[1].toString());
      } catch {
        // try the next one
      }
    }
    throw new Error("no running Sentinel knows the master");
  }

  Object.assign(group, {
    sentinelList: group.sentinels.map((s) => ({ host: hostnames ? "localhost" : "127.0.0.1", port: tls ? s.tlsPort : s.port })),
    masterPort,
    async master() {
      const port = await masterPort();
      return nodes.find((n) => known(n) === port);
    },
    async replicaNodes() {
      const port = await masterPort();
      return nodes.filter((n) => known(n) !== port && n.running);
    },
    // Waits until every Sentinel sees the master, both replicas and the other Sentinels, and every replica
    // is in sync: a failover started before that may not find a replica to promote.
    async waitSettled(timeoutMs = 20000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let ok = true;
        try {
          const port = await masterPort();
          for (const s of group.sentinels) {
            if (!s.running) continue;
            const m = await s.command("SENTINEL", "master", name);
            const fields = {};
            for (let i = 0; i + 1 < m.length; i += 2) fields[m[i].toString()] = m[i + 1].toString();
            const liveReplicas = nodes.filter((n) => n.running && known(n) !== port).length;
            const liveSentinels = group.sentinels.filter((x) => x.running).length;
            if (Number(fields.port) !== port || fields.flags !== "master") ok = false;
            if (Number(fields["num-slaves"]) < liveReplicas || Number(fields["num-other-sentinels"]) < liveSentinels - 1) ok = false;
            const reps = await s.command("SENTINEL", "replicas", name);
            for (const r of reps) {
              const f = {};
              for (let i = 0; i + 1 < r.length; i += 2) f[r[i].toString()] = r[i + 1].toString();
              const node = nodes.find((n) => known(n) === Number(f.port));
              if (node && node.running && (f.flags !== "slave" || f["master-link-status"] !== "ok" || Number(f["master-port"]) !== port)) ok = false;
            }
          }
        } catch {
          ok = false;
        }
        if (ok) return;
        if (Date.now() > deadline) throw new Error("the Sentinel deployment did not settle");
        await sleep(100);
      }
    },
    // Subscribes to +switch-master on every running Sentinel; resolves each event's time (ms, Date.now()).
    // -> { first: Promise<{ at, from, to }>, events: [...], close() }
    async watchSwitch() {
      const subs = [];
      const events = [];
      let resolveFirst;
      const first = new Promise((r) => (resolveFirst = r));
      for (const s of group.sentinels) {
        if (!s.running) continue;
        const c = await RawRedis.connect(s.port);
        if (sentinelPassword) await c.command("AUTH", sentinelPassword);
        c.on("push", (msg) => {
          const text = msg[2].toString().split(" ");
          const ev = { at: Date.now(), sentinel: s.port, from: Number(text[2]), to: Number(text[4]) };
          events.push(ev);
          resolveFirst(ev);
        });
        await c.command("SUBSCRIBE", "+switch-master");
        subs.push(c);
      }
      return { first, events, close: () => Promise.all(subs.map((c) => c.close())) };
    },
    // SENTINEL FAILOVER on the first running Sentinel.
    async failover() {
      const s = group.sentinels.find((x) => x.running);
      return s.command("SENTINEL", "FAILOVER", name);
    },
    stop: stopAll,
  });
  return group;
}

module.exports = { startSentinelGroup };
