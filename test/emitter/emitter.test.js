"use strict";
// The native Emitter: bytes identical to @socket.io/redis-emitter 5.1.0 (spec 7.2 E1-E5), every
// operation against our servers and against @socket.io/redis-adapter 8.3.0 servers, the ack
// extensions, and an emitter that starts while Redis is unreachable.
const assert = require("node:assert/strict");
const net = require("node:net");
const path = require("node:path");
const { execFile } = require("node:child_process");
const { createClient: createNodeRedis } = require("redis");
const { startRedis, RawRedis, waitForSubscribers, freePort } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { upstream, hiredis } = require("../helpers/adapters");
const { waitFor, once, sleep, never } = require("../helpers/util");
const { Emitter } = require("../..");

const hex = (s) => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("Emitter", function () {
  this.timeout(20000);
  let redis, monitor, seen, emitter;
  const impls = [hiredis(), upstream()];
  const cleanups = [];

  before(async function () {
    redis = await startRedis();
    monitor = await RawRedis.connect(redis.port);
    await monitor.command("PSUBSCRIBE", "*");
    seen = [];
    monitor.on("push", (v) => seen.push({ channel: v[2].toString(), payload: v[3] }));
  });

  after(async function () {
    if (monitor) await monitor.close();
    if (redis) await redis.stop();
  });

  afterEach(async function () {
    if (emitter) await emitter.close();
    emitter = null;
    for (const fn of cleanups.splice(0).reverse()) await fn();
    for (const impl of impls) await impl.cleanup();
  });

  // Two servers: 0 on our adapter, 1 on upstream's; one client each, in room1 (and 123 on server 1).
  async function fleet(adapterOpts = {}) {
    const cluster = await createServers({
      count: 2,
      adapter: (i) => impls[i].factory(redis.url, adapterOpts),
      namespaces: ["/admin"],
    });
    cleanups.push(() => cluster.closeAll());
    await waitForSubscribers(redis.port, 2);
    cluster.ios.forEach((io, i) =>
      io.on("connection", (socket) => {
        socket.join("room1");
        if (i === 1) socket.join(123);
      }),
    );
    const clients = [await cluster.connect(0), await cluster.connect(1)];
    const admins = [await cluster.connect(0, { nsp: "/admin" }), await cluster.connect(1, { nsp: "/admin" })];
    return { cluster, clients, admins };
  }

  async function published(fn, channel) {
    seen = [];
    fn();
    await waitFor(() => seen.find((m) => m.channel === channel), 3000, { what: `a publish on ${channel}` });
    return seen.find((m) => m.channel === channel).payload;
  }

  describe("wire bytes (spec 7.2)", function () {
    beforeEach(() => (emitter = new Emitter(redis.url)));

    it("E1 broadcast to a room", async function () {
      const p = await published(() => emitter.to("room1").emit("fromEmitter", 1), "socket.io#/#room1#");
      assert.equal(p.toString("hex"), hex("93 a7 65 6d 69 74 74 65 72 83 a4 74 79 70 65 02 a4 64 61 74 61 92 ab 66 72 6f 6d 45 6d 69 74 74 65 72 01 a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 91 a5 72 6f 6f 6d 31 a5 66 6c 61 67 73 80 a6 65 78 63 65 70 74 90").toString("hex"));
    });

    it("E2 broadcast with except + volatile + binary", async function () {
      const p = await published(() => emitter.except("room3").volatile.emit("e2", Buffer.from([1, 2])), "socket.io#/#");
      assert.equal(p.toString("hex"), hex("93 a7 65 6d 69 74 74 65 72 83 a4 74 79 70 65 02 a4 64 61 74 61 92 a2 65 32 c4 02 01 02 a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 90 a5 66 6c 61 67 73 81 a8 76 6f 6c 61 74 69 6c 65 c3 a6 65 78 63 65 70 74 91 a5 72 6f 6f 6d 33").toString("hex"));
    });

    it("E4 serverSideEmit", async function () {
      const p = await published(() => emitter.serverSideEmit("hello", "from-emitter"), "socket.io-request#/#");
      assert.equal(p.toString(), '{"uid":"emitter","type":6,"data":["hello","from-emitter"]}');
    });

    it("E5 socketsJoin / socketsLeave / disconnectSockets", async function () {
      let p = await published(() => emitter.in("room1").socketsJoin("room7"), "socket.io-request#/#");
      assert.equal(p.toString(), '{"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room7"]}');
      p = await published(() => emitter.socketsLeave("room7"), "socket.io-request#/#");
      assert.equal(p.toString(), '{"type":3,"opts":{"rooms":[],"except":[]},"rooms":["room7"]}');
      p = await published(() => emitter.in("nobody").disconnectSockets(), "socket.io-request#/#");
      assert.equal(p.toString(), '{"type":4,"opts":{"rooms":["nobody"],"except":[]},"close":false}');
    });

    it("operators are immutable, reserved names throw, of() adds the slash", async function () {
      const a = emitter.to("x");
      const b = a.to("y");
      assert.deepEqual([...a.rooms], ["x"]);
      assert.deepEqual([...b.rooms], ["x", "y"]);
      assert.deepEqual(emitter.volatile.flags, { volatile: true });
      assert.deepEqual(emitter.compress(false).volatile.flags, { compress: false, volatile: true });
      for (const ev of ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]) {
        assert.throws(() => emitter.emit(ev), { message: `"${ev}" is a reserved event name` });
      }
      assert.equal(emitter.of("admin").nsp, "/admin");
      assert.equal(emitter.of("/admin").nsp, "/admin");
      const p = await published(() => emitter.of("admin").emit("adm"), "socket.io#/admin#");
      assert.equal(notepack().decode(p)[1].nsp, "/admin");
    });
  });

  describe("against our servers and upstream's", function () {
    it("emit reaches clients on both, honouring rooms, except, numeric rooms and namespaces", async function () {
      const { clients, admins } = await fleet();
      emitter = new Emitter(redis.url);
      const all = clients.map((c) => once(c, "all", 3000));
      emitter.emit("all", 1, { a: [true] });
      for (const got of await Promise.all(all)) assert.deepEqual(got, [1, { a: [true] }]);
      const num = once(clients[1], "num", 3000);
      emitter.to(123).emit("num", Buffer.from([7]));
      assert.deepEqual(await num, [Buffer.from([7])]);
      const adm = admins.map((c) => once(c, "adm", 3000));
      emitter.of("/admin").emit("adm", "x");
      for (const got of await Promise.all(adm)) assert.deepEqual(got, ["x"]);
      // except room1: nobody in "/" gets it
      let got = 0;
      clients.forEach((c) => c.on("none", () => got++));
      emitter.except("room1").emit("none");
      const barrier = clients.map((c) => once(c, "barrier", 3000));
      emitter.emit("barrier");
      await Promise.all(barrier);
      assert.equal(got, 0);
    });

    it("socketsJoin, socketsLeave and disconnectSockets act on both", async function () {
      const { cluster, clients } = await fleet();
      emitter = new Emitter(redis.url);
      const sockets = () => clients.map((c, i) => cluster.ios[i].of("/").sockets.get(c.id));
      emitter.in("room1").socketsJoin(["joined"]);
      await waitFor(() => sockets().every((s) => s && s.rooms.has("joined")), 3000, { what: "joins" });
      emitter.socketsLeave("joined");
      await waitFor(() => sockets().every((s) => s && !s.rooms.has("joined")), 3000, { what: "leaves" });
      const gone = clients.map((c) => once(c, "disconnect", 3000));
      emitter.in("room1").disconnectSockets(true);
      await Promise.all(gone);
    });

    it("serverSideEmit reaches both; serverSideEmitWithAck gets both answers", async function () {
      const { cluster } = await fleet();
      emitter = new Emitter(redis.url);
      const got = cluster.ios.map((io) => once(io, "hello", 3000));
      emitter.serverSideEmit("hello", 42);
      for (const args of await Promise.all(got)) assert.deepEqual(args, [42]);
      cluster.ios.forEach((io, i) => io.on("question", (n, cb) => cb(n + i)));
      const answers = await emitter.serverSideEmitWithAck("question", 10);
      assert.deepEqual(answers.sort(), [10, 11]);
      const viaCallback = await new Promise((resolve) => emitter.serverSideEmit("question", 1, (err, res) => resolve({ err, res })));
      assert.equal(viaCallback.err, null);
      assert.deepEqual(viaCallback.res.sort(), [1, 2]);
    });

    for (const specific of [false, true]) {
      it(`emitWithAck collects every client's ack (publishOnSpecificResponseChannel: ${specific})`, async function () {
        const { clients } = await fleet({ publishOnSpecificResponseChannel: specific });
        clients.forEach((c, i) => c.on("ping", (n, cb) => cb(`pong${i}`, n)));
        emitter = new Emitter(redis.url);
        const responses = await emitter.timeout(2000).emitWithAck("ping", 7);
        assert.deepEqual(responses.sort(), ["pong0", "pong1"]);
        const binary = await emitter.to(123).timeout(2000).emitWithAck("ping", Buffer.from([1]));
        assert.deepEqual(binary, ["pong1"]);
        const viaCallback = await new Promise((resolve) => emitter.timeout(2000).emit("ping", 1, (err, res) => resolve({ err, res })));
        assert.equal(viaCallback.err, null);
        assert.equal(viaCallback.res.length, 2);
      });
    }

    it("a server that never answers: the call times out with what it got", async function () {
      const { cluster, clients } = await fleet();
      clients.forEach((c, i) => c.on("ping", (...args) => args.pop()(`pong${i}`)));
      cluster.ios.forEach((io, i) => io.on("question", (cb) => cb(i)));
      const silent = await RawRedis.connect(redis.port);
      cleanups.push(() => silent.close());
      await silent.command("SUBSCRIBE", "socket.io-request#/#");
      emitter = new Emitter(redis.url, { requestsTimeout: 400 });
      const t0 = Date.now();
      await assert.rejects(emitter.timeout(400).emitWithAck("ping"), (err) => {
        assert.equal(err.message, "operation has timed out");
        assert.deepEqual(err.responses.sort(), ["pong0", "pong1"]);
        return true;
      });
      await assert.rejects(emitter.serverSideEmitWithAck("question"), (err) => {
        assert.equal(err.message, "timeout reached: only 2 responses received out of 3");
        assert.deepEqual(err.responses.sort(), [0, 1]);
        return true;
      });
      assert.ok(Date.now() - t0 < 3000);
    });

    it("is a drop-in for new Emitter(nodeRedisClient)", async function () {
      const { clients } = await fleet();
      const js = createNodeRedis({ url: redis.url });
      await js.connect();
      cleanups.push(() => js.quit());
      emitter = new Emitter(js);
      const got = once(clients[0], "dropin", 3000);
      emitter.emit("dropin", "ok");
      assert.deepEqual(await got, ["ok"]);
    });
  });

  it("an emitter process started while Redis is unreachable sends once it is reachable, then exits", async function () {
    const { cluster, clients } = await fleet();
    // A proxy port that refuses connections until we open it: Redis is "down" for the emitter.
    const port = await freePort();
    const script = path.join(__dirname, "scripts", "emit-when-reachable.js");
    const child = new Promise((resolve) =>
      execFile(process.execPath, [script, `redis://127.0.0.1:${port}`], { timeout: 15000 }, (err, stdout, stderr) => resolve({ err, stdout, stderr })),
    );
    const got = once(clients[0], "late", 10000);
    await sleep(700);
    const proxy = net.createServer((down) => {
      const up = net.connect(redis.port, "127.0.0.1");
      down.pipe(up).pipe(down);
      down.on("error", () => up.destroy());
      up.on("error", () => down.destroy());
    });
    await new Promise((r) => proxy.listen(port, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => proxy.close(r)));
    assert.deepEqual(await got, ["queued"]);
    const server = cluster.ios[0].of("/").sockets.get(clients[0].id);
    await waitFor(() => server.rooms.has("late-room"), 3000, { what: "the queued socketsJoin" });
    const r = await child;
    assert.equal(r.err, null, r.stderr);
    assert.match(r.stdout, /^queued$/m);
  });

  describe("Redis unreachable: the script reports it and ends", function () {
    const run = (args) =>
      new Promise((resolve) =>
        execFile(process.execPath, [path.join(__dirname, "scripts", "unreachable.js"), ...args], { timeout: 15000 }, (err, stdout, stderr) =>
          resolve({ err, stdout, stderr }),
        ),
      );

    it("an awaited serverSideEmitWithAck rejects (unhandled: Node prints it, exit code 1) after the default 5 s", async function () {
      const port = await freePort();
      const r = await run([`redis://127.0.0.1:${port}`, "await", ""]);
      assert.equal(r.err && r.err.killed, false, "the script was killed by the timeout: it hung");
      assert.equal(r.err.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /ECONNREFUSED/);
      assert.match(r.stderr, /could not reach Redis within 5000 ms/);
      const ms = Number(/exit 1 after (\d+) ms, dropped (\d+)/.exec(r.stdout)[1]);
      assert.ok(ms >= 4900 && ms < 9000, `exited after ${ms} ms`);
      assert.match(r.stdout, /dropped 2$/m, "the emit and the socketsJoin are counted as dropped");
      // the client's one warning, once
      assert.equal(r.stderr.match(/missing 'error' handler/g).length, 1, r.stderr);
    });

    it("with an 'error' listener: error events, rejections and ack callbacks, no warning, exit 0", async function () {
      const port = await freePort();
      const r = await run([`redis://127.0.0.1:${port}`, "listen", "600"]);
      assert.equal(r.err, null, r.stdout + r.stderr);
      assert.match(r.stdout, /^error event ECONNREFUSED$/m);
      assert.match(r.stdout, /^rejected ECONNREFUSED: could not reach Redis within 600 ms/m);
      assert.match(r.stdout, /^ack callback ECONNREFUSED$/m);
      assert.match(r.stdout, /^exit 0 after \d+ ms, dropped 2$/m);
      assert.doesNotMatch(r.stderr, /missing 'error' handler/);
    });

    it("without a listener: one warning on stderr, the rejection, exit 0", async function () {
      const port = await freePort();
      const r = await run([`redis://127.0.0.1:${port}`, "nothing", "600"]);
      assert.equal(r.err, null, r.stdout + r.stderr);
      assert.equal(r.stderr.match(/missing 'error' handler on this Redis client \(ECONNREFUSED/g).length, 1, r.stderr);
      assert.match(r.stdout, /^rejected ECONNREFUSED/m);
      assert.doesNotMatch(r.stdout, /resolved/);
    });

    it("close() rejects what is still queued with ECLOSED", async function () {
      const port = await freePort();
      emitter = new Emitter(`redis://127.0.0.1:${port}`);
      emitter.client.on("error", () => {});
      const rejected = assert.rejects(emitter.serverSideEmitWithAck("q"), { code: "ECLOSED" });
      emitter.emit("x");
      await emitter.close();
      await rejected;
      assert.equal(emitter.dropped, 1);
    });

    it("a full queue fails at once with ENOBUFS", async function () {
      const port = await freePort();
      emitter = new Emitter(`redis://127.0.0.1:${port}`, { maxQueue: 1 });
      emitter.client.on("error", () => {});
      emitter.emit("x");
      await assert.rejects(emitter.serverSideEmitWithAck("q"), { code: "ENOBUFS" });
      emitter.emit("y");
      assert.equal(emitter.dropped, 1);
    });
  });

  it("is a drop-in for new Emitter(ioredisClient)", async function () {
    const { clients } = await fleet();
    const Redis = require("ioredis");
    const js = new Redis(redis.port, "127.0.0.1");
    cleanups.push(() => js.quit());
    emitter = new Emitter(js);
    const got = once(clients[1], "io", 3000);
    emitter.to(123).emit("io", "redis");
    assert.deepEqual(await got, ["redis"]);
  });

  it("a script that emits and returns exits by itself", async function () {
    const script = path.join(__dirname, "scripts", "emit-and-exit.js");
    const r = await new Promise((resolve) =>
      execFile(process.execPath, [script, redis.url], { timeout: 10000 }, (err, stdout, stderr) => resolve({ err, stdout, stderr })),
    );
    assert.equal(r.err, null, r.stderr);
    assert.match(r.stdout, /^sent$/m);
  });
});

function notepack() {
  return require("notepack.io");
}
