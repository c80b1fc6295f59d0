"use strict";
// Longer outages: Redis down for 30 s while the app keeps working locally, and Redis killed while
// broadcasts, joins, requests and acks are in flight.
const assert = require("node:assert/strict");
const { startRedis, waitForSubscribers } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep } = require("../helpers/util");
const { createAdapter } = require("../..");

describe("long outages", function () {
  this.timeout(90000);
  let redis, cluster;
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);

  beforeEach(async () => {
    redis = await startRedis();
    // holdMs 0: publishes are not held while Redis is down, dropped and counted at once (the default
    // hold is covered by outage-extended c and freeze).
    cluster = await createServers({ count: 2, adapter: () => createAdapter({ url: redis.url, holdMs: 0 }, { requestsTimeout: 1000 }) });
    await waitForSubscribers(redis.port, 2);
    cluster.ios.forEach((io) => io.on("connection", (s) => s.join("room")));
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(async () => {
    process.off("unhandledRejection", onUnhandled);
    await cluster.closeAll();
    await redis.stop();
  });

  it("Redis down for 30 s: local delivery goes on, requests fail cleanly, memory stays bounded", async function () {
    const local = await cluster.connect(0);
    const remote = await cluster.connect(1);
    let localGot = 0;
    let remoteGot = 0;
    local.on("tick", () => localGot++);
    remote.on("tick", () => remoteGot++);
    await redis.kill("SIGKILL");
    await sleep(200);
    const io = cluster.ios[0];
    const rss0 = process.memoryUsage().rss;
    const failures = [];
    const t0 = Date.now();
    let sent = 0;
    while (Date.now() - t0 < 30000) {
      // 100 broadcasts a second with a 1 KiB payload, and a request now and then
      for (let i = 0; i < 10; i++, sent++) io.to("room").emit("tick", sent, "x".repeat(1024));
      if (sent % 500 === 0) {
        const started = Date.now();
        await io.fetchSockets().then(
          () => failures.push("resolved"),
          (err) => failures.push(`${err.code}:${Date.now() - started < 1200}`),
        );
      }
      await sleep(100);
    }
    const rss1 = process.memoryUsage().rss;
    assert.equal(localGot, sent, "every local client got every broadcast");
    assert.equal(remoteGot, 0);
    assert.ok(failures.length >= 5 && failures.every((f) => f === "ENOTCONN:true"), `requests: ${failures}`);
    assert.ok(io.of("/").adapter.stats.publishDropped >= sent);
    assert.ok(rss1 - rss0 < 50 * 1024 * 1024, `rss grew by ${((rss1 - rss0) / 1048576).toFixed(1)} MB`);
    await redis.restart();
    let after = false;
    remote.on("back", () => (after = true));
    await waitFor(() => (io.emit("back"), after), 3000, { interval: 50, what: "broadcasts after Redis returns" });
    // Each node's two connections come back on their own backoff schedule; an answer sent before a
    // node's command connection is back is dropped (pub/sub is at-most-once), so poll until it works.
    await waitFor(async () => (await io.fetchSockets().catch(() => [])).length === 2, 8000, { interval: 100, what: "fetchSockets across both nodes" });
    assert.deepEqual(unhandled, []);
  });

  it("Redis killed while broadcasts, joins, requests and acks are in flight", async function () {
    const clients = [await cluster.connect(0), await cluster.connect(1)];
    clients.forEach((c) => c.on("ack", (cb) => cb("ok")));
    const io = cluster.ios[0];
    const settled = [];
    for (let i = 0; i < 200; i++) {
      io.to("room").emit("burst", i);
      io.in("room").socketsJoin("r" + i);
      if (i % 20 === 0) {
        settled.push(io.fetchSockets().then(() => "ok", (e) => e.code));
        settled.push(io.timeout(500).emitWithAck("ack").then(() => "ok", (e) => e.message));
        settled.push(io.serverSideEmitWithAck("nobody").then(() => "ok", (e) => e.code || e.message));
      }
      if (i === 100) redis.kill("SIGKILL");
    }
    const outcomes = await Promise.all(settled);
    assert.equal(outcomes.length, 30);
    await sleep(100);
    assert.deepEqual(unhandled, []);
    await redis.restart();
    await waitFor(async () => (await io.fetchSockets().catch(() => [])).length === 2, 5000, { interval: 100, what: "requests after restart" });
  });
});
