"use strict";

// Every adapter, the Emitter and createClient find the master through real Sentinels (1 master, 2 replicas,
// 3 Sentinels): broadcasts and requests between Socket.IO servers, each target form, and a subscriber on a
// replica (role "replica") that still receives what is published on the master.

const assert = require("node:assert/strict");
const IORedis = require("ioredis");
const { isRedisAvailable, redisCli } = require("../helpers/redis");
const { startSentinelGroup } = require("../helpers/sentinel");
const { createServers } = require("../helpers/servers");
const { waitFor, once } = require("../helpers/util");
const lib = require("../..");

// The connections a Redis node holds (CLIENT LIST), as objects of fields.
async function clientList(port) {
  const out = await redisCli(port, "CLIENT", "LIST");
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => Object.fromEntries(l.trim().split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])));
}

// Classic adapters subscribed on a node: each subscribes to the request channel of its namespace.
async function adaptersOn(port) {
  return Number((await redisCli(port, "PUBSUB", "NUMSUB", "socket.io-request#/#")).split("\n")[1]);
}

describe("Sentinel: adapters, the Emitter and createClient find the master", function () {
  this.timeout(60000);
  let g;
  let cluster;
  const closers = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    g = await startSentinelGroup();
    await g.waitSettled();
  });

  after(async function () {
    if (g) await g.stop();
  });

  afterEach(async function () {
    if (cluster) await cluster.closeAll();
    cluster = null;
    for (const c of closers.splice(0).reverse()) await c();
  });

  const target = (extra = {}) => ({ sentinels: g.sentinelList, name: g.name, ...extra });
  const url = (query = "") => `redis+sentinel://${g.sentinelList.map((s) => `${s.host}:${s.port}`).join(",")}/${g.name}${query}`;

  it("broadcasts, fetchSockets and serverSideEmit with ack across 3 servers, each given Sentinel another way", async function () {
    const io = new IORedis({ sentinels: g.sentinelList, name: g.name, lazyConnect: true });
    closers.push(() => io.disconnect());
    const factories = [lib.createAdapter(target()), lib.createAdapter(url()), lib.createAdapter(io)];
    for (const f of factories) f.on("error", () => {});
    cluster = await createServers({ count: 3, adapter: (i) => factories[i] });
    const master = await g.masterPort();
    await waitFor(async () => (await adaptersOn(master)) === 3, 10000, { what: "3 adapters subscribed on the master" });
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await cluster.connect(i), await cluster.connect(i));
    for (let from = 0; from < 3; from++) {
      const got = clients.map((c) => once(c, "hello", 3000));
      cluster.ios[from].emit("hello", from);
      assert.deepEqual(await Promise.all(got), clients.map(() => [from]));
    }
    const sockets = await cluster.ios[0].fetchSockets();
    assert.equal(sockets.length, 6);
    for (let i = 1; i < 3; i++) cluster.ios[i].on("ping?", (n, ack) => ack(n * 10 + i));
    const answers = await cluster.ios[0].serverSideEmitWithAck("ping?", 4);
    assert.deepEqual(answers.sort(), [41, 42]);
  });

  it("the sharded adapter, the Emitter and createClient go to the master too", async function () {
    const factories = [lib.createShardedAdapter(target()), lib.createShardedAdapter(url())];
    for (const f of factories) f.on("error", () => {});
    cluster = await createServers({ count: 2, adapter: (i) => factories[i] });
    const a = await cluster.connect(0);
    const b = await cluster.connect(1);
    const master = await g.masterPort();
    await waitFor(async () => Number((await redisCli(master, "PUBSUB", "SHARDNUMSUB", "socket.io#/#")).split("\n")[1]) === 2, 10000, {
      what: "2 sharded subscribers on the master",
    });
    const got = once(b, "sharded", 3000);
    cluster.ios[0].emit("sharded", 1);
    assert.deepEqual(await got, [1]);
    assert.equal((await cluster.ios[1].fetchSockets()).length, 2);

    const emitter = new lib.Emitter(url("?name=the-emitter"));
    closers.push(() => emitter.close());
    emitter.client.on("error", () => {});
    const classic = lib.createAdapter(target());
    classic.on("error", () => {});
    const more = await createServers({ count: 1, adapter: () => classic });
    closers.push(() => more.closeAll());
    const c = await more.connect(0);
    await waitFor(() => emitter.client.isReady, 5000, { what: "the Emitter's client" });
    await waitFor(async () => (await adaptersOn(master)) === 1, 5000, { what: "the classic adapter's subscriptions" });
    const fromEmitter = once(c, "emitted", 3000);
    emitter.emit("emitted", "via Sentinel");
    assert.deepEqual(await fromEmitter, ["via Sentinel"]);
    assert.ok((await clientList(master)).some((x) => x.name === "the-emitter"), "the Emitter's connection is on the master");
    void a;

    const client = lib.createClient(target({ connectionName: "raw-client", db: 2 }));
    closers.push(() => client.close());
    client.on("error", () => {});
    await once(client, "ready", 5000);
    assert.equal((await client.command(["ROLE"]))[0], "master");
    assert.equal(Number((await client.command(["CONFIG", "GET", "port"]))[1]), master);
    const me = (await clientList(master)).find((x) => x.name === "raw-client");
    assert.ok(me, "CLIENT SETNAME reached the master");
    assert.equal(me.db, "2");
    const msg = once(client, "message", 3000);
    client.subscribe("raw");
    await waitFor(async () => Number((await redisCli(master, "PUBSUB", "NUMSUB", "raw")).split("\n")[1]) === 1, 3000, { what: "raw subscription" });
    client.publish("raw", Buffer.from("x"));
    const [channel, payload] = await msg;
    assert.equal(channel, "raw");
    assert.equal(payload.toString(), "x");
  });

  it('role "replica": the subscriber reads from a replica and still gets what is published on the master', async function () {
    const sub = new IORedis({ sentinels: g.sentinelList, name: g.name, role: "slave", lazyConnect: true });
    const pub = new IORedis({ sentinels: g.sentinelList, name: g.name, lazyConnect: true });
    closers.push(() => sub.disconnect(), () => pub.disconnect());
    const factories = [lib.createAdapter(target(), target({ role: "replica" })), lib.createAdapter(pub, sub)];
    for (const f of factories) f.on("error", () => {});
    cluster = await createServers({ count: 2, adapter: (i) => factories[i] });
    const master = await g.masterPort();
    const replicas = await g.replicaNodes();
    await waitFor(async () => (await adaptersOn(replicas[0].port)) + (await adaptersOn(replicas[1].port)) === 2, 10000, {
      what: "both subscribers on replicas",
    });
    assert.equal(await adaptersOn(master), 0, "no subscriber on the master");
    const a = await cluster.connect(0);
    const b = await cluster.connect(1);
    for (const [from, to] of [
      [0, b],
      [1, a],
    ]) {
      const got = once(to, "via-replica", 3000);
      cluster.ios[from].emit("via-replica", from);
      assert.deepEqual(await got, [from]);
    }
  });
});
