"use strict";
// Lifecycle scripts run in child processes: each must print "ok" and exit by itself, without any
// process.exit(), within the time limit (a leaked handle shows up as a hang).
const assert = require("node:assert/strict");
const path = require("node:path");
const { execFile } = require("node:child_process");
const { startRedis, redisCli } = require("../helpers/redis");
const { waitFor } = require("../helpers/util");
const { startSentinelGroup } = require("../helpers/sentinel");

function run(script, args, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    execFile(process.execPath, [path.join(__dirname, "scripts", script), ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ err, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

describe("lifecycle (child processes exit on their own)", function () {
  this.timeout(60000);
  let redis;
  before(async () => (redis = await startRedis()));
  after(async () => redis && (await redis.stop()));

  for (const [script, args] of [
    ["client-loop.js", ["20"]],
    ["adapter-loop.js", ["4"]],
    ["worker-terminate.js", []],
    ["sharded-loop.js", ["6"]],
    ["streams-loop.js", ["4"]],
  ]) {
    it(`${script} exits cleanly`, async function () {
      const r = await run(script, [redis.url, ...args], 40000);
      assert.equal(r.err, null, `${script} failed: ${r.err && r.err.message}\n${r.stderr}`);
      assert.match(r.stdout, /^ok$/m);
    });
  }
});

describe("lifecycle on a one-node Redis Cluster", function () {
  this.timeout(60000);
  let node;
  before(async () => {
    node = await startRedis({ args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"] });
    await redisCli(node.port, "CLUSTER", "ADDSLOTSRANGE", 0, 16383);
    await waitFor(async () => (await redisCli(node.port, "CLUSTER", "INFO")).includes("cluster_state:ok"), 10000);
  });
  after(async () => node && (await node.stop()));

  it("sharded-loop.js exits cleanly (sharded adapters through a cluster target)", async function () {
    const r = await run("sharded-loop.js", [node.url, "3", "cluster"], 40000);
    assert.equal(r.err, null, `sharded-loop.js failed: ${r.err && r.err.message}\n${r.stderr}`);
    assert.match(r.stdout, /^ok$/m);
  });

  it("streams-loop.js exits cleanly (streams adapters through a cluster target)", async function () {
    const r = await run("streams-loop.js", [node.url, "2", "cluster"], 40000);
    assert.equal(r.err, null, `streams-loop.js failed: ${r.err && r.err.message}\n${r.stderr}`);
    assert.match(r.stdout, /^ok$/m);
  });

  it("cluster-worker.js exits cleanly", async function () {
    const r = await run("cluster-worker.js", [node.url], 40000);
    assert.equal(r.err, null, `cluster-worker.js failed: ${r.err && r.err.message}\n${r.stderr}`);
    assert.match(r.stdout, /^ok$/m);
  });
});

describe("lifecycle through Redis Sentinel", function () {
  this.timeout(60000);
  let g;
  before(async () => {
    g = await startSentinelGroup({ replicas: 1, sentinels: 1 });
    await g.waitSettled();
  });
  after(async () => g && (await g.stop()));

  it("sentinel-loop.js exits cleanly (asking, ready, retrying, adapters, workers)", async function () {
    const url = `redis+sentinel://127.0.0.1:${g.sentinels[0].port}/${g.name}`;
    const r = await run("sentinel-loop.js", [url, "6"], 40000);
    assert.equal(r.err, null, `sentinel-loop.js failed: ${r.err && r.err.message}\n${r.stderr}`);
    assert.match(r.stdout, /^ok$/m);
  });
});
