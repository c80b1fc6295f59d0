"use strict";

// subscriptionMode: 'dynamic' for the classic adapter: a node SUBSCRIBEs to K#N# and to K#N#room# for every
// room it holds (socket-id rooms included) instead of PSUBSCRIBE K#N#*. It must stay wire-compatible with
// upstream publishers and the emitter, receive nothing for rooms it does not hold, and keep exactly the right
// subscriptions through churn, reconnects and close.

const assert = require("node:assert/strict");
const { startRedis, isRedisAvailable, RawRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep, never } = require("../helpers/util");
const { createAdapter, Emitter } = require("../..");

async function channels(redis, pattern = "socket.io#/#*") {
  const out = await redis.cli("PUBSUB", "CHANNELS", pattern);
  return out === "" ? [] : out.split("\n").sort();
}

function expectedChannels(io, nsp = "/", key = "socket.io") {
  const set = new Set([`${key}#${nsp}#`]);
  for (const room of io.of(nsp).adapter.rooms.keys()) set.add(`${key}#${nsp}#${String(room)}#`);
  return [...set].sort();
}

function waitEvent(socket, event, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${event}' on ${socket.id} within ${timeoutMs} ms`)), timeoutMs);
    socket.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

describe("subscriptionMode 'dynamic' (interest-based subscriptions, classic adapter)", function () {
  this.timeout(30000);
  let redis;
  let cluster;
  const factories = [];

  before(async function () {
    if (!isRedisAvailable()) this.skip();
    redis = await startRedis();
  });

  after(async () => {
    if (redis) await redis.stop();
  });

  afterEach(async () => {
    if (cluster) await cluster.closeAll();
    cluster = null;
    factories.length = 0;
  });

  async function start(count, modes) {
    cluster = await createServers({
      count,
      adapter: async (i) => {
        const f = createAdapter(redis.url, { subscriptionMode: modes[i] });
        factories.push(f);
        return f;
      },
    });
    for (const f of factories) f.client.on("error", () => {}); // outages are part of these tests
    // Every node is listening once its request channel has a subscriber.
    await waitFor(async () => (await redis.cli("PUBSUB", "NUMSUB", "socket.io-request#/#")).endsWith(String(count)), 5000, { what: "nodes subscribed" });
    return cluster;
  }

  it("rejects an unknown mode with a clear error", () => {
    assert.throws(() => createAdapter(redis.url, { subscriptionMode: "sometimes" }), { code: "ERR_INVALID_ARG_VALUE", message: /subscriptionMode/ });
  });

  it("subscribes to K#N# and one channel per room held, never to the pattern", async () => {
    await start(2, ["dynamic", "dynamic"]);
    const a = await cluster.connect(0);
    const b = await cluster.connect(1);
    cluster.serverSocket(0, a).join(["room1", "room2"]);
    cluster.serverSocket(1, b).join(42);
    await waitFor(async () => (await channels(redis)).length === 6, 3000, { what: "room channels" });
    assert.deepEqual(await channels(redis), [...new Set([...expectedChannels(cluster.ios[0]), ...expectedChannels(cluster.ios[1])])].sort());
    assert.equal(await redis.cli("PUBSUB", "NUMPAT"), "0");
    assert.ok((await channels(redis)).includes("socket.io#/#42#"));
  });

  it("delivers every kind of broadcast across dynamic nodes", async () => {
    await start(3, ["dynamic", "dynamic", "dynamic"]);
    const c = [await cluster.connect(0), await cluster.connect(1), await cluster.connect(2)];
    cluster.serverSocket(1, c[1]).join("r1");
    cluster.serverSocket(2, c[2]).join(["r1", "r2"]);
    cluster.serverSocket(2, c[2]).join(7);
    await waitFor(async () => (await channels(redis)).includes("socket.io#/#7#"), 3000);

    // to all
    let got = c.map((s) => waitEvent(s, "all"));
    cluster.ios[0].emit("all", 1);
    assert.deepEqual(await Promise.all(got), [[1], [1], [1]]);
    // one room (published on the room channel)
    got = [waitEvent(c[1], "one"), waitEvent(c[2], "one")];
    cluster.ios[0].to("r1").emit("one", "x");
    assert.deepEqual(await Promise.all(got), [["x"], ["x"]]);
    // several rooms (main channel), each socket once
    let count = 0;
    c[2].on("many", () => count++);
    got = [waitEvent(c[1], "many"), waitEvent(c[2], "many")];
    cluster.ios[0].to(["r1", "r2"]).emit("many");
    await Promise.all(got);
    // except
    const except = never(() => count > 1, 200);
    got = [waitEvent(c[0], "ex")];
    let c2ex = false;
    c[2].on("ex", () => (c2ex = true));
    cluster.ios[1].except("r2").emit("ex");
    await Promise.all(got);
    await except;
    assert.equal(c2ex, false);
    // numeric room
    got = [waitEvent(c[2], "num")];
    cluster.ios[0].to(7).emit("num", 7);
    assert.deepEqual(await Promise.all(got), [[7]]);
    // a socket id (its own room channel)
    got = [waitEvent(c[1], "direct")];
    cluster.ios[2].to(c[1].id).emit("direct", "hi");
    assert.deepEqual(await Promise.all(got), [["hi"]]);
    // binary
    got = [waitEvent(c[2], "bin")];
    cluster.ios[0].to("r2").emit("bin", Buffer.from([1, 2, 3]));
    const [[buf]] = await Promise.all(got);
    assert.deepEqual([...Buffer.from(buf)], [1, 2, 3]);
  });

  it("receives nothing for rooms it does not hold (pattern mode receives them all)", async () => {
    await start(3, ["dynamic", "pattern", "dynamic"]);
    const c0 = await cluster.connect(0);
    const c1 = await cluster.connect(1);
    const c2 = await cluster.connect(2);
    cluster.serverSocket(2, c2).join("held");
    await waitFor(async () => (await channels(redis)).includes("socket.io#/#held#"), 3000);
    const before = cluster.ios.map((io) => io.of("/").adapter.stats.received);
    const done = waitEvent(c2, "last");
    for (let i = 0; i < 200; i++) cluster.ios[2].to(`elsewhere-${i}`).emit("x", i);
    cluster.ios[1].to("held").emit("last");
    await done;
    await sleep(100);
    const after = cluster.ios.map((io) => io.of("/").adapter.stats.received);
    // node 0 (dynamic, holds neither) got nothing; node 1 (pattern) got all 200 + its own
    assert.equal(after[0] - before[0], 0, "a dynamic node must not receive broadcasts for rooms it does not hold");
    assert.ok(after[1] - before[1] >= 200, `pattern node received ${after[1] - before[1]}`);
    assert.ok(c0.connected && c1.connected);
  });

  it("is wire-compatible with upstream publishers and the emitter", async () => {
    const { createAdapter: upstreamCreate } = require("@socket.io/redis-adapter");
    const { createClient } = require("redis");
    const pub = createClient({ url: redis.url });
    const sub = pub.duplicate();
    pub.on("error", () => {});
    sub.on("error", () => {});
    await Promise.all([pub.connect(), sub.connect()]);
    const emitter = new Emitter(redis.url);
    try {
      cluster = await createServers({
        count: 2,
        adapter: async (i) => (i === 0 ? createAdapter(redis.url, { subscriptionMode: "dynamic" }) : upstreamCreate(pub, sub)),
      });
      await waitFor(async () => (await redis.cli("PUBSUB", "NUMSUB", "socket.io-request#/#")).endsWith("2"), 5000);
      const ours = await cluster.connect(0);
      const theirs = await cluster.connect(1);
      cluster.serverSocket(0, ours).join("shared");
      cluster.serverSocket(1, theirs).join("shared");
      await waitFor(async () => (await channels(redis)).includes("socket.io#/#shared#"), 3000);
      // upstream node -> dynamic node, single room (room channel), all (main channel), socket id
      let got = [waitEvent(ours, "u1"), waitEvent(theirs, "u1")];
      cluster.ios[1].to("shared").emit("u1", 1);
      await Promise.all(got);
      got = [waitEvent(ours, "u2")];
      cluster.ios[1].emit("u2", 2);
      await Promise.all(got);
      got = [waitEvent(ours, "u3")];
      cluster.ios[1].to(ours.id).emit("u3", 3);
      await Promise.all(got);
      // dynamic node -> upstream node
      got = [waitEvent(theirs, "d1")];
      cluster.ios[0].to("shared").emit("d1");
      await Promise.all(got);
      // the emitter
      got = [waitEvent(ours, "e1"), waitEvent(theirs, "e1")];
      emitter.to("shared").emit("e1", "from-emitter");
      await Promise.all(got);
      // requests still work across modes
      const sockets = await cluster.ios[1].in("shared").fetchSockets();
      assert.equal(sockets.length, 2);
      assert.equal(await cluster.ios[0].of("/").adapter.serverCount(), 2);
    } finally {
      await cluster.closeAll();
      cluster = null;
      await emitter.close?.();
      await Promise.allSettled([pub.quit(), sub.quit()]);
    }
  });

  it("keeps exactly the right subscriptions through 10,000 rapid joins and leaves", async () => {
    await start(1, ["dynamic"]);
    const socks = [];
    for (let i = 0; i < 5; i++) socks.push(cluster.serverSocket(0, await cluster.connect(0)));
    let seed = 12345;
    const rnd = (n) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 10000; i++) {
      const s = socks[rnd(socks.length)];
      const room = rnd(3) === 0 ? rnd(50) : `room-${rnd(200)}`; // numbers and strings, some colliding in text
      if (rnd(2) === 0) s.join(room);
      else s.leave(room);
      if (i % 500 === 0) await new Promise((r) => setImmediate(r)); // some churn spans turns
    }
    const want = expectedChannels(cluster.ios[0]);
    await waitFor(async () => JSON.stringify(await channels(redis)) === JSON.stringify(want), 5000, { what: "subscriptions to settle" });
    // exactly once: one subscriber per channel
    const counts = await redis.cli("PUBSUB", "NUMSUB", ...want);
    const lines = counts.split("\n");
    for (let i = 1; i < lines.length; i += 2) assert.equal(lines[i], "1", `${lines[i - 1]} has ${lines[i]} subscribers`);
    // and delivery works for a room that survived
    const [room] = [...cluster.ios[0].of("/").adapter.rooms.keys()].filter((r) => typeof r === "string" && r.startsWith("room-"));
    if (room) {
      const emitter = new Emitter(redis.url);
      const members = [...cluster.ios[0].of("/").adapter.rooms.get(room)];
      const client = cluster.clients.find((c) => c.id === members[0]);
      const got = waitEvent(client, "churned");
      emitter.to(room).emit("churned");
      await got;
      await emitter.close?.();
    }
  });

  it("restores every room channel after Redis restarts", async () => {
    await start(1, ["dynamic"]);
    const a = await cluster.connect(0);
    cluster.serverSocket(0, a).join(["x1", "x2", "x3"]);
    await waitFor(async () => (await channels(redis)).length === 5, 3000);
    const want = await channels(redis);
    await redis.restart();
    await waitFor(async () => JSON.stringify(await channels(redis)) === JSON.stringify(want), 8000, { what: "restored subscriptions" });
    const raw = await RawRedis.connect(redis.port);
    try {
      // a raw upstream-shaped broadcast on the room channel still reaches the client
      const { encode } = require("notepack.io");
      const msg = encode(["emitter", { type: 2, data: ["after-restart", 1], nsp: "/" }, { rooms: ["x2"], except: [], flags: {} }]);
      const got = waitEvent(a, "after-restart");
      await raw.command("PUBLISH", "socket.io#/#x2#", msg);
      assert.deepEqual(await got, [1]);
    } finally {
      raw.close();
    }
  });

  it("unsubscribes everything on close", async () => {
    await start(1, ["dynamic"]);
    const a = await cluster.connect(0);
    cluster.serverSocket(0, a).join(["c1", "c2"]);
    await waitFor(async () => (await channels(redis)).length === 4, 3000);
    const io = cluster.ios[0];
    // closing the namespace adapter alone (the shared client stays for other namespaces)
    io.of("/other");
    await io.of("/").adapter.close();
    await waitFor(async () => (await channels(redis)).length === 0, 3000, { what: "channels released" });
  });
});
