"use strict";
// The reader keeps its place: a server cut off from Redis (a TCP proxy in the test closes every
// connection and refuses new ones) gets, once it is back, every entry written meanwhile, in order,
// none twice; also when it had read nothing yet (no "$" gap: upstream loses those).
const assert = require("node:assert/strict");
const { startRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, never, sleep } = require("../helpers/util");
const { ours, waitForFleet, next, cuttableProxy } = require("./helpers");

describe("streams: resume after a cut", function () {
  let redis, proxy, impl, cluster, clients;

  before(async function () {
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(async function () {
    proxy = await cuttableProxy(redis.port);
    impl = ours();
    const urls = [redis.url, `redis://127.0.0.1:${proxy.port}`];
    cluster = await createServers({ count: 2, adapter: (i) => impl.factory(urls[i], { blockTimeInMs: 1000 }) });
    clients = [await cluster.connect(0), await cluster.connect(1)];
    cluster.serverSocket(1, clients[1]).join("room");
    await waitForFleet(redis.port, { readers: 2, ios: cluster.ios });
  });

  afterEach(async function () {
    await cluster.closeAll();
    await proxy.close();
    await redis.cli("DEL", "socket.io");
  });

  async function cutAndWrite(n) {
    await proxy.cut();
    await sleep(100);
    for (let i = 0; i < n; i++) {
      if (i % 2) cluster.ios[0].to("room").emit("m", i);
      else cluster.ios[0].emit("m", i);
    }
    await waitFor(async () => Number(await redis.cli("XLEN", "socket.io")) >= n, 3000, { what: "entries written" });
    await sleep(500); // the cut server retries meanwhile (connection refused)
    await proxy.restore();
  }

  it("after reading entries: everything written while away arrives once, in order", async function () {
    const seen = [];
    clients[1].on("m", (v) => seen.push(v));
    const first = next(clients[1], "m");
    cluster.ios[0].emit("m", -1);
    await first;
    await cutAndWrite(120);
    await waitFor(() => seen.length === 121, 5000);
    await never(() => seen.length > 121, 300);
    assert.deepEqual(seen, [-1, ...Array.from({ length: 120 }, (_, i) => i)]);
  });

  it("before reading any entry: no \"$\" gap", async function () {
    const seen = [];
    clients[1].on("m", (v) => seen.push(v));
    await cutAndWrite(30);
    await waitFor(() => seen.length === 30, 5000);
    await never(() => seen.length > 30, 300);
    assert.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i));
  });
});
