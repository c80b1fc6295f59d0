"use strict";
// Connection state recovery across servers and implementations: a session persisted by one server
// (ours or upstream 0.3.1) is restored by another (ours or upstream), with the packets missed meanwhile
// replayed from the stream in order, room and except filters applied, each with its entry id.
const assert = require("node:assert/strict");
const { startRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, never } = require("../helpers/util");
const { ours, upstream, waitForFleet, waitForNoReaders, next } = require("./helpers");

const CSR = { connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true } };

for (const [persister, restorer] of [
  ["ours", "ours"],
  ["upstream", "ours"],
  ["ours", "upstream"],
]) {
  describe(`streams recovery: persisted by ${persister}, restored by ${restorer}`, function () {
    let redis, impls, cluster;

    before(async function () {
      redis = await startRedis();
    });

    after(async function () {
      if (redis) await redis.stop();
    });

    beforeEach(async function () {
      impls = { ours: ours(), upstream: upstream() };
      const order = [persister, restorer];
      cluster = await createServers({ count: 2, serverOpts: CSR, adapter: (i) => impls[order[i]].factory(redis.url, { blockTimeInMs: 300 }) });
      await waitForFleet(redis.port, { readers: 2, ios: cluster.ios });
    });

    afterEach(async function () {
      await cluster.closeAll();
      await impls.upstream.cleanup();
      await waitForNoReaders(redis.port);
      assert.deepEqual(impls.ours.errors, []);
      await redis.cli("DEL", "socket.io");
    });

    it("restores the session on the other server and replays the missed packets", async function () {
      const client = await cluster.connect(0);
      const sid = client.id;
      cluster.serverSocket(0, client).join("room1");
      cluster.serverSocket(0, client).data = { user: "u1" };
      const first = next(client, "hello");
      cluster.ios[0].emit("hello", 1);
      const [one, offset] = await first;
      assert.equal(one, 1);
      assert.match(offset, /^\d+-\d+$/);
      const pid = client._pid;
      client.io.engine.close(); // "transport close": a recoverable disconnect
      await waitFor(async () => (await redis.cli("EXISTS", `sio:session:${pid}`)) === "1", 3000, { what: "session persisted" });
      cluster.ios[0].to("room1").emit("missed", "a");
      cluster.ios[0].to("room2").emit("missed", "not for me");
      cluster.ios[0].except("room1").emit("missed", "excepted");
      cluster.ios[0].volatile.emit("missed", "volatile");
      cluster.ios[0].emit("missed", "b");
      await waitFor(async () => Number(await redis.cli("XLEN", "socket.io")) === 6, 3000, { what: "entries written" });
      const got = [];
      client.on("missed", (v, id) => got.push([v, id]));
      client.io.uri = `http://127.0.0.1:${cluster.ports[1]}`;
      const connected = next(client, "connect");
      client.connect();
      await connected;
      assert.equal(client.id, sid);
      assert.equal(client.recovered, true);
      const restored = cluster.ios[1].of("/").sockets.get(sid);
      assert.ok(restored && restored.recovered);
      assert.ok(restored.rooms.has("room1"));
      assert.deepEqual(restored.data, { user: "u1" });
      const expected = restorer === "ours" ? ["a", "b"] : ["a", "volatile", "b"];
      await waitFor(() => got.length === expected.length, 2000);
      await never(() => got.length > expected.length, 200);
      assert.deepEqual(got.map(([v]) => v), expected);
      for (const [, id] of got) assert.match(id, /^\d+-\d+$/);
      assert.equal(await redis.cli("EXISTS", `sio:session:${pid}`), "0");
      client.disconnect();
    });

    it("a trimmed or unknown offset gives a fresh session", async function () {
      const client = await cluster.connect(0);
      const sid = client.id;
      const first = next(client, "hello");
      cluster.ios[0].emit("hello", 1);
      await first;
      const pid = client._pid;
      client.io.engine.close();
      await waitFor(async () => (await redis.cli("EXISTS", `sio:session:${pid}`)) === "1", 3000, { what: "session persisted" });
      client._lastOffset = "1-0"; // never in the stream
      client.io.uri = `http://127.0.0.1:${cluster.ports[1]}`;
      const connected = next(client, "connect");
      client.connect();
      await connected;
      assert.notEqual(client.id, sid);
      assert.equal(client.recovered, false);
      client.disconnect();
    });
  });
}

describe("streams recovery: missed entries read in batches of readCount", function () {
  let redis, impl, cluster;

  before(async function () {
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(async function () {
    impl = ours();
    cluster = await createServers({ count: 2, serverOpts: CSR, adapter: () => impl.factory(redis.url, { readCount: 10, blockTimeInMs: 300 }) });
    await waitForFleet(redis.port, { readers: 2, ios: cluster.ios });
  });

  afterEach(async function () {
    await cluster.closeAll();
    assert.deepEqual(impl.errors, []);
  });

  it("replays 95 missed packets across batches of readCount 10, in order, none twice", async function () {
    const client = await cluster.connect(0);
    const first = next(client, "n");
    cluster.ios[0].emit("n", -1);
    await first;
    const pid = client._pid;
    client.io.engine.close();
    await waitFor(async () => (await redis.cli("EXISTS", `sio:session:${pid}`)) === "1", 3000, { what: "session persisted" });
    for (let i = 0; i < 95; i++) cluster.ios[0].emit("n", i);
    await waitFor(async () => Number(await redis.cli("XLEN", "socket.io")) === 96, 3000, { what: "entries written" });
    const got = [];
    client.on("n", (v) => got.push(v));
    client.io.uri = `http://127.0.0.1:${cluster.ports[1]}`;
    client.connect();
    await waitFor(() => got.length === 95, 3000);
    await never(() => got.length > 95, 200);
    assert.deepEqual(got, Array.from({ length: 95 }, (_, i) => i));
    assert.equal(client.recovered, true);
    client.disconnect();
  });
});
