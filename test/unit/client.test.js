"use strict";
// The native connection layer against real redis-server processes (and, for hostile replies, a TCP
// peer of our own that speaks broken RESP).
const assert = require("node:assert/strict");
const net = require("node:net");
const { startRedis } = require("../helpers/redis");
const { waitFor, once, sleep } = require("../helpers/util");
const { createClient } = require("../..");

describe("createClient (native connections)", function () {
  let redis;
  const clients = [];
  const open = (...args) => {
    const c = createClient(...args);
    clients.push(c);
    return c;
  };

  before(async function () {
    redis = await startRedis({ unixSocket: true });
  });
  after(async function () {
    if (redis) await redis.stop();
  });
  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it("connects, emits ready and runs commands", async function () {
    const c = open(redis.url);
    await once(c, "ready");
    assert.equal(c.isReady, true);
    assert.equal(await c.command(["PING"]), "PONG");
    assert.equal(await c.command(["SET", "k1", Buffer.from([0, 1, 2, 255])]), "OK");
    assert.equal(await c.command(["STRLEN", "k1"]), 4);
    assert.equal(await c.command(["GET", "nope"]), null);
  });

  it("pipelines thousands of commands and answers them in order", async function () {
    const c = open(redis.url);
    await once(c, "ready");
    const replies = await Promise.all(Array.from({ length: 10000 }, (_, i) => c.command(["ECHO", `v${i}`])));
    replies.forEach((r, i) => assert.equal(r, `v${i}`));
  });

  it("reads replies split across many reads (a 5 MB value)", async function () {
    const c = open(redis.url);
    await once(c, "ready");
    const big = Buffer.alloc(5 * 1024 * 1024, 0x61);
    await c.command(["SET", "big", big]);
    const got = await c.command(["GET", "big"]);
    assert.equal(got.length, big.length);
    assert.equal(got, big.toString());
  });

  it("rejects an error reply with code EREPLY and Redis's message", async function () {
    const c = open(redis.url);
    await once(c, "ready");
    await assert.rejects(c.command(["INCR"]), (err) => err.code === "EREPLY" && /wrong number of arguments/.test(err.message));
  });

  it("accepts options objects, unix sockets, db and a client name", async function () {
    const c = open({ path: redis.socketPath, db: 3, name: "hra-test-name" });
    await once(c, "ready");
    await c.command(["SET", "in-db-3", "yes"]);
    assert.equal(await redis.cli("-n", "3", "GET", "in-db-3"), "yes");
    const list = await redis.cli("CLIENT", "LIST");
    assert.match(list, /name=hra-test-name/);
    const viaUrl = open(`unix://${redis.socketPath}`);
    await once(viaUrl, "ready");
    assert.equal(await viaUrl.command(["PING"]), "PONG");
  });

  it("selects the database from the URL path", async function () {
    const c = open(`${redis.url}/5`);
    await once(c, "ready");
    await c.command(["SET", "in-db-5", "1"]);
    assert.equal(await redis.cli("-n", "5", "GET", "in-db-5"), "1");
  });

  it("fails commands at once while disconnected instead of queueing them", async function () {
    const port = await freePort();
    const c = open(`redis://127.0.0.1:${port}`);
    c.on("error", () => {});
    const t0 = Date.now();
    await assert.rejects(c.command(["PING"]), (err) => err.code === "ENOTCONN");
    assert.ok(Date.now() - t0 < 100);
    assert.equal(c.publish("ch", Buffer.from("x")), false);
    assert.equal(c.stats().publishDropped, 1);
  });

  it("reports connection errors with a code and keeps retrying with backoff", async function () {
    const port = await freePort();
    const c = open(`redis://127.0.0.1:${port}`);
    const errors = [];
    const delays = [];
    c.on("error", (err) => errors.push(err));
    c.on("reconnecting", ({ delay }) => delays.push(delay));
    await waitFor(() => delays.length >= 8, 5000, { what: "8 reconnect attempts" });
    assert.ok(errors.some((e) => e.code === "ECONNREFUSED"), `codes: ${errors.map((e) => e.code)}`);
    assert.ok(delays.every((d) => d >= 0 && d <= 1000), `delays ${delays}`);
    assert.ok(Math.max(...delays.slice(4)) > Math.max(...delays.slice(0, 2)), `backoff grows: ${delays}`);
  });

  it("reconnects by itself after Redis restarts", async function () {
    const r2 = await startRedis();
    try {
      const c = open(r2.url);
      c.on("error", () => {});
      await once(c, "ready");
      await r2.restart();
      await waitFor(async () => {
        try {
          return (await c.command(["PING"])) === "PONG";
        } catch {
          return false;
        }
      }, 3000, { what: "PONG after restart" });
      assert.ok(c.stats().command.connects >= 2);
    } finally {
      await r2.stop();
    }
  });

  it("authenticates with an ACL user and never puts the password in errors", async function () {
    await redis.cli("ACL", "SETUSER", "alice", "on", ">s3cret-pw", "~*", "&*", "+@all");
    const ok = open(`redis://alice:s3cret-pw@127.0.0.1:${redis.port}`);
    await once(ok, "ready");
    assert.equal(await ok.command(["ACL", "WHOAMI"]), "alice");
    const bad = open({ host: "127.0.0.1", port: redis.port, username: "alice", password: "wrong-pw-XYZ" });
    const [err] = await once(bad, "error", 3000);
    assert.match(err.code, /WRONGPASS|NOAUTH|ERR/);
    assert.ok(!err.message.includes("wrong-pw-XYZ"));
    assert.ok(!err.message.includes("s3cret-pw"));
  });

  it("close() is idempotent, resolves once, and refuses later commands", async function () {
    const c = open(redis.url);
    await once(c, "ready");
    const ended = once(c, "end");
    const p1 = c.close();
    const p2 = c.close();
    assert.equal(p1, p2);
    await p1;
    await ended;
    await assert.rejects(c.command(["PING"]), (err) => err.code === "ECLOSED");
  });

  it("close() while connecting or waiting to retry completes", async function () {
    const port = await freePort();
    const c = open(`redis://127.0.0.1:${port}`);
    c.on("error", () => {});
    await c.close();
    const c2 = open({ host: "localhost", port: redis.port });
    await c2.close();
  });

  it("pending commands fail with ECLOSED when the client closes", async function () {
    const c = open(redis.url);
    await once(c, "ready");
    await c.command(["CLIENT", "PAUSE", "500", "ALL"]);
    const rejected = assert.rejects(c.command(["PING"]), (err) => err.code === "ECLOSED");
    await c.close();
    await rejected;
    await sleep(600);
  });

  it("survives a peer that speaks broken RESP: errors, reconnects, no crash", async function () {
    const payloads = [
      "*-5\r\n$-9\r\n+OK\r\n",
      "$99999999999999999999\r\n",
      ":notanumber\r\n",
      "%3\r\n",
      "*3\r\n*3\r\n*3\r\n*3\r\n*3\r\n*3\r\n*3\r\n*3\r\n*3\r\n*3\r\n*3\r\n",
      "*2147483647\r\n:1\r\n",
      "\x00\x01\x02garbage\r\n",
      "+OK\r\n+OK\r\n+OK\r\n+OK\r\n",
      // empty replies before any string byte reached the reply arena (fuzz_resp finding: NULL + 0)
      "+\r\n",
      "-\r\n",
      "$0\r\n\r\n*1\r\n$0\r\n\r\n",
    ];
    let conns = 0;
    const server = net.createServer((sock) => {
      const p = payloads[conns++ % payloads.length];
      sock.on("error", () => {});
      sock.once("data", () => sock.write(p));
      setTimeout(() => sock.destroy(), 300).unref();
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    try {
      const c = open({ host: "127.0.0.1", port: server.address().port, password: "x" });
      const codes = [];
      c.on("error", (err) => codes.push(err.code));
      await waitFor(() => conns >= payloads.length + 1, 10000, { what: "every payload served" });
      assert.ok(codes.includes("EPROTO"), `codes: ${codes}`);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("drops a connection whose reply exceeds maxReplyMB", async function () {
    const c = open({ host: "127.0.0.1", port: redis.port, maxReplyMB: 1 });
    const codes = [];
    c.on("error", (err) => codes.push(err.code));
    await once(c, "ready");
    await c.command(["SET", "big2", Buffer.alloc(3 * 1024 * 1024, 1)]);
    await assert.rejects(c.command(["GET", "big2"]), (err) => err.code === "ENOTCONN");
    assert.ok(codes.includes("EMSGSIZE"), `codes: ${codes}`);
  });
});

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
