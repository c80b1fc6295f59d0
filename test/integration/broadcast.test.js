"use strict";

// Broadcasts across three socket.io servers sharing one Redis. Runs against this package
// (default) or @socket.io/redis-adapter 8.3.0 with ADAPTER=upstream.

const assert = require("node:assert/strict");
const { startRedis, isRedisAvailable } = require("../helpers/redis");
const { implementation } = require("../helpers/adapters");
const { startCluster, barrier } = require("../helpers/cluster");
const { record } = require("../helpers/util");

const impl = implementation();

describe(`broadcast across 3 servers [${impl.name}]`, function () {
  this.timeout(10000);
  let redis;
  let fx; // fixture: { ios, clients: { "/": [[a0, a1], [b0, b1], [c0, c1]], "/custom": ... } }
  let rec; // recorders to stop in afterEach

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip(); // no redis-server on this machine
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(async function () {
    rec = [];
    fx = await startCluster({
      redis,
      factory: () => impl.factory(redis.url),
      nsps: ["/", "/custom"],
      waitSubscribers: impl.subscribes !== false,
    });
  });

  afterEach(async function () {
    for (const r of rec) r.stop();
    if (fx) await fx.close();
    fx = null;
    await impl.cleanup();
  });

  function listen(sockets, event) {
    const r = record(sockets, event);
    rec.push(r);
    return r;
  }

  const c = (i, j, nsp = "/") => fx.clients[nsp][i][j];
  const ss = (i, j, nsp = "/") => fx.serverSocket(i, c(i, j, nsp), nsp);

  it("broadcasts to all clients", async function () {
    const r = listen(fx.all(), "hello");
    fx.ios[0].emit("hello", "world", 1, { a: [1, 2] });
    await barrier(fx.ios[0], fx.all());
    assert.deepEqual(r.counts(), [1, 1, 1, 1, 1, 1]);
    for (const calls of r.calls) assert.deepEqual(calls[0], ["world", 1, { a: [1, 2] }]);
  });

  it("broadcasts from every server to every client", async function () {
    const r = listen(fx.all(), "from");
    for (let i = 0; i < 3; i++) fx.ios[i].emit("from", i);
    for (let i = 0; i < 3; i++) await barrier(fx.ios[i], fx.all());
    for (const calls of r.calls) {
      assert.deepEqual(calls.map((a) => a[0]).sort(), [0, 1, 2]);
    }
  });

  it("broadcasts to all clients in a namespace only", async function () {
    const root = listen(fx.all("/"), "nsp-event");
    const custom = listen(fx.all("/custom"), "nsp-event");
    fx.ios[1].of("/custom").emit("nsp-event", "x");
    await barrier(fx.ios[1], fx.all("/custom"), { nsp: "/custom" });
    await barrier(fx.ios[1], fx.all("/"));
    assert.deepEqual(custom.counts(), [1, 1, 1, 1, 1, 1]);
    assert.deepEqual(root.counts(), [0, 0, 0, 0, 0, 0]);
  });

  it("broadcasts to a room", async function () {
    ss(0, 0).join("room1");
    ss(2, 1).join("room1");
    const r = listen(fx.all(), "room-event");
    fx.ios[1].to("room1").emit("room-event", "r1");
    await barrier(fx.ios[1], fx.all());
    // order of fx.all(): s0c0 s0c1 s1c0 s1c1 s2c0 s2c1
    assert.deepEqual(r.counts(), [1, 0, 0, 0, 0, 1]);
    assert.deepEqual(r.calls[0][0], ["r1"]);
  });

  it("broadcasts to a room from the server holding it and from the others", async function () {
    ss(0, 1).join("mixed");
    const r = listen(fx.all(), "m");
    fx.ios[0].to("mixed").emit("m", 0);
    fx.ios[2].to("mixed").emit("m", 2);
    await barrier(fx.ios[0], fx.all());
    await barrier(fx.ios[2], fx.all());
    assert.deepEqual(r.counts(), [0, 2, 0, 0, 0, 0]);
  });

  it("broadcasts to all clients except those in a room", async function () {
    ss(0, 0).join("excluded");
    ss(1, 1).join("excluded");
    const r = listen(fx.all(), "except-event");
    fx.ios[2].except("excluded").emit("except-event");
    await barrier(fx.ios[2], fx.all());
    assert.deepEqual(r.counts(), [0, 1, 1, 0, 1, 1]);
  });

  it("broadcasts to a room except another room", async function () {
    for (const [i, j] of [[0, 0], [0, 1], [1, 0], [2, 1]]) ss(i, j).join("target");
    ss(0, 1).join("muted");
    ss(2, 1).join("muted");
    const r = listen(fx.all(), "te");
    fx.ios[1].to("target").except("muted").emit("te");
    await barrier(fx.ios[1], fx.all());
    assert.deepEqual(r.counts(), [1, 0, 1, 0, 0, 0]);
  });

  it("delivers once to a socket in several target rooms", async function () {
    ss(0, 0).join(["roomA", "roomB"]);
    ss(1, 0).join("roomA");
    ss(2, 0).join(["roomB", "roomC"]);
    const r = listen(fx.all(), "multi");
    fx.ios[1].to("roomA").to(["roomB", "roomC"]).emit("multi");
    await barrier(fx.ios[1], fx.all());
    assert.deepEqual(r.counts(), [1, 0, 1, 0, 1, 0]);
  });

  it("broadcasts locally only with io.local", async function () {
    const r = listen(fx.all(), "local-event");
    fx.ios[0].local.emit("local-event");
    await barrier(fx.ios[0], fx.all());
    assert.deepEqual(r.counts(), [1, 1, 0, 0, 0, 0]);
  });

  it("sends to a single socket id on another server", async function () {
    const target = c(2, 1);
    const r = listen(fx.all(), "private");
    fx.ios[0].to(target.id).emit("private", "for you");
    await barrier(fx.ios[0], fx.all());
    assert.deepEqual(r.counts(), [0, 0, 0, 0, 0, 1]);
    assert.deepEqual(r.calls[5][0], ["for you"]);
  });

  it("socket.broadcast reaches everyone but the sender", async function () {
    ss(1, 0).on("shout", (msg) => ss(1, 0).broadcast.emit("shouted", msg));
    const r = listen(fx.all(), "shouted");
    c(1, 0).emit("shout", "hey");
    await barrier(fx.ios[1], fx.all()); // may overtake the relay: wait for the counts instead
    const { waitFor } = require("../helpers/util");
    await waitFor(() => r.counts().reduce((a, b) => a + b) === 5, 3000, { what: "5 deliveries" });
    await barrier(fx.ios[1], fx.all());
    assert.deepEqual(r.counts(), [1, 1, 0, 1, 1, 1]);
  });

  it("socket.to(room) reaches the room but not the sender", async function () {
    ss(0, 0).join("chat");
    ss(1, 0).join("chat");
    ss(2, 0).join("chat");
    const r = listen(fx.all(), "chat-msg");
    ss(1, 0).to("chat").emit("chat-msg", "hi");
    await barrier(fx.ios[1], fx.all());
    assert.deepEqual(r.counts(), [1, 0, 0, 0, 1, 0]);
  });

  it("broadcasts to a numeric room", async function () {
    ss(0, 1).join(123);
    ss(2, 0).join(123);
    ss(2, 1).join("123"); // the string room "123" is a different room from the number 123
    const r = listen(fx.all(), "num");
    fx.ios[1].to(123).emit("num", 123);
    await barrier(fx.ios[1], fx.all());
    // the channel carries "123"; receivers decode the number 123 and match only the numeric room
    assert.deepEqual(r.counts(), [0, 1, 0, 0, 1, 0]);
  });

  it("sends binary arguments as binary", async function () {
    const r = listen(fx.all(), "bin");
    const payload = Buffer.from([0, 1, 2, 253, 254, 255]);
    fx.ios[0].emit("bin", payload, { nested: Buffer.from("abc"), list: [Buffer.alloc(0), 7] }, "text");
    await barrier(fx.ios[0], fx.all());
    assert.deepEqual(r.counts(), [1, 1, 1, 1, 1, 1]);
    for (const [args] of r.calls) {
      const [b, obj, text] = args;
      assert.ok(Buffer.isBuffer(b) || b instanceof ArrayBuffer, "first argument is binary");
      assert.deepEqual(Buffer.from(b), payload);
      assert.deepEqual(Buffer.from(obj.nested), Buffer.from("abc"));
      assert.ok(Buffer.isBuffer(obj.nested) || obj.nested instanceof ArrayBuffer);
      assert.equal(Buffer.from(obj.list[0]).length, 0);
      assert.equal(obj.list[1], 7);
      assert.equal(text, "text");
    }
  });

  it("delivers volatile broadcasts to writable clients", async function () {
    // volatile packets are dropped for a client whose transport is busy, so one emit at a time
    const r = listen(fx.all(), "vol");
    fx.ios[2].volatile.emit("vol", 1);
    await barrier(fx.ios[2], fx.all());
    assert.deepEqual(r.counts(), [1, 1, 1, 1, 1, 1]);
    fx.ios[2].volatile.to(c(0, 0).id).emit("vol", 2);
    await barrier(fx.ios[2], fx.all());
    assert.deepEqual(r.counts(), [2, 1, 1, 1, 1, 1]);
  });

  it("carries the compress flag to the receiving servers", async function () {
    // record the options each server passes to engine.io for this event
    const seen = [];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) {
        const conn = ss(i, j).conn;
        const write = conn.write;
        conn.write = function (data, opts, cb) {
          if (typeof data === "string" && data.includes('"zipped"')) {
            seen.push({ i, j, compress: opts && opts.compress });
          }
          return write.call(this, data, opts, cb);
        };
      }
    }
    const r = listen(fx.all(), "zipped");
    fx.ios[0].compress(false).emit("zipped", "a");
    await barrier(fx.ios[0], fx.all());
    assert.deepEqual(r.counts(), [1, 1, 1, 1, 1, 1]);
    assert.equal(seen.length, 6, `compress options seen: ${JSON.stringify(seen)}`);
    for (const s of seen) assert.equal(s.compress, false, `server ${s.i} client ${s.j}`);
  });

  it("onAnyOutgoing listeners see packets coming from other servers", async function () {
    const outgoing = [];
    ss(2, 0).onAnyOutgoing((...args) => outgoing.push(args));
    fx.ios[0].emit("watched", 42, "x");
    await barrier(fx.ios[0], fx.all());
    const watched = outgoing.filter((a) => a[0] === "watched");
    assert.deepEqual(watched, [["watched", 42, "x"]]);
  });

  it("reports every server with serverCount()", async function () {
    for (const io of fx.ios) {
      assert.equal(await io.of("/").adapter.serverCount(), 3);
      assert.equal(await io.of("/custom").adapter.serverCount(), 3);
    }
  });
});
