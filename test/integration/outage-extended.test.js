"use strict";
// Redis outages with the adapter under load, with shortened deadlines (options-object targets):
//   a. SIGKILL + restart on the same port while a sender emits every 5 ms: publishes held meanwhile
//   b. SIGSTOP longer than the health deadline: ETIMEDOUT, a replacement connects, the old connection is
//      kept when Redis answers on it first, TCP keepalive on
//   c. down for 30 s: local delivery goes on, requests fail at once, publishes held for holdMs then
//      dropped and counted, RSS bounded
//   d. killed with broadcasts, joins/leaves, requests and acks in flight: everything settles
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const { startRedis, waitForSubscribers } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep, bounded } = require("../helpers/util");
const { createAdapter } = require("../..");

const MB = 1024 * 1024;

// Settles with { ok, value | err, ms }, never rejects.
function outcome(promise) {
  const t0 = Date.now();
  return Promise.resolve(promise).then(
    (value) => ({ ok: true, value, ms: Date.now() - t0 }),
    (err) => ({ ok: false, err, ms: Date.now() - t0 }),
  );
}

// Resolves true once `promise` settled within `ms`, false otherwise.
function settlesWithin(promise, ms) {
  return bounded(promise, ms);
}

describe("Redis outages, extended", function () {
  this.timeout(20000);
  let redis, cluster, factories, errors, unhandled;
  const onUnhandled = (reason) => unhandled.push(reason);

  // Two servers on our adapter, each with its own factory (and so its own RedisClient).
  async function start(connOpts = {}, adapterOpts = {}) {
    factories = [];
    errors = [[], []];
    cluster = await createServers({
      count: 2,
      adapter: (i) => {
        const f = createAdapter({ host: "127.0.0.1", port: redis.port, retryBase: 20, retryMax: 200, ...connOpts }, adapterOpts);
        factories[i] = f;
        return f;
      },
    });
    factories.forEach((f, i) => f.client.on("error", (err) => errors[i].push(err)));
    await waitForSubscribers(redis.port, 2);
    await waitFor(() => factories.every((f) => f.client.isReady), 3000, { what: "ready clients" });
    cluster.ios.forEach((io) => io.on("connection", (s) => s.join("room")));
  }

  beforeEach(async () => {
    unhandled = [];
    process.on("unhandledRejection", onUnhandled);
    redis = await startRedis();
  });

  afterEach(async () => {
    process.off("unhandledRejection", onUnhandled);
    if (redis) redis.resume();
    if (cluster) await cluster.closeAll();
    cluster = null;
    if (redis) await redis.stop();
    redis = null;
  });

  it("a. SIGKILL and restart under load: broadcasts flow again within 2 s of the restart", async function () {
    await start();
    const remote = await cluster.connect(1);
    const local = await cluster.connect(0);
    const io = cluster.ios[0];
    const got = { room: [], all: [] };
    remote.on("room-tick", (n) => got.room.push(n));
    remote.on("all-tick", (n) => got.all.push(n));
    let localCount = 0;
    local.on("all-tick", () => localCount++);

    let seq = 0;
    const sender = setInterval(() => {
      seq++;
      io.to("room").emit("room-tick", seq);
      io.emit("all-tick", seq);
    }, 5);
    try {
      await waitFor(() => got.room.length > 20 && got.all.length > 20, 2000, { what: "traffic before the kill" });
      await redis.kill("SIGKILL");
      await sleep(500); // still sending: every publish is held for the next connection (holdMs)
      const heldDuring = factories[0].client.stats().command.held;
      assert.ok(heldDuring > 0, "publishes were held while Redis was down");
      assert.equal(io.of("/").adapter.stats.publishDropped, 0, "none was refused");
      await redis.restart();
      const restartedAt = Date.now();
      const firstAfter = seq;
      await waitFor(() => got.room.some((n) => n > firstAfter) && got.all.some((n) => n > firstAfter), 2000, {
        interval: 5,
        what: "room and all broadcasts after the restart",
      });
      const elapsed = Date.now() - restartedAt;
      assert.ok(elapsed < 2000, `resumed ${elapsed} ms after the restart`);
    } finally {
      clearInterval(sender);
    }
    // the local client never missed anything: local delivery does not depend on Redis
    await waitFor(() => localCount === seq, 1000, { what: `local client got all ${seq} broadcasts (has ${localCount})` });
    // both directions and both nodes healthy again
    await waitForSubscribers(redis.port, 2, { timeoutMs: 2000 });
    assert.ok(errors[0].length > 0 && errors[1].length > 0, "both clients reported the outage");
    await sleep(50);
    assert.deepEqual(unhandled, []);
  });

  it("b. SIGSTOP past the health deadline: ETIMEDOUT, a replacement opened, the old connection kept, keepalive on, recovery within 2 s", async function () {
    await start({ healthInterval: 200, healthTimeout: 500 });
    const remote = await cluster.connect(1);

    // TCP keepalive on our connections to Redis (the timer column of `ss -o`).
    let ss = null;
    try {
      ss = execFileSync("ss", ["-tnoepH", "state", "established", `dport = :${redis.port}`], { timeout: 3000 }).toString();
    } catch {
      ss = null; // no ss here: skip the keepalive assertion
    }
    if (ss !== null) {
      const ours = ss.split("\n").filter((l) => l.includes(`pid=${process.pid},`));
      assert.ok(ours.length >= 4, `expected our 4 connections to :${redis.port} in ss output:\n${ss}`);
      for (const line of ours) assert.match(line, /timer:\(keepalive/, `no keepalive timer: ${line}`);
    }

    const client = factories[1].client;
    const subConnects = client.stats().subscriber.connects;
    const cmdConnects = client.stats().command.connects;
    redis.pause();
    const frozenAt = Date.now();
    try {
      await waitFor(() => errors[1].some((e) => e.code === "ETIMEDOUT"), 1500, { what: "ETIMEDOUT from the health check" });
      const detectedAfter = Date.now() - frozenAt;
      // an idle connection sends a PING after 200 ms, gives up 500 ms later (plus timer slack)
      assert.ok(detectedAfter < 1200, `detected after ${detectedAfter} ms`);
      await sleep(2000 - (Date.now() - frozenAt)); // frozen for 2 s in all
    } finally {
      redis.resume();
    }
    const resumedAt = Date.now();
    assert.ok(errors[1].filter((e) => e.code === "ETIMEDOUT").every((e) => e.role === "command" || e.role === "subscriber"));
    // A replacement connected for each (the kernel accepts while Redis is stopped), but Redis, once resumed,
    // answered the old connections first: they are kept (replacing them loses what Redis runs from them).
    await waitFor(() => client.stats().subscriber.resumed === 1 && client.stats().command.resumed === 1 && client.isReady, 2000, {
      what: "the old connections answering again",
    });
    assert.ok(client.stats().subscriber.connects > subConnects && client.stats().command.connects > cmdConnects, "replacements connected");
    assert.equal(client.stats().subscriber.replaced + client.stats().command.replaced, 0);
    let got = false;
    remote.on("after-freeze", () => (got = true));
    await waitFor(() => (cluster.ios[0].emit("after-freeze"), got), 2000, { interval: 20, what: "a broadcast after SIGCONT" });
    const elapsed = Date.now() - resumedAt;
    assert.ok(elapsed < 2000, `resumed after ${elapsed} ms`);
    assert.deepEqual(unhandled, []);
  });

  it("c. Redis down for 30 s: local delivery, ENOTCONN at once, publishes held 2 s then dropped and counted, RSS bounded, then recovery", async function () {
    this.timeout(60000);
    await start({ holdMs: 2000 }, { requestsTimeout: 2000 });
    const local = await cluster.connect(0);
    const remote = await cluster.connect(1);
    cluster.ios[1].on("ping-servers", (cb) => cb("pong"));
    const io = cluster.ios[0];
    let localGot = 0;
    let remoteGot = 0;
    local.on("tick", () => localGot++);
    remote.on("tick", () => remoteGot++);

    await redis.kill("SIGKILL");
    await waitFor(() => !factories[0].client.isReady, 2000, { what: "the client noticing the outage" });
    const dropped0 = factories[0].client.stats().publishDropped;
    if (global.gc) global.gc();
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const failures = [];
    const payload = "x".repeat(1024);
    const t0 = Date.now();
    let sent = 0;
    let nextRequestAt = t0;
    while (Date.now() - t0 < 30000) {
      // 100 messages a second: 10 every 100 ms, half to the room, half to all
      for (let i = 0; i < 10; i++, sent++) {
        if (i % 2) io.to("room").emit("tick", sent, payload);
        else io.emit("tick", sent, payload);
      }
      if (Date.now() >= nextRequestAt) {
        nextRequestAt += 3000;
        failures.push(["fetchSockets", await outcome(io.fetchSockets())]);
        failures.push(["allRooms", await outcome(io.of("/").adapter.allRooms())]);
        failures.push(["serverSideEmitWithAck", await outcome(io.serverSideEmitWithAck("ping-servers"))]);
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
      }
      await sleep(100);
    }
    if (global.gc) global.gc();
    const rss1 = process.memoryUsage().rss;
    rssMax = Math.max(rssMax, rss1);

    assert.ok(sent >= 2500, `sent ${sent}`);
    await waitFor(() => localGot === sent, 1000, { what: `local delivery of ${sent} (got ${localGot})` });
    assert.equal(remoteGot, 0);
    assert.ok(failures.length >= 27, `only ${failures.length} requests`);
    for (const [what, r] of failures) {
      assert.equal(r.ok, false, `${what} resolved during the outage`);
      assert.equal(r.err.code, "ENOTCONN", `${what}: ${r.err.code} ${r.err.message}`);
      assert.ok(r.ms < 100, `${what} took ${r.ms} ms to fail`);
    }
    // Held for holdMs (2 s, about 200 at this rate), then dropped and counted (the client's publishDropped;
    // the adapter's counts refusals only).
    const { publishDropped, command } = factories[0].client.stats();
    const dropped = publishDropped - dropped0;
    assert.ok(dropped >= sent - 300 && dropped <= sent, `publishDropped grew by ${dropped}, sent ${sent}`);
    assert.ok(command.held > 0 && command.held <= 300, `held ${command.held}`);
    assert.equal(dropped + command.held, sent, "every publish is held or counted");
    assert.ok(rss1 - rss0 < 50 * MB, `rss grew by ${((rss1 - rss0) / MB).toFixed(1)} MB`);
    assert.ok(rssMax - rss0 < 50 * MB, `rss peaked ${((rssMax - rss0) / MB).toFixed(1)} MB above the start`);

    await redis.restart();
    await waitFor(() => factories.every((f) => f.client.isReady), 3000, { what: "clients ready again" });
    await waitForSubscribers(redis.port, 2, { timeoutMs: 2000 });
    let back = false;
    remote.on("back", () => (back = true));
    await waitFor(() => (io.emit("back"), back), 2000, { interval: 50, what: "broadcasts after Redis returns" });
    assert.equal((await io.fetchSockets()).length, 2);
    assert.ok((await io.of("/").adapter.allRooms()).has("room"));
    assert.deepEqual(await io.serverSideEmitWithAck("ping-servers"), ["pong"]);
    assert.deepEqual(unhandled, []);
  });

  it("d. Redis killed with broadcasts, joins/leaves, fetchSockets and acks in flight: all settle, nothing unhandled", async function () {
    await start({}, { requestsTimeout: 1000 });
    const clients = [await cluster.connect(0), await cluster.connect(0), await cluster.connect(1), await cluster.connect(1)];
    // slow answers keep requests and acks in flight when Redis dies
    clients.forEach((c) => c.on("ack", (n, cb) => setTimeout(() => cb(n), 30)));
    cluster.ios[1].on("slow", (cb) => setTimeout(() => cb("late"), 50));
    const io = cluster.ios[0];
    const promises = [];
    const callbacks = [];
    let killed = null;
    for (let i = 0; i < 300; i++) {
      io.to("room").emit("burst", i);
      io.emit("burst-all", i);
      if (i % 2) io.in("room").socketsJoin("r" + i);
      else io.in("room").socketsLeave("r" + (i - 1));
      if (i % 10 === 0) {
        promises.push(outcome(io.fetchSockets()));
        promises.push(outcome(io.in("room").fetchSockets()));
        promises.push(outcome(io.of("/").adapter.allRooms()));
        promises.push(outcome(io.timeout(800).emitWithAck("ack", i)));
        promises.push(outcome(io.serverSideEmitWithAck("slow")));
        callbacks.push(new Promise((resolve) => io.timeout(800).emit("ack", i, (err, res) => resolve({ err, res }))));
        callbacks.push(new Promise((resolve) => io.serverSideEmit("slow", (err, res) => resolve({ err, res }))));
      }
      if (i === 150) killed = redis.kill("SIGKILL");
      if (i % 25 === 0) await sleep(5); // let some work reach Redis and the other node
    }
    await killed;
    const all = Promise.all([...promises, ...callbacks]);
    assert.ok(await settlesWithin(all, 5000), "every promise and callback settled within 5 s");
    const outcomes = await all;
    assert.equal(outcomes.length, 30 * 7);
    // work sent after the kill failed, with an error (not a hang)
    const failed = outcomes.filter((o) => o.ok === false || o.err);
    assert.ok(failed.length > 0, "some requests failed because of the outage");
    for (const o of failed) assert.ok((o.err || {}).message, "failures carry an error");
    await sleep(100);
    assert.deepEqual(unhandled, []);

    await redis.restart();
    await waitFor(() => factories.every((f) => f.client.isReady), 3000, { what: "clients ready again" });
    await waitForSubscribers(redis.port, 2, { timeoutMs: 2000 });
    await waitFor(async () => (await io.fetchSockets().catch(() => [])).length === 4, 3000, { interval: 100, what: "requests after restart" });
    assert.deepEqual((await io.timeout(1000).emitWithAck("ack", 7)), [7, 7, 7, 7]);
    assert.deepEqual(unhandled, []);
  });
});
