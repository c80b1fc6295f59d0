"use strict";

// Key slots (CRC16/XMODEM with hash tags) against the specification's vectors and against a real
// cluster-enabled redis-server's CLUSTER KEYSLOT; cluster target parsing (seed lists, URLs, the
// node-redis and ioredis cluster clients' settings).

const assert = require("node:assert/strict");
const { randomBytes } = require("node:crypto");
const { clusterKeySlot } = require("../..");
const { resolveTarget } = require("../../lib/target");
const { startRedis, isRedisAvailable, RawRedis } = require("../helpers/redis");
const { keySlot } = require("../helpers/rediscluster");

describe("Redis Cluster key slots", function () {
  it("matches the specification's vectors", function () {
    assert.equal(clusterKeySlot("123456789"), 0x31c3 % 16384); // CRC16 of "123456789" is 0x31C3
    assert.equal(clusterKeySlot("123456789"), 12739);
    assert.equal(clusterKeySlot("{user1000}.following"), clusterKeySlot("{user1000}.followers"));
    assert.equal(clusterKeySlot("{user1000}.following"), clusterKeySlot("user1000"));
    // the first { has no } with content before the next }: the whole key is hashed
    assert.equal(clusterKeySlot("foo{}{bar}"), keySlot("foo{}{bar}"));
    assert.notEqual(clusterKeySlot("foo{}{bar}"), clusterKeySlot("bar"));
    // only the first {...} counts
    assert.equal(clusterKeySlot("foo{{bar}}zap"), clusterKeySlot("{bar"));
    assert.equal(clusterKeySlot("foo{bar}{zap}"), clusterKeySlot("bar"));
    assert.equal(clusterKeySlot(""), 0);
    assert.equal(clusterKeySlot(Buffer.from("123456789")), 12739);
  });

  describe("against CLUSTER KEYSLOT", function () {
    let redis;
    let raw;
    before(async function () {
      if (!(await isRedisAvailable())) return this.skip();
      redis = await startRedis({ args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"] });
      raw = await RawRedis.connect(redis.port);
    });
    after(async function () {
      if (raw) await raw.close();
      if (redis) await redis.stop();
    });

    it("agrees on 2,000 keys with and without hash tags, text and binary", async function () {
      const keys = [];
      for (let i = 0; i < 500; i++) keys.push(`socket.io#/ns${i}#room${i}#`);
      for (let i = 0; i < 500; i++) keys.push(`{tag${i % 37}}rest${i}`, `a{}b{c${i}}`, `x{${i}`);
      for (let i = 0; i < 500; i++) keys.push(randomBytes(1 + (i % 40)));
      for (const key of keys) {
        const want = await raw.command("CLUSTER", "KEYSLOT", key);
        assert.equal(clusterKeySlot(key), want, `slot of ${JSON.stringify(String(key))}`);
        assert.equal(keySlot(key), want); // the test helper's own implementation, too
      }
    });
  });
});

describe("Redis Cluster targets", function () {
  it("reads seed lists of objects, URLs and ports, with shared credentials", function () {
    assert.deepEqual(resolveTarget({ cluster: [{ host: "10.0.0.1", port: 7000 }, "redis://10.0.0.2:7001", 7002], password: "pw" }), {
      cluster: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
        { host: "127.0.0.1", port: 7002 },
      ],
      password: "pw",
    });
    // credentials of a seed URL apply to every node when the options have none
    const t = resolveTarget({ cluster: ["redis://alice:secret@h1:7000", "redis://h2:7001"] });
    assert.equal(t.username, "alice");
    assert.equal(t.password, "secret");
    assert.throws(() => resolveTarget({ cluster: [] }), { code: "ERR_INVALID_REDIS_TARGET" });
    assert.throws(() => resolveTarget({ cluster: ["unix:///tmp/x.sock"] }), { code: "ERR_INVALID_REDIS_TARGET" });
    assert.throws(() => resolveTarget({ cluster: [{ host: "h", port: 70000 }] }), { code: "ERR_INVALID_REDIS_TARGET" });
  });

  it("reads an ioredis Cluster's startup nodes and redisOptions without connecting", async function () {
    const Redis = require("ioredis");
    const c = new Redis.Cluster([{ host: "127.0.0.1", port: 7100 }, "redis://127.0.0.1:7101", 7102], {
      lazyConnect: true,
      redisOptions: { username: "u", password: "p" },
    });
    try {
      assert.deepEqual(resolveTarget(c), {
        cluster: [
          { host: "127.0.0.1", port: 7100 },
          { host: "127.0.0.1", port: 7101 },
          { host: "127.0.0.1", port: 7102 },
        ],
        username: "u",
        password: "p",
      });
    } finally {
      c.disconnect();
    }
  });

  it("asks for a connected node-redis cluster client (its options are private before)", function () {
    const { createCluster } = require("redis");
    const c = createCluster({ rootNodes: [{ url: "redis://127.0.0.1:7100" }] });
    assert.throws(() => resolveTarget(c), /connect the node-redis cluster client/);
  });
});
