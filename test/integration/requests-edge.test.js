"use strict";

// Requests at the edges: a server that never answers (timeouts, with the upstream messages),
// 10,000 requests in a row, close() while requests are pending, Redis down, both settings of
// publishOnSpecificResponseChannel in a mixed fleet, and hostile traffic on the response channel.
//
// Not repeated here: @socket.io/redis-emitter 5.1.0's socketsJoin / socketsLeave / disconnectSockets
// / serverSideEmit reaching our servers is covered by test/compat/mixed-fleet.test.js.

const assert = require("node:assert/strict");
const { startRedis, waitForSubscribers, isRedisAvailable, RawRedis } = require("../helpers/redis");
const adapters = require("../helpers/adapters");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep, once, bounded } = require("../helpers/util");

const impl = adapters.implementation();
const REQUEST_CHANNEL = "socket.io-request#/#";
const RESPONSE_CHANNEL = "socket.io-response#/#";

// The messages of @socket.io/redis-adapter 8.3.0 (lib/index.ts).
const FETCH_TIMEOUT = "timeout reached while waiting for fetchSockets response";
const ALL_ROOMS_TIMEOUT = "timeout reached while waiting for allRooms response";

// A connection that subscribes to the request channel, so PUBSUB NUMSUB counts it as a server,
// and never answers. Every request it sees is kept (parsed when it is JSON).
async function silentPeer(port) {
  const raw = await RawRedis.connect(port);
  const requests = [];
  raw.on("push", (msg) => {
    const payload = msg[msg.length - 1];
    if (payload[0] !== 0x7b) return; // msgpack broadcast-with-ack requests
    try {
      requests.push(JSON.parse(payload.toString()));
    } catch {
      // not ours to judge
    }
  });
  await raw.command("SUBSCRIBE", REQUEST_CHANNEL);
  return { raw, requests, close: () => raw.close() };
}

// Settles `promise` into { ok, value | err, ms } (ms since `start`).
function settle(promise, start = Date.now()) {
  return promise.then(
    (value) => ({ ok: true, value, ms: Date.now() - start }),
    (err) => ({ ok: false, err, ms: Date.now() - start })
  );
}

const rss = () => Math.round(process.memoryUsage().rss / 1048576);

describe(`requests: edge cases [${impl.name}]`, function () {
  this.timeout(20000);
  let redis;
  let kits; // adapters.* kits to clean up after each test
  let closers; // extra things to close after each test (raw connections, clusters)

  before(async function () {
    if (impl.subscribes === false) return this.skip(); // the in-memory adapter has no requests
    if (!(await isRedisAvailable())) return this.skip(); // no redis-server on this machine
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(function () {
    kits = [];
    closers = [];
  });

  afterEach(async function () {
    for (const close of closers.splice(0).reverse()) await bounded(close(), 5000);
    for (const kit of kits.splice(0)) await kit.cleanup();
  });

  const kit = (k) => (kits.push(k), k);
  const ours = () => kit(adapters.implementation());
  const upstream = () => kit(adapters.upstream());
  const onlyOurs = (ctx) => {
    if (impl.name !== "hiredis") ctx.skip(); // stats, ECLOSED and ENOTCONN are this package's
  };

  async function servers(count, factory, { subscribers = count, r = redis } = {}) {
    const cluster = await createServers({ count, adapter: factory });
    closers.push(() => cluster.closeAll());
    await waitForSubscribers(r.port, subscribers);
    return cluster;
  }

  async function peer(r = redis) {
    const p = await silentPeer(r.port);
    closers.push(() => p.close());
    return p;
  }

  // --- 1. a server that never answers ------------------------------------------------------------

  describe("a server that never answers", function () {
    // Server 0 (the requester, built by `requester`) and server 1 (ours, answers) plus a silent peer.
    async function timeoutsFrom(requester) {
      const answerer = ours();
      const silent = await peer();
      const cluster = await servers(2, (i) => (i === 0 ? requester.factory(redis.url, { requestsTimeout: 500 }) : answerer.factory(redis.url, { requestsTimeout: 500 })), { subscribers: 3 });
      const remote = await cluster.connect(1);
      cluster.ios[1].on("edge-ask", (q, cb) => cb({ from: 1, q }));
      let asked = 0;
      cluster.ios[0].on("edge-ask", () => asked++);
      const io = cluster.ios[0];
      const start = Date.now();
      const [fetch, rooms, sse] = await Promise.all([
        settle(io.fetchSockets(), start),
        settle(io.of("/").adapter.allRooms(), start),
        settle(io.serverSideEmitWithAck("edge-ask", "q1"), start),
      ]);
      assert.equal(asked, 0, "the requester does not answer itself");
      // the silent peer did see all three requests
      assert.deepEqual(silent.requests.map((r) => r.type).sort(), [1, 5, 6]);
      remote.disconnect();
      return { fetch, rooms, sse };
    }

    function check({ fetch, rooms, sse }) {
      for (const [name, r, message] of [
        ["fetchSockets", fetch, FETCH_TIMEOUT],
        ["allRooms", rooms, ALL_ROOMS_TIMEOUT],
        ["serverSideEmitWithAck", sse, "timeout reached: only 1 responses received out of 2"],
      ]) {
        assert.equal(r.ok, false, `${name} resolved with ${JSON.stringify(r.value)}`);
        assert.ok(r.err instanceof Error, `${name}: ${r.err}`);
        assert.equal(r.err.message, message, name);
        assert.ok(r.ms >= 450 && r.ms <= 1500, `${name} rejected after ${r.ms} ms (requestsTimeout 500)`);
      }
      // socket.io puts the ack's second argument on the error: the real server's answer
      assert.deepEqual(sse.err.responses, [{ from: 1, q: "q1" }]);
    }

    it("fetchSockets / allRooms / serverSideEmitWithAck time out with the upstream messages", async function () {
      check(await timeoutsFrom(ours()));
    });

    it("upstream 8.3.0 as requester gives identical messages", async function () {
      const up = await timeoutsFrom(upstream());
      check(up);
      for (const close of closers.splice(0).reverse()) await close();
      const ourResult = await timeoutsFrom(ours());
      const messages = (x) => ({ fetch: x.fetch.err.message, rooms: x.rooms.err.message, sse: x.sse.err.message, responses: x.sse.err.responses });
      assert.deepEqual(messages(ourResult), messages(up));
    });
  });

  // --- 2. many requests ----------------------------------------------------------------------

  it("10,000 requests complete, nothing stays pending, memory stays flat", async function () {
    onlyOurs(this);
    this.timeout(60000);
    const k = ours();
    const cluster = await servers(2, () => k.factory(redis.url, { requestsTimeout: 10000 }));
    const clients = [await cluster.connect(0), await cluster.connect(1)];
    const ids = clients.map((c) => c.id).sort();
    cluster.ios.forEach((io, i) => io.on("many", (n, cb) => cb([i, n])));
    const adapter = (i) => cluster.ios[i].of("/").adapter;
    const responsesBefore = adapter(0).stats.responses + adapter(1).stats.responses;
    const TOTAL = 10000;
    const BATCH = 500;
    if (global.gc) global.gc();
    const rssStart = rss();
    const rssSamples = [];
    const start = Date.now();
    for (let b = 0; b < TOTAL / BATCH; b++) {
      const from = b % 2;
      const io = cluster.ios[from];
      const batch = [];
      for (let j = 0; j < BATCH; j++) {
        const n = b * BATCH + j;
        if (n % 2 === 0) {
          batch.push(io.fetchSockets().then((sockets) => assert.deepEqual(sockets.map((s) => s.id).sort(), ids, `request ${n}`)));
        } else {
          batch.push(io.serverSideEmitWithAck("many", n).then((answers) => assert.deepEqual(answers, [[1 - from, n]], `request ${n}`)));
        }
      }
      await Promise.all(batch);
      if (b % 5 === 4) rssSamples.push(rss());
    }
    const elapsed = Date.now() - start;
    for (const i of [0, 1]) assert.equal(adapter(i).stats.pending, 0, `server ${i}: ${JSON.stringify(adapter(i).stats)}`);
    const responses = adapter(0).stats.responses + adapter(1).stats.responses - responsesBefore;
    assert.equal(responses, TOTAL, "one response matched per request");
    if (global.gc) global.gc();
    // logged, not asserted: timing and RSS depend on the machine
    console.log(`      ${TOTAL} requests in ${elapsed} ms; RSS ${rssStart} MB -> ${rssSamples.join(" -> ")} -> ${rss()} MB`);
  });

  // --- 3. close() with requests pending --------------------------------------------------------

  it("close() rejects pending requests with ECLOSED and leaves nothing behind", async function () {
    onlyOurs(this);
    const countOf = (type) => process.getActiveResourcesInfo().filter((t) => t === type).length;
    await sleep(10); // mocha arms this test's own timeout timer once the test function has returned
    const resourcesBefore = { Timeout: countOf("Timeout"), TCPSocketWrap: countOf("TCPSocketWrap"), TCPWrap: countOf("TCPWrap") };

    const k = ours();
    const silent = await peer();
    // requestsTimeout 800: the C timers would fire during this test if close() left them behind
    const cluster = await servers(2, () => k.factory(redis.url, { requestsTimeout: 800 }), { subscribers: 3 });
    await cluster.connect(0);
    await cluster.connect(1);
    const io = cluster.ios[0];
    const adapter = io.of("/").adapter;
    let closed = false;
    let afterClose = 0;
    const realDone = adapter._onrequestdone;
    adapter._onrequestdone = function (...args) {
      if (closed) afterClose++;
      return realDone.apply(this, args);
    };
    const settled = [];
    const track = (p) =>
      settled.push(
        p.then(
          (value) => ({ ok: true, value, at: Date.now(), late: closed }),
          (err) => ({ ok: false, err, at: Date.now(), late: closed })
        )
      );
    for (let i = 0; i < 100; i++) track(io.fetchSockets());
    for (let i = 0; i < 5; i++) track(adapter.allRooms());
    const acks = [];
    for (let i = 0; i < 5; i++) {
      const calls = [];
      acks.push(calls);
      io.serverSideEmit("never-answered", i, (...args) => calls.push({ args, late: closed }));
    }
    await waitFor(() => adapter.stats.pending === 110, 3000, { what: "110 pending requests" });
    await waitFor(() => silent.requests.length >= 110, 3000, { what: "the silent peer to see the requests" });

    // clients first, so no socket.io-client reconnect timer is left behind
    for (const c of cluster.clients.splice(0)) c.disconnect();
    const closeStart = Date.now();
    await io.close();
    const closeMs = Date.now() - closeStart;
    const results = await Promise.all(settled);
    closed = true;
    for (const r of results) {
      assert.equal(r.ok, false, "a request resolved although its server was closed");
      assert.equal(r.err.code, "ECLOSED", r.err.message);
      assert.ok(r.at - closeStart < 500, `rejected ${r.at - closeStart} ms after close()`);
    }
    for (const calls of acks) {
      assert.equal(calls.length, 1, "each serverSideEmit ack is called exactly once");
      assert.equal(calls[0].args[0].code, "ECLOSED");
      assert.deepEqual(calls[0].args[1], []);
    }
    assert.ok(closeMs < 1000, `io.close() took ${closeMs} ms`);
    assert.equal(adapter.stats.pending, 0);

    // past the requests' deadline: no late completion, no second ack, no crash
    await sleep(1000);
    assert.equal(afterClose, 0, "native code reported a request after close()");
    for (const calls of acks) assert.equal(calls.length, 1, "an ack was called again after close()");
    assert.equal(adapter.stats.pending, 0);

    // close the rest of what this test opened, then nothing must remain
    for (const close of closers.splice(0).reverse()) await close();
    await waitFor(
      () =>
        countOf("Timeout") <= resourcesBefore.Timeout &&
        countOf("TCPSocketWrap") <= resourcesBefore.TCPSocketWrap &&
        countOf("TCPWrap") <= resourcesBefore.TCPWrap,
      3000,
      { what: `no extra handles (before ${JSON.stringify(resourcesBefore)})` }
    ).catch((err) => {
      err.message += `; now ${JSON.stringify(process.getActiveResourcesInfo())}`;
      throw err;
    });
  });

  // --- 4. Redis down ---------------------------------------------------------------------------

  it("while Redis is down requests fail fast with ENOTCONN and local operations still apply", async function () {
    onlyOurs(this);
    const down = await startRedis();
    closers.push(() => down.stop());
    const k = ours();
    const TIMEOUT = 1000;
    const cluster = await servers(2, () => k.factory(down.url, { requestsTimeout: TIMEOUT }), { r: down });
    const a0 = await cluster.connect(0);
    const a1 = await cluster.connect(0);
    const b0 = await cluster.connect(1);
    cluster.ios[1].on("down-ask", (cb) => cb("pong"));
    const io = cluster.ios[0];
    assert.equal((await io.fetchSockets()).length, 3);
    // a request in flight when Redis dies (a silent peer keeps it pending) ends by its deadline
    await peer(down);
    await waitForSubscribers(down.port, 3);
    const inflight = settle(io.fetchSockets());
    await waitFor(() => io.of("/").adapter.stats.pending === 1, 2000, { what: "a pending request" });

    await down.kill("SIGKILL");
    await sleep(200); // let the connections notice

    for (const [name, fn] of [
      ["fetchSockets", () => io.fetchSockets()],
      ["allRooms", () => io.of("/").adapter.allRooms()],
      ["serverSideEmitWithAck", () => io.serverSideEmitWithAck("down-ask")],
    ]) {
      const r = await settle(fn());
      assert.equal(r.ok, false, `${name} resolved while Redis is down`);
      assert.equal(r.err.code, "ENOTCONN", `${name}: ${r.err.message}`);
      assert.ok(r.ms < TIMEOUT + 200, `${name} failed after ${r.ms} ms`);
    }
    const lost = await inflight;
    assert.equal(lost.ok, false, "the request in flight resolved");
    // upstream lets it run into its timeout; failing it earlier with ENOTCONN would be fine too
    assert.ok(["ETIMEDOUT", "ENOTCONN"].includes(lost.err.code), `${lost.err.code}: ${lost.err.message}`);
    assert.ok(lost.ms < TIMEOUT + 200, `the request in flight ended after ${lost.ms} ms`);
    assert.equal(io.of("/").adapter.stats.pending, 0);

    // local effects do not wait for Redis
    const s0 = cluster.serverSocket(0, a0);
    io.in(a0.id).socketsJoin("while-down");
    assert.ok(s0.rooms.has("while-down"), "socketsJoin applied to the local socket at once");
    io.in("while-down").socketsLeave("while-down");
    assert.ok(!s0.rooms.has("while-down"), "socketsLeave applied to the local socket at once");
    const gone = once(a1, "disconnect", 2000);
    io.in(a1.id).disconnectSockets();
    await gone;
    assert.ok(a0.connected && b0.connected);

    // back up: requests work again within a few seconds
    await down.restart();
    const restartedAt = Date.now();
    const sockets = await waitFor(
      async () => {
        const r = await settle(io.fetchSockets());
        return r.ok && r.value.length === 2 ? r.value : null;
      },
      5000,
      { interval: 100, what: "fetchSockets to work after the restart" }
    );
    assert.deepEqual(sockets.map((s) => s.id).sort(), [a0.id, b0.id].sort());
    assert.deepEqual(await io.serverSideEmitWithAck("down-ask"), ["pong"]);
    console.log(`      requests work again ${Date.now() - restartedAt} ms after the restart`);
  });

  // --- 6. publishOnSpecificResponseChannel in a mixed fleet -----------------------------------

  for (const upSpecific of [false, true]) {
    for (const ourSpecific of [false, true]) {
      describe(`mixed fleet, publishOnSpecificResponseChannel: upstream ${upSpecific}, ours ${ourSpecific}`, function () {
        const KINDS = ["upstream", "ours", "upstream", "ours"];
        let cluster;
        let clients;
        let monitor;
        let channels;

        beforeEach(async function () {
          const up = upstream();
          const me = ours();
          cluster = await servers(4, (i) =>
            KINDS[i] === "upstream"
              ? up.factory(redis.url, { requestsTimeout: 3000, publishOnSpecificResponseChannel: upSpecific })
              : me.factory(redis.url, { requestsTimeout: 3000, publishOnSpecificResponseChannel: ourSpecific })
          );
          clients = [];
          for (let i = 0; i < 4; i++) clients.push(await cluster.connect(i));
          cluster.ios.forEach((io, i) => {
            cluster.serverSocket(i, clients[i]).join(`room-${i}`);
            io.on("spec-ask", (cb) => cb(`${KINDS[i]}-${i}`));
          });
          for (const c of clients) c.on("spec-ack", (cb) => cb(c.id));
          // which response channels carry what (does not count as a server: PSUBSCRIBE)
          channels = { common: 0, specific: 0 };
          monitor = await RawRedis.connect(redis.port);
          closers.push(() => monitor.close());
          monitor.on("push", (msg) => {
            const channel = msg[2].toString();
            if (channel === RESPONSE_CHANNEL) channels.common++;
            else channels.specific++;
          });
          await monitor.command("PSUBSCRIBE", `${RESPONSE_CHANNEL}*`);
        });

        for (const [from, label] of [
          [0, "from an upstream node"],
          [1, "from our node"],
        ]) {
          it(`fetchSockets / allRooms / serverSideEmitWithAck / broadcast with ack ${label}`, async function () {
            const io = cluster.ios[from];
            const ids = clients.map((c) => c.id).sort();
            const sockets = await io.fetchSockets();
            assert.deepEqual(sockets.map((s) => s.id).sort(), ids);
            const rooms = await io.of("/").adapter.allRooms();
            for (let i = 0; i < 4; i++) assert.ok(rooms.has(`room-${i}`) && rooms.has(clients[i].id), `server ${i}'s rooms in ${[...rooms]}`);
            const answers = await io.serverSideEmitWithAck("spec-ask");
            assert.deepEqual(answers.sort(), [0, 1, 2, 3].filter((i) => i !== from).map((i) => `${KINDS[i]}-${i}`).sort());
            const acks = await io.timeout(3000).emitWithAck("spec-ack");
            assert.deepEqual(acks.sort(), ids);
            // the setting did take effect on the wire
            await waitFor(() => channels.common + channels.specific > 0, 1000, { what: "monitored responses" });
            if (upSpecific || ourSpecific) assert.ok(channels.specific > 0, JSON.stringify(channels));
            else assert.equal(channels.specific, 0, JSON.stringify(channels));
          });
        }
      });
    }
  }

  // --- 7. hostile traffic on the response channel ----------------------------------------------

  it("random and malformed responses do not disturb a pending fetchSockets", async function () {
    onlyOurs(this);
    const k = ours();
    // the "slow" peer is a raw connection that answers only when told to
    const slow = await peer();
    const cluster = await servers(2, () => k.factory(redis.url, { requestsTimeout: 5000 }), { subscribers: 3 });
    const c0 = await cluster.connect(0);
    const c1 = await cluster.connect(1);
    const adapter = cluster.ios[0].of("/").adapter;
    const before = adapter.stats;

    let done = false;
    const pending = settle(cluster.ios[0].fetchSockets()).finally(() => (done = true));
    const request = await waitFor(() => slow.requests.find((r) => r.type === 5), 3000, { what: "the fetch request" });
    // server 1 has answered; only the slow peer is missing
    await waitFor(() => adapter.stats.responses > before.responses, 3000, { what: "server 1's answer" });
    const rid = request.requestId;
    assert.equal(typeof rid, "string");

    const publisher = await RawRedis.connect(redis.port);
    closers.push(() => publisher.close());
    const specific = `${RESPONSE_CHANNEL}${adapter.uid}#`;
    const ignored = [];
    for (let i = 0; i < 200; i++) {
      const fake = `x${i.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
      ignored.push(JSON.stringify({ requestId: fake, sockets: [{ id: "evil", handshake: {}, rooms: [], data: {} }] }));
      ignored.push(JSON.stringify({ requestId: fake, rooms: ["evil"] }));
      ignored.push(JSON.stringify({ type: 6, requestId: fake, data: "evil" }));
    }
    ignored.push('{"requestId":12345,"sockets":[{"id":"evil"}]}', '{"sockets":[{"id":"evil"}]}', "{}");
    const deep = "[".repeat(5000) + "]".repeat(5000);
    const invalid = [
      "{",
      '{"requestId":',
      `{"requestId":"${rid}","sockets":[{"id":"evil"}`,
      `{"requestId":"${rid}","sockets":[{"id":"evil"},]}`,
      `{"requestId":"${rid}","sockets":[{"id":"evil"}]} trailing`,
      `{"requestId":"${rid}","sockets":${deep}}`,
      `{"requestId":"${rid}","sockets":[{"id":"ev\u0000il"}]`,
      '{"requestId":"a" "sockets":[]}',
      "{'requestId':'a'}",
    ].map((s) => Buffer.from(s));
    // not JSON: msgpack that is truncated, or not a map
    invalid.push(Buffer.from([0x82, 0xa9]), Buffer.from([0x93, 0x01, 0x02]), Buffer.from([0xc1]), Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]));
    const sends = [];
    for (const channel of [RESPONSE_CHANNEL, specific]) {
      for (const msg of ignored) sends.push(publisher.publish(channel, msg));
      for (const msg of invalid) sends.push(publisher.publish(channel, msg));
    }
    await Promise.all(sends);
    await waitFor(
      () => {
        const s = adapter.stats;
        return s.responsesIgnored - before.responsesIgnored >= ignored.length * 2 && s.invalid - before.invalid >= invalid.length * 2;
      },
      3000,
      { what: "the hostile responses to be counted" }
    ).catch((err) => {
      err.message += `: ${JSON.stringify({ before, now: adapter.stats })}`;
      throw err;
    });
    await sleep(50);
    assert.equal(done, false, "fetchSockets settled before the last server answered");
    assert.equal(adapter.stats.pending, 1);

    // the slow peer answers for real
    await publisher.publish(RESPONSE_CHANNEL, JSON.stringify({ requestId: rid, sockets: [] }));
    const result = await pending;
    assert.equal(result.ok, true, result.err && result.err.message);
    assert.deepEqual(result.value.map((s) => s.id).sort(), [c0.id, c1.id].sort());
    const after = adapter.stats;
    assert.equal(after.pending, 0);
    assert.equal(after.responses - before.responses, 2, "server 1 and the slow peer");
    console.log(`      responsesIgnored +${after.responsesIgnored - before.responsesIgnored}, invalid +${after.invalid - before.invalid}`);
    // still healthy afterwards (the slow peer is gone)
    await slow.close();
    await waitForSubscribers(redis.port, 2);
    assert.equal((await cluster.ios[0].fetchSockets()).length, 2);
  });
});
