"use strict";

// Every TLS target form, through every entry point (createAdapter, createShardedAdapter, createClient, the
// Emitter), reaches Redis over TLS as the user, database and name it asked for: CLIENT LIST (asked on the
// plain port) shows each connection at the TLS port (laddr), where only a TLS handshake gets through. And a
// bare rediss:// URL verifies against Node's default CAs, NODE_EXTRA_CA_CERTS included.

const assert = require("node:assert/strict");
const { execFile } = require("node:child_process");
const path = require("node:path");
const { Server } = require("socket.io");
const nodeRedis4 = require("redis");
const nodeRedis5 = require("redis-v5");
const nodeRedis3 = require("redis-v3");
const IORedis = require("ioredis");
const { startRedis, isRedisAvailable } = require("../helpers/redis");
const { waitFor } = require("../helpers/util");
const { certs } = require("../helpers/tls");
const lib = require("../..");

describe("TLS: every target form connects over TLS (CLIENT LIST shows user, db, name and the TLS port)", function () {
  this.timeout(60000);
  let redis;
  let made;
  let ca;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    ca = certs().ca;
    redis = await startRedis({ tls: {} });
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
        // closed
      }
    }
  });

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

  const FORMS = () => [
    ["{ url: rediss://, tls: { ca } }", () => ({ url: `rediss://alice:alicepw@localhost:${redis.tlsPort}/3?name=t-url`, tls: { ca } }), { db: 3, name: "t-url" }],
    ["options with tls", () => ({ host: "localhost", port: redis.tlsPort, username: "alice", password: "alicepw", db: 4, name: "t-opts", tls: { ca: [Buffer.from(ca)], minVersion: "TLSv1.3" } }), { db: 4, name: "t-opts" }],
    ["node-redis shape { socket: { tls: true, ca } }", () => ({ socket: { host: "localhost", port: redis.tlsPort, tls: true, ca }, username: "alice", password: "alicepw", database: 5, name: "t-shape" }), { db: 5, name: "t-shape" }],
    ["node-redis v4 client on a rediss:// url", () => keep(nodeRedis4.createClient({ url: `rediss://alice:alicepw@localhost:${redis.tlsPort}/6`, socket: { ca }, name: "t-nr4" })), { db: 6, name: "t-nr4" }],
    ["node-redis v5 client with socket.tls", () => keep(nodeRedis5.createClient({ socket: { host: "localhost", port: redis.tlsPort, tls: true, ca }, username: "alice", password: "alicepw", database: 7, name: "t-nr5" })), { db: 7, name: "t-nr5" }],
    ["ioredis client with tls", () => keep(new IORedis({ host: "localhost", port: redis.tlsPort, username: "alice", password: "alicepw", db: 8, connectionName: "t-io", tls: { ca, servername: "localhost" }, lazyConnect: true })), { db: 8, name: "t-io" }],
  ];

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

  async function check(open, expect, what) {
    const handle = await open();
    try {
      let seen = [];
      await waitFor(
        async () => {
          seen = await clients();
          // every field, not the name alone: a connection without one matches it before its AUTH is done
          return seen.length === 2 && seen.every((c) => c.name === expect.name && c.user === (expect.user || "alice") && c.db === String(expect.db));
        },
        5000,
        { what: `${what}: two connections, got ${JSON.stringify(seen.map((c) => [c.user, c.db, c.name, c.laddr]))}` },
      );
      for (const c of seen) {
        assert.equal(c.user, expect.user || "alice", what);
        assert.equal(c.db, String(expect.db), `${what}: ${JSON.stringify(seen)}`);
        assert.equal(c.laddr, `127.0.0.1:${redis.tlsPort}`, `${what}: connected to the TLS port`);
      }
    } finally {
      await handle.close();
      await waitFor(async () => (await clients()).length === 0, 5000, { what: `${what}: closed` });
    }
  }

  it("reads every TLS form, through every entry point", async function () {
    for (const [name, make, expect] of FORMS()) {
      for (const [entry, open] of Object.entries(OPENERS)) {
        await check(() => open(make()), expect, `${entry}(${name})`);
      }
    }
  });

  it("reads a node-redis v3 client's tls", async function () {
    // v3 connects in its constructor (and a TLS socket it ends mid-handshake lingers): let it connect, then
    // close it for good, so that only our connections count
    const v3 = keep(nodeRedis3.createClient({ host: "localhost", port: redis.tlsPort, user: "alice", password: "alicepw", db: 9, tls: { ca, servername: "localhost" }, retry_strategy: () => undefined }));
    await new Promise((resolve, reject) => {
      v3.once("ready", resolve);
      v3.once("error", reject);
    });
    v3.end(true);
    await waitFor(async () => (await clients()).length === 0, 5000);
    await check(() => OPENERS.createAdapter(v3), { db: 9, name: "" }, "createAdapter(node-redis v3 with tls)");
  });

  it("a bare rediss:// URL trusts Node's default CAs, NODE_EXTRA_CA_CERTS included", async function () {
    const script = `
      const lib = require(${JSON.stringify(path.join(__dirname, "..", ".."))});
      const c = lib.createClient(process.argv[1]);
      c.on("error", (e) => { console.log("error", e.code); c.close(); });
      c.on("ready", async () => { console.log(await c.command(["PING"])); await c.close(); });`;
    const run = (env) =>
      new Promise((resolve) => {
        execFile(process.execPath, ["-e", script, `rediss://alice:alicepw@localhost:${redis.tlsPort}`], { env: { ...process.env, ...env }, timeout: 15000 }, (err, stdout) => resolve(stdout.trim().split("\n")[0]));
      });
    assert.equal(await run({ NODE_EXTRA_CA_CERTS: certs().caFile }), "PONG");
    assert.match(await run({ NODE_EXTRA_CA_CERTS: "" }), /^error (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
  });
});
