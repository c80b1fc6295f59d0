"use strict";

// createShardedAdapter on a real 6-node Redis Cluster (3 masters, 3 replicas), every subscription mode:
// three socket.io servers seeded at different nodes, every cross-server operation, each sharded channel
// subscribed exactly where its slot lives (checked on each master with PUBSUB SHARDCHANNELS / SHARDNUMSUB,
// asked by redis-cli, not by the code under test); a mixed fleet with upstream's createShardedAdapter on
// node-redis cluster clients in each mode and direction; node-redis and ioredis cluster clients as drop-in
// targets; 10,000 rapid joins and leaves leaving every room with members subscribed once, on its owner.

const assert = require("node:assert/strict");
const { createShardedAdapter } = require("../..");
const { isRedisAvailable, redisCli } = require("../helpers/redis");
const { RedisCluster, keySlot } = require("../helpers/rediscluster");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep } = require("../helpers/util");
const { MODES, next, recordEach } = require("../sharded/helpers");


// Slot owner (master port) of each channel, from CLUSTER SLOTS.
async function owners(rc) {
  const slots = await rc.slots();
  return (ch) => slots.find((r) => keySlot(ch) >= r.start && keySlot(ch) <= r.end).master;
}

// Every shard channel with the prefix, on every master: Map channel -> [master port, ...].
async function shardChannels(rc, prefix) {
  const out = new Map();
  for (const m of await rc.masters()) {
    const list = (await redisCli(m, "PUBSUB", "SHARDCHANNELS", `${prefix}*`)).split("\n").filter(Boolean);
    for (const ch of list) out.set(ch, [...(out.get(ch) || []), m]);
  }
  return out;
}

// PUBSUB SHARDNUMSUB of a channel on its slot's owner.
async function numsubOnOwner(rc, ch) {
  const owner = (await owners(rc))(ch);
  return parseInt((await redisCli(owner, "PUBSUB", "SHARDNUMSUB", ch)).split("\n").pop(), 10);
}

// Each channel is subscribed on its owner and nowhere else.
async function onOwnersOnly(rc, prefix) {
  const owner = await owners(rc);
  const found = await shardChannels(rc, prefix);
  for (const [ch, where] of found) assert.deepEqual(where, [owner(ch)], `${ch} subscribed on ${where}, owner ${owner(ch)}`);
  return found;
}

function seeds(rc, i) {
  return { cluster: [{ host: "127.0.0.1", port: rc.ports[i % rc.ports.length] }] };
}

describe("sharded adapter on a Redis Cluster (6 nodes)", function () {
  this.timeout(60000);
  let rc;
  const errors = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    rc = await RedisCluster.start();
  });

  after(async function () {
    if (rc) await rc.stop();
  });

  function ours(opts, i) {
    const inner = createShardedAdapter(seeds(rc, i), opts);
    return function (nsp) {
      const adapter = new inner(nsp);
      if (inner.client.listenerCount("error") === 0) inner.client.on("error", (err) => errors.push(err));
      return adapter;
    };
  }

  for (const mode of MODES) {
    describe(`subscriptionMode "${mode}"`, function () {
      const prefix = `sio-${mode}`;
      let fx;
      let c0a, c0b, c1a, c1b, c2a, admin0, admin2;
      const io = (i) => fx.ios[i];
      const all = () => [c0a, c0b, c1a, c1b, c2a];

      before(async function () {
        if (!rc) return this.skip();
        // Three servers, each seeded at a different node (one of them a replica, at first).
        fx = await createServers({ count: 3, adapter: (i) => ours({ channelPrefix: prefix, subscriptionMode: mode }, i * 2 + 1), namespaces: ["/admin"] });
        await waitFor(async () => (await numsubOnOwner(rc, `${prefix}#/#`)) === 3, 15000, { what: "3 subscribers of the main channel" });
        c0a = await fx.connect(0);
        c0b = await fx.connect(0);
        c1a = await fx.connect(1);
        c1b = await fx.connect(1);
        c2a = await fx.connect(2);
        admin0 = await fx.connect(0, { nsp: "/admin" });
        admin2 = await fx.connect(2, { nsp: "/admin" });
        fx.serverSocket(0, c0a).join("r");
        fx.serverSocket(1, c1a).join(["r", "r2"]);
        fx.serverSocket(0, c0b).join("r2");
        fx.serverSocket(2, c2a).join(["r", "r3"]);
        if (mode !== "static") {
          await waitFor(async () => (await numsubOnOwner(rc, `${prefix}#/#r#`)) === 3, 15000, { what: "the room channel on its owner" });
        }
      });

      after(async function () {
        if (fx) await fx.closeAll();
      });

      it("subscribes each channel on its slot's master, and the set the mode says", async function () {
        const expected = [`${prefix}#/#`, `${prefix}#/admin#`];
        for (const i of [0, 1, 2]) expected.push(`${prefix}#/#${io(i).of("/").adapter.uid}#`, `${prefix}#/admin#${io(i).of("/admin").adapter.uid}#`);
        if (mode !== "static") expected.push(`${prefix}#/#r#`, `${prefix}#/#r2#`, `${prefix}#/#r3#`);
        if (mode === "dynamic-private") {
          for (const c of all()) expected.push(`${prefix}#/#${c.id}#`);
          for (const c of [admin0, admin2]) expected.push(`${prefix}#/admin#${c.id}#`);
        }
        let found;
        await waitFor(async () => (found = await onOwnersOnly(rc, prefix)).size === expected.length, 10000, { what: `${expected.length} channels` });
        assert.deepEqual([...found.keys()].sort(), expected.sort());
        // The channels are spread over more than one master (otherwise this would not test routing).
        assert.ok(new Set([...found.values()].map((w) => w[0])).size >= 2, "channels on at least 2 masters");
        // Exact counts on the owners: 3 servers on the main and room "r" channel, 2 on r2, 1 on r3.
        assert.equal(await numsubOnOwner(rc, `${prefix}#/#`), 3);
        if (mode !== "static") {
          assert.equal(await numsubOnOwner(rc, `${prefix}#/#r#`), 3);
          assert.equal(await numsubOnOwner(rc, `${prefix}#/#r2#`), 2);
          assert.equal(await numsubOnOwner(rc, `${prefix}#/#r3#`), 1);
        }
      });

      it("broadcasts to all, across servers", async function () {
        const p = next(all(), "all");
        io(1).emit("all", 1, "two", { three: [3] });
        for (const args of await p) assert.deepEqual(args, [1, "two", { three: [3] }]);
      });

      it("broadcasts to rooms, with except, and to several rooms once each", async function () {
        const r = recordEach(all(), "room");
        io(0).to("r").emit("room", "r");
        await next([c0a, c1a, c2a], "room");
        io(2).to("r2").except("r3").emit("room", "r2-not-r3");
        await next([c0b, c1a], "room");
        io(1).to(["r", "r2", "r3"]).emit("room", "many");
        await next([c0a, c0b, c1a, c2a], "room");
        await sleep(200);
        assert.deepEqual(r.of(c0a), [["r"], ["many"]]);
        assert.deepEqual(r.of(c0b), [["r2-not-r3"], ["many"]]);
        assert.deepEqual(r.of(c1a), [["r"], ["r2-not-r3"], ["many"]]);
        assert.deepEqual(r.of(c1b), []);
        assert.deepEqual(r.of(c2a), [["r"], ["many"]]);
        r.stop();
      });

      it("broadcasts to a socket id on another server, and binary", async function () {
        const p = next([c2a], "to-id");
        io(0).to(c2a.id).emit("to-id", Buffer.from([1, 2, 3]));
        const [[buf]] = await p;
        assert.deepEqual([...Buffer.from(buf)], [1, 2, 3]);
      });

      it("keeps namespaces apart", async function () {
        const r = recordEach(all(), "ns");
        const p = next([admin0, admin2], "ns");
        io(1).of("/admin").emit("ns", "admin");
        assert.deepEqual(await p, [["admin"], ["admin"]]);
        await sleep(200);
        for (const c of all()) assert.equal(r.of(c).length, 0);
        r.stop();
      });

      it("broadcasts with acks, to all and to a room on other servers", async function () {
        for (const c of all()) c.on("ack", (cb) => cb(c.id));
        const answers = await io(0).timeout(5000).emitWithAck("ack");
        assert.deepEqual(answers.sort(), all().map((c) => c.id).sort());
        const inR3 = await io(1).to("r3").timeout(5000).emitWithAck("ack");
        assert.deepEqual(inR3, [c2a.id]);
        for (const c of all()) c.off("ack");
      });

      it("fetchSockets, serverSideEmit with ack, serverCount", async function () {
        const sockets = await io(1).in("r").fetchSockets();
        assert.deepEqual(sockets.map((s) => s.id).sort(), [c0a.id, c1a.id, c2a.id].sort());
        for (const i of [1, 2]) io(i).on("ping-servers", (n, cb) => cb(n * 10 + i));
        const replies = await io(0).serverSideEmitWithAck("ping-servers", 4);
        assert.deepEqual(replies.sort(), [41, 42]);
        // PUBSUB SHARDNUMSUB summed over the cluster's nodes, as upstream does.
        assert.equal(await io(2).of("/").adapter.serverCount(), 3);
      });

      it("socketsJoin, socketsLeave and disconnectSockets on other servers", async function () {
        io(0).in("r3").socketsJoin("joined");
        await waitFor(() => fx.serverSocket(2, c2a).rooms.has("joined"), 5000);
        const p = next([c2a], "j");
        io(1).to("joined").emit("j");
        await p;
        io(1).in("joined").socketsLeave("joined");
        await waitFor(() => !fx.serverSocket(2, c2a).rooms.has("joined"), 5000);
        const extra = await fx.connect(2);
        fx.serverSocket(2, extra).join("doomed");
        const gone = new Promise((resolve) => extra.once("disconnect", resolve));
        io(0).in("doomed").disconnectSockets(true);
        await gone;
      });

      it("close() leaves no channel of ours on any node", async function () {
        await fx.closeAll();
        fx = null;
        await waitFor(async () => (await shardChannels(rc, prefix)).size === 0, 10000, { what: "no channel left" });
        for (const n of rc.live()) {
          const left = (await redisCli(n.port, "PUBSUB", "SHARDCHANNELS", `${prefix}*`)).split("\n").filter(Boolean);
          assert.deepEqual(left, [], `node ${n.port}`);
        }
      });
    });
  }

  describe("mixed fleet with upstream's createShardedAdapter on node-redis cluster clients", function () {
    const { createCluster } = require("redis");
    const upstreamSharded = () => require("@socket.io/redis-adapter").createShardedAdapter;

    for (const mode of MODES) {
      it(`subscriptionMode "${mode}": every operation in both directions`, async function () {
        const prefix = `mix-${mode}`;
        const opts = { channelPrefix: prefix, subscriptionMode: mode };
        const nodeClients = [];
        let fx;
        try {
          fx = await createServers({
            count: 3,
            adapter: async (i) => {
              if (i !== 1) return ours(opts, i);
              const pub = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${rc.ports[i]}` }] });
              const sub = pub.duplicate();
              pub.on("error", () => {});
              sub.on("error", () => {});
              await Promise.all([pub.connect(), sub.connect()]);
              nodeClients.push(pub, sub);
              return upstreamSharded()(pub, sub, opts);
            },
          });
          await waitFor(async () => (await numsubOnOwner(rc, `${prefix}#/#`)) === 3, 15000, { what: "3 subscribers" });
          const cs = [await fx.connect(0), await fx.connect(1), await fx.connect(2)];
          for (let i = 0; i < 3; i++) fx.serverSocket(i, cs[i]).join("room");
          if (mode !== "static") await waitFor(async () => (await numsubOnOwner(rc, `${prefix}#/#room#`)) === 3, 15000, { what: "room channel" });
          // Broadcasts from each side reach every side, to all and to a room.
          for (const from of [0, 1, 2]) {
            let p = next(cs, "all");
            fx.ios[from].emit("all", from, { x: [from] });
            for (const args of await p) assert.deepEqual(args, [from, { x: [from] }]);
            p = next(cs, "room");
            fx.ios[from].to("room").emit("room", Buffer.from([from]));
            for (const [buf] of await p) assert.deepEqual([...Buffer.from(buf)], [from]);
          }
          // Requests both ways: fetchSockets, acks, serverSideEmit with ack, serverCount.
          for (const from of [0, 1]) {
            const sockets = await fx.ios[from].in("room").fetchSockets();
            assert.deepEqual(sockets.map((s) => s.id).sort(), cs.map((c) => c.id).sort());
            for (const c of cs) c.removeAllListeners("ack").on("ack", (cb) => cb(c.id));
            const answers = await fx.ios[from].timeout(5000).emitWithAck("ack");
            assert.deepEqual(answers.sort(), cs.map((c) => c.id).sort());
            for (let i = 0; i < 3; i++) fx.ios[i].removeAllListeners("sse").on("sse", (cb) => cb(i));
            const replies = await fx.ios[from].serverSideEmitWithAck("sse");
            assert.deepEqual(replies.sort(), [0, 1, 2].filter((i) => i !== from));
            assert.equal(await fx.ios[from].of("/").adapter.serverCount(), 3);
          }
          // socketsJoin from upstream onto ours, then a room broadcast from ours.
          fx.ios[1].in("room").socketsJoin("later");
          await waitFor(() => [0, 2].every((i) => fx.serverSocket(i, cs[i]).rooms.has("later")), 5000);
          const p = next(cs, "later");
          fx.ios[0].to("later").emit("later");
          await p;
          assert.deepEqual(errors, []);
        } finally {
          if (fx) await fx.closeAll();
          await Promise.all(nodeClients.map((c) => c.quit().catch(() => c.disconnect())));
        }
      });
    }
  });

  describe("drop-in cluster clients as targets", function () {
    async function check(makeTarget, cleanup) {
      const prefix = `dropin-${Math.random().toString(36).slice(2, 8)}`;
      let fx;
      const targets = [];
      try {
        fx = await createServers({
          count: 2,
          adapter: async (i) => {
            const t = await makeTarget(i);
            targets.push(t);
            return createShardedAdapter(t.pub, t.sub, { channelPrefix: prefix });
          },
        });
        await waitFor(async () => (await numsubOnOwner(rc, `${prefix}#/#`)) === 2, 15000, { what: "2 subscribers" });
        const cs = [await fx.connect(0), await fx.connect(1)];
        fx.serverSocket(1, cs[1]).join("x");
        await waitFor(async () => (await numsubOnOwner(rc, `${prefix}#/#x#`)) === 1, 15000, { what: "room x" });
        const p = next([cs[1]], "x");
        fx.ios[0].to("x").emit("x", "via-target");
        assert.deepEqual(await p, [["via-target"]]);
        assert.equal(await fx.ios[0].of("/").adapter.serverCount(), 2);
        await onOwnersOnly(rc, prefix);
        // The user's own clients are untouched and still usable.
        for (const t of targets) await t.usable();
      } finally {
        if (fx) await fx.closeAll();
        await cleanup(targets);
      }
    }

    it("node-redis createCluster clients", async function () {
      const { createCluster } = require("redis");
      await check(
        async (i) => {
          const pub = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${rc.ports[i]}` }] });
          const sub = pub.duplicate();
          await Promise.all([pub.connect(), sub.connect()]);
          return { pub, sub, usable: async () => assert.equal(await pub.set(`k${i}`, "1"), "OK") };
        },
        (ts) => Promise.all(ts.flatMap((t) => [t.pub.quit(), t.sub.quit()])),
      );
    });

    it("ioredis Cluster clients", async function () {
      const Redis = require("ioredis");
      await check(
        async (i) => {
          const pub = new Redis.Cluster([{ host: "127.0.0.1", port: rc.ports[i + 2] }]);
          const sub = pub.duplicate();
          return { pub, sub, usable: async () => assert.equal(await pub.set(`k${i}`, "1"), "OK") };
        },
        (ts) => Promise.all(ts.flatMap((t) => [t.pub.quit().catch(() => t.pub.disconnect()), t.sub.quit().catch(() => t.sub.disconnect())])),
      );
    });
  });

  it("10,000 rapid joins and leaves: every room with members subscribed exactly once, on its owner", async function () {
    this.timeout(120000);
    const prefix = "churn";
    let fx;
    try {
      fx = await createServers({ count: 1, adapter: () => ours({ channelPrefix: prefix, subscriptionMode: "dynamic" }, 0) });
      const sockets = [];
      for (let i = 0; i < 8; i++) sockets.push(fx.serverSocket(0, await fx.connect(0)));
      const rooms = Array.from({ length: 300 }, (_, i) => `room-${i}`);
      let seed = 12345;
      // mulberry32: a deterministic sequence, so a failure can be replayed
      const rnd = (n) => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) % n;
      };
      for (let op = 0; op < 10000; op++) {
        const s = sockets[rnd(sockets.length)];
        const room = rooms[rnd(rooms.length)];
        // toggling: joins and leaves of the same room race each other's SSUBSCRIBE / SUNSUBSCRIBE
        if (s.rooms.has(room)) s.leave(room);
        else s.join(room);
        if (op % 500 === 0) await sleep(1); // let some turns go to Redis mid-churn
      }
      const held = rooms.filter((r) => sockets.some((s) => s.rooms.has(r)));
      assert.ok(held.length > 100 && held.length < rooms.length, `${held.length} rooms held`);
      const wanted = new Set([`${prefix}#/#`, `${prefix}#/#${fx.ios[0].of("/").adapter.uid}#`, ...held.map((r) => `${prefix}#/#${r}#`)]);
      let found;
      await waitFor(async () => (found = await onOwnersOnly(rc, prefix)).size === wanted.size, 15000, { what: `${wanted.size} channels` });
      assert.deepEqual([...found.keys()].sort(), [...wanted].sort());
      const owner = await owners(rc);
      const perMaster = new Map();
      for (const ch of wanted) perMaster.set(owner(ch), [...(perMaster.get(owner(ch)) || []), ch]);
      assert.equal(perMaster.size, 3, "rooms on every master");
      for (const [m, chans] of perMaster) {
        const out = (await redisCli(m, "PUBSUB", "SHARDNUMSUB", ...chans)).split("\n");
        for (let i = 0; i < chans.length; i++) assert.equal(out[2 * i + 1], "1", `${chans[i]} on ${m}`);
      }
      assert.equal(fx.ios[0].of("/").adapter.constructor.name, "ShardedRedisAdapter");
    } finally {
      if (fx) await fx.closeAll();
    }
  });
});
