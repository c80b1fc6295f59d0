"use strict";

// A Sentinel that lies: a TCP server speaking RESP that answers SENTINEL questions, ROLE and +switch-master
// with what no real Sentinel sends (hosts too long or with spaces, impossible ports, wrong shapes, replies
// far over maxReplyMB, thousands of Sentinels, garbage events). The client must refuse each with a clear
// error, connect nowhere it was not told to, keep its connection when an event is garbage, and neither
// crash nor spin.

const assert = require("node:assert/strict");
const { startRedis, isRedisAvailable, redisCli } = require("../helpers/redis");
const { waitFor, once, sleep } = require("../helpers/util");
const { fake, bulk, arr, addr, instance } = require("../helpers/fake-sentinel");
const lib = require("../..");

describe("Sentinel: a Sentinel that sends impossible answers", function () {
  this.timeout(30000);
  const closers = [];
  let redis;
  let redis2;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    redis = await startRedis();
    redis2 = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
    if (redis2) await redis2.stop();
  });

  afterEach(async function () {
    for (const c of closers.splice(0).reverse()) await c();
  });

  function clientOf(sentinelPort, extra = {}, subExtra) {
    const t = { sentinels: [{ host: "127.0.0.1", port: sentinelPort }], name: "mymaster", retryMax: 200, maxReplyMB: 1, ...extra };
    const c = lib.createClient(t, subExtra ? { ...t, ...subExtra } : undefined);
    const errors = [];
    c.on("error", (e) => errors.push(e));
    closers.push(() => c.close());
    return { c, errors };
  }

  it("master addresses that are not addresses: ESENTINEL, nothing connected, then a good one is used", async function () {
    let big = null;
    const bad = [
      addr("h".repeat(300), 6379), // host over 255 bytes
      addr("127.0.0.1", 99999), // port out of range
      addr("127.0.0.1", "63x9"),
      addr("127.0.0.1", ""),
      addr("", 6379),
      addr("127.0.0.1 evil", 6379), // a space
      addr("127.0.0.1\r\n*1", 6379),
      arr(bulk("127.0.0.1"), bulk(String(redis.port)), bulk("extra")),
      arr(bulk("127.0.0.1")),
      arr(":1\r\n", ":2\r\n"),
      arr(arr(bulk("127.0.0.1"), bulk("1")), bulk("1")),
      ":42\r\n",
      "+OK\r\n",
      "-ERR something else\r\n",
    ];
    let i = 0;
    let good = false;
    const s = await fake((args) => {
      if (args[0] === "SENTINEL" && args[1] === "get-master-addr-by-name") {
        if (good) return addr("127.0.0.1", redis.port);
        if (big !== null) return big;
        return bad[i++ % bad.length];
      }
      return null;
    });
    closers.push(() => s.stop());
    const before = Number((await redisCli(redis.port, "INFO", "stats")).match(/total_connections_received:(\d+)/)[1]);
    const { c, errors } = clientOf(s.address().port);
    await waitFor(() => i >= bad.length + 2, 20000, { what: "every bad answer asked for" });
    // A reply far over maxReplyMB (1 MiB counting its parsed form): the Sentinel connection is dropped.
    big = `*300000\r\n${":1\r\n".repeat(300000)}`;
    await waitFor(() => errors.some((e) => /EMSGSIZE|maxReply/.test(e.message)), 10000, { what: "an oversized reply refused" });
    big = null;
    assert.equal(c.isReady, false);
    for (const e of errors) assert.equal(e.code, "ESENTINEL", e.message);
    assert.ok(errors.some((e) => /answered something that is not an address/.test(e.message)));
    assert.ok(errors.some((e) => /ERR something else/.test(e.message)));
    const after = Number((await redisCli(redis.port, "INFO", "stats")).match(/total_connections_received:(\d+)/)[1]);
    assert.equal(after - before, 1, "only our own INFO connection reached Redis (redis-cli)");
    good = true;
    await once(c, "ready", 5000);
    assert.equal(Number((await c.command(["CONFIG", "GET", "port"]))[1]), redis.port);
  });

  it("a node whose ROLE is not what Sentinel said is refused (EROLE) and asked about again", async function () {
    const roles = [arr(bulk("slave"), bulk("127.0.0.1"), ":1\r\n", bulk("connected"), ":0\r\n"), arr(bulk("sentinel"), "*0\r\n"), ":1\r\n", "*0\r\n"];
    let k = 0;
    const node = await fake((args) => (args[0].toUpperCase() === "ROLE" ? roles[k++ % roles.length] : null));
    closers.push(() => node.stop());
    const s = await fake((args) => (args[1] === "get-master-addr-by-name" ? addr("127.0.0.1", node.address().port) : null));
    closers.push(() => s.stop());
    const { c, errors } = clientOf(s.address().port);
    await waitFor(() => errors.filter((e) => e.code === "EROLE").length >= 6, 10000, { what: "EROLE errors" });
    assert.match(errors.find((e) => e.code === "EROLE").message, /answers ROLE "(slave|sentinel|)", not "master" as Sentinel said/);
    assert.ok(s.asked("get-master-addr-by-name") >= 6, "Sentinel is asked again after each refusal");
    assert.equal(c.isReady, false);
  });

  it("garbage +switch-master events change nothing; a real one moves the client", async function () {
    let master = redis.port;
    const s = await fake((args) => (args[1] === "get-master-addr-by-name" ? addr("127.0.0.1", master) : null));
    closers.push(() => s.stop());
    const { c, errors } = clientOf(s.address().port);
    await once(c, "ready", 5000);
    await waitFor(() => s.subscribers() >= 1, 5000, { what: "a watcher subscribed" });
    let disconnects = 0;
    c.on("disconnect", () => disconnects++);
    for (const text of [
      "",
      "mymaster",
      "mymaster 127.0.0.1",
      `mymaster 127.0.0.1 ${redis.port} 127.0.0.1`,
      `mymaster 127.0.0.1 ${redis.port} 127.0.0.1 ${redis2.port} extra`,
      `mymaster 127.0.0.1 ${redis.port} 127.0.0.1 0`,
      `mymaster 127.0.0.1 ${redis.port} 127.0.0.1 70000`,
      `mymaster 127.0.0.1 ${redis.port} ${"h".repeat(400)} ${redis2.port}`,
      `other-master 127.0.0.1 ${redis.port} 127.0.0.1 ${redis2.port}`,
      `mymasterx 127.0.0.1 ${redis.port} 127.0.0.1 ${redis2.port}`,
      "\u0000\u0001\u0002 x y z w",
      "x".repeat(100000),
    ]) {
      s.push(text);
    }
    await sleep(500);
    assert.equal(disconnects, 0, "no garbage event moved the client");
    assert.equal(c.isReady, true);
    master = redis2.port;
    s.push(`mymaster 127.0.0.1 ${redis.port} 127.0.0.1 ${redis2.port}`);
    await waitFor(async () => Number((await c.command(["CONFIG", "GET", "port"]).catch(() => [0, 0]))[1]) === redis2.port, 5000, {
      what: "both connections on the new master",
    });
    await waitFor(() => c.isReady, 5000, { what: "ready" });
    assert.deepEqual(errors.map((e) => e.code), []);
  });

  it("replica lists with broken entries fall back to the master; thousands of Sentinels are bounded", async function () {
    const s = await fake((args) => {
      if (args[0] !== "SENTINEL") return null;
      if (args[1] === "get-master-addr-by-name") return addr("127.0.0.1", redis.port);
      if (args[1] === "replicas") {
        return arr(
          instance({ ip: "127.0.0.1", port: String(redis2.port), flags: "slave,s_down", "master-link-status": "ok" }),
          instance({ ip: "127.0.0.1", port: String(redis2.port), flags: "slave", "master-link-status": "err" }),
          instance({ ip: "127.0.0.1", flags: "slave", "master-link-status": "ok" }),
          instance({ ip: "h".repeat(300), port: "1", flags: "slave", "master-link-status": "ok" }),
          instance({ ip: "127.0.0.1", port: "0", flags: "slave", "master-link-status": "ok" }),
        );
      }
      // 2,000 Sentinels on ports nothing listens on (far above the bound of 32)
      if (args[1] === "sentinels") return arr(...Array.from({ length: 2000 }, (_, j) => instance({ ip: "127.0.0.1", port: String(1 + j), flags: "sentinel" })));
      return null;
    });
    closers.push(() => s.stop());
    const { c, errors } = clientOf(s.address().port, {}, { role: "replica" });
    await once(c, "ready", 8000);
    // No entry is a healthy replica (s_down, link down, no port, bad host, port 0): the subscriber goes to
    // the master, never to redis2.
    const sub = c.stats().subscriber;
    assert.ok(sub.connects >= 1);
    const list = await redisCli(redis.port, "CLIENT", "LIST");
    assert.ok(list.split("\n").length >= 2, "both connections are on the master");
    assert.equal((await redisCli(redis2.port, "CLIENT", "LIST")).split("\n").length, 1, "nothing on the unhealthy replica");
    assert.deepEqual(errors.map((e) => e.code), []);
  });
});
