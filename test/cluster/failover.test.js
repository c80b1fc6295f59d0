"use strict";

// Failover on a real 6-node Redis Cluster (cluster-node-timeout 2000 ms) while traffic flows:
// sharded messages on 60 channels spread over all masters (published by an independent client),
// and classic-adapter broadcasts to 10 rooms across 3 socket.io servers. After CLUSTER FAILOVER on
// a replica, after SIGKILL of a master, and after every node went down and came back, messages to
// every channel and every room resume within seconds with no application code, and every wanted
// sharded channel is subscribed on its slot's current owner (PUBSUB SHARDCHANNELS on each master).

const assert = require("node:assert/strict");
const { createAdapter, createClient } = require("../..");
const { isRedisAvailable, redisCli } = require("../helpers/redis");
const { RedisCluster, ClusterPublisher } = require("../helpers/rediscluster");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep } = require("../helpers/util");

const CHANNELS = Array.from({ length: 60 }, (_, i) => `fo-shard-${i}`);
const ROOMS = Array.from({ length: 10 }, (_, i) => `room-${i}`);
const RESUME_MS = 10000; // "within a few seconds", with a generous margin for a loaded machine

async function classicSubscribers(rc) {
  const per = new Map();
  for (const n of rc.live()) {
    try {
      const out = await redisCli(n.port, "PUBSUB", "NUMSUB", "socket.io-request#/#");
      per.set(n.port, parseInt(out.split("\n").pop(), 10));
    } catch {
      per.set(n.port, 0);
    }
  }
  return per;
}

describe("Redis Cluster failover under traffic", function () {
  this.timeout(120000);
  let rc;
  let raw; // our client with the sharded subscriptions
  let pub; // independent publisher
  let fx; // 3 socket.io servers on the classic adapter
  let clients; // one socket.io client per server, in every room
  let seq = 0;
  let traffic = null;
  let stopTraffic = false;
  const lastShard = new Map(); // channel -> last seq received
  const lastRoom = []; // [client index] Map room -> last seq
  const errors = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    rc = await RedisCluster.start({ nodeTimeout: 2000 });
    raw = createClient({ cluster: [{ host: "127.0.0.1", port: rc.ports[0] }] });
    raw.on("error", (err) => errors.push(err));
    raw.on("smessage", (ch, payload) => lastShard.set(ch, Math.max(lastShard.get(ch) || 0, Number(payload.toString()))));
    await waitFor(() => raw.isReady, 15000);
    for (const ch of CHANNELS) raw.sSubscribe(ch);
    await waitFor(async () => (await rc.missingOnOwners(CHANNELS)).length === 0, 10000, { what: "sharded subscriptions" });

    fx = await createServers({
      count: 3,
      adapter: (i) => {
        const f = createAdapter({ cluster: [{ host: "127.0.0.1", port: rc.ports[i] }] });
        return function (nsp) {
          const a = new f(nsp);
          if (f.client.listenerCount("error") === 0) f.client.on("error", (err) => errors.push(err));
          return a;
        };
      },
    });
    await waitFor(async () => [...(await classicSubscribers(rc)).values()].reduce((a, b) => a + b, 0) === 3, 15000, { what: "3 adapters subscribed" });
    clients = [];
    for (let i = 0; i < 3; i++) {
      const c = await fx.connect(i);
      const m = new Map();
      lastRoom.push(m);
      c.on("tick", (room, n) => m.set(room, Math.max(m.get(room) || 0, n)));
      for (const room of ROOMS) fx.serverSocket(i, c).join(room);
      clients.push(c);
    }
    pub = new ClusterPublisher(rc);
    await pub.refresh();
    traffic = (async () => {
      while (!stopTraffic) {
        seq++;
        const n = seq;
        for (const room of ROOMS) fx.ios[n % 3].to(room).emit("tick", room, n);
        await Promise.all(CHANNELS.map((ch) => pub.spublish(ch, String(n)).catch(() => -1)));
        await sleep(50);
      }
    })();
  });

  after(async function () {
    stopTraffic = true;
    if (traffic) await traffic;
    if (pub) await pub.close();
    if (fx) await fx.closeAll();
    if (raw) await raw.close();
    if (rc) await rc.stop();
  });

  // Every channel and every (client, room) has received a message sent after `since`.
  async function resumed(since, what) {
    const t0 = Date.now();
    await waitFor(
      () => CHANNELS.every((ch) => (lastShard.get(ch) || 0) > since) && lastRoom.every((m) => ROOMS.every((room) => (m.get(room) || 0) > since)),
      RESUME_MS,
      { what: `traffic on every channel and room after ${what}`, interval: 50 },
    );
    const missing = await rc.missingOnOwners(CHANNELS);
    assert.deepEqual(missing, [], "every wanted sharded channel is subscribed on its current owner");
    return Date.now() - t0;
  }

  // The master whose loss hurts the most: it holds classic subscriptions and sharded channels.
  async function busiestMaster() {
    const per = await classicSubscribers(rc);
    const masters = await rc.masters();
    masters.sort((a, b) => (per.get(b) || 0) - (per.get(a) || 0));
    return masters[0];
  }

  it("has traffic on every channel and room before anything fails", async function () {
    await resumed(seq, "start");
  });

  it("CLUSTER FAILOVER on a replica: traffic resumes, no subscription lost", async function () {
    const master = await busiestMaster();
    const promoted = await rc.manualFailover(master);
    assert.notEqual(promoted, master);
    const since = seq;
    const took = await resumed(since, "the manual failover");
    assert.ok(took < RESUME_MS);
    // the old master is a replica now: none of our sharded channels stays subscribed there
    const leftOnOld = (await redisCli(master, "PUBSUB", "SHARDCHANNELS")).split("\n").filter(Boolean);
    assert.deepEqual(leftOnOld, []);
    assert.equal(raw.stats().subscriber.shardChannels, CHANNELS.length);
  });

  it("SIGKILL of a master: traffic resumes once its replica is promoted, no subscription lost", async function () {
    const master = await busiestMaster();
    const before = raw.stats().subscriber.clusterSubMoves;
    const promoted = await rc.killMaster(master);
    assert.notEqual(promoted, master);
    const since = seq;
    await resumed(since, "the killed master's failover");
    assert.ok(raw.stats().subscriber.clusterSubMoves > before, "subscriptions moved to the promoted replica");
    assert.equal(raw.stats().subscriber.shardChannels, CHANNELS.length);
    // the killed node comes back as a replica; nothing changes for the traffic
    await rc.node(master).restart();
    await rc.waitHealthy(30000);
    await resumed(seq, "the old master's return");
  });

  it("every node down, then back: traffic resumes on its own", async function () {
    await Promise.all(rc.nodes.map((n) => n.kill("SIGKILL")));
    await sleep(1500);
    assert.equal(raw.isReady, false);
    for (const n of rc.nodes) await n.restart();
    await rc.waitHealthy(60000);
    await waitFor(() => raw.isReady, 20000, { what: "the client ready again" });
    await resumed(seq, "the whole cluster's return");
    // errors were reported (and never carried credentials), but nothing crashed
    assert.ok(errors.length > 0);
  });
});
