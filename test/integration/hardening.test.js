"use strict";
// Small defects found by review, each pinned: JSON that JSON.parse refuses is refused in C too, negative
// or non-numeric durations are refused instead of wrapping to ~49 days, and a NUL in a namespace, key or
// host is refused instead of silently cutting a channel name short.
const assert = require("node:assert/strict");
const { Server } = require("socket.io");
const { startRedis, waitForSubscribers, RawRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep } = require("../helpers/util");
const { createAdapter, createShardedAdapter, createClient, Emitter } = require("../..");

describe("hardening", function () {
  this.timeout(20000);
  let redis, cluster;

  before(async () => (redis = await startRedis()));
  after(async () => {
    if (redis) await redis.stop();
  });
  afterEach(async () => {
    if (cluster) await cluster.closeAll();
    cluster = null;
  });

  it('refuses a request whose JSON starts "{," (JSON.parse does), and answers the same request without the comma', async function () {
    cluster = await createServers({ count: 1, adapter: () => createAdapter(redis.url) });
    await waitForSubscribers(redis.port, 1);
    const listener = await RawRedis.connect(redis.port);
    const answers = [];
    listener.on("push", (msg) => answers.push(msg[msg.length - 1].toString()));
    await listener.command("SUBSCRIBE", "socket.io-response#/#");
    const pub = await RawRedis.connect(redis.port);
    try {
      const adapter = cluster.ios[0].of("/").adapter;
      const invalid0 = adapter.stats.invalid;
      await pub.command("PUBLISH", "socket.io-request#/#", '{,"uid":"other","requestId":"req001","type":1}');
      await sleep(200);
      assert.equal(adapter.stats.invalid, invalid0 + 1);
      assert.deepEqual(answers, []);
      await pub.command("PUBLISH", "socket.io-request#/#", '{"uid":"other","requestId":"req002","type":1}');
      await waitFor(() => answers.length === 1, 2000, { what: "the answer to the well-formed request" });
      assert.match(answers[0], /"requestId":"req002"/);
    } finally {
      await listener.close();
      await pub.close();
    }
  });

  it("refuses negative and non-numeric durations with RangeError / TypeError", async function () {
    const url = `redis://127.0.0.1:${redis.port}`;
    // A TypeError or a RangeError: either says what is wrong; neither lets the value wrap in C.
    const refused = (err) => err instanceof TypeError || err instanceof RangeError;
    for (const [what, fn] of [
      ["connectTimeout", () => createClient({ host: "127.0.0.1", port: redis.port, connectTimeout: -1 })],
      ["healthTimeout", () => createClient({ host: "127.0.0.1", port: redis.port, healthTimeout: -5000 })],
      ["retryMax", () => createClient({ host: "127.0.0.1", port: redis.port, retryMax: "1000" })],
      ["maxOutputMB", () => createClient({ host: "127.0.0.1", port: redis.port, maxOutputMB: NaN })],
      ["requestsTimeout", () => createAdapter(url, { requestsTimeout: -1 })],
      ["requestsTimeout (sharded)", () => createShardedAdapter(url, { requestsTimeout: -1 })],
      ["requestsTimeout (emitter)", () => new Emitter(url, { requestsTimeout: -1 })],
    ]) {
      assert.throws(fn, refused, what);
    }
  });

  it("a broadcast with acks and a negative timeout ends at once instead of staying pending for ~49 days", async function () {
    cluster = await createServers({ count: 2, adapter: () => createAdapter(redis.url) });
    await waitForSubscribers(redis.port, 2);
    const io = cluster.ios[0];
    let called = false;
    io.timeout(-5).emit("nobody-listens", () => (called = true));
    await waitFor(() => called, 2000, { what: "socket.io's own ack timeout" });
    await waitFor(() => io.of("/").adapter.stats.pending === 0, 1000, { what: "the native ack request to end" });
  });

  it("refuses a NUL in a namespace name, key, channel prefix or host instead of cutting channel names short", async function () {
    const url = `redis://127.0.0.1:${redis.port}`;
    const io = new Server({ adapter: createAdapter(url) });
    const ios = new Server({ adapter: createShardedAdapter(url) });
    try {
      assert.throws(() => io.of("/a\0b"), (err) => err instanceof TypeError && /NUL/.test(err.message));
      assert.throws(() => ios.of("/a\0b"), (err) => err instanceof TypeError && /NUL/.test(err.message));
      assert.throws(() => createAdapter(url, { key: "socket.io\0x" }), TypeError);
      assert.throws(() => createShardedAdapter(url, { channelPrefix: "p\0x" }), TypeError);
      assert.throws(() => createClient({ host: "127.0.0.1\0evil", port: redis.port }), (err) => err instanceof TypeError && /NUL/.test(err.message));
    } finally {
      io.of("/").adapter.close();
      ios.of("/").adapter.close();
    }
  });
});
