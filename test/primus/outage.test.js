"use strict";
// Redis killed (SIGKILL) and restarted on the same port: room writes across servers flow again within 2 s
// with no application code, the connection errors reach primus.rooms 'error' listeners, and a node with no
// listener at all keeps running (primus-redis-rooms's node_redis 2.8 throws the 'error' event and the
// process dies).
const assert = require("node:assert/strict");
const { startRedis, isRedisAvailable } = require("../helpers/redis");
const { waitFor } = require("../helpers/util");
const { Fleet } = require("./helpers");

describe("Primus plugin: Redis restarted", function () {
  let redis;
  let fleet;

  before(async function () {
    if (!(await isRedisAvailable())) this.skip();
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(function () {
    fleet = new Fleet(redis);
  });

  afterEach(async function () {
    await fleet.close();
  });

  it("writes flow again within 2 s of the restart", async function () {
    const n0 = await fleet.node();
    const n1 = await fleet.node();
    const silent = await fleet.node();
    silent.primus.rooms.removeAllListeners("error");
    await fleet.subscribed();
    const a = await fleet.connect(n1, "a");
    const s = await fleet.connect(silent, "s");
    a.spark.join("r");
    s.spark.join("r");
    const errors = [];
    n1.primus.rooms.on("error", (err) => errors.push(err));
    n0.primus.room("r").write("before");
    await waitFor(() => a.received.length === 1 && s.received.length === 1);

    const warnings = [];
    const warn = console.warn;
    console.warn = (...args) => warnings.push(args.join(" "));
    try {
      await redis.restart();
      const restarted = Date.now();
      let i = 0;
      const timer = setInterval(() => n0.primus.room("r").write(`after ${i++}`), 20);
      try {
        await waitFor(() => a.received.length > 1 && s.received.length > 1, 2000, { what: "a write after the restart" });
      } finally {
        clearInterval(timer);
      }
      const elapsed = Date.now() - restarted;
      assert.ok(elapsed < 2000, `${elapsed} ms`);
    } finally {
      console.warn = warn;
    }
    assert.match(a.received[1], /^after \d+$/);
    assert.ok(errors.length > 0);
    assert.ok(errors.every((e) => typeof e.code === "string" && (e.role === "command" || e.role === "subscriber")));
    // The node without a listener: one warning, no crash.
    assert.equal(warnings.filter((w) => w.includes("missing 'error' handler")).length, 1);
  });
});
