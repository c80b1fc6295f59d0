"use strict";
// primus-redis-rooms's Sentinel form ({ sentinel: true, endpoints, masterName }) on real Sentinels (1 master,
// 2 replicas, 3 Sentinels; down-after 1 s): after SENTINEL FAILOVER and after kill -9 of the master, room
// writes between three Primus servers flow again within 2 s of the first +switch-master, with no application
// code (upstream's Sentinel client sends QUIT to Sentinels, which Redis 7 refuses, and throws).
const assert = require("node:assert/strict");
const { isRedisAvailable } = require("../helpers/redis");
const { startSentinelGroup } = require("../helpers/sentinel");
const { Fleet } = require("./helpers");

const LIMIT_MS = 2000;

// Every 50 ms each node writes ("tick", node, time) to room "tick"; resolves once every client has received a
// tick of every other node written at or after `since`, with the time that took.
function ticksFlow(nodes, clients, since) {
  return new Promise((resolve, reject) => {
    const pending = new Set();
    const seen = clients.map((c) => c.received.length);
    for (let to = 0; to < nodes.length; to++) for (let from = 0; from < nodes.length; from++) if (from !== to) pending.add(`${from}>${to}`);
    const timer = setInterval(() => {
      for (let to = 0; to < clients.length; to++) {
        const got = clients[to].received;
        for (; seen[to] < got.length; seen[to]++) {
          const [from, at] = got[seen[to]];
          if (at >= since) pending.delete(`${from}>${to}`);
        }
      }
      if (pending.size === 0) return finish(null, Date.now() - since);
      if (Date.now() - since > LIMIT_MS + 3000) return finish(new Error(`ticks still lost ${Date.now() - since} ms after the switch: ${[...pending].join(" ")}`));
      for (let i = 0; i < nodes.length; i++) nodes[i].primus.room("tick").write([i, Date.now()]);
    }, 50);
    function finish(err, ms) {
      clearInterval(timer);
      if (err) reject(err);
      else resolve(ms);
    }
  });
}

describe("Primus plugin: Sentinel failovers", function () {
  this.timeout(90000);
  let g;
  let fleet;
  let watch;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
  });

  beforeEach(async function () {
    g = await startSentinelGroup();
    await g.waitSettled();
    fleet = new Fleet({ port: await g.masterPort() });
  });

  afterEach(async function () {
    if (watch) await watch.close();
    watch = null;
    if (fleet) await fleet.close();
    if (g) await g.stop();
    g = null;
  });

  async function acrossFailover(trigger, how) {
    const sentinel = { sentinel: true, endpoints: g.sentinelList, masterName: g.name, host: undefined, port: undefined };
    const nodes = [await fleet.node("ours", sentinel), await fleet.node("ours", sentinel), await fleet.node("ours", { ...sentinel, role: "slave" })];
    const errors = [];
    for (const n of nodes) n.primus.rooms.on("error", (e) => errors.push(e));
    const clients = [];
    for (let i = 0; i < nodes.length; i++) {
      const c = await fleet.connect(nodes[i], `c${i}`);
      c.spark.join("tick");
      clients.push(c);
    }
    await ticksFlow(nodes, clients, Date.now());
    const oldMaster = await g.masterPort();
    watch = await g.watchSwitch();
    await trigger();
    const ev = await watch.first;
    assert.equal(ev.from, oldMaster);
    const ms = await ticksFlow(nodes, clients, ev.at);
    console.log(`      ${how}: room writes flow again ${ms} ms after the first +switch-master`);
    assert.ok(ms <= LIMIT_MS, `room writes flowed again after ${ms} ms`);
    assert.ok(!errors.some((e) => e.code === "ESENTINEL"), "no Sentinel error while every Sentinel was up");
  }

  it("SENTINEL FAILOVER: room writes flow again within 2 s of the switch", async function () {
    await acrossFailover(() => g.failover(), "SENTINEL FAILOVER");
  });

  it("kill -9 of the master: room writes flow again within 2 s of the switch", async function () {
    await acrossFailover(async () => (await g.master()).kill("SIGKILL"), "kill -9");
  });
});
