"use strict";
// Hostile messages on every sharded channel a node listens to (main, its response channel, a room
// channel, a socket-id channel): garbage and truncated JSON, truncated msgpack, wrong types, huge
// claimed lengths, deep nesting, "__proto__" keys, forged responses. Each is counted and dropped (or
// handled as upstream would), and the servers keep delivering afterwards.
const assert = require("node:assert/strict");
const notepack = require("notepack.io");
const { startRedis, RawRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { sleep, waitFor } = require("../helpers/util");
const { randomPayloads, HEADERS, deepArrays, deepMaps } = require("../helpers/garbage");
const { ours, monitor } = require("./helpers");

const hex = (s) => Buffer.from(s.replace(/\s+/g, ""), "hex");

function jsonGarbage(uid) {
  const m = (type, data, extra = "") => `{"type":${type},"data":${data},"uid":"${uid}","nsp":"/"${extra}}`;
  const bc = (packet, opts = '{"rooms":[],"except":[],"flags":{}}') => m(3, `{"packet":${packet},"opts":${opts}}`);
  const full = bc('{"type":2,"data":["hostile",1]}');
  const list = [
    "{",
    "{}",
    "{,}",
    '{,"type":3}',
    '{"type":3',
    '{"type":"3","data":{}}',
    m(3, "null"),
    m(3, "[]"),
    m(3, '"str"'),
    m(99, "{}"),
    m(-1, "{}"),
    m("1e400", "{}"),
    m(1, "{}"),
    m(13, "{}"),
    bc("null"),
    bc('{"type":2,"data":"str"}'),
    bc('{"type":2,"data":[]}'),
    bc('{"type":2,"data":["connect"]}'),
    bc('{"type":2,"data":["disconnect",1]}'),
    bc('{"type":2,"data":[null]}'),
    bc('{"type":5,"data":["x"]}'),
    bc('{"type":99,"data":["x"]}'),
    bc('{"type":2,"data":["x"]}', "null"),
    bc('{"type":2,"data":["x"]}', '{"rooms":{},"except":[]}'),
    bc('{"type":2,"data":["x"]}', '{"rooms":[],"except":7}'),
    bc('{"type":2,"data":["x"]}', '{"rooms":[{"a":1}],"except":[]}'),
    bc('{"type":2,"data":["x",' + "[".repeat(5000) + "]".repeat(5000) + "]}"),
    bc('{"type":2,"data":["x"],"__proto__":{"type":5}}'),
    bc('{"type":2,"data":["x",{"__proto__":{"polluted":1}}]}'),
    m(3, '{"packet":{"type":2,"data":["x"]},"opts":{"rooms":[],"except":[],"flags":{}},"__proto__":{"requestId":"r"}}'),
    m(4, '{"opts":null,"rooms":["x"]}'),
    m(5, '{"opts":{"rooms":"abc"},"rooms":7}'),
    m(6, "{}"),
    m(7, '{"opts":{},"requestId":{}}'),
    m(9, '{"packet":"notanarray"}'),
    m(9, '{"packet":[]}'),
    m(8, '{"requestId":"nope","sockets":[]}'),
    m(10, '{"requestId":12,"packet":1}'),
    m(11, '{"requestId":"nope","clientCount":"x"}'),
    m(12, "{}"),
    '{"type":3,"data":{},"uid":"x","nsp":"/"}  trailing',
    full.slice(0, -1),
    full + "}",
    full.replace("\"nsp\":\"/\"", "\"nsp\":\"/\\u0000\""),
    Buffer.from(full.replace("hostile", "ho\xffstile"), "latin1"),
  ];
  for (let n = 1; n < full.length; n += 7) list.push(full.slice(0, n));
  return list.map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(x)));
}

function msgpackGarbage(uid) {
  const good = notepack.encode({
    type: 3,
    data: { packet: { type: 2, data: ["hostile", Buffer.from([1, 2])] }, opts: { rooms: [], except: [], flags: {} } },
    uid,
    nsp: "/",
  });
  const list = [...HEADERS.map((h) => (Buffer.isBuffer(h) ? h : hex(h))), ...randomPayloads(300, 7).filter((b) => b[0] !== 0x7b)];
  for (let n = 1; n < good.length; n++) list.push(good.subarray(0, n));
  list.push(Buffer.concat([good, Buffer.from([0xc0])]));
  list.push(deepArrays(2000), deepMaps(2000));
  const proto = (obj) => notepack.encode(JSON.parse(obj));
  list.push(proto(`{"type":3,"__proto__":{"x":1},"data":{"packet":{"type":2,"data":["x"]},"opts":{}},"uid":"${uid}","nsp":"/"}`));
  list.push(proto(`{"type":3,"data":{"__proto__":{"requestId":"r"},"packet":{"type":2,"data":["x"]},"opts":{}},"uid":"${uid}","nsp":"/"}`));
  list.push(proto(`{"type":9,"data":{"packet":["x",{"__proto__":{"polluted":true}}]},"uid":"${uid}","nsp":"/"}`));
  list.push(proto(`{"type":8,"data":{"requestId":"r","sockets":[{"__proto__":{"id":"x"}}]},"uid":"${uid}","nsp":"/"}`));
  // wrong types everywhere (not DISCONNECT_SOCKETS: opts that decode to "no rooms" make it a valid
  // "disconnect every socket", here as upstream)
  for (const type of [3, 4, 5, 7, 8, 9, 10, 11, 12]) {
    for (const data of [null, 1, "s", [], { packet: 1 }, { opts: "x" }, { packet: { type: "2", data: {} }, opts: { rooms: 5 } }]) {
      list.push(notepack.encode({ type, data: data === null ? null : Object.assign({ b: Buffer.from([1]) }, data), uid, nsp: "/" }));
    }
  }
  // claimed lengths far beyond the message inside a valid prefix
  list.push(Buffer.concat([good.subarray(0, 20), hex("dd 7f ff ff ff")]));
  list.push(Buffer.concat([good.subarray(0, 20), hex("c6 7f ff ff ff 00")]));
  return list;
}

for (const mode of ["dynamic", "dynamic-private"]) {
  describe(`hostile messages on every sharded channel, mode "${mode}"`, function () {
    this.timeout(60000);
    let redis, cluster, raw, tap, cA, cB;
    const A = () => cluster.ios[0];
    const B = () => cluster.ios[1];

    before(async function () {
      redis = await startRedis();
      const impl = ours();
      cluster = await createServers({ count: 2, adapter: () => impl.factory(redis.url, { subscriptionMode: mode }) });
      cA = await cluster.connect(0);
      cB = await cluster.connect(1);
      cluster.serverSocket(0, cA).join("roomA");
      raw = await RawRedis.connect(redis.port);
      tap = await monitor(redis.port);
      await waitFor(async () => (await redis.cli("PUBSUB", "SHARDNUMSUB", "socket.io#/#roomA#")).endsWith("1"), 5000);
    });

    after(async function () {
      if (tap) tap.close();
      if (raw) await raw.close();
      if (cluster) await cluster.closeAll();
      if (redis) await redis.stop();
    });

    async function stillDelivers() {
      const p = Promise.all([cA, cB].map((c) => new Promise((resolve) => c.once("alive", resolve))));
      B().emit("alive", 1);
      A().to(cB.id).emit("alive", 2);
      await Promise.race([p, sleep(5000).then(() => assert.fail("no delivery after the hostile messages"))]);
      assert.deepEqual(
        await new Promise((resolve) => {
          cA.once("alive2", (...args) => resolve(args));
          B().to("roomA").emit("alive2", "ok");
        }),
        ["ok"],
      );
    }

    function channels() {
      const list = ["socket.io#/#", `socket.io#/#${A().of("/").adapter.uid}#`, "socket.io#/#roomA#"];
      if (mode === "dynamic-private") list.push(`socket.io#/#${cA.id}#`);
      return list;
    }

    it("garbage and malformed JSON", async function () {
      const before = A().of("/").adapter.stats.invalid;
      const payloads = [...jsonGarbage("0123456789abcdef"), ...jsonGarbage(B().of("/").adapter.uid)];
      for (const ch of channels()) for (const p of payloads) await raw.command("SPUBLISH", ch, p);
      await stillDelivers();
      const s = A().of("/").adapter.stats;
      assert.ok(s.invalid > before + payloads.length, JSON.stringify(s));
    });

    it("truncated msgpack, huge claimed lengths, deep nesting, wrong types, __proto__", async function () {
      const before = A().of("/").adapter.stats.invalid;
      const payloads = msgpackGarbage("0123456789abcdef");
      for (const ch of channels()) for (const p of payloads) await raw.command("SPUBLISH", ch, p);
      await stillDelivers();
      assert.ok(A().of("/").adapter.stats.invalid > before + payloads.length, JSON.stringify(A().of("/").adapter.stats));
      assert.equal({}.polluted, undefined);
      assert.equal(Object.prototype.polluted, undefined);
    });

    it("forged responses to a pending request are refused or handled as the base class does", async function () {
      // fetchSockets from A waits for B; forged answers with its request id arrive first
      tap.reset();
      const adapterB = B().of("/").adapter;
      adapterB.publishResponse = function (...args) {
        setTimeout(() => Object.getPrototypeOf(adapterB).publishResponse.apply(adapterB, args), 300);
      };
      const pending = A().fetchSockets();
      const req = await waitFor(() => tap.find("spublish", "socket.io#/#").find((c) => c.args[1].includes(Buffer.from('"type":7'))), 3000);
      const rid = JSON.parse(req.args[1].toString()).data.requestId;
      const respChannel = `socket.io#/#${A().of("/").adapter.uid}#`;
      const forged = [
        `{"type":8,"data":{"requestId":"${rid}","sockets":"notanarray"},"uid":"x","nsp":"/"}`,
        `{"type":8,"data":{"requestId":"${rid}","sockets":{"length":1}},"uid":"x","nsp":"/"}`,
        `{"type":8,"data":{"requestId":"${rid}"},"uid":"x","nsp":"/"}`,
        notepack.encode({ type: 8, data: { requestId: rid, sockets: 5, b: Buffer.from([1]) }, uid: "x", nsp: "/" }),
      ];
      const before = A().of("/").adapter.stats.invalid;
      for (const f of forged) await raw.command("SPUBLISH", respChannel, Buffer.isBuffer(f) ? f : Buffer.from(f));
      const sockets = await pending;
      delete adapterB.publishResponse;
      // B's real answer (sent 300 ms late) completed it: none of the forged ones counted as one
      assert.deepEqual(sockets.map((s) => s.id).sort(), [cA.id, cB.id].sort());
      assert.equal(A().of("/").adapter.stats.invalid, before + forged.length);
      await stillDelivers();
    });

    it("answers to unknown request ids are dropped in C", async function () {
      const s0 = A().of("/").adapter.stats;
      const respChannel = `socket.io#/#${A().of("/").adapter.uid}#`;
      for (let i = 0; i < 100; i++) {
        await raw.command("SPUBLISH", respChannel, Buffer.from(`{"type":10,"data":{"requestId":"${i.toString(16).padStart(16, "0")}","packet":1},"uid":"x","nsp":"/"}`));
      }
      await stillDelivers();
      const s1 = A().of("/").adapter.stats;
      assert.equal(s1.responsesIgnored - s0.responsesIgnored, 100);
      assert.equal(s1.responses, s0.responses);
    });
  });
}
