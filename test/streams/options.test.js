"use strict";
// The upstream entry point with real node-redis and ioredis clients, options as upstream reads them, maxLen
// trimming under a burst, and a Redis killed (-9) and restarted with appendonly while a server was cut off.
const assert = require("node:assert/strict");
const { startRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, never, sleep } = require("../helpers/util");
const { createStreamsAdapter } = require("../..");
const { ours, waitForFleet, next, entries, cuttableProxy } = require("./helpers");

describe("streams: upstream's entry point and options", function () {
  let redis, cluster, closers;

  before(async function () {
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(function () {
    closers = [];
    cluster = null;
  });

  afterEach(async function () {
    if (cluster) await cluster.closeAll();
    for (const close of closers) await close();
    await redis.cli("DEL", "socket.io", "app", "app-0", "app-1");
  });

  it('require("socket.io-hiredis-adapter/streams").createAdapter takes a node-redis v4 and an ioredis client', async function () {
    const { createAdapter } = require("socket.io-hiredis-adapter/streams");
    const nodeRedis = require("redis").createClient({ url: redis.url });
    nodeRedis.on("error", () => {});
    await nodeRedis.connect();
    const Redis = require("ioredis");
    const ioredis = new Redis(redis.port, "127.0.0.1", { lazyConnect: true });
    closers.push(() => nodeRedis.quit(), () => ioredis.quit());
    const clients = [nodeRedis, ioredis];
    cluster = await createServers({ count: 2, adapter: (i) => createAdapter(clients[i], { streamName: "app", blockTimeInMs: 500 }) });
    const sockets = [await cluster.connect(0), await cluster.connect(1)];
    await waitForFleet(redis.port, { readers: 2, ios: cluster.ios });
    const got = next(sockets, "x");
    cluster.ios[1].emit("x", 1);
    for (const args of await got) assert.deepEqual(args, [1]);
    assert.equal((await entries(redis.port, "app")).length, 1);
    // the clients were only read: we never sent through them, and they stay the caller's
    assert.equal(nodeRedis.isOpen, true);
  });

  it("streamCount spreads namespaces over <streamName>-<i> as upstream computes i", async function () {
    const impl = ours();
    cluster = await createServers({ count: 2, adapter: () => impl.factory(redis.url, { streamName: "app", streamCount: 2, blockTimeInMs: 500 }) });
    for (const io of cluster.ios) io.of("/custom");
    const c = await cluster.connect(1, { nsp: "/custom" });
    const m = await cluster.connect(1);
    await waitForFleet(redis.port, { readers: 4, subscribers: 2, nsp: "/custom", ios: cluster.ios });
    const got = [next(c, "x"), next(m, "y")];
    cluster.ios[0].of("/custom").emit("x", "custom");
    cluster.ios[0].emit("y", "main");
    await Promise.all(got);
    // "/" hashes to 47 (47 % 2 = 1), "/custom" to 1708878944 (% 2 = 0)
    assert.equal((await entries(redis.port, "app-1")).length, 1);
    assert.equal((await entries(redis.port, "app-0")).length, 1);
  });

  it("refuses options that cannot work", function () {
    for (const bad of [{ streamCount: 0 }, { readCount: 0 }, { maxLen: -1 }, { blockTimeInMs: 1.5 }, { streamName: 5 }, { channelPrefix: "a\0b" }]) {
      assert.throws(() => createStreamsAdapter(redis.url, bad), { code: "ERR_INVALID_ARG_VALUE" }, JSON.stringify(bad));
    }
  });

  // Trimming is upstream's too: a reader that falls more than maxLen entries behind loses the oldest (they are
  // gone from the stream); what it reads arrives in order, once, up to the last entry.
  it("maxLen trims the stream under a burst; what arrives is in order, none twice, up to the last", async function () {
    const impl = ours();
    cluster = await createServers({ count: 2, adapter: () => impl.factory(redis.url, { maxLen: 100, blockTimeInMs: 500 }) });
    const c = await cluster.connect(1);
    await cluster.connect(0);
    await waitForFleet(redis.port, { readers: 2, ios: cluster.ios });
    const seen = [];
    c.on("b", (i) => seen.push(i));
    let maxLen = 0;
    for (let i = 0; i < 3000; i++) {
      cluster.ios[0].emit("b", i);
      if (i % 300 === 299) {
        await sleep(5);
        maxLen = Math.max(maxLen, Number(await redis.cli("XLEN", "socket.io")));
      }
    }
    await waitFor(() => seen[seen.length - 1] === 2999, 10000);
    for (let k = 1; k < seen.length; k++) assert.ok(seen[k] > seen[k - 1], `${seen[k - 1]} then ${seen[k]}`);
    const xlen = Number(await redis.cli("XLEN", "socket.io"));
    assert.ok(xlen >= 100 && xlen < 300, `XLEN ${xlen}`);
    assert.ok(maxLen < 500, `XLEN reached ${maxLen}`);
  });
});

describe("streams: Redis killed and restarted with appendonly while a server was cut off", function () {
  let redis, proxy, impl, cluster;

  before(async function () {
    redis = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always"] });
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  afterEach(async function () {
    if (cluster) await cluster.closeAll();
    if (proxy) await proxy.close();
  });

  it("resumes from its last id: the entries written before the crash and after it, in order, none twice", async function () {
    proxy = await cuttableProxy(redis.port);
    impl = ours();
    const urls = [redis.url, `redis://127.0.0.1:${proxy.port}`];
    cluster = await createServers({ count: 2, adapter: (i) => impl.factory(urls[i], { blockTimeInMs: 500 }) });
    const c = await cluster.connect(1);
    await cluster.connect(0);
    await waitForFleet(redis.port, { readers: 2, ios: cluster.ios });
    const seen = [];
    c.on("m", (i) => seen.push(i));
    cluster.ios[0].emit("m", 0);
    await waitFor(() => seen.length === 1);
    await proxy.cut();
    for (let i = 1; i <= 50; i++) cluster.ios[0].emit("m", i);
    await waitFor(async () => Number(await redis.cli("XLEN", "socket.io")) === 51, 3000, { what: "written before the crash" });
    await redis.kill("SIGKILL");
    await redis.restart();
    // server 0 reconnects by itself; its broadcasts go out once it has
    await waitFor(() => cluster.ios[0].of("/").adapter._client.isReady, 5000, { what: "server 0 back" });
    for (let i = 51; i <= 100; i++) cluster.ios[0].emit("m", i);
    await waitFor(async () => Number(await redis.cli("XLEN", "socket.io")) === 101, 5000, { what: "written after the restart" });
    await proxy.restore();
    await waitFor(() => seen.length === 101, 5000);
    await never(() => seen.length > 101, 300);
    assert.deepEqual(seen, Array.from({ length: 101 }, (_, i) => i));
  });
});
