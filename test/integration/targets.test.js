"use strict";

// Every target form, read by one function (lib/target.js), for createAdapter, createShardedAdapter,
// createClient and the Emitter:
// - a setting we cannot honour (Sentinel, NAT maps, a TLS option the native handshake lacks, a path next to
//   a host, an unknown key, ...) is
//   refused synchronously, at the user's call, with a TypeError naming it, and nothing is sent: a raw TCP
//   listener standing where the target points receives no connection at all (so no password in clear);
// - every accepted form is read: CLIENT LIST on a real Redis shows the user, database and name it asked for.

const assert = require("node:assert/strict");
const net = require("node:net");
const { Server } = require("socket.io");
const nodeRedis4 = require("redis");
const nodeRedis5 = require("redis-v5");
const nodeRedis3 = require("redis-v3");
const IORedis = require("ioredis");
const { startRedis, isRedisAvailable } = require("../helpers/redis");
const { waitFor, sleep } = require("../helpers/util");
const lib = require("../..");

// A TCP listener that counts every connection and byte it receives.
async function listener() {
  const l = { connections: 0, bytes: Buffer.alloc(0), sockets: new Set() };
  l.server = net.createServer((s) => {
    l.connections++;
    l.sockets.add(s);
    s.on("data", (d) => (l.bytes = Buffer.concat([l.bytes, d])));
    s.on("error", () => {});
    s.on("close", () => l.sockets.delete(s));
  });
  await new Promise((resolve) => l.server.listen(0, "127.0.0.1", resolve));
  l.port = l.server.address().port;
  l.reset = () => {
    l.connections = 0;
    l.bytes = Buffer.alloc(0);
  };
  l.close = () => {
    for (const s of l.sockets) s.destroy();
    return new Promise((resolve) => l.server.close(resolve));
  };
  return l;
}

// The four entry points a target reaches. Each returns something to dispose of if it did not throw.
const ENTRY_POINTS = {
  createAdapter: (t) => lib.createAdapter(t),
  createShardedAdapter: (t) => lib.createShardedAdapter(t),
  createClient: (t) => lib.createClient(t),
  Emitter: (t) => new lib.Emitter(t),
};

const PW = "s3cret-in-clear";

// [name, (port, ctx) => target, /message names the setting/]
const REFUSED = [
  ["options: tls.ca that is no certificate", (p) => ({ host: "127.0.0.1", port: p, password: PW, tls: { ca: "x" } }), /`tls\.ca` holds no PEM certificate/],
  ["options: tls.checkServerIdentity", (p) => ({ host: "127.0.0.1", port: p, password: PW, tls: { checkServerIdentity: () => undefined } }), /`tls\.checkServerIdentity`/],
  ["options: tls.pfx", (p) => ({ host: "127.0.0.1", port: p, password: PW, tls: { pfx: Buffer.alloc(8) } }), /`tls\.pfx`/],
  ["options: tls.ciphers", (p) => ({ host: "127.0.0.1", port: p, password: PW, tls: { ciphers: "HIGH" } }), /`tls\.ciphers`/],
  ["options: unknown TLS key (typo)", (p) => ({ host: "127.0.0.1", port: p, password: PW, tls: { rejectUnauthorised: false } }), /unknown TLS setting `tls\.rejectUnauthorised`/],
  ["options: tls.rejectUnauthorized not a boolean", (p) => ({ host: "127.0.0.1", port: p, password: PW, tls: { rejectUnauthorized: "false" } }), /`tls\.rejectUnauthorized` must be a boolean/],
  ["options: tls.minVersion unknown", (p) => ({ host: "127.0.0.1", port: p, password: PW, tls: { minVersion: "SSLv3" } }), /`tls\.minVersion`/],
  ["options: tls next to a unix socket", () => ({ path: "/tmp/none.sock", password: PW, tls: true }), /TLS over a unix socket/],
  ["options: socket.ca without socket.tls (node-redis shape)", (p) => ({ socket: { host: "127.0.0.1", port: p, ca: "x" }, password: PW }), /`socket\.ca` is a TLS setting, but `socket\.tls` is not true/],
  ["options: tls and socket.tls both", (p) => ({ socket: { host: "127.0.0.1", port: p, tls: true }, tls: true, password: PW }), /both in `tls` and in `socket`/],
  ["options: tls: false next to rediss://", (p) => ({ url: `rediss://:${PW}@127.0.0.1:${p}`, tls: false }), /`tls: false` next to a rediss:\/\/ URL/],
  ["options: servername outside tls", (p) => ({ host: "127.0.0.1", port: p, password: PW, servername: "redis.example" }), /`servername`/],
  ["sentinel: tls with enableTLSForSentinelMode: false", (p) => ({ sentinels: [{ host: "127.0.0.1", port: p }], name: "mymaster", password: PW, tls: {}, enableTLSForSentinelMode: false }), /`tls` without `enableTLSForSentinelMode: true`/],
  ["sentinel: sentinelTLS.pfx", (p) => ({ sentinels: [{ host: "127.0.0.1", port: p }], name: "mymaster", password: PW, sentinelTLS: { pfx: Buffer.alloc(8) } }), /`sentinelTLS\.pfx`/],
  ["sentinel: host next to sentinels", (p) => ({ sentinels: [{ host: "127.0.0.1", port: p }], name: "mymaster", host: "127.0.0.1" }), /`host` does not go with `sentinels`/],
  ["sentinel: no master name", (p) => ({ sentinels: [{ host: "127.0.0.1", port: p }], password: PW }), /needs `name`/],
  ["sentinel: unknown key (typo)", (p) => ({ sentinels: [{ host: "127.0.0.1", port: p }], name: "mymaster", sentinelPasword: PW }), /unknown Redis Sentinel target setting `sentinelPasword`/],
  ["sentinel: role replica for the command side", (p) => ({ sentinels: [{ host: "127.0.0.1", port: p }], name: "mymaster", role: "replica" }), /subscriber connection only/],
  ["options: role replica without sentinels", (p) => ({ host: "127.0.0.1", port: p, role: "replica" }), /`role`.*needs Redis Sentinel/],
  ["options: sentinelPassword", (p) => ({ host: "127.0.0.1", port: p, sentinelPassword: PW }), /`sentinelPassword`/],
  ["options: path + host", (p) => ({ host: "127.0.0.1", port: p, path: "/tmp/none.sock", password: PW }), /unix socket path.*host/],
  ["options: socket.path + socket.host", (p) => ({ socket: { host: "127.0.0.1", port: p, path: "/tmp/none.sock" } }), /unix socket path.*host/],
  ["options: legacy socket string + port", (p) => ({ port: p, socket: "/tmp/none.sock", password: PW }), /unix socket path.*port/],
  ["options: url + path", (p) => ({ url: `redis://127.0.0.1:${p}`, path: "/tmp/none.sock" }), /unix socket path.*host/],
  ["options: natMap", (p) => ({ host: "127.0.0.1", port: p, natMap: { "10.0.0.1:6379": { host: "127.0.0.1", port: p } } }), /`natMap`/],
  ["options: family 6", (p) => ({ host: "127.0.0.1", port: p, family: 6 }), /`family`/],
  ["options: credentialsProvider", (p) => ({ host: "127.0.0.1", port: p, credentialsProvider: { type: "async-credentials-provider", credentials: async () => ({}) } }), /`credentialsProvider`/],
  ["options: unknown key (typo)", (p) => ({ hots: "10.0.0.1", port: p, password: PW }), /unknown Redis target setting `hots`/],
  ["options: v3's auth_pass", (p) => ({ host: "127.0.0.1", port: p, auth_pass: PW }), /`auth_pass`/],
  ["options: negative timeout", (p) => ({ host: "127.0.0.1", port: p, connectTimeout: -1 }), /`connectTimeout`/],
  ["options: adapter option in a target", (p) => ({ host: "127.0.0.1", port: p, channelPrefix: "x" }), /`channelPrefix` is an adapter option/],
  ["url: redis+sentinel:// without a master name", (p) => `redis+sentinel://127.0.0.1:${p}`, /names the master/],
  ["url: redis+sentinel://?tls=maybe", (p) => `redis+sentinel://:${PW}@127.0.0.1:${p}/mymaster?tls=maybe`, /parameter `tls` must be true or false/],
  ["url: redis+sentinel://?ssl=true", (p) => `redis+sentinel://:${PW}@127.0.0.1:${p}/mymaster?ssl=true`, /parameter `ssl`/],
  ["url: unknown protocol", (p) => `http://127.0.0.1:${p}`, /unsupported Redis URL scheme http:/],
  ["url: ?tls=true", (p) => `redis://:${PW}@127.0.0.1:${p}?tls=true`, /parameter `tls`/],
  ["url: unix:// with a host", () => "unix://localhost/tmp/none.sock", /takes a path, not a host/],
  ["string: not a URL nor host:port", (p) => `127.0.0.1:${p}/x y`, /invalid Redis target/],
  ["cluster: seeds that disagree on TLS", (p) => ({ cluster: [`rediss://127.0.0.1:${p}`, `redis://127.0.0.1:${p}`], password: PW }), /disagree on TLS/],
  ["cluster: tls.checkServerIdentity", (p) => ({ cluster: [{ host: "127.0.0.1", port: p }], password: PW, tls: { checkServerIdentity: () => undefined } }), /`tls\.checkServerIdentity`/],
  ["cluster: host next to cluster", (p) => ({ cluster: [{ host: "127.0.0.1", port: p }], host: "127.0.0.1" }), /`host` does not go with `cluster`/],
  ["rootNodes: a root node without the defaults' TLS", (p) => ({ rootNodes: [{ socket: { host: "127.0.0.1", port: p, tls: false } }], defaults: { socket: { tls: true }, password: PW } }), /rootNodes\[0\] and the other nodes disagree on TLS/],
  ["rootNodes: defaults.socket.checkServerIdentity", (p) => ({ rootNodes: [{ socket: { host: "127.0.0.1", port: p } }], defaults: { socket: { tls: true, checkServerIdentity: () => undefined }, password: PW } }), /`defaults\.socket\.checkServerIdentity`/],
  ["rootNodes: unreadable node", () => ({ rootNodes: [{ readonly: true }] }), /cannot read rootNodes\[0\]/],
  ["rootNodes: nodeAddressMap", (p) => ({ rootNodes: [{ url: `redis://127.0.0.1:${p}` }], nodeAddressMap: {} }), /`nodeAddressMap`/],
  ["node-redis v4 client: socket.checkServerIdentity", (p) => nodeRedis4.createClient({ socket: { host: "127.0.0.1", port: p, tls: true, checkServerIdentity: () => undefined }, password: PW }), /`socket\.checkServerIdentity`/],
  ["node-redis v4 client: rediss:// url with socket.pfx", (p) => nodeRedis4.createClient({ url: `rediss://:${PW}@127.0.0.1:${p}`, socket: { pfx: Buffer.alloc(8) } }), /`socket\.pfx`/],
  ["node-redis v4 cluster client, not connected", (p) => nodeRedis4.createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${p}` }] }), /connect the node-redis cluster client/],
  ["node-redis v5 client: socket.secureContext", (p) => nodeRedis5.createClient({ socket: { host: "127.0.0.1", port: p, tls: true, secureContext: {} }, password: PW }), /`socket\.secureContext`/],
  ["node-redis v5 createClientPool()", (p) => nodeRedis5.createClientPool({ socket: { host: "127.0.0.1", port: p }, password: PW }), /createClientPool\(\)/],
  ["node-redis v5 cluster client: defaults.socket.ciphers", (p) => nodeRedis5.createCluster({ rootNodes: [{ url: `rediss://127.0.0.1:${p}` }], defaults: { password: PW, socket: { ciphers: "HIGH" } } }), /`rootNodes\[0\]\.socket\.ciphers`|`defaults\.socket\.ciphers`/],
  ["node-redis v3 client: tls.checkServerIdentity", (p, ctx) => ctx.quiet(nodeRedis3.createClient({ host: "127.0.0.1", port: p, password: PW, tls: { checkServerIdentity: () => undefined } })), /`tls\.checkServerIdentity`/],
  ["ioredis client: tls.checkServerIdentity", (p, ctx) => ctx.io(new IORedis({ host: "127.0.0.1", port: p, password: PW, tls: { checkServerIdentity: () => undefined }, lazyConnect: true })), /`tls\.checkServerIdentity`/],
  ["node-redis v5 createSentinel() client (private options)", (p) => nodeRedis5.createSentinel({ name: "mymaster", sentinelRootNodes: [{ host: "127.0.0.1", port: p }] }), /createSentinel\(\) client keeps its options private/],
  ["node-redis createSentinel() options: nodeClientOptions.socket.checkServerIdentity", (p) => ({ name: "mymaster", sentinelRootNodes: [{ host: "127.0.0.1", port: p }], nodeClientOptions: { password: PW, socket: { tls: true, checkServerIdentity: () => undefined } } }), /`nodeClientOptions\.socket\.checkServerIdentity`/],
  ["ioredis client: sentinels + enableTLSForSentinelMode without tls", (p, ctx) => ctx.io(new IORedis({ sentinels: [{ host: "127.0.0.1", port: p }], name: "mymaster", password: PW, enableTLSForSentinelMode: true, lazyConnect: true })), /`enableTLSForSentinelMode: true` without `tls`/],
  ["ioredis client: sentinels + tls without enableTLSForSentinelMode (ioredis would talk plain text)", (p, ctx) => ctx.io(new IORedis({ sentinels: [{ host: "127.0.0.1", port: p }], name: "mymaster", password: PW, tls: {}, lazyConnect: true })), /`tls` without `enableTLSForSentinelMode: true`/],
  ["ioredis client: sentinels + role slave for the command side", (p, ctx) => ctx.io(new IORedis({ sentinels: [{ host: "127.0.0.1", port: p }], name: "mymaster", role: "slave", lazyConnect: true })), /subscriber connection only/],
  ["ioredis client: natMap", (p, ctx) => ctx.io(new IORedis({ host: "127.0.0.1", port: p, natMap: { a: { host: "127.0.0.1", port: p } }, lazyConnect: true })), /`natMap`/],
  ["ioredis Cluster: redisOptions.tls.pfx", (p, ctx) => ctx.io(new IORedis.Cluster([{ host: "127.0.0.1", port: p }], { redisOptions: { password: PW, tls: { pfx: Buffer.alloc(8) } }, lazyConnect: true })), /`redisOptions\.tls\.pfx`/],
  ["ioredis Cluster: a custom dnsLookup", (p, ctx) => ctx.io(new IORedis.Cluster([{ host: "127.0.0.1", port: p }], { dnsLookup: (a, cb) => cb(null, "10.0.0.1"), redisOptions: { password: PW }, lazyConnect: true })), /`dnsLookup`/],
  ["ioredis Cluster: natMap", (p, ctx) => ctx.io(new IORedis.Cluster([{ host: "127.0.0.1", port: p }], { natMap: { a: { host: "127.0.0.1", port: p } }, lazyConnect: true })), /`natMap`/],
  ["an instance of an unknown class", (p) => new (class RedisLike { constructor() { this.host = "127.0.0.1"; this.port = p; } })(), /an instance of RedisLike/],
];

describe("Redis targets: settings we cannot honour are refused before connecting", function () {
  this.timeout(20000);
  let l;
  let made; // library clients the cases created

  before(async function () {
    l = await listener();
  });

  after(async function () {
    if (l) await l.close();
  });

  beforeEach(function () {
    made = [];
  });

  afterEach(async function () {
    for (const c of made.splice(0)) {
      try {
        if (c instanceof IORedis || c instanceof IORedis.Cluster) c.disconnect();
        else if (typeof c.end === "function") c.end(false);
      } catch {
        // already closed
      }
    }
  });

  const ctx = {
    io: (c) => {
      c.on("error", () => {});
      made.push(c);
      return c;
    },
    // node-redis v3 connects in its constructor: end it, so only our connection attempts can count
    quiet: (c) => {
      c.on("error", () => {});
      c.end(false);
      made.push(c);
      return c;
    },
  };

  for (const [name, make, pattern] of REFUSED) {
    it(`refuses ${name}`, async function () {
      const targets = Object.keys(ENTRY_POINTS).map(() => make(l.port, ctx));
      await sleep(20); // let a library client's own (ended) socket go away before counting
      l.reset();
      for (const [i, [entry, call]] of Object.entries(ENTRY_POINTS).entries()) {
        const target = targets[i];
        let err = null;
        let made2 = null;
        try {
          made2 = call(target);
        } catch (e) {
          err = e;
        }
        if (made2 && typeof made2.close === "function") await made2.close();
        assert.ok(err, `${entry}(${name}) must throw synchronously`);
        assert.ok(err instanceof TypeError, `${entry}: ${err}`);
        assert.equal(err.code, "ERR_INVALID_REDIS_TARGET", `${entry}: ${err.message}`);
        assert.match(err.message, pattern, `${entry}: ${err.message}`);
        assert.ok(!err.message.includes(PW), `${entry}: the error message must not carry the password`);
      }
      await sleep(150);
      assert.equal(l.connections, 0, `${name}: a connection was opened`);
      assert.equal(l.bytes.length, 0);
    });
  }

  it("refuses a bad subscriber target too, and a subscriber target next to a createClient() client", async function () {
    const good = `redis://127.0.0.1:${l.port}`;
    for (const call of [lib.createAdapter, lib.createShardedAdapter]) {
      assert.throws(() => call(good, { host: "127.0.0.1", port: l.port, tls: { pfx: "x" } }), { code: "ERR_INVALID_REDIS_TARGET", message: /`tls\.pfx`/ });
      assert.throws(() => call(good, `redis+sentinel://127.0.0.1:${l.port}`), { code: "ERR_INVALID_REDIS_TARGET" });
    }
    const client = lib.createClient({ host: "127.0.0.1", port: l.port, retryBase: 1000 });
    try {
      assert.throws(() => lib.createAdapter(client, "redis://127.0.0.1:1"), { code: "ERR_INVALID_REDIS_TARGET", message: /subscriber/ });
    } finally {
      await client.close();
    }
  });

  it("refuses a second argument that mixes connection settings and adapter options", function () {
    assert.throws(() => lib.createAdapter(`redis://127.0.0.1:${l.port}`, { host: "127.0.0.1", key: "x" }), {
      code: "ERR_INVALID_REDIS_TARGET",
      message: /mixes a connection setting \(`host`\) with an adapter option \(`key`\)/,
    });
  });

  it("refuses the legacy single options object when it is ambiguous", function () {
    const pub = ctx.io(new IORedis({ port: l.port, lazyConnect: true }));
    assert.throws(() => lib.createAdapter({ host: "127.0.0.1", port: l.port, pubClient: pub }), { message: /`host` next to `pubClient`/ });
    assert.throws(() => lib.createAdapter({ key: "a", port: l.port }, undefined, { key: "b" }), { message: /`key` is given both/ });
  });
});

describe("Redis targets: every accepted form is read (CLIENT LIST shows user, db and name)", function () {
  this.timeout(60000);
  let redis;
  let made;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    redis = await startRedis({ unixSocket: true });
    await redis.cli("ACL", "SETUSER", "alice", "on", ">alicepw", "~*", "&*", "+@all");
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(function () {
    made = [];
  });

  afterEach(async function () {
    for (const c of made.splice(0)) {
      try {
        if (c instanceof IORedis) c.disconnect();
        else if (typeof c.end === "function") c.end(true);
        else if (c.isOpen) await c.disconnect();
      } catch {
        // already closed
      }
    }
  });

  // Connections other than redis-cli's own, as objects of CLIENT LIST fields.
  async function clients() {
    const out = await redis.cli("CLIENT", "LIST");
    return out
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => Object.fromEntries(line.trim().split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])))
      .filter((c) => c.cmd !== "client|list");
  }

  const keep = (c) => {
    if (typeof c.on === "function") c.on("error", () => {});
    made.push(c);
    return c;
  };

  // [name, () => target, { user, db, name, unix }]
  const ACCEPTED = () => [
    ["URL with user, password, db and ?name=", () => `redis://alice:alicepw@127.0.0.1:${redis.port}/3?name=f-url`, { user: "alice", db: 3, name: "f-url" }],
    ["URL with ?db= and ?clientName=", () => `redis://alice:alicepw@127.0.0.1:${redis.port}?db=2&clientName=f-url2`, { user: "alice", db: 2, name: "f-url2" }],
    ["options object", () => ({ host: "127.0.0.1", port: redis.port, username: "alice", password: "alicepw", db: 4, name: "f-opts" }), { user: "alice", db: 4, name: "f-opts" }],
    ["node-redis option shape { socket: { host, port } }", () => ({ socket: { host: "127.0.0.1", port: redis.port }, username: "alice", password: "alicepw", database: 5, name: "f-shape" }), { user: "alice", db: 5, name: "f-shape" }],
    ["{ url } with overrides", () => ({ url: `redis://127.0.0.1:${redis.port}/1`, username: "alice", password: "alicepw", db: 6, name: "f-url-over" }), { user: "alice", db: 6, name: "f-url-over" }],
    ["unix:// URL", () => `unix://${redis.socketPath}?db=7&name=f-unix`, { user: "default", db: 7, name: "f-unix", unix: true }],
    ["{ path }", () => ({ path: redis.socketPath, username: "alice", password: "alicepw", db: 8, name: "f-path" }), { user: "alice", db: 8, name: "f-path", unix: true }],
    ["{ socket: { path } }", () => ({ socket: { path: redis.socketPath }, db: 9, name: "f-sockpath" }), { user: "default", db: 9, name: "f-sockpath", unix: true }],
    ["legacy socket.io-redis \"host:port\"", () => `127.0.0.1:${redis.port}`, { user: "default", db: 0, name: "" }],
    ["legacy socket.io-redis { socket: path }", () => ({ socket: redis.socketPath, name: "f-legacy-sock" }), { user: "default", db: 0, name: "f-legacy-sock", unix: true }],
    ["node-redis v4 client", () => keep(nodeRedis4.createClient({ url: `redis://alice:alicepw@127.0.0.1:${redis.port}/10`, name: "f-nr4" })), { user: "alice", db: 10, name: "f-nr4" }],
    ["node-redis v5 client", () => keep(nodeRedis5.createClient({ socket: { host: "127.0.0.1", port: redis.port }, username: "alice", password: "alicepw", database: 11, name: "f-nr5" })), { user: "alice", db: 11, name: "f-nr5" }],
    ["ioredis client", () => keep(new IORedis({ host: "127.0.0.1", port: redis.port, username: "alice", password: "alicepw", db: 12, connectionName: "f-io", lazyConnect: true })), { user: "alice", db: 12, name: "f-io" }],
    ["ioredis client on a unix socket", () => keep(new IORedis({ path: redis.socketPath, db: 13, connectionName: "f-io-unix", lazyConnect: true })), { user: "default", db: 13, name: "f-io-unix", unix: true }],
  ];

  async function check(open, expect, what) {
    const handle = await open();
    try {
      // a command and a subscriber connection, both done with their handshake (SETNAME is last)
      let seen = [];
      await waitFor(async () => {
        seen = await clients();
        return seen.length === 2 && seen.every((c) => c.name === expect.name && c.db === String(expect.db));
      }, 5000, { what: `${what}: two connections, got ${JSON.stringify(seen.map((c) => [c.user, c.db, c.name]))}` }).catch((e) => {
        throw new Error(`${e.message}; CLIENT LIST: ${JSON.stringify(seen.map((c) => ({ user: c.user, db: c.db, name: c.name, addr: c.addr })))}`);
      });
      for (const c of seen) {
        assert.equal(c.user, expect.user, what);
        assert.equal(c.db, String(expect.db), what);
        assert.equal(c.name, expect.name, what);
        if (expect.unix) assert.match(c.addr, /^\/.*redis\.sock:0$/, `${what}: ${c.addr}`);
        else assert.match(c.addr, /^127\.0\.0\.1:\d+$/, `${what}: ${c.addr}`);
      }
    } finally {
      await handle.close();
      await waitFor(async () => (await clients()).length === 0, 5000, { what: `${what}: closed` });
    }
  }

  const OPENERS = {
    createAdapter: (t) => {
      const io = new Server(0);
      io.adapter(lib.createAdapter(t));
      return { close: () => io.close() };
    },
    createShardedAdapter: (t) => {
      const io = new Server(0);
      io.adapter(lib.createShardedAdapter(t));
      return { close: () => io.close() };
    },
    createClient: (t) => {
      const c = lib.createClient(t);
      c.on("error", () => {});
      return { close: () => c.close() };
    },
    Emitter: (t) => {
      const e = new lib.Emitter(t);
      return { close: () => e.close() };
    },
  };

  it("reads every accepted form, through every entry point", async function () {
    for (const [name, make, expect] of ACCEPTED()) {
      for (const [entry, open] of Object.entries(OPENERS)) {
        await check(() => open(make()), expect, `${entry}(${name})`);
      }
    }
  });

  it("reads a node-redis v3 client's host, port, user, password and db (upstream 8.3 still takes them)", async function () {
    // v3 connects by itself: let it, then quit, so that only our connections count below
    const ready = async (c) => {
      keep(c);
      await new Promise((resolve, reject) => {
        c.once("ready", resolve);
        c.once("error", reject);
      });
      await new Promise((resolve) => c.quit(resolve));
      await waitFor(async () => (await clients()).length === 0, 5000);
      return c;
    };
    const v3 = await ready(nodeRedis3.createClient({ host: "127.0.0.1", port: redis.port, user: "alice", password: "alicepw", db: 14 }));
    for (const [entry, open] of Object.entries(OPENERS)) {
      await check(() => open(v3), { user: "alice", db: 14, name: "" }, `${entry}(node-redis v3)`);
    }
    const fromUrl = await ready(nodeRedis3.createClient(`redis://alice:alicepw@127.0.0.1:${redis.port}/15`));
    await check(() => OPENERS.createAdapter(fromUrl), { user: "alice", db: 15, name: "" }, "createAdapter(node-redis v3 from a URL)");
    const unix = await ready(nodeRedis3.createClient({ path: redis.socketPath, db: 1 }));
    await check(() => OPENERS.createAdapter(unix), { user: "default", db: 1, name: "", unix: true }, "createAdapter(node-redis v3 on a unix socket)");
  });

  it("reads socket.io-redis's single options object: key, requestsTimeout, socket path, pubClient/subClient", async function () {
    const io = new Server(0);
    io.adapter(lib.createAdapter({ socket: redis.socketPath, key: "myapp", requestsTimeout: 1234 }));
    try {
      const adapter = io.of("/").adapter;
      assert.equal(adapter.channel, "myapp#/#");
      assert.equal(adapter.requestsTimeout, 1234);
      await waitFor(async () => (await redis.cli("PUBSUB", "NUMSUB", "myapp-request#/#")).endsWith("1"), 5000);
      for (const c of await clients()) assert.match(c.addr, /redis\.sock:0$/);
    } finally {
      await io.close();
    }

    const pub = keep(new IORedis({ host: "127.0.0.1", port: redis.port, username: "alice", password: "alicepw", db: 3, lazyConnect: true }));
    const sub = keep(new IORedis({ host: "127.0.0.1", port: redis.port, username: "alice", password: "alicepw", db: 3, lazyConnect: true }));
    const io2 = new Server(0);
    io2.adapter(lib.createAdapter({ pubClient: pub, subClient: sub, key: "legacy" }));
    try {
      const adapter = io2.of("/").adapter;
      assert.equal(adapter.channel, "legacy#/#");
      assert.equal(adapter.pubClient, pub);
      assert.equal(adapter.subClient, sub);
      await waitFor(async () => (await redis.cli("PUBSUB", "NUMSUB", "legacy-request#/#")).endsWith("1"), 5000);
      for (const c of await clients()) assert.equal(c.user, "alice");
    } finally {
      await io2.close();
    }
    assert.equal(pub.status, "wait", "the user's ioredis clients are never used");
    assert.equal(sub.status, "wait");
  });

  it("exposes the user's clients as read-only adapter.pubClient / adapter.subClient", async function () {
    const pub = keep(nodeRedis4.createClient({ url: redis.url }));
    const sub = pub.duplicate();
    keep(sub);
    for (const make of [lib.createAdapter, lib.createShardedAdapter]) {
      const io = new Server(0);
      io.adapter(make(pub, sub));
      try {
        const adapter = io.of("/").adapter;
        assert.equal(adapter.pubClient, pub);
        assert.equal(adapter.subClient, sub);
        assert.throws(() => {
          "use strict";
          adapter.pubClient = null;
        }, TypeError);
        assert.equal(adapter.pubClient, pub);
        assert.equal(pub.isOpen, false, "never connected by us");
      } finally {
        await io.close();
      }
    }
    // a URL target: our own RedisClient stands in for both
    const io = new Server(0);
    io.adapter(lib.createAdapter(redis.url));
    try {
      const adapter = io.of("/").adapter;
      assert.ok(adapter.pubClient instanceof lib.RedisClient);
      assert.equal(adapter.subClient, adapter.pubClient);
    } finally {
      await io.close();
    }
  });
});
