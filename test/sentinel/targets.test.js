"use strict";

// Every Sentinel target form is read into the same settings (lib/target.js), and anything unknown or that we
// cannot honour is refused with ERR_INVALID_REDIS_TARGET, at the call. No network: the resolved settings are
// compared (the suites next to this one connect through real Sentinels).

const assert = require("node:assert/strict");
const IORedis = require("ioredis");
const nodeRedis5 = require("redis-v5");
const { resolveTarget } = require("../../lib/target");
const lib = require("../..");

const plain = (x) => JSON.parse(JSON.stringify(x));
const S = [
  { host: "10.0.0.1", port: 26379 },
  { host: "10.0.0.2", port: 26380 },
];

function refused(target, pattern) {
  assert.throws(() => resolveTarget(target), (err) => {
    assert.ok(err instanceof TypeError, String(err));
    assert.equal(err.code, "ERR_INVALID_REDIS_TARGET");
    assert.match(err.message, pattern);
    return true;
  });
}

describe("Sentinel targets: every form is read", function () {
  const made = [];
  after(() => {
    for (const c of made) c.disconnect();
  });

  it("redis+sentinel:// URLs", function () {
    assert.deepEqual(plain(resolveTarget("redis+sentinel://alice:pw@10.0.0.1,10.0.0.2:26380/mymaster/3?role=replica&sentinelUsername=su&sentinelPassword=sp&name=cli")), {
      sentinel: { sentinels: S, name: "mymaster", role: "replica", username: "su", password: "sp" },
      username: "alice",
      password: "pw",
      db: 3,
      name: "cli",
    });
    assert.deepEqual(plain(resolveTarget("sentinel://[::1]:26379/m")), { sentinel: { sentinels: [{ host: "::1", port: 26379 }], name: "m", role: "master" } });
    // a lone user-info part is the password, as for redis://
    assert.equal(resolveTarget("redis+sentinel://secret@h/m").password, "secret");
    assert.equal(resolveTarget("redis+sentinel://h/m?role=slave").sentinel.role, "replica");
    assert.equal(resolveTarget("redis+sentinel://h/my%20master").sentinel.name, "my master");
  });

  it("options objects (ioredis's Sentinel options), with a URL or not", function () {
    assert.deepEqual(
      plain(
        resolveTarget({
          sentinels: [S[0], "10.0.0.2:26380"],
          name: "mymaster",
          role: "slave",
          sentinelPassword: "sp",
          username: "u",
          password: "p",
          database: 2,
          connectionName: "n",
          retryMax: 300,
          sentinelRetryStrategy: () => 10,
          failoverDetector: true,
          enableOfflineQueue: false,
        }),
      ),
      { sentinel: { sentinels: S, name: "mymaster", role: "replica", password: "sp" }, username: "u", password: "p", db: 2, name: "n", retryMax: 300 },
    );
    // url first, keys override it
    assert.deepEqual(plain(resolveTarget({ url: "redis+sentinel://:p@10.0.0.1/a/1", name: "b", role: "replica", db: 4 })), {
      sentinel: { sentinels: [S[0]], name: "b", role: "replica" },
      password: "p",
      db: 4,
    });
    // Sentinel host defaults
    assert.deepEqual(resolveTarget({ sentinels: [{ port: 5 }, {}], name: "m" }).sentinel.sentinels, [
      { host: "127.0.0.1", port: 5 },
      { host: "127.0.0.1", port: 26379 },
    ]);
  });

  it("ioredis clients created with sentinels", function () {
    const c = new IORedis({ sentinels: S, name: "mymaster", role: "slave", sentinelPassword: "sp", password: "p", db: 5, connectionName: "n", lazyConnect: true });
    made.push(c);
    assert.deepEqual(plain(resolveTarget(c)), {
      sentinel: { sentinels: S, name: "mymaster", role: "replica", password: "sp" },
      password: "p",
      db: 5,
      name: "n",
    });
    const m = new IORedis({ sentinels: S, name: "mymaster", lazyConnect: true });
    made.push(m);
    assert.deepEqual(plain(resolveTarget(m)), { sentinel: { sentinels: S, name: "mymaster", role: "master" } });
  });

  it("node-redis createSentinel() options, and objects that keep them public", function () {
    const o = {
      name: "mymaster",
      sentinelRootNodes: S,
      nodeClientOptions: { username: "u", password: "p", database: 1, name: "n", socket: { connectTimeout: 500 } },
      sentinelClientOptions: { password: "sp" },
      masterPoolSize: 2,
      replicaPoolSize: 1,
      scanInterval: 1000,
    };
    const want = { sentinel: { sentinels: S, name: "mymaster", role: "master", password: "sp" }, username: "u", password: "p", db: 1, name: "n", connectTimeout: 500 };
    assert.deepEqual(plain(resolveTarget(o)), want);
    // e.g. RedisSentinelFactory: its options are public
    assert.deepEqual(plain(resolveTarget({ __proto__: { getMasterNode() {} }, options: o })), want);
    assert.equal(resolveTarget({ ...o, role: "replica" }).sentinel.role, "replica");
  });

  it("TLS: to the data nodes and to the Sentinels, in every form", function () {
    const on = (t) => [!!t.tls, !!(t.sentinel && t.sentinel.tls)];
    // our / ioredis's options: `tls` the data nodes, `sentinelTLS` the Sentinels, each alone or together
    assert.deepEqual(on(resolveTarget({ sentinels: S, name: "m", tls: true })), [true, false]);
    assert.deepEqual(on(resolveTarget({ sentinels: S, name: "m", sentinelTLS: true })), [false, true]);
    const both = resolveTarget({ sentinels: S, name: "m", tls: { servername: "redis.example", rejectUnauthorized: false }, enableTLSForSentinelMode: true, sentinelTLS: { minVersion: "TLSv1.3" } });
    assert.equal(both.tls.servername, "redis.example");
    assert.equal(both.tls.rejectUnauthorized, false);
    assert.equal(both.sentinel.tls.rejectUnauthorized, true);
    assert.equal(both.sentinel.tls.minVersion, 0x304);
    // URLs: rediss+sentinel:// is TLS both ways; tls= and sentinelTLS= turn a side on or off
    assert.deepEqual(on(resolveTarget("rediss+sentinel://h/m")), [true, true]);
    assert.deepEqual(on(resolveTarget("rediss+sentinel://h/m?sentinelTLS=false")), [true, false]);
    assert.deepEqual(on(resolveTarget("redis+sentinel://h/m?tls=true")), [true, false]);
    assert.deepEqual(on(resolveTarget("redis+sentinel://h/m")), [false, false]);
    assert.deepEqual(on(resolveTarget({ url: "rediss+sentinel://h/m", tls: false })), [false, true]);
    assert.equal(resolveTarget({ url: "rediss+sentinel://h/m", tls: { servername: "x" } }).tls.servername, "x");
    // ioredis clients: `tls` counts only with enableTLSForSentinelMode, as ioredis itself reads it
    const io = new IORedis({ sentinels: S, name: "m", tls: { servername: "n" }, enableTLSForSentinelMode: true, sentinelTLS: {}, lazyConnect: true });
    made.push(io);
    assert.deepEqual(on(resolveTarget(io)), [true, true]);
    assert.equal(resolveTarget(io).tls.servername, "n");
    const ioS = new IORedis({ sentinels: S, name: "m", sentinelTLS: { rejectUnauthorized: false }, lazyConnect: true });
    made.push(ioS);
    assert.deepEqual(on(resolveTarget(ioS)), [false, true]);
    // node-redis createSentinel() options: socket.tls and its settings in socket, per side
    const nr = resolveTarget({ name: "m", sentinelRootNodes: S, nodeClientOptions: { socket: { tls: true, servername: "d" } }, sentinelClientOptions: { socket: { tls: true } } });
    assert.deepEqual(on(nr), [true, true]);
    assert.equal(nr.tls.servername, "d");
    assert.deepEqual(on(resolveTarget({ name: "m", sentinelRootNodes: S, sentinelClientOptions: { socket: { tls: true } } })), [false, true]);
  });

  it("role replica: for the subscriber side only", async function () {
    const sub = { sentinels: [{ host: "127.0.0.1", port: 1 }], name: "m", role: "replica", retryBase: 1000 };
    assert.throws(() => lib.createClient(sub), { code: "ERR_INVALID_REDIS_TARGET", message: /subscriber connection only/ });
    assert.throws(() => lib.createAdapter(sub), { code: "ERR_INVALID_REDIS_TARGET" });
    assert.throws(() => lib.createShardedAdapter(sub), { code: "ERR_INVALID_REDIS_TARGET" });
    assert.throws(() => new lib.Emitter(sub), { code: "ERR_INVALID_REDIS_TARGET" });
    const c = lib.createClient({ ...sub, role: "master" }, sub);
    c.on("error", () => {});
    await c.close();
  });
});

describe("Sentinel targets: what cannot be honoured is refused", function () {
  const made = [];
  after(() => {
    for (const c of made) c.disconnect();
  });

  it("unknown keys, in every form", function () {
    refused({ sentinels: S, name: "m", sentinelPasword: "x" }, /unknown Redis Sentinel target setting `sentinelPasword`/);
    refused({ name: "m", sentinelRootNodes: S, sentinelClientOption: {} }, /unknown node-redis Sentinel setting `sentinelClientOption`/);
    refused({ sentinels: [{ host: "h", prot: 1 }], name: "m" }, /unknown setting `sentinels\[0\]\.prot`/);
    refused("redis+sentinel://h/m?sentinelPasword=x", /unsupported redis\+sentinel:\/\/ URL parameter `sentinelPasword`/);
    refused({ sentinels: S, name: "m", key: "x" }, /`key` is an adapter option/);
  });

  it("what would send us elsewhere, or in clear", function () {
    refused({ sentinels: S, name: "m", host: "h" }, /`host` does not go with `sentinels`/);
    refused({ sentinels: S, name: "m", socket: "/tmp/s" }, /`socket` does not go with `sentinels`/);
    refused({ sentinels: S, name: "m", tls: {}, enableTLSForSentinelMode: false }, /`tls` without `enableTLSForSentinelMode: true`/);
    refused({ sentinels: S, name: "m", enableTLSForSentinelMode: true }, /`enableTLSForSentinelMode: true` without `tls`/);
    refused({ sentinels: S, name: "m", sentinelTLS: { checkServerIdentity: () => undefined } }, /`sentinelTLS\.checkServerIdentity`/);
    refused({ sentinels: S, name: "m", sentinelTLS: { rejectUnauthorised: false } }, /unknown TLS setting `sentinelTLS\.rejectUnauthorised`/);
    refused({ sentinels: [{ host: "h", port: 1, tls: {} }], name: "m" }, /`sentinels\[0\]\.tls`: TLS settings per Sentinel are not read/);
    refused("redis+sentinel://h/m?tls=maybe", /`tls` must be true or false/);
    refused({ sentinels: S, name: "m", natMap: {} }, /`natMap`/);
    refused({ sentinels: S, name: "m", url: "redis://h" }, /must be a redis\+sentinel:\/\/ URL/);
    refused({ name: "m", sentinelRootNodes: S, nodeAddressMap: {} }, /`nodeAddressMap`/);
    refused({ name: "m", sentinelRootNodes: S, nodeClientOptions: { socket: { ca: "x" } } }, /`nodeClientOptions\.socket\.ca` is a TLS setting, but `nodeClientOptions\.socket\.tls` is not true/);
    refused({ name: "m", sentinelRootNodes: S, sentinelClientOptions: { socket: { tls: true, pfx: Buffer.alloc(4) } } }, /`sentinelClientOptions\.socket\.pfx`/);
    refused({ name: "m", sentinelRootNodes: S, sentinelClientOptions: { url: "rediss://h" } }, /`sentinelClientOptions\.url`: the Sentinels say where the nodes are/);
    refused({ name: "m", sentinelRootNodes: S, nodeClientOptions: { socket: { host: "h" } } }, /the Sentinels say where the nodes are/);
    const io = new IORedis({ sentinels: S, name: "m", role: "slave", preferredSlaves: [{ ip: "h", port: "1" }], lazyConnect: true });
    made.push(io);
    refused(io, /`preferredSlaves`/);
    const v5 = nodeRedis5.createSentinel({ name: "m", sentinelRootNodes: S });
    refused(v5, /createSentinel\(\) client keeps its options private/);
  });

  it("malformed names, roles, Sentinel lists and URLs", function () {
    refused({ sentinels: S }, /needs `name`/);
    refused({ sentinels: S, name: "" }, /1 to 255 characters/);
    refused({ sentinels: S, name: "x".repeat(256) }, /1 to 255 characters/);
    refused({ sentinels: S, name: "a\0b" }, /NUL/);
    refused({ sentinels: S, name: "m", role: "primary" }, /"master" or "replica"/);
    refused({ sentinels: [], name: "m" }, /non-empty array/);
    refused({ sentinels: "h:1", name: "m" }, /non-empty array/);
    refused({ sentinels: Array.from({ length: 33 }, (_, i) => ({ host: "h", port: i + 1 })), name: "m" }, /at most 32 Sentinels/);
    refused({ sentinels: [{ host: "a b" }], name: "m" }, /host name or an IP address/);
    refused({ sentinels: [{ host: "h", port: 70000 }], name: "m" }, /port/);
    refused({ sentinels: ["h:x"], name: "m" }, /invalid Sentinel address/);
    refused("redis+sentinel://h", /names the master/);
    refused("redis+sentinel://h/m/1/2", /\/name or \/name\/db/);
    refused("redis+sentinel://h,,i/m", /host:port,host:port/);
    refused("redis+sentinel://h/m#x", /#fragment/);
    refused("redis+sentinel://h/m/x", /database/);
    refused({ host: "h", role: "replica" }, /needs Redis Sentinel/);
    refused({ host: "h", sentinelPassword: "x" }, /`sentinelPassword`: a Redis Sentinel setting/);
  });
});
