"use strict";

// A real Redis Cluster for tests: 6 redis-server processes (3 masters, 3 replicas) on free ports,
// each in its own temp dir, joined with `redis-cli --cluster create ... --cluster-replicas 1`. Plus
// an independent slot-aware publisher (our own CRC16 in JS, CLUSTER SLOTS, MOVED handling) and the
// failover helpers the tests need.

const { execFile } = require("node:child_process");
const { startRedis, redisCli, RawRedis, freePort } = require("./redis");
const { sleep } = require("./util");

const REDIS_CLI = process.env.REDIS_CLI_BIN || "redis-cli";

// n ports p such that p and its cluster bus port p + 10000 are both free, all distinct, all below the
// ephemeral range (helpers/redis.js freePort): failover tests kill and restart nodes on their ports.
async function clusterPorts(n, taken = []) {
  const out = [];
  while (out.length < n) {
    const p = await freePort([10000]);
    if ([...taken, ...out].some((q) => Math.abs(q - p) < 2 || Math.abs(q + 10000 - p) < 2 || Math.abs(q - 10000 - p) < 2)) continue;
    out.push(p);
  }
  return out;
}

function cliRaw(args, timeout = 30000) {
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI, args, { timeout }, (err, stdout, stderr) => {
      if (err) {
        err.message += ` (stdout: ${stdout}) (stderr: ${stderr})`;
        reject(err);
      } else resolve(stdout);
    });
  });
}

// --- CRC16 (XMODEM) and key slots, written independently of the C code under test -------------
function crc16(buf) {
  let crc = 0;
  for (const byte of buf) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function keySlot(key) {
  let buf = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const open = buf.indexOf("{");
  if (open >= 0) {
    const close = buf.indexOf("}", open + 1);
    if (close > open + 1) buf = buf.subarray(open + 1, close);
  }
  return crc16(buf) % 16384;
}

// CLUSTER SLOTS as [{ start, end, master: port, replicas: [port] }].
function parseSlots(reply) {
  return reply.map((r) => ({
    start: r[0],
    end: r[1],
    master: r[2][1],
    masterHost: r[2][0].toString(),
    replicas: r.slice(3).map((n) => n[1]),
  }));
}

class RedisCluster {
  constructor(nodes) {
    this.nodes = nodes; // startRedis handles
    this.ports = nodes.map((n) => n.port);
    this.tlsPorts = nodes.map((n) => n.tlsPort);
  }

  // tls: { authClients } (see startRedis): every node also listens with TLS (node.tlsPort, cluster.tlsPorts),
  // and the cluster bus and replication run over TLS too. A client connected with TLS is told the nodes'
  // TLS ports by CLUSTER SLOTS; the test's own tools keep the plain ports.
  static async start({ nodeTimeout = 2000, tls } = {}) {
    const ports = await clusterPorts(6);
    const nodes = [];
    try {
      for (let i = 0; i < ports.length; i++) {
        const args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", String(nodeTimeout), "--cluster-require-full-coverage", "yes"];
        if (tls) args.push("--tls-cluster", "yes", "--tls-replication", "yes");
        // Another process on the machine may take a port between our check and the server's bind: the
        // node then starts on new ports (the cluster is only formed once every node is up).
        for (let attempt = 1; ; attempt++) {
          try {
            // with tls-cluster the bus port is the TLS port + 10000 (not the plain port's): both free
            const nodeTls = tls ? { ...tls, port: await freePort([10000]) } : undefined;
            nodes.push(await startRedis({ port: ports[i], args, tls: nodeTls }));
            break;
          } catch (err) {
            if (!/already in use/i.test(err.message) || attempt === 3) throw err;
            ports[i] = (await clusterPorts(1, ports))[0];
          }
        }
      }
      await cliRaw(["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "1", "--cluster-yes"]);
      const c = new RedisCluster(nodes);
      await c.waitHealthy(20000, { replicas: true });
      return c;
    } catch (err) {
      await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
      throw err;
    }
  }

  node(port) {
    return this.nodes.find((n) => n.port === port);
  }

  live() {
    return this.nodes.filter((n) => n.running);
  }

  cli(port, ...args) {
    return redisCli(port, ...args);
  }

  async info(port) {
    const out = await redisCli(port, "CLUSTER", "INFO");
    const o = {};
    for (const line of out.split(/\r?\n/)) {
      const [k, v] = line.split(":");
      if (k) o[k.trim()] = (v || "").trim();
    }
    return o;
  }

  async slots(port) {
    const r = await RawRedis.connect(port || this.live()[0].port);
    try {
      return parseSlots(await r.command("CLUSTER", "SLOTS"));
    } finally {
      await r.close();
    }
  }

  // Every live node says cluster_state:ok, all 16384 slots are assigned and ok, and every live
  // node agrees on the masters of all slots.
  // replicas: also every master has a replica listed.
  async waitHealthy(timeoutMs = 20000, { replicas = false } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      try {
        const live = this.live();
        const infos = await Promise.all(live.map((n) => this.info(n.port)));
        const okInfo = infos.every((i) => i.cluster_state === "ok" && i.cluster_slots_assigned === "16384" && i.cluster_slots_ok === "16384");
        if (okInfo) {
          const views = await Promise.all(live.map((n) => this.slots(n.port)));
          const sig = (v) =>
            v
              .map((r) => `${r.start}-${r.end}@${r.master}`)
              .sort()
              .join(",");
          const covered = views[0].reduce((a, r) => a + (r.end - r.start + 1), 0);
          const replicated = !replicas || views.every((v) => v.every((r) => r.replicas.length > 0));
          if (covered === 16384 && replicated && views.every((v) => sig(v) === sig(views[0]))) return;
          last = "views differ";
        } else last = JSON.stringify(infos.map((i) => i.cluster_state));
      } catch (err) {
        last = err.message;
      }
      await sleep(100);
    }
    throw new Error(`cluster not healthy within ${timeoutMs} ms: ${last}`);
  }

  async masters() {
    const s = await this.slots();
    return [...new Set(s.map((r) => r.master))];
  }

  async ownerOf(channel) {
    const slot = keySlot(channel);
    const s = await this.slots();
    const r = s.find((x) => slot >= x.start && slot <= x.end);
    return r && r.master;
  }

  async replicaOf(masterPort) {
    const s = await this.slots();
    const r = s.find((x) => x.master === masterPort);
    if (!r || r.replicas.length === 0) throw new Error(`no replica known for master ${masterPort}`);
    return r.replicas[0];
  }

  // CLUSTER FAILOVER on the master's replica; resolves once the replica is master of those slots.
  async manualFailover(masterPort, timeoutMs = 20000) {
    const replica = await this.replicaOf(masterPort);
    await redisCli(replica, "CLUSTER", "FAILOVER");
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const role = await redisCli(replica, "ROLE");
      if (role.startsWith("master")) {
        await this.waitHealthy(timeoutMs);
        return replica;
      }
      await sleep(100);
    }
    throw new Error(`replica ${replica} was not promoted`);
  }

  // SIGKILL a master; resolves (with the promoted replica's port) once the cluster is healthy again.
  async killMaster(masterPort, timeoutMs = 30000) {
    const replica = await this.replicaOf(masterPort);
    await this.node(masterPort).kill("SIGKILL");
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const role = await redisCli(replica, "ROLE");
        if (role.startsWith("master")) {
          await this.waitHealthy(timeoutMs);
          return replica;
        }
      } catch {
        // keep waiting
      }
      await sleep(100);
    }
    throw new Error(`replica ${replica} was not promoted after master ${masterPort} died`);
  }

  // Moves one slot from its owner to another master with the documented MIGRATING/IMPORTING steps
  // and MIGRATE of its keys, then assigns it with SETSLOT NODE on every master.
  async migrateSlot(slot, toPort, { beforeNode, wait = true } = {}) {
    const s = await this.slots();
    const r = s.find((x) => slot >= x.start && slot <= x.end);
    const fromPort = r.master;
    if (fromPort === toPort) throw new Error("slot already there");
    const fromId = await redisCli(fromPort, "CLUSTER", "MYID");
    const toId = await redisCli(toPort, "CLUSTER", "MYID");
    await redisCli(toPort, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromId);
    await redisCli(fromPort, "CLUSTER", "SETSLOT", slot, "MIGRATING", toId);
    for (;;) {
      const keys = (await redisCli(fromPort, "CLUSTER", "GETKEYSINSLOT", slot, 100)).split("\n").filter(Boolean);
      if (keys.length === 0) break;
      await redisCli(fromPort, "MIGRATE", "127.0.0.1", toPort, "", 0, 5000, "KEYS", ...keys);
    }
    if (beforeNode) await beforeNode({ fromPort, toPort });
    const masters = await this.masters();
    await redisCli(toPort, "CLUSTER", "SETSLOT", slot, "NODE", toId);
    await redisCli(fromPort, "CLUSTER", "SETSLOT", slot, "NODE", toId);
    for (const m of masters) {
      if (m !== toPort && m !== fromPort) await redisCli(m, "CLUSTER", "SETSLOT", slot, "NODE", toId);
    }
    if (wait) await this.waitHealthy();
    return { fromPort, toPort };
  }

  // The wanted sharded channels that are not subscribed on their slot's current master (PUBSUB SHARDCHANNELS
  // of each master, asked by redis-cli).
  async missingOnOwners(channels) {
    const slots = await this.slots();
    const owner = (ch) => slots.find((r) => keySlot(ch) >= r.start && keySlot(ch) <= r.end).master;
    const lists = new Map();
    for (const m of new Set(slots.map((r) => r.master))) {
      lists.set(m, new Set((await redisCli(m, "PUBSUB", "SHARDCHANNELS")).split("\n").filter(Boolean)));
    }
    return channels.filter((ch) => !lists.get(owner(ch)).has(ch));
  }

  async stop() {
    await Promise.all(this.nodes.map((n) => n.stop().catch(() => {})));
  }
}

// An independent slot-aware publisher: one RawRedis per node, the slot map from CLUSTER SLOTS,
// MOVED answers refresh it. SPUBLISH goes to the slot's master; PUBLISH to any live node.
class ClusterPublisher {
  constructor(cluster) {
    this.cluster = cluster;
    this.conns = new Map();
    this.map = [];
  }

  async _conn(port) {
    let c = this.conns.get(port);
    if (c && !c.sock.destroyed) return c;
    c = await RawRedis.connect(port);
    c.on("error", () => {});
    this.conns.set(port, c);
    return c;
  }

  async refresh() {
    for (const n of this.cluster.live()) {
      try {
        this.map = await this.cluster.slots(n.port);
        return;
      } catch {
        // next
      }
    }
  }

  owner(channel) {
    const slot = keySlot(channel);
    const r = this.map.find((x) => slot >= x.start && slot <= x.end);
    return r && r.master;
  }

  // Resolves with the receiver count, or -1 when the cluster could not take it right now.
  async spublish(channel, payload) {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.map.length === 0) await this.refresh();
      const port = this.owner(channel);
      try {
        const c = await this._conn(port);
        return await c.command("SPUBLISH", channel, payload);
      } catch (err) {
        await this.refresh();
        if (!/MOVED|ASK|CLUSTERDOWN|closed|ECONNREFUSED|ECONNRESET/.test(err.message)) throw err;
      }
    }
    return -1;
  }

  async close() {
    await Promise.all([...this.conns.values()].map((c) => c.close()));
    this.conns.clear();
  }
}

module.exports = { RedisCluster, ClusterPublisher, crc16, keySlot, clusterPorts };
