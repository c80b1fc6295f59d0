"use strict";

// Failovers under real Sentinels (1 master, 2 replicas, 3 Sentinels; down-after 1 s): after SENTINEL FAILOVER
// and after kill -9 of the master, broadcasts and requests between Socket.IO servers flow again within 2 s of
// the first +switch-master any Sentinel publishes, with no application code: the connections leave the old
// master, ask Sentinel, check ROLE on the new one and restore their subscriptions.

const assert = require("node:assert/strict");
const { isRedisAvailable } = require("../helpers/redis");
const { startSentinelGroup } = require("../helpers/sentinel");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep } = require("../helpers/util");
const lib = require("../..");

const LIMIT_MS = 2000;

// Every 50 ms each server emits ("tick", server, time); resolves once every client has received a tick of
// every other server emitted at or after `since`, with the time that took (from `since`).
function broadcastsFlow(ios, clientsOf, since, limitMs) {
  return new Promise((resolve, reject) => {
    const pending = new Set();
    const handlers = [];
    for (let to = 0; to < ios.length; to++) {
      for (const c of clientsOf[to]) {
        for (let from = 0; from < ios.length; from++) if (from !== to) pending.add(`${from}>${c.id}`);
        const h = (from, at) => {
          if (at >= since) pending.delete(`${from}>${c.id}`);
          if (pending.size === 0) finish(null, Date.now() - since);
        };
        c.on("tick", h);
        handlers.push([c, h]);
      }
    }
    const timer = setInterval(() => {
      if (Date.now() - since > limitMs + 3000) return finish(new Error(`broadcasts still lost ${Date.now() - since} ms after the switch: ${[...pending].join(" ")}`));
      for (let i = 0; i < ios.length; i++) ios[i].emit("tick", i, Date.now());
    }, 50);
    let done = false;
    function finish(err, ms) {
      if (done) return;
      done = true;
      clearInterval(timer);
      for (const [c, h] of handlers) c.off("tick", h);
      if (err) reject(err);
      else resolve(ms);
    }
  });
}

// Starts `attempt` (a request between servers) every 50 ms, without waiting for the ones in flight (one
// started while a connection was down waits for its requestsTimeout); resolves with the time from `since`
// to the first success.
function requestsFlow(attempt, since, limitMs) {
  return new Promise((resolve, reject) => {
    let last;
    let done = false;
    const inflight = new Set();
    const timer = setInterval(fire, 50);
    fire();
    function fire() {
      if (done) return;
      if (Date.now() - since > limitMs + 3000) {
        done = true;
        clearInterval(timer);
        reject(new Error(`requests still failing ${Date.now() - since} ms after the switch (last: ${last && last.message})`));
        return;
      }
      const p = Promise.resolve()
        .then(attempt)
        .then(
          (ok) => {
            if (ok && !done) {
              done = true;
              clearInterval(timer);
              const okAt = Date.now() - since;
              // settle with the requests still in flight, so none outlives the test
              Promise.allSettled([...inflight]).then(() => resolve(okAt));
            }
          },
          (err) => (last = err),
        )
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
  });
}

describe("Sentinel: failovers", function () {
  this.timeout(90000);
  let g;
  let fleets = [];
  let watch;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
  });

  beforeEach(async function () {
    g = await startSentinelGroup();
    await g.waitSettled();
  });

  afterEach(async function () {
    if (watch) await watch.close();
    watch = null;
    for (const f of fleets.splice(0)) await f.closeAll();
    if (g) await g.stop();
    g = null;
  });

  const target = (extra = {}) => ({ sentinels: g.sentinelList, name: g.name, ...extra });

  async function fleet(count, factory) {
    const f = await createServers({ count, adapter: factory });
    fleets.push(f);
    const clients = [];
    for (let i = 0; i < count; i++) clients.push([await f.connect(i)]);
    return { ios: f.ios, clients };
  }

  // The classic adapter on 3 servers; measures broadcasts and both kinds of requests after `trigger`.
  async function classicAcrossFailover(trigger, how) {
    const errors = [];
    const { ios, clients } = await fleet(3, () => {
      const f = lib.createAdapter(target(), { requestsTimeout: 1000 });
      f.on("error", (e) => errors.push(e));
      return f;
    });
    for (let i = 0; i < 3; i++) ios[i].on("ping?", (ack) => ack(i));
    await broadcastsFlow(ios, clients, Date.now(), LIMIT_MS);
    assert.equal((await ios[0].fetchSockets()).length, 3);
    const oldMaster = await g.masterPort();
    watch = await g.watchSwitch();
    await trigger();
    const ev = await watch.first;
    assert.equal(ev.from, oldMaster);
    const [broadcastMs, fetchMs, ackMs] = await Promise.all([
      broadcastsFlow(ios, clients, ev.at, LIMIT_MS),
      requestsFlow(async () => (await ios[0].fetchSockets()).length === 3, ev.at, LIMIT_MS),
      requestsFlow(async () => (await ios[2].serverSideEmitWithAck("ping?")).length === 2, ev.at, LIMIT_MS),
    ]);
    console.log(`      ${how}: broadcasts flow ${broadcastMs} ms, fetchSockets ${fetchMs} ms, serverSideEmitWithAck ${ackMs} ms after the first +switch-master`);
    assert.ok(broadcastMs <= LIMIT_MS, `broadcasts flowed again after ${broadcastMs} ms`);
    assert.ok(fetchMs <= LIMIT_MS, `fetchSockets worked again after ${fetchMs} ms`);
    assert.ok(ackMs <= LIMIT_MS, `serverSideEmitWithAck worked again after ${ackMs} ms`);
    assert.ok(!errors.some((e) => e.code === "ESENTINEL"), "no Sentinel error while every Sentinel was up");
  }

  it("SENTINEL FAILOVER: the classic adapter flows again within 2 s of the switch", async function () {
    await classicAcrossFailover(() => g.failover(), "SENTINEL FAILOVER");
  });

  it("kill -9 of the master: the classic adapter flows again within 2 s of the switch", async function () {
    await classicAcrossFailover(async () => (await g.master()).kill("SIGKILL"), "kill -9");
  });

  it("SENTINEL FAILOVER: the sharded adapter, and a subscriber on a replica, flow again within 2 s", async function () {
    const sharded = await fleet(2, () => lib.createShardedAdapter(target(), { requestsTimeout: 1000 }).on("error", () => {}));
    // A classic fleet whose server 0 reads from a replica (its requests would not be counted by the
    // master's PUBSUB NUMSUB: only broadcasts are checked there).
    const mixed = await fleet(2, (i) => lib.createAdapter(target(), i === 0 ? target({ role: "replica" }) : undefined, { requestsTimeout: 1000 }).on("error", () => {}));
    await broadcastsFlow(sharded.ios, sharded.clients, Date.now(), LIMIT_MS);
    await broadcastsFlow(mixed.ios, mixed.clients, Date.now(), LIMIT_MS);
    watch = await g.watchSwitch();
    await g.failover();
    const ev = await watch.first;
    const [shardedMs, fetchMs, replicaMs] = await Promise.all([
      broadcastsFlow(sharded.ios, sharded.clients, ev.at, LIMIT_MS),
      requestsFlow(async () => (await sharded.ios[1].fetchSockets()).length === 2, ev.at, LIMIT_MS),
      broadcastsFlow(mixed.ios, mixed.clients, ev.at, LIMIT_MS),
    ]);
    console.log(`      sharded: broadcasts ${shardedMs} ms, fetchSockets ${fetchMs} ms; replica subscriber: broadcasts ${replicaMs} ms after the first +switch-master`);
    assert.ok(shardedMs <= LIMIT_MS && fetchMs <= LIMIT_MS && replicaMs <= LIMIT_MS);
    // Every data connection ended up where Sentinel says: the command sides on the new master.
    const master = await g.masterPort();
    await waitFor(async () => ev.to === master, 3000, { what: "the new master" });
  });
});
