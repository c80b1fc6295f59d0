"use strict";
// options.redis as primus-redis-rooms reads it (node_redis 2.x's createClient() options plus channel,
// sentinel, endpoints, masterName), our target forms, and what is refused, synchronously.
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const http = require("node:http");
const Primus = require("primus");
const plugin = require("../../lib/primus");
const { createClient } = require("../..");

const { readOptions } = plugin;

// (a Primus instance runs a heartbeat interval until it is destroyed)
function destroy(primus) {
  return new Promise((resolve) => primus.destroy({ timeout: 0 }, resolve));
}

describe("Primus plugin: options", function () {
  it("is found by primus.plugin() and by an old Primus's use() (server is itself)", function () {
    assert.equal(plugin.server, plugin);
    assert.equal(require("socket.io-hiredis-adapter/primus"), plugin);
  });

  it("reads primus-redis-rooms's options.redis", function () {
    let cfg = readOptions({ host: "10.0.0.1", port: 7000, password: "p", channel: "app" });
    assert.equal(cfg.channel, "app");
    assert.equal(cfg.target.host, "10.0.0.1");
    assert.equal(cfg.target.port, 7000);
    assert.equal(cfg.target.password, "p");
    cfg = readOptions({ url: "redis://:secret@h:6380/2", retry_strategy: () => 1, enable_offline_queue: false, prefix: "x", family: "IPv4" });
    assert.deepEqual([cfg.target.host, cfg.target.port, cfg.target.password, cfg.target.db, cfg.channel], ["h", 6380, "secret", 2, "primus"]);
    // node_redis 2.x: auth_pass || password
    assert.equal(readOptions({ url: "redis://:secret@h", password: "p", auth_pass: "wins" }).target.password, "wins");
    cfg = readOptions({ auth_pass: "old", db: "3" });
    assert.deepEqual([cfg.target.host, cfg.target.port, cfg.target.password, cfg.target.db], ["127.0.0.1", 6379, "old", 3]);
    assert.equal(readOptions({ channel: "" }).channel, "primus"); // upstream: channel || 'primus'
    assert.equal(readOptions(undefined).target.port, 6379);
    assert.equal(readOptions("redis://example:1234").target.host, "example");
    assert.deepEqual(readOptions({ cluster: [{ host: "a", port: 1 }] }).target.cluster, [{ host: "a", port: 1 }]);
    assert.equal(readOptions({ maxDepth: 5, maxMessageBytes: 1000 }).maxDepth, 5);
  });

  it("takes a createClient() client, alone or with a channel", async function () {
    const client = createClient({ host: "127.0.0.1", port: 1, retryMax: 50 });
    client.on("error", () => {});
    try {
      assert.equal(readOptions(client).client, client);
      const cfg = readOptions({ client, channel: "c" });
      assert.equal(cfg.client, client);
      assert.equal(cfg.channel, "c");
      assert.throws(() => readOptions({ client, host: "x" }), { code: "ERR_INVALID_REDIS_TARGET", message: /`host` does not go with `client`/ });
      assert.throws(() => readOptions({ client: {} }), { code: "ERR_INVALID_REDIS_TARGET" });
    } finally {
      await client.close();
    }
  });

  it("reads primus-redis-rooms's Sentinel form as a Sentinel target, and TLS", function () {
    const endpoints = [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2", port: 26380 }];
    let cfg = readOptions({ sentinel: true, endpoints, masterName: "m", auth_pass: "pw", db: 2, host: "ignored", port: 1 });
    assert.deepEqual(cfg.target.sentinel, { sentinels: endpoints, name: "m", role: "master" });
    assert.deepEqual([cfg.target.password, cfg.target.db, cfg.target.host, cfg.subTarget], ["pw", 2, undefined, undefined]);
    // redis-sentinel's default name; role "slave": the subscriber on a replica, the publisher on the master
    cfg = readOptions({ sentinel: true, endpoints, role: "slave" });
    assert.equal(cfg.target.sentinel.name, "mymaster");
    assert.equal(cfg.target.sentinel.role, "master");
    assert.equal(cfg.subTarget.sentinel.role, "replica");
    assert.throws(() => readOptions({ sentinel: true }), { code: "ERR_INVALID_REDIS_TARGET", message: /endpoints/ });
    assert.throws(() => readOptions({ sentinel: true, endpoints, url: "redis://h" }), { code: "ERR_INVALID_REDIS_TARGET" });
    assert.throws(() => readOptions({ sentinel: true, endpoints, role: "sentinel" }), { code: "ERR_INVALID_REDIS_TARGET" });
    assert.ok(readOptions({ host: "h", tls: { servername: "h" } }).target.tls);
    // in the Sentinel form `tls` is the data nodes' (node_redis's option), `sentinelTLS` the Sentinels'
    cfg = readOptions({ sentinel: true, endpoints, tls: { servername: "redis.example" } });
    assert.equal(cfg.target.tls.servername, "redis.example");
    assert.equal(cfg.target.sentinel.tls, undefined);
    assert.ok(readOptions({ sentinel: true, endpoints, sentinelTLS: true }).target.sentinel.tls);
    assert.ok(readOptions("rediss://h:6380").target.tls);
  });

  it("refuses, synchronously, what it cannot honour", async function () {
    assert.throws(() => readOptions({ family: "IPv6" }), { code: "ERR_INVALID_REDIS_TARGET" });
    assert.throws(() => readOptions({ sentinel: true, endpoints: [{ host: "h", port: 26379 }], tls: { pfx: Buffer.alloc(4) } }), { code: "ERR_INVALID_REDIS_TARGET", message: /`tls\.pfx`/ });
    assert.throws(() => readOptions({ hots: "typo" }), { code: "ERR_INVALID_REDIS_TARGET", message: /hots/ });
    assert.throws(() => readOptions({ channel: 5 }), TypeError);
    assert.throws(() => readOptions({ channel: "a\0b" }), TypeError);
    assert.throws(() => readOptions({ maxDepth: 0 }), RangeError);
    // at primus.plugin(), before anything is opened
    const primus = new Primus(http.createServer(), { transformer: "websockets", redis: { sentinel: true, endpoints: [] } });
    assert.throws(() => primus.plugin("redis", plugin), { code: "ERR_INVALID_REDIS_TARGET" });
    assert.equal(primus.rooms, undefined);
    await destroy(primus);
  });

  it("declares exactly the stats fields the runtime fills in (lib/primus.d.ts)", async function () {
    const dts = fs.readFileSync(path.join(__dirname, "..", "..", "lib", "primus.d.ts"), "utf8");
    const m = /interface PrimusRoomsStats \{\n([\s\S]*?)\n {2}\}/.exec(dts);
    const declared = [...m[1].matchAll(/^ {4}(\w+):/gm)].map((x) => x[1]).sort();
    const primus = new Primus(http.createServer(), { transformer: "websockets", redis: { port: 1, retryMax: 50 } });
    primus.plugin("redis", plugin);
    primus.rooms.on("error", () => {});
    try {
      assert.deepEqual(Object.keys(primus.rooms.stats).sort(), declared);
    } finally {
      await destroy(primus);
    }
    assert.equal(primus.rooms.client.isReady, false);
  });
});
