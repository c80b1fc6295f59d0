"use strict";

// The records native code hands JS (native/batch.h, lib/batch.js):
// - a request's completion is a record of the batch, so it reaches JS in wire order: a server that emits,
//   then answers, is seen emitting first (it used to be answered first, inside the parse loop);
// - a burst costs bounded memory: a target list names rooms, never sockets (2,000 small messages to 20,000
//   local sockets used to make a 43 MiB batch), the same rooms again cost one marker, and a batch is handed
//   to JS early once it reaches its cap.

const assert = require("node:assert/strict");
const { startRedis, isRedisAvailable, RawRedis } = require("../helpers/redis");
const { startCluster } = require("../helpers/cluster");
const { waitFor } = require("../helpers/util");
const { createAdapter } = require("../..");

const CAP = 4 << 20; // native/batch.h HRA_BATCH_DEFAULT_CAP

describe("batch records", function () {
  this.timeout(30000);
  let redis;
  let fx;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  afterEach(async function () {
    if (fx) await fx.close();
    fx = null;
  });

  it("delivers a request's completion after the broadcasts read before it (emit, then answer)", async function () {
    fx = await startCluster({ redis, count: 1, perServer: 1, factory: () => createAdapter(redis.url) });
    const io = fx.ios[0];
    const log = [];
    fx.serverSocket(0, fx.clients["/"][0][0]).onAnyOutgoing((event, n) => log.push(`${event} ${n}`));
    // Another "server": it answers each request with a broadcast, then the answer, both in one write to
    // Redis (MULTI/EXEC), so that they reach our subscriber in one read.
    const sub = await RawRedis.connect(redis.port);
    const pub = await RawRedis.connect(redis.port);
    const { encode } = require("notepack.io");
    let n = 0;
    sub.on("push", (m) => {
      const request = JSON.parse(m[2].toString());
      n++;
      pub.sock.cork();
      pub.command("MULTI");
      pub.publish("socket.io#/#", encode(["other", { type: 2, data: ["before", n], nsp: "/" }, { rooms: [], except: [], flags: {} }]));
      pub.publish("socket.io-response#/#", JSON.stringify({ type: 6, requestId: request.requestId, data: ["pong"] }));
      pub.command("EXEC");
      pub.sock.uncork();
    });
    await sub.command("SUBSCRIBE", "socket.io-request#/#");
    try {
      for (let i = 1; i <= 20; i++) {
        const answers = await io.serverSideEmitWithAck("ping");
        log.push(`answered ${i}`);
        assert.deepEqual(answers, [["pong"]]);
      }
    } finally {
      await sub.close();
      await pub.close();
    }
    const expected = [];
    for (let i = 1; i <= 20; i++) expected.push(`before ${i}`, `answered ${i}`);
    assert.deepEqual(log, expected);
  });

  it("keeps a burst to 20,000 local sockets within the batch cap: rooms, not sockets, in target lists; early flush", async function () {
    fx = await startCluster({ redis, count: 1, perServer: 1, factory: () => createAdapter(redis.url) });
    const io = fx.ios[0];
    const adapter = io.of("/").adapter;
    const client = fx.clients["/"][0][0];
    // 20,000 local members (no engine.io connection behind them: only the adapter's state counts here), and
    // the one real client in "crowd" too
    for (let k = 0; k < 20000; k++) adapter.addAll(`fake-${k}`, new Set([`fake-${k}`, "crowd"]));
    fx.serverSocket(0, client).join("crowd");
    const native = adapter._client;
    const sizes = [];
    let records = 0;
    const deliver = native._deliverBatch;
    native._deliverBatch = function (buf, words) {
      sizes.push(buf.length + words.byteLength);
      return deliver.call(this, buf, words);
    };
    const onrecord = adapter._onrecord;
    const targets = [];
    adapter._onrecord = function (kind, buf, words, i, t) {
      records++;
      targets.push(t);
      return onrecord.call(this, kind, buf, words, i, t);
    };
    let got = 0;
    client.on("tick", () => got++);
    const pub = await RawRedis.connect(redis.port);
    try {
      const { encode } = require("notepack.io");
      const msg = (rooms, except, i, data = i) => encode(["emitter", { type: 2, data: ["tick", data], nsp: "/" }, { rooms, except, flags: {} }]);
      // 1. the same room 2,000 times, 2. everyone 2,000 times: one list, then markers
      for (let i = 0; i < 2000; i++) pub.publish("socket.io#/#crowd#", msg(["crowd"], [], i));
      for (let i = 0; i < 2000; i++) pub.publish("socket.io#/#", msg([], [], i));
      await waitFor(() => got === 4000, 20000, { what: "4,000 broadcasts" });
      const shared = Math.max(...sizes);
      assert.ok(shared < 1 << 20, `a burst with shared targets made a batch of ${shared} bytes`);
      assert.equal(records, 4000);
      // the records to "crowd" share one list per batch (read once, then a marker), those to everyone one marker
      assert.ok(new Set(targets.slice(0, 2000)).size <= sizes.length, `${new Set(targets.slice(0, 2000)).size} lists in ${sizes.length} batches`);
      assert.equal(new Set(targets.slice(2000)).size, 1);
      assert.equal(targets[0], "crowd"); // one room, no exception: its key alone
      assert.deepEqual(targets[3999], { rooms: [], except: [] });
      // 3. lists that differ each time (a different exception) still name rooms only: small records
      sizes.length = 0;
      for (let i = 0; i < 300; i++) pub.publish("socket.io#/#crowd#", msg(["crowd"], [`fake-${i}`], i));
      await waitFor(() => got === 4300, 20000, { what: "300 more broadcasts" });
      assert.ok(Math.max(...sizes) < 1 << 20, `${Math.max(...sizes)} bytes for 300 small broadcasts`);
      assert.deepEqual(targets[4299], { rooms: ["crowd"], except: ["fake-299"] });
      // 4. large packets: the cap hands JS the batch early
      sizes.length = 0;
      const big = "x".repeat(64 * 1024);
      for (let i = 0; i < 300; i++) pub.publish("socket.io#/#crowd#", msg(["crowd"], [], i, big));
      await waitFor(() => got === 4600, 20000, { what: "300 large broadcasts" });
      const largest = Math.max(...sizes);
      assert.ok(largest <= CAP + 100 * 1024, `a batch of ${largest} bytes passed the ${CAP}-byte cap by more than one record`);
      assert.ok(sizes.length >= (300 * 64 * 1024) / CAP, `${sizes.length} batches for ${300 * 64 * 1024} bytes of packets`);
    } finally {
      native._deliverBatch = deliver;
      adapter._onrecord = onrecord;
      pub.close();
      for (let k = 0; k < 20000; k++) adapter.delAll(`fake-${k}`);
    }
  });
});
