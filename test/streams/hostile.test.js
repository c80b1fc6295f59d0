"use strict";
// Entries XADDed by the test that upstream 0.3.1 cannot digest: each is dropped (counted in
// stats.invalid or skipped), no server crashes or stalls, and the next valid entry is delivered.
// Upstream re-reads a poison entry forever (its read loop throws before the last id moves): run with
// STREAMS_ADAPTER=upstream to see this suite fail on it.
const assert = require("node:assert/strict");
const { encode } = require("@msgpack/msgpack");
const { startRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor } = require("../helpers/util");
const { ours, upstream, waitForFleet, waitForNoReaders, next } = require("./helpers");

const b64 = (v) => Buffer.from(encode(v)).toString("base64");
const valid = (text) => JSON.stringify({ packet: { type: 2, data: ["ok", text] }, opts: { rooms: [], except: [], flags: {} } });

// [what, fields] (uid "attacker", nsp "/" unless given)
const POISON = [
  ["broadcast without data", ["type", "3"]],
  ["packet null", ["type", "3", "data", '{"packet":null}']],
  ["packet without data", ["type", "3", "data", '{"packet":{"type":2},"opts":{"rooms":[],"except":[],"flags":{}}}']],
  ["opts missing", ["type", "3", "data", '{"packet":{"type":2,"data":["x"]}}']],
  ["socketsJoin without opts", ["type", "4", "data", '{"rooms":["x"]}']],
  ["disconnectSockets with rooms a number", ["type", "6", "data", '{"opts":{"rooms":5,"except":[],"flags":{}},"close":true}']],
  ["msgpack of a number", ["type", "3", "data", b64(42)]],
  ["msgpack array claiming 2^32-1 elements", ["type", "3", "data", Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]).toString("base64")]],
  ["truncated JSON", ["type", "3", "data", '{"packet":']],
  ["not base64", ["type", "3", "data", "%%%%"]],
  ["reserved event name", ["type", "3", "data", '{"packet":{"type":2,"data":["connect"]},"opts":{"rooms":[],"except":[],"flags":{}}}']],
  ["__proto__ key in msgpack", ["type", "3", "data", b64({ packet: { type: 2, data: ["x", Buffer.from([1])] }, opts: { rooms: [], except: [], flags: {} }, ["__proto__"]: { polluted: 1 } })]],
  ["deep nesting", ["type", "3", "data", `{"packet":{"type":2,"data":["x",${"[".repeat(5000)}${"]".repeat(5000)}]},"opts":{"rooms":[],"except":[],"flags":{}}}`]],
  ["type not a number", ["type", "three", "data", valid("no")]],
  ["no type", ["data", valid("no")]],
];

const impl = process.env.STREAMS_ADAPTER === "upstream" ? upstream : ours;

describe(`streams: hostile entries (${impl === ours ? "ours" : "upstream"})`, function () {
  let redis, adapters, cluster, clients;

  before(async function () {
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(async function () {
    adapters = impl();
    cluster = await createServers({ count: 2, adapter: () => adapters.factory(redis.url, { blockTimeInMs: 300 }) });
    clients = [await cluster.connect(0), await cluster.connect(1)];
    await waitForFleet(redis.port, { readers: 2, ios: cluster.ios });
  });

  afterEach(async function () {
    await cluster.closeAll();
    await adapters.cleanup();
    await waitForNoReaders(redis.port);
    await redis.cli("DEL", "socket.io");
  });

  for (const [what, fields] of POISON) {
    it(`${what}: dropped, and the next entry is delivered`, async function () {
      const got = next(clients, "ok", 3000);
      await redis.cli("XADD", "socket.io", "*", "uid", "attacker", "nsp", "/", ...fields);
      await redis.cli("XADD", "socket.io", "*", "uid", "attacker", "nsp", "/", "type", "3", "data", valid("after"));
      for (const args of await got) assert.deepEqual(args, ["after"]);
      if (impl === ours) {
        for (const io of cluster.ios) await waitFor(() => io.of("/").adapter.stats.invalid === 1, 2000, { what: "invalid counted" });
      }
      assert.equal({}.polluted, undefined);
    });
  }

  it("a flood of poison entries between valid ones: every valid one arrives, in order", async function () {
    const seen = [];
    clients[1].on("ok", (v) => seen.push(v));
    for (let i = 0; i < 20; i++) {
      const [, fields] = POISON[i % POISON.length];
      await redis.cli("XADD", "socket.io", "*", "uid", "attacker", "nsp", "/", ...fields);
      await redis.cli("XADD", "socket.io", "*", "uid", "attacker", "nsp", "/", "type", "3", "data", valid(String(i)));
    }
    await waitFor(() => seen.length === 20, 5000);
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => String(i)));
  });

  it("entries without nsp, for unknown namespaces, or from other generations are skipped", async function () {
    if (impl !== ours) this.skip();
    await redis.cli("XADD", "socket.io", "*", "uid", "x", "type", "3", "data", valid("no"));
    await redis.cli("XADD", "socket.io", "*", "uid", "x", "nsp", "/nowhere", "type", "3", "data", valid("no"));
    await redis.cli("XADD", "socket.io", "*", "uid", "x", "nsp", "/", "type", "2", "data", "{}");
    const got = next(clients, "ok", 3000);
    await redis.cli("XADD", "socket.io", "*", "uid", "x", "nsp", "/", "type", "3", "data", valid("yes"));
    for (const args of await got) assert.deepEqual(args, ["yes"]);
    const stats = cluster.ios[0].of("/").adapter.stats;
    assert.equal(stats.reader.skipped, 2);
    assert.equal(stats.reader.ignored, 1);
    assert.equal(stats.invalid, 0);
  });
});
