"use strict";
// A Redis that stops answering (SIGSTOP) but keeps its sockets open: the deadline PING gives the
// connection up and a replacement connects; after SIGCONT Redis answers the old connection first, which
// is kept, and broadcasts flow again with no app code. (A dead path, where the replacement answers first:
// freeze.test.js.)
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const { startRedis, waitForSubscribers } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep } = require("../helpers/util");
const { createAdapter, createClient } = require("../..");

describe("half-open connections (Redis frozen with SIGSTOP)", function () {
  this.timeout(20000);
  let redis, cluster;
  const clients = [];

  before(async () => (redis = await startRedis()));
  after(async () => {
    if (cluster) await cluster.closeAll();
    await Promise.all(clients.map((c) => c.close()));
    if (redis) {
      redis.resume();
      await redis.stop();
    }
  });

  it("detects the frozen connection with a deadline PING, opens a replacement, keeps the old one when it answers first, and recovers", async function () {
    const opts = { host: "127.0.0.1", port: redis.port, healthInterval: 200, healthTimeout: 500, retryMax: 200 };
    const errors = [];
    for (let i = 0; i < 2; i++) {
      const c = createClient(opts);
      c.on("error", (err) => errors.push(err.code));
      clients.push(c);
    }
    cluster = await createServers({ count: 2, adapter: (i) => createAdapter(clients[i]) });
    await waitForSubscribers(redis.port, 2);
    const client = await cluster.connect(1);

    // TCP keepalive is on for our sockets (the timer column of `ss -o` shows it).
    let ss = null;
    try {
      ss = execFileSync("ss", ["-tnoH", "state", "established", `dport = :${redis.port}`]).toString();
    } catch {}
    if (ss) assert.match(ss, /keepalive/);

    const connectsBefore = clients[0].stats().subscriber.connects;
    redis.pause();
    try {
      await waitFor(() => errors.filter((c) => c === "ETIMEDOUT").length >= 2, 5000, { what: "ETIMEDOUT from the health check" });
      await sleep(300);
    } finally {
      redis.resume();
    }
    await waitFor(() => clients[0].stats().subscriber.connects > connectsBefore && clients.every((c) => c.isReady), 5000, {
      what: "ready connections",
    });
    for (const c of clients) {
      const { command, subscriber } = c.stats();
      assert.deepEqual([command.resumed, subscriber.resumed, command.replaced, subscriber.replaced], [1, 1, 0, 0]);
    }
    const t0 = Date.now();
    let got = false;
    client.on("after-freeze", () => (got = true));
    await waitFor(
      () => {
        cluster.ios[0].emit("after-freeze");
        return got;
      },
      2000,
      { interval: 50, what: "a broadcast after SIGCONT" },
    );
    assert.ok(Date.now() - t0 < 2000);
  });
});
