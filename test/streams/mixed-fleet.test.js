"use strict";
// One fleet, two implementations: servers on createStreamsAdapter and on @socket.io/redis-streams-adapter
// 0.3.1 (node-redis v4) share one Redis, and every operation works from either side to the other.
const assert = require("node:assert/strict");
const { startRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, never } = require("../helpers/util");
const { ours, upstream, waitForFleet, waitForNoReaders, next } = require("./helpers");

for (const [first, second] of [
  ["ours", "upstream"],
  ["upstream", "ours"],
]) {
  describe(`streams mixed fleet: ${first} -> ${second}`, function () {
    let redis, impls, cluster, clients;

    before(async function () {
      redis = await startRedis();
    });

    after(async function () {
      if (redis) await redis.stop();
    });

    beforeEach(async function () {
      impls = { ours: ours(), upstream: upstream() };
      const order = [first, second, second];
      cluster = await createServers({ count: 3, adapter: (i) => impls[order[i]].factory(redis.url, { blockTimeInMs: 300 }) });
      clients = [await cluster.connect(0), await cluster.connect(1), await cluster.connect(2)];
      await waitForFleet(redis.port, { readers: 3, ios: cluster.ios });
    });

    afterEach(async function () {
      await cluster.closeAll();
      await impls.upstream.cleanup();
      await waitForNoReaders(redis.port);
      assert.deepEqual(impls.ours.errors, []);
      await redis.cli("DEL", "socket.io");
    });

    it("broadcast to all, a room, except a room, and binary", async function () {
      cluster.serverSocket(1, clients[1]).join("room1");
      cluster.serverSocket(2, clients[2]).join(["room1", "room2"]);
      const seen = [[], [], []];
      clients.forEach((c, i) => c.on("e", (...a) => seen[i].push(a)));
      cluster.ios[0].emit("e", "all", { n: 1 });
      cluster.ios[0].to("room1").emit("e", "room1");
      cluster.ios[0].to("room1").except("room2").emit("e", "except");
      cluster.ios[0].emit("e", "bin", Buffer.from([7, 8]));
      await waitFor(() => seen[1].length === 4 && seen[2].length === 3);
      await never(() => seen[1].length > 4 || seen[2].length > 3, 200);
      for (const i of [1, 2]) {
        assert.deepEqual(seen[i][0], ["all", { n: 1 }]);
        assert.deepEqual(seen[i][1], ["room1"]);
        const last = seen[i][seen[i].length - 1];
        assert.equal(last[0], "bin");
        assert.deepEqual([...last[1]], [7, 8]);
      }
      assert.deepEqual(seen[1][2], ["except"]);
    });

    it("acks, fetchSockets, serverSideEmitWithAck and serverCount", async function () {
      clients.forEach((c, i) => c.on("ask", (cb) => cb(i)));
      assert.deepEqual((await cluster.ios[0].timeout(3000).emitWithAck("ask")).sort(), [0, 1, 2]);
      const sockets = await cluster.ios[0].fetchSockets();
      assert.deepEqual(sockets.map((s) => s.id).sort(), clients.map((c) => c.id).sort());
      cluster.ios[1].on("q", (cb) => cb("one"));
      cluster.ios[2].on("q", (cb) => cb("two"));
      assert.deepEqual((await cluster.ios[0].serverSideEmitWithAck("q")).sort(), ["one", "two"]);
      assert.equal(await cluster.ios[0].of("/").adapter.serverCount(), 3);
    });

    it("socketsJoin and disconnectSockets", async function () {
      cluster.ios[0].socketsJoin("everyone");
      await waitFor(() => [0, 1, 2].every((i) => cluster.serverSocket(i, clients[i]).rooms.has("everyone")));
      const gone = next(clients[1], "disconnect");
      cluster.ios[0].in(clients[1].id).disconnectSockets(true);
      await gone;
    });

    it("the other side's broadcasts reach this side", async function () {
      const got = next(clients[0], "back");
      cluster.ios[2].emit("back", 1, Buffer.from([1]));
      const [n, b] = await got;
      assert.equal(n, 1);
      assert.deepEqual([...b], [1]);
    });
  });
}
