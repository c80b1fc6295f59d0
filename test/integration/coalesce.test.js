"use strict";

// Write coalescing (coalesceWrites, on by default): a client's queued packets leave in one corked writev.
// The frames a client receives must be byte-identical and in the same order with it on and off, for every
// kind of packet and transport, and a client that stops reading must cost no more than without it.

const assert = require("node:assert/strict");
const http = require("node:http");
const WebSocket = require("ws");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { startRedis, isRedisAvailable } = require("../helpers/redis");
const { waitFor, sleep } = require("../helpers/util");
const { createAdapter, createShardedAdapter, coalesceWrites } = require("../..");
const { corkTransport, kApplied } = require("../../lib/cork");

async function server(redis, opts, serverOpts = {}, create = createAdapter) {
  const httpServer = http.createServer();
  const factory = create(redis.url, opts);
  const io = new Server(httpServer, { adapter: factory, ...serverOpts });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  factory.client && factory.client.on("error", () => {});
  // Requests (fetchSockets) need Redis: wait for the adapter's connections (a loaded machine is slower
  // to connect than the websocket client below).
  if (factory.client) await waitFor(() => factory.client.isReady, 5000, { what: "the adapter's Redis connections" });
  return { io, port: httpServer.address().port, close: () => io.close() };
}

// A raw engine.io v4 websocket client: records every frame after the namespace CONNECT answer.
async function rawClient(port, { perMessageDeflate = false } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate });
  const frames = [];
  let connected = false;
  let resolveConnected;
  const ready = new Promise((r) => (resolveConnected = r));
  ws.on("message", (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    if (!isBinary && text.startsWith("0{")) {
      ws.send("40");
      return;
    }
    if (!isBinary && text === "2") {
      ws.send("3"); // pong
      return;
    }
    if (!connected && !isBinary && text.startsWith("40")) {
      connected = true;
      resolveConnected();
      return;
    }
    frames.push(isBinary ? Buffer.from(data).toString("hex") : text);
  });
  await new Promise((r, j) => ws.once("open", r).once("error", j));
  await ready;
  return { ws, frames, close: () => ws.terminate() };
}

// The server side: emit a mixed burst in one turn, so engine.io queues it and flushes it in batches.
function burst(io, n) {
  for (let i = 0; i < n; i++) {
    switch (i % 5) {
      case 0:
        io.emit("s", i, "x".repeat(i % 50));
        break;
      case 1:
        io.emit("b", i, Buffer.from([i & 255, 1, 2, 3]));
        break;
      case 2:
        io.volatile.emit("v", i);
        break;
      case 3:
        io.compress(false).emit("c", i, { nested: [i, true, null] });
        break;
      default:
        io.to("nobody").emit("never", i);
        io.except("nobody").emit("e", i);
    }
  }
}

// Sends the same burst through the coalescing and the plain server and compares what each client got:
// identical frames in identical order, except volatile packets, which engine.io may drop while the transport
// is busy (those must only stay in order).
async function burstBoth({ on, off, con, coff }, n) {
  burst(on.io, n);
  burst(off.io, n);
  const complete = (frames) => frames.filter((f) => f.startsWith("42[\"e\"")).length === n / 5;
  await waitFor(() => complete(con.frames) && complete(coff.frames), 10000, { what: "every burst delivered" });
  const strip = (frames) => frames.filter((f) => !f.startsWith("42[\"v\""));
  assert.deepEqual(strip(con.frames), strip(coff.frames));
  return { con, coff };
}

describe("write coalescing (coalesceWrites)", function () {
  this.timeout(30000);
  let redis;
  const closers = [];

  before(async function () {
    if (!isRedisAvailable()) this.skip();
    redis = await startRedis();
  });

  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  after(async () => {
    if (redis) await redis.stop();
  });

  async function pair(serverOpts = {}, clientOpts = {}) {
    // separate keys: each server's broadcasts must reach only its own client
    const on = await server(redis, { key: "on" }, serverOpts);
    const off = await server(redis, { key: "off", coalesceWrites: false }, serverOpts);
    closers.push(on.close, off.close);
    const con = await rawClient(on.port, clientOpts);
    const coff = await rawClient(off.port, clientOpts);
    closers.push(con.close, coff.close);
    return { on, off, con, coff };
  }

  it("is on by default, per transport instance, and off with coalesceWrites: false", async () => {
    const { on, off } = await pair();
    const [sOn] = await on.io.fetchSockets();
    const [sOff] = await off.io.fetchSockets();
    const tOn = on.io.of("/").sockets.get(sOn.id).conn.transport;
    const tOff = off.io.of("/").sockets.get(sOff.id).conn.transport;
    assert.equal(tOn[kApplied], true);
    assert.ok(Object.prototype.hasOwnProperty.call(tOn, "send"), "wrapped on the instance");
    assert.equal(tOff[kApplied], undefined);
    assert.ok(!Object.prototype.hasOwnProperty.call(tOff, "send"), "left alone when off");
    // engine.io's prototype is never touched
    assert.equal(Object.getPrototypeOf(tOn).send, Object.getPrototypeOf(tOff).send);
    assert.notEqual(tOn.send, Object.getPrototypeOf(tOn).send);
  });

  it("delivers byte-identical frames in the same order (text, binary, volatile, compress(false))", async () => {
    const N = 1000;
    const { con, coff } = await burstBoth(await pair(), N);
    assert.ok(con.frames.length >= N * 0.8 + N / 5, `got ${con.frames.length} frames`);
    const vol = (frames) => frames.filter((f) => f.startsWith("42[\"v\"")).map((f) => JSON.parse(f.slice(2))[1]);
    for (const v of [vol(con.frames), vol(coff.frames)]) assert.deepEqual(v, [...v].sort((a, b) => a - b));
  });

  it("keeps permessage-deflate frames identical and ordered", async () => {
    await burstBoth(await pair({ perMessageDeflate: { threshold: 0 } }, { perMessageDeflate: true }), 500);
  });

  it("works for long-polling clients and across an upgrade from polling, in order", async () => {
    const on = await server(redis, {});
    closers.push(on.close);
    const polling = ioc(`http://127.0.0.1:${on.port}`, { transports: ["polling"], forceNew: true });
    const upgrading = ioc(`http://127.0.0.1:${on.port}`, { forceNew: true }); // polling, then websocket
    closers.push(async () => polling.disconnect(), async () => upgrading.disconnect());
    const got = { p: [], u: [] };
    polling.on("n", (i) => got.p.push(i));
    upgrading.on("n", (i) => got.u.push(i));
    await Promise.all([polling, upgrading].map((c) => new Promise((r) => c.once("connect", r))));
    // emit continuously while the second client upgrades
    let i = 0;
    const N = 3000;
    while (i < N) {
      for (let k = 0; k < 100; k++) on.io.emit("n", i++);
      await sleep(5);
    }
    await waitFor(() => got.p.length === N && got.u.length === N, 15000, { what: `all ${N} (have ${got.p.length}/${got.u.length})` });
    const seq = Array.from({ length: N }, (_, k) => k);
    assert.deepEqual(got.p, seq);
    assert.deepEqual(got.u, seq);
    assert.equal(upgrading.io.engine.transport.name, "websocket");
    const conn = on.io.of("/").sockets.get(upgrading.id).conn;
    assert.equal(conn.transport.name, "websocket");
    assert.equal(conn.transport[kApplied], true, "the websocket transport after the upgrade is corked too");
  });

  it("a client that stops reading costs no more server memory than without coalescing", async () => {
    const { on, off, con, coff } = await pair();
    // the clients stop reading: the kernel buffers fill, then engine.io's writeBuffer holds the rest
    con.ws._socket.pause();
    coff.ws._socket.pause();
    const big = "y".repeat(64 * 1024);
    for (let i = 0; i < 300; i++) {
      on.io.emit("big", i, big);
      off.io.emit("big", i, big);
      if (i % 50 === 0) await sleep(10);
    }
    await sleep(300);
    const buffered = (io) => {
      const s = [...io.of("/").sockets.values()][0];
      const raw = s.conn.transport.socket._socket;
      const queued = s.conn.writeBuffer.reduce((n, p) => n + (typeof p.data === "string" ? p.data.length : 64), 0);
      return raw.writableLength + queued;
    };
    const bOn = buffered(on.io);
    const bOff = buffered(off.io);
    assert.ok(bOn <= bOff * 1.25 + 1024 * 1024, `corked ${bOn} bytes vs plain ${bOff} bytes buffered`);
    // volatile packets for a client that is not writable are dropped, so they never pile up
    const before = [...on.io.of("/").sockets.values()][0].conn.writeBuffer.length;
    for (let i = 0; i < 1000; i++) on.io.volatile.emit("vol", i, big);
    const after = [...on.io.of("/").sockets.values()][0].conn.writeBuffer.length;
    assert.equal(after, before, "volatile packets are dropped while the client is not writable");
    // reading again drains everything, in order
    con.frames.length = 0;
    con.ws._socket.resume();
    await waitFor(() => con.frames.filter((f) => f.startsWith("42[\"big\"")).length >= 1, 10000);
    const idx = con.frames.filter((f) => f.startsWith("42[\"big\"")).map((f) => JSON.parse(f.slice(2))[1]);
    assert.deepEqual(idx, [...idx].sort((a, b) => a - b));
  });

  it("createShardedAdapter coalesces too: frames identical with it on and off, local and remote bursts", async () => {
    const sharded = (prefix, extra = {}) => server(redis, { channelPrefix: prefix, ...extra }, {}, createShardedAdapter);
    const on = await sharded("shon");
    const off = await sharded("shoff", { coalesceWrites: false });
    const onPeer = await sharded("shon");
    const offPeer = await sharded("shoff");
    closers.push(on.close, off.close, onPeer.close, offPeer.close);
    // two clients per server: with one, a burst has nothing to hold
    const con = [await rawClient(on.port), await rawClient(on.port)];
    const coff = [await rawClient(off.port), await rawClient(off.port)];
    for (const c of [...con, ...coff]) closers.push(c.close);
    const sockets = (io) => [...io.of("/").sockets.values()];
    for (const sk of sockets(on.io)) assert.equal(sk.conn.transport[kApplied], true);
    for (const sk of sockets(off.io)) assert.equal(sk.conn.transport[kApplied], undefined);
    await waitFor(async () => (await on.io.of("/").adapter.serverCount()) === 2 && (await off.io.of("/").adapter.serverCount()) === 2, 5000, { what: "peers" });
    const N = 500;
    const done = (frames, k) => frames.filter((f) => f.startsWith("42[\"e\"")).length === k;
    const strip = (frames) => frames.filter((f) => !f.startsWith("42[\"v\""));
    // local: delivered by the base class after each SPUBLISH is answered; remote: from the peer, via Redis
    for (const [a, b, k] of [
      [on.io, off.io, N / 5],
      [onPeer.io, offPeer.io, (2 * N) / 5],
    ]) {
      burst(a, N);
      burst(b, N);
      await waitFor(() => [...con, ...coff].every((c) => done(c.frames, k)), 10000, { what: "every burst delivered" });
      assert.deepEqual(strip(con[0].frames), strip(coff[0].frames));
      assert.deepEqual(strip(con[1].frames), strip(coff[0].frames));
      assert.deepEqual(strip(coff[1].frames), strip(coff[0].frames));
    }
    assert.ok(con[0].frames.length >= 2 * (N * 0.8 + N / 5) * 0.9, `got ${con[0].frames.length} frames`);
  });

  it("leaves a transport of another shape alone, and coalesceWrites(io) works for any adapter", async () => {
    assert.equal(corkTransport({ name: "websocket", send() {}, socket: {} }), false);
    assert.equal(corkTransport({ name: "websocket", send() {}, socket: { _socket: { cork: 1 } } }), false);
    assert.equal(corkTransport({ name: "polling", send() {} }), false);
    assert.equal(corkTransport(null), false);
    // an in-memory adapter server, opted in explicitly
    const httpServer = http.createServer();
    const io = new Server(httpServer);
    await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
    closers.push(() => io.close());
    coalesceWrites(io);
    const c = await rawClient(httpServer.address().port);
    closers.push(c.close);
    const [s] = [...io.of("/").sockets.values()];
    assert.equal(s.conn.transport[kApplied], true);
    assert.throws(() => coalesceWrites({}), TypeError);
  });
});
