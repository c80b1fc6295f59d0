"use strict";
// connectTimeout also covers the name lookup: when the thread pool is busy (getaddrinfo waits behind
// other work, as it does behind a slow DNS server), the timed-out lookup is cancelled and the next
// attempt scheduled, instead of the attempt waiting for the resolver however long it takes.
const assert = require("node:assert/strict");
const { execFile } = require("node:child_process");
const path = require("node:path");
const { startRedis } = require("../helpers/redis");

// Runs in a child with a one-thread pool, kept busy ~2.5 s by queued pbkdf2 work. Prints JSON with the
// time of the first ETIMEDOUT, of the first reconnect scheduled after it, and of 'ready'.
const CHILD = `
const crypto = require("node:crypto");
const { createClient } = require(${JSON.stringify(path.resolve(__dirname, "../.."))});
const port = Number(process.argv[1]);
const t0 = Date.now();
let busyUntil = 0;
for (let i = 0; i < 8; i++) crypto.pbkdf2("x", "y", 400000, 64, "sha512", () => (busyUntil = Date.now() - t0));
const out = { timeout: null, reconnect: null, ready: null };
const c = createClient({ host: "localhost", port, connectTimeout: 200, retryBase: 20, retryMax: 50 });
c.on("error", (err) => { if (err.code === "ETIMEDOUT" && out.timeout === null) out.timeout = Date.now() - t0; });
c.on("reconnecting", () => { if (out.timeout !== null && out.reconnect === null) out.reconnect = Date.now() - t0; });
c.on("ready", async () => {
  out.ready = Date.now() - t0;
  await c.close();
  setTimeout(() => { out.busyUntil = busyUntil; console.log(JSON.stringify(out)); }, 10);
});
`;

describe("connect timeout while resolving", function () {
  this.timeout(30000);
  let redis;
  before(async () => (redis = await startRedis()));
  after(async () => {
    if (redis) await redis.stop();
  });

  it("cancels the queued lookup and schedules the next attempt at once", async function () {
    const stdout = await new Promise((resolve, reject) =>
      execFile(process.execPath, ["-e", CHILD, String(redis.port)], { env: { ...process.env, UV_THREADPOOL_SIZE: "1" }, timeout: 20000 }, (err, out, errOut) =>
        err ? reject(Object.assign(err, { stderr: errOut })) : resolve(out),
      ),
    );
    const r = JSON.parse(stdout.trim().split("\n").pop());
    assert.ok(r.timeout !== null && r.timeout < r.busyUntil, `first ETIMEDOUT at ${r.timeout} ms, the pool busy until ${r.busyUntil} ms: the test proves nothing`);
    // Without the cancel, nothing happened until the pool was free again.
    assert.ok(r.reconnect !== null && r.reconnect < r.busyUntil, `next attempt scheduled at ${r.reconnect} ms (pool busy until ${r.busyUntil} ms)`);
    assert.ok(r.ready !== null, "it connects once the pool is free");
  });
});
