"use strict";

// Against a real 6-node Redis Cluster (3 masters, 3 replicas): command routing, MOVED and ASK from
// real slot migrations, NUMSUB summed over the nodes, an unreachable seed, sharded subscriptions
// over all masters fed by an independent publisher and following a migrated slot, the classic
// adapter across 3 socket.io servers, and the node-redis / ioredis cluster clients as drop-in targets.

const assert = require("node:assert/strict");
const { createAdapter, createClient, Emitter } = require("../..");
const { isRedisAvailable, freePort, RawRedis, redisCli } = require("../helpers/redis");
const { RedisCluster, ClusterPublisher, keySlot } = require("../helpers/rediscluster");
const { createServers } = require("../helpers/servers");
const { barrier } = require("../helpers/cluster");
const { waitFor, sleep, record } = require("../helpers/util");

function ready(client, timeoutMs = 15000) {
  return waitFor(() => client.isReady, timeoutMs, { what: "the cluster client to be ready" });
}

// Waits until the client's topology refreshes have stopped for a while (after startup or a redirect),
// so that a test can change the cluster behind its back and see the client find out by itself.
async function settled(client, quietMs = 600) {
  let last = -1;
  let since = Date.now();
  await waitFor(
    () => {
      const n = client.stats().command.clusterRefreshes;
      if (n !== last) (last = n), (since = Date.now());
      return Date.now() - since >= quietMs;
    },
    15000,
    { what: "refreshes to settle", interval: 50 },
  );
}

// Sum of PUBSUB NUMSUB over every live node, asked by redis-cli (not by the code under test).
async function clusterNumsub(rc, channel) {
  let sum = 0;
  for (const n of rc.live()) {
    const out = await redisCli(n.port, "PUBSUB", "NUMSUB", channel);
    sum += parseInt(out.split("\n").pop(), 10);
  }
  return sum;
}

// Channels named so that they spread over every master.
function channelsOver(n, prefix) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(`${prefix}-${i}`);
  return out;
}

describe("Redis Cluster (6 nodes)", function () {
  this.timeout(60000);
  let rc;
  const closers = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    this.timeout(90000);
    rc = await RedisCluster.start();
  });

  after(async function () {
    if (rc) await rc.stop();
  });

  afterEach(async function () {
    for (const c of closers.splice(0).reverse()) await c();
  });

  function client(target) {
    const c = createClient(target);
    const errors = [];
    c.on("error", (err) => errors.push(err));
    c.errors = errors;
    closers.push(() => c.close());
    return c;
  }

  it("reads every cluster target form: CLIENT LIST on every node shows the user and name asked for", async function () {
    for (const n of rc.live()) await redisCli(n.port, "ACL", "SETUSER", "alice", "on", ">alicepw", "~*", "&*", "+@all");
    const nodeRedis4 = require("redis");
    const nodeRedis5 = require("redis-v5");
    const IORedis = require("ioredis");
    const seed = rc.ports[0];
    const users = [];
    const forms = [
      ["{ cluster, username, password, name }", () => ({ cluster: [{ host: "127.0.0.1", port: seed }], username: "alice", password: "alicepw", name: "c-opts" }), "c-opts"],
      ["{ cluster: [url with credentials], name }", () => ({ cluster: [`redis://alice:alicepw@127.0.0.1:${seed}`], name: "c-url" }), "c-url"],
      ["node-redis createCluster() options { rootNodes, defaults }", () => ({ rootNodes: [{ url: `redis://127.0.0.1:${seed}` }], defaults: { username: "alice", password: "alicepw", name: "c-root" } }), "c-root"],
      ["node-redis v4 createCluster() client, connected", async () => {
        const c = nodeRedis4.createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${seed}` }], defaults: { username: "alice", password: "alicepw", name: "c-nr4" } });
        await c.connect();
        users.push(() => c.quit());
        return c;
      }, "c-nr4"],
      ["node-redis v5 createCluster() client", () => nodeRedis5.createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${seed}` }], defaults: { username: "alice", password: "alicepw", name: "c-nr5" } }), "c-nr5"],
      ["ioredis Cluster", () => {
        const c = new IORedis.Cluster([{ host: "127.0.0.1", port: seed }], { lazyConnect: true, redisOptions: { username: "alice", password: "alicepw", connectionName: "c-io" } });
        users.push(() => c.disconnect());
        return c;
      }, "c-io"],
    ];
    const ours = async (port, name) => {
      const out = await redisCli(port, "CLIENT", "LIST");
      return out.split("\n").filter((l) => l.includes(` name=${name} `));
    };
    try {
      for (const [what, make, name] of forms) {
        const c = client(await make());
        for (const u of users.splice(0)) await u(); // the user's own client (same name) is not ours to count
        await ready(c);
        for (const n of rc.live()) {
          await waitFor(async () => (await ours(n.port, name)).length >= 1, 10000, { what: `${what}: a connection named ${name} on node ${n.port}` });
          for (const line of await ours(n.port, name)) assert.match(line, / user=alice /, `${what} on ${n.port}: ${line}`);
        }
        await c.close();
        for (const n of rc.live()) await waitFor(async () => (await ours(n.port, name)).length === 0, 10000, { what: `${what}: closed` });
      }
    } finally {
      for (const u of users) await u();
    }
  });

  it("discovers every master from one seed and routes keyed commands to their slot's owner", async function () {
    const c = client({ cluster: [{ host: "127.0.0.1", port: rc.ports[3] }] });
    await ready(c);
    const st = c.stats().command;
    assert.equal(st.clusterSlotsCovered, 16384);
    assert.equal(st.clusterMasters, 3);
    for (let i = 0; i < 200; i++) assert.equal(await c.command(["SET", `key:${i}`, `v${i}`]), "OK");
    // every key is on the master of its slot, as another client sees it
    const slots = await rc.slots();
    for (let i = 0; i < 200; i += 7) {
      const slot = keySlot(`key:${i}`);
      const owner = slots.find((r) => slot >= r.start && slot <= r.end).master;
      assert.equal(await redisCli(owner, "GET", `key:${i}`), `v${i}`);
    }
    // the answers came without a single redirect
    assert.equal(c.stats().command.clusterMoved, 0);
    const owners = new Set(Array.from({ length: 200 }, (_, i) => slots.find((r) => keySlot(`key:${i}`) >= r.start && keySlot(`key:${i}`) <= r.end).master));
    assert.equal(owners.size, 3);
  });

  it("follows MOVED after a slot is reassigned behind its back", async function () {
    const c = client({ cluster: [`redis://127.0.0.1:${rc.ports[0]}`] });
    await ready(c);
    // an empty slot: its key is created only after the move
    const key = `moved-key-${Date.now()}`;
    const slot = keySlot(key);
    const masters = await rc.masters();
    const from = await rc.ownerOf(key);
    const to = masters.find((m) => m !== from);
    await settled(c);
    const before = c.stats().command.clusterMoved;
    const refreshes = c.stats().command.clusterRefreshes;
    // The documented move (IMPORTING on the new owner, MIGRATING on the old, then SETSLOT NODE on the new
    // owner first, which bumps its config epoch, then on every other master), with no wait for the cluster
    // to agree: the client must not have refreshed since. A bare SETSLOT NODE on every master let gossip
    // from the old owner's replica win the slot back now and then, and the new owner dropped the key.
    await rc.migrateSlot(slot, to, { wait: false });
    const learnedFirst = c.stats().command.clusterRefreshes !== refreshes; // a periodic refresh saw the move
    assert.equal(await c.command(["SET", key, "after-move"]), "OK");
    const after = c.stats().command;
    await rc.waitHealthy();
    assert.equal(await rc.ownerOf(key), to);
    assert.equal(await redisCli(to, "GET", key), "after-move");
    // (a periodic refresh during the move would have learned it first: then there is nothing to follow)
    if (!learnedFirst) assert.ok(after.clusterMoved > before, "a MOVED was followed");
    // the slot map learned the new owner: no more redirects for this slot
    await waitFor(async () => {
      const m = c.stats().command.clusterMoved;
      await c.command(["GET", key]);
      return c.stats().command.clusterMoved === m;
    }, 5000);
    await rc.waitHealthy(); // the next tests start from one agreed view
  });

  it("follows ASK (with ASKING) while a slot migrates, then MOVED once it is done", async function () {
    const c = client({ cluster: [{ host: "127.0.0.1", port: rc.ports[1] }] });
    await ready(c);
    const key = `{ask-${Date.now()}}k`;
    assert.equal(await c.command(["SET", key, "v1"]), "OK");
    const slot = keySlot(key);
    const from = await rc.ownerOf(key);
    const to = (await rc.masters()).find((m) => m !== from);
    let asked = false;
    let refreshes = -1;
    await settled(c);
    await rc.migrateSlot(slot, to, {
      wait: false, // ask right away, before any periodic refresh can learn the new owner
      beforeNode: async () => {
        // the key now lives on the importing node only: the old owner answers ASK
        const askBefore = c.stats().command.clusterAsk;
        assert.equal(await c.command(["GET", key]), "v1");
        assert.ok(c.stats().command.clusterAsk > askBefore, "an ASK was followed");
        // a new key of the migrating slot is created on the importing node through ASK too
        assert.equal(await c.command(["SET", `${key}:2`, "v2"]), "OK");
        const raw = await RawRedis.connect(to);
        try {
          await raw.command("ASKING");
          assert.equal(await raw.command("EXISTS", `${key}:2`), 1);
        } finally {
          await raw.close();
        }
        asked = true;
        await settled(c); // the ASKs asked for a refresh: let it pass before the slot moves
        refreshes = c.stats().command.clusterRefreshes;
      },
    });
    assert.ok(asked);
    const movedBefore = c.stats().command.clusterMoved;
    assert.equal(await c.command(["GET", key]), "v1");
    assert.equal(await c.command(["GET", `${key}:2`]), "v2");
    if (c.stats().command.clusterRefreshes === refreshes) assert.ok(c.stats().command.clusterMoved > movedBefore, "MOVED after the migration");
    await rc.waitHealthy();
  });

  it("sums PUBSUB NUMSUB over every node, masters and replicas", async function () {
    const c = client({ cluster: [{ host: "127.0.0.1", port: rc.ports[0] }] });
    await ready(c);
    await waitFor(() => c.stats().command.clusterNodes === 6, 10000, { what: "all 6 nodes known" });
    const subs = [];
    for (const port of rc.ports) {
      const r = await RawRedis.connect(port);
      closers.push(() => r.close());
      await r.command("SUBSCRIBE", "numsub-chan");
      subs.push(r);
    }
    const extra = await RawRedis.connect(rc.ports[2]);
    closers.push(() => extra.close());
    await extra.command("SUBSCRIBE", "numsub-chan");
    const reply = await c.command(["PUBSUB", "NUMSUB", "numsub-chan", "nobody-here"]);
    assert.deepEqual(reply, ["numsub-chan", 7, "nobody-here", 0]);
  });

  it("starts with an unreachable seed among the seeds", async function () {
    const dead = await freePort();
    const c = client({ cluster: [{ host: "127.0.0.1", port: dead }, { host: "127.0.0.1", port: rc.ports[4] }] });
    await ready(c);
    assert.equal(await c.command(["SET", "unreachable-seed", "1"]), "OK");
    // the dead seed is not part of the cluster: its connection is dropped, no errors keep coming
    await waitFor(() => c.stats().command.clusterNodes === 6, 10000, { what: "the cluster's own 6 nodes only" });
    const n = c.errors.length;
    await sleep(1500);
    assert.equal(c.errors.length, n, "no more connection errors once the dead seed is dropped");
    assert.ok(c.errors.every((e) => !/password/i.test(e.message)));
  });

  it("closes cleanly: while every seed is unreachable, and with commands in flight", async function () {
    const dead = await freePort();
    const lonely = createClient({ cluster: [{ host: "127.0.0.1", port: dead }] });
    lonely.on("error", () => {});
    await sleep(300);
    assert.equal(lonely.isReady, false);
    await assert.rejects(lonely.command(["GET", "x"]), { code: "ENOTCONN" });
    await lonely.close();
    const c = createClient({ cluster: [{ host: "127.0.0.1", port: rc.ports[2] }] });
    c.on("error", () => {});
    await ready(c);
    const inflight = [];
    for (let i = 0; i < 100; i++) inflight.push(c.command(["SET", `inflight:${i}`, "x"]).then(() => "ok", (err) => err.code));
    const closing = c.close();
    const outcomes = await Promise.all(inflight);
    await closing;
    assert.ok(outcomes.every((o) => o === "ok" || o === "ECLOSED"), JSON.stringify(outcomes.filter((o) => o !== "ok")));
    await assert.rejects(c.command(["GET", "x"]), { code: "ECLOSED" });
  });

  it("delivers sharded messages on 60 channels spread over all masters, from an independent publisher", async function () {
    const c = client({ cluster: [{ host: "127.0.0.1", port: rc.ports[0] }] });
    await ready(c);
    const channels = channelsOver(60, "shard");
    const owners = new Set(await Promise.all(channels.map((ch) => rc.ownerOf(ch))));
    assert.equal(owners.size, 3, "the channels cover all masters");
    const got = new Map();
    c.on("smessage", (ch, payload) => got.set(ch, (got.get(ch) || []).concat(payload.toString())));
    for (const ch of channels) assert.equal(c.sSubscribe(ch), true);
    await waitFor(async () => (await rc.missingOnOwners(channels)).length === 0, 10000, { what: "every channel subscribed on its owner" });
    assert.equal(c.stats().subscriber.shardChannels, 60);
    const pub = new ClusterPublisher(rc);
    closers.push(() => pub.close());
    for (const ch of channels) assert.equal(await pub.spublish(ch, `m-${ch}`), 1);
    await waitFor(() => channels.every((ch) => got.has(ch)), 5000, { what: "a message on every channel" });
    for (const ch of channels) assert.deepEqual(got.get(ch), [`m-${ch}`]);
    // unsubscribing removes them from their owners
    for (const ch of channels.slice(0, 30)) c.sUnsubscribe(ch);
    await waitFor(async () => (await rc.missingOnOwners(channels.slice(0, 30))).length === 30, 5000, { what: "unsubscribed" });
    assert.deepEqual(await rc.missingOnOwners(channels.slice(30)), []);
  });

  it("sends a refused SSUBSCRIBE again on the same owner until it is confirmed (ACL denies, then allows)", async function () {
    const c = client({ cluster: [{ host: "127.0.0.1", port: rc.ports[1] }] });
    await ready(c);
    const channels = channelsOver(6, "acl-later");
    const setAll = (...rules) => Promise.all(rc.live().map((n) => redisCli(n.port, "ACL", "SETUSER", "default", ...rules)));
    // Only new subscriptions are affected: nothing of ours is subscribed yet on this client.
    await setAll("resetchannels", "&allowed-*");
    closers.push(() => setAll("allchannels"));
    const retriesBefore = c.stats().subscriber.clusterSubRetries;
    for (const ch of channels) c.sSubscribe(ch);
    await waitFor(() => c.errors.some((e) => /NOPERM/.test(e.message)), 5000, { what: "the NOPERM refusal reported" });
    assert.equal((await rc.missingOnOwners(channels)).length, channels.length);
    await setAll("allchannels");
    // No app code: the check sends them again to the same owners, which now accept.
    await waitFor(async () => (await rc.missingOnOwners(channels)).length === 0, 10000, { what: "every channel subscribed once allowed" });
    assert.ok(c.stats().subscriber.clusterSubRetries > retriesBefore, "sent again by the confirmation check");
    await waitFor(() => c.stats().subscriber.shardChannels === channels.length, 5000, { what: "confirmed in stats" });
  });

  it("moves a sharded subscription to the new owner when its slot migrates (server sunsubscribe)", async function () {
    const c = client({ cluster: [{ host: "127.0.0.1", port: rc.ports[0] }] });
    await ready(c);
    const channels = channelsOver(20, "migrating");
    const got = new Map();
    c.on("smessage", (ch, payload) => got.set(ch, payload.toString()));
    for (const ch of channels) c.sSubscribe(ch);
    await waitFor(async () => (await rc.missingOnOwners(channels)).length === 0, 10000);
    const moving = channels[3];
    const from = await rc.ownerOf(moving);
    const to = (await rc.masters()).find((m) => m !== from);
    await rc.migrateSlot(keySlot(moving), to);
    assert.equal(await rc.ownerOf(moving), to);
    // no app code: the subscription is re-established on the new owner, and nothing else is lost
    await waitFor(async () => (await rc.missingOnOwners(channels)).length === 0, 10000, { what: "every channel on its owner after the migration" });
    const pub = new ClusterPublisher(rc);
    closers.push(() => pub.close());
    await pub.refresh();
    for (const ch of channels) assert.equal(await pub.spublish(ch, `after-${ch}`), 1, ch);
    await waitFor(() => channels.every((ch) => got.get(ch) === `after-${ch}`), 5000, { what: "every channel after the migration" });
    const st = c.stats().subscriber;
    assert.ok(st.clusterSubMoves >= 1, "the subscription moved");
  });

  describe("the classic adapter across 3 socket.io servers", function () {
    let fx;
    afterEach(async function () {
      if (fx) await fx.closeAll();
      fx = null;
    });

    async function start(factoryFor) {
      fx = await createServers({ count: 3, adapter: factoryFor });
      const subscribers = await waitFor(async () => (await clusterNumsub(rc, "socket.io-request#/#")) === 3, 15000, { what: "3 adapters subscribed" });
      assert.ok(subscribers);
      const clients = [];
      for (let i = 0; i < 3; i++) clients.push([await fx.connect(i), await fx.connect(i)]);
      return clients;
    }

    it("broadcasts, rooms, fetchSockets and serverCount (NUMSUB summed over the nodes)", async function () {
      const factories = [];
      const clients = await start((i) => {
        const f = createAdapter({ cluster: [{ host: "127.0.0.1", port: rc.ports[i] }] });
        factories.push(f);
        return f;
      });
      const all = clients.flat();
      const r = record(all, "hello");
      closers.push(() => r.stop());
      fx.ios[1].emit("hello", "world");
      await barrier(fx.ios[1], all, { timeoutMs: 5000 });
      assert.deepEqual(r.counts(), [1, 1, 1, 1, 1, 1]);
      // rooms: one client per server in "room1"
      for (let i = 0; i < 3; i++) fx.serverSocket(i, clients[i][0]).join("room1");
      const rr = record(all, "inroom");
      closers.push(() => rr.stop());
      fx.ios[2].to("room1").emit("inroom", 1);
      await barrier(fx.ios[2], all, { timeoutMs: 5000 });
      assert.deepEqual(rr.counts(), [1, 0, 1, 0, 1, 0]);
      const sockets = await fx.ios[0].in("room1").fetchSockets();
      assert.equal(sockets.length, 3);
      assert.equal(await fx.ios[0].of("/").adapter.serverCount(), 3);
      // broadcast with acks counts the other servers through the summed NUMSUB
      for (const c of all) c.on("ack-me", (cb) => cb(c.id));
      const answers = await fx.ios[0].timeout(5000).emitWithAck("ack-me");
      assert.equal(answers.length, 6);
    });

    it('subscriptionMode "dynamic": room channels subscribed where classic pub/sub lives, broadcasts to rooms', async function () {
      const clients = await start((i) => createAdapter({ cluster: [{ host: "127.0.0.1", port: rc.ports[i] }] }, { subscriptionMode: "dynamic" }));
      const all = clients.flat();
      for (let i = 0; i < 3; i++) fx.serverSocket(i, clients[i][0]).join("dyn-room");
      await waitFor(async () => (await clusterNumsub(rc, "socket.io#/#dyn-room#")) === 3, 10000, { what: "3 subscribers of the room channel" });
      // no pattern subscription anywhere in this mode
      for (const n of rc.live()) assert.equal(await redisCli(n.port, "PUBSUB", "NUMPAT"), "0");
      const r = record(all, "dyn");
      closers.push(() => r.stop());
      fx.ios[1].to("dyn-room").emit("dyn", 7);
      await waitFor(() => r.counts().reduce((a, b) => a + b, 0) === 3, 5000, { what: "3 deliveries" });
      await barrier(fx.ios[1], all, { timeoutMs: 5000 });
      assert.deepEqual(r.counts(), [1, 0, 1, 0, 1, 0]);
      // leaving releases the room channel on the cluster
      for (let i = 0; i < 3; i++) fx.serverSocket(i, clients[i][0]).leave("dyn-room");
      await waitFor(async () => (await clusterNumsub(rc, "socket.io#/#dyn-room#")) === 0, 10000, { what: "the room channel released" });
    });

    it("takes an Emitter's broadcasts over the cluster, to rooms, from another seed", async function () {
      const clients = await start((i) => createAdapter({ cluster: [{ host: "127.0.0.1", port: rc.ports[i] }] }));
      const all = clients.flat();
      for (let i = 0; i < 3; i++) fx.serverSocket(i, clients[i][1]).join("emitted");
      const emitter = new Emitter({ cluster: [`redis://127.0.0.1:${rc.ports[5]}`] });
      closers.push(() => emitter.close());
      const r = record(all, "from-emitter");
      closers.push(() => r.stop());
      // emitted at once: the Emitter holds it until its cluster client is ready
      emitter.to("emitted").emit("from-emitter", 42);
      await waitFor(() => r.counts().reduce((a, b) => a + b, 0) === 3, 5000, { what: "3 deliveries" });
      await barrier(fx.ios[0], all, { timeoutMs: 5000 });
      assert.deepEqual(r.counts(), [0, 1, 0, 1, 0, 1]);
      for (const calls of r.calls) if (calls.length) assert.deepEqual(calls[0], [42]);
    });

    it("is a drop-in for node-redis createCluster clients", async function () {
      const { createCluster } = require("redis");
      const pubs = [];
      const clients = await start(async (i) => {
        const pub = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${rc.ports[i]}` }] });
        const sub = pub.duplicate();
        await Promise.all([pub.connect(), sub.connect()]);
        pubs.push(pub, sub);
        return createAdapter(pub, sub);
      });
      closers.push(() => Promise.all(pubs.map((p) => p.quit())));
      const all = clients.flat();
      const r = record(all, "hi");
      closers.push(() => r.stop());
      fx.ios[0].emit("hi");
      await barrier(fx.ios[0], all, { timeoutMs: 5000 });
      assert.deepEqual(r.counts(), [1, 1, 1, 1, 1, 1]);
      assert.equal(await fx.ios[2].of("/").adapter.serverCount(), 3);
      // the user's clients stay theirs and usable
      assert.equal(await pubs[0].set("node-redis-after", "1"), "OK");
    });

    it("is a drop-in for ioredis Cluster clients", async function () {
      const Redis = require("ioredis");
      const pubs = [];
      const clients = await start(async (i) => {
        const pub = new Redis.Cluster([{ host: "127.0.0.1", port: rc.ports[i] }]);
        const sub = pub.duplicate();
        pubs.push(pub, sub);
        return createAdapter(pub, sub);
      });
      closers.push(() => Promise.all(pubs.map((p) => p.quit().catch(() => p.disconnect()))));
      const all = clients.flat();
      const r = record(all, "hey");
      closers.push(() => r.stop());
      fx.ios[2].emit("hey");
      await barrier(fx.ios[2], all, { timeoutMs: 5000 });
      assert.deepEqual(r.counts(), [1, 1, 1, 1, 1, 1]);
      const sockets = await fx.ios[1].fetchSockets();
      assert.equal(sockets.length, 6);
    });
  });
});
