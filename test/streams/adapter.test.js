"use strict";
// createStreamsAdapter across three servers on one real Redis: every broadcast form, acks, requests,
// remote operations, serverCount, the bytes written to the stream, and io.close() exiting at once.
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const path = require("node:path");
const { startRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, never } = require("../helpers/util");
const { ours, waitForFleet, next, entries } = require("./helpers");

describe("streams: three servers on createStreamsAdapter", function () {
  let redis, impl, cluster, clients;

  before(async function () {
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(async function () {
    impl = ours();
    cluster = await createServers({ count: 3, adapter: () => impl.factory(redis.url, { blockTimeInMs: 2000 }) });
    clients = [await cluster.connect(0), await cluster.connect(1), await cluster.connect(2)];
    await waitForFleet(redis.port, { readers: 3, ios: cluster.ios });
  });

  afterEach(async function () {
    await cluster.closeAll();
    await impl.cleanup();
    assert.deepEqual(impl.errors, []);
    await redis.cli("DEL", "socket.io");
  });

  it("broadcasts to every client", async function () {
    const got = next(clients, "hello");
    cluster.ios[0].emit("hello", "world", 42, { a: [1, null] });
    for (const args of await got) assert.deepEqual(args, ["world", 42, { a: [1, null] }]);
  });

  it("broadcasts binary (msgpack in the stream, base64) to every client", async function () {
    const got = next(clients, "bin");
    cluster.ios[1].emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) });
    for (const [a, b] of await got) {
      assert.deepEqual([...a], [1, 2, 3]);
      assert.deepEqual([...b.nested], [4]);
    }
  });

  it("broadcasts to a room and except a room", async function () {
    cluster.serverSocket(1, clients[1]).join("room1");
    cluster.serverSocket(2, clients[2]).join(["room1", "room2"]);
    const seen = [[], [], []];
    clients.forEach((c, i) => c.on("r", (v) => seen[i].push(v)));
    cluster.ios[0].to("room1").emit("r", 1);
    cluster.ios[0].to("room1").except("room2").emit("r", 2);
    cluster.ios[0].except("room1").emit("r", 3);
    await waitFor(() => seen[1].length === 2 && seen[2].length === 1 && seen[0].length === 1);
    await never(() => seen[0].length > 1 || seen[1].length > 2 || seen[2].length > 1, 200);
    assert.deepEqual(seen, [[3], [1, 2], [1]]);
    // broadcasts reached the other servers through the stream, filtered in C
    const stats = cluster.ios[2].of("/").adapter.stats;
    assert.equal(stats.received, 3);
    assert.equal(stats.ignoredNoTarget, 2); // room1 except room2, and except room1
    assert.equal(stats.invalid, 0);
  });

  it("writes entries byte for byte as upstream 0.3.1 does", async function () {
    cluster.serverSocket(1, clients[1]).join("room1");
    const got = next(clients[1], "chat");
    cluster.ios[0].to("room1").except("room2").emit("chat", { text: "hi" }, 42);
    await got;
    const list = await entries(redis.port);
    assert.equal(list.length, 1);
    const { fields } = list[0];
    assert.deepEqual(Object.keys(fields), ["uid", "nsp", "type", "data"]);
    assert.equal(fields.uid, cluster.ios[0].of("/").adapter.uid);
    assert.equal(fields.nsp, "/");
    assert.equal(fields.type, "3");
    assert.equal(fields.data, '{"packet":{"type":2,"data":["chat",{"text":"hi"},42]},"opts":{"rooms":["room1"],"except":["room2"],"flags":{}}}');
  });

  it("writes binary data as base64 msgpack, byte for byte as upstream 0.3.1 does (spec 3, entry 2)", async function () {
    const got = next(clients[1], "bin");
    cluster.ios[0].emit("bin", Buffer.from([1, 2, 3]));
    await got;
    const list = await entries(redis.port);
    assert.equal(list.length, 1);
    assert.equal(list[0].fields.data, "gqZwYWNrZXSCpHR5cGUCpGRhdGGSo2JpbsQDAQIDpG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgA==");
  });

  it("serverCount() counts the three servers", async function () {
    for (const io of cluster.ios) assert.equal(await io.of("/").adapter.serverCount(), 3);
  });

  it("broadcast with acks gathers every client's answer", async function () {
    clients.forEach((c, i) => c.on("ask", (n, cb) => cb(n + i)));
    const answers = await cluster.ios[0].timeout(3000).emitWithAck("ask", 10);
    assert.deepEqual(answers.sort(), [10, 11, 12]);
  });

  it("fetchSockets() returns the sockets of every server, with their rooms", async function () {
    cluster.serverSocket(2, clients[2]).join("r2");
    const sockets = await cluster.ios[0].fetchSockets();
    assert.deepEqual(sockets.map((s) => s.id).sort(), clients.map((c) => c.id).sort());
    const remote = sockets.find((s) => s.id === clients[2].id);
    assert.ok(remote.rooms.has("r2"));
  });

  it("serverSideEmit() with and without ack", async function () {
    const got = [next(cluster.ios[1], "ping"), next(cluster.ios[2], "ping")];
    cluster.ios[0].serverSideEmit("ping", 1);
    for (const args of await Promise.all(got)) assert.deepEqual(args, [1]);
    cluster.ios[1].on("q", (n, cb) => cb(n * 2));
    cluster.ios[2].on("q", (n, cb) => cb(n * 3));
    const answers = await cluster.ios[0].serverSideEmitWithAck("q", 5);
    assert.deepEqual(answers.sort(), [10, 15]);
  });

  it("socketsJoin / socketsLeave / disconnectSockets reach every server", async function () {
    cluster.ios[0].socketsJoin("all");
    await waitFor(() => [0, 1, 2].every((i) => cluster.serverSocket(i, clients[i]).rooms.has("all")));
    cluster.ios[1].in("all").socketsLeave("all");
    await waitFor(() => [0, 1, 2].every((i) => !cluster.serverSocket(i, clients[i]).rooms.has("all")));
    const gone = next(clients[2], "disconnect");
    cluster.ios[0].in(clients[2].id).disconnectSockets(true);
    await gone;
    assert.equal(clients[0].connected, true);
    assert.equal(clients[1].connected, true);
  });

  it("another namespace only reaches its own clients", async function () {
    for (const io of cluster.ios) io.of("/other");
    const c = await cluster.connect(1, { nsp: "/other" });
    await waitForFleet(redis.port, { readers: 3, nsp: "/other", ios: cluster.ios });
    const onMain = [];
    clients[1].on("x", (v) => onMain.push(v));
    const got = next(c, "x");
    cluster.ios[0].of("/other").emit("x", "o");
    assert.deepEqual(await got, ["o"]);
    await never(() => onMain.length > 0, 200);
  });
});

describe("streams: io.close()", function () {
  let redis;
  before(async function () {
    redis = await startRedis();
  });
  after(async function () {
    if (redis) await redis.stop();
  });

  it("lets the process exit at once, with a BLOCK of 20 s pending", async function () {
    const script = path.join(__dirname, "scripts", "close-exit.js");
    const child = spawn(process.execPath, [script, redis.url], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, out);
    const m = /closed-to-exit (\d+)/.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[1]) < 500, `exit took ${m[1]} ms after io.close()`);
  });
});

describe("streams: a broadcast msgpack cannot encode", function () {
  let redis, impl, cluster;
  before(async function () {
    redis = await startRedis();
  });
  after(async function () {
    if (redis) await redis.stop();
  });
  afterEach(async function () {
    if (cluster) await cluster.closeAll();
  });

  it("fails loudly: an 'error' event and stats.encodeFailures, local clients still get it", async function () {
    impl = ours();
    cluster = await createServers({ count: 2, adapter: () => impl.factory(redis.url, { blockTimeInMs: 500 }) });
    const local = await cluster.connect(0);
    const remote = await cluster.connect(1);
    await waitForFleet(redis.port, { readers: 2, ios: cluster.ios });
    const adapter = cluster.ios[0].of("/").adapter;
    const errors = [];
    adapter.on("error", (err) => errors.push(err));
    const seen = [];
    remote.on("bad", () => seen.push("remote"));
    const got = next(local, "bad");
    // binary, so msgpack; a function inside it makes @msgpack/msgpack throw
    cluster.ios[0].emit("bad", { buf: Buffer.from([1]), fn() {} });
    await got;
    await waitFor(() => errors.length === 1);
    assert.equal(errors[0].code, "ERR_STREAMS_ENCODE");
    assert.equal(adapter.stats.encodeFailures, 1);
    await never(() => seen.length > 0, 300);
  });
});

describe("streams: requestsTimeout", function () {
  let redis, impl, cluster;
  before(async function () {
    redis = await startRedis();
  });
  after(async function () {
    if (redis) await redis.stop();
  });
  afterEach(async function () {
    if (cluster) await cluster.closeAll();
  });

  it("a server that never answers makes fetchSockets and serverSideEmitWithAck fail after requestsTimeout, not 5 s", async function () {
    impl = ours();
    cluster = await createServers({ count: 2, adapter: () => impl.factory(redis.url, { blockTimeInMs: 500, requestsTimeout: 300 }) });
    await waitForFleet(redis.port, { readers: 2, ios: cluster.ios });
    cluster.ios[1].on("q", () => {}); // never acknowledges
    let t0 = Date.now();
    await assert.rejects(cluster.ios[0].serverSideEmitWithAck("q"), /timeout reached: only 0 responses received out of 1/);
    let took = Date.now() - t0;
    assert.ok(took >= 280 && took < 2000, `serverSideEmitWithAck took ${took} ms`);
    // the other server stops answering requests
    const other = cluster.ios[1].of("/").adapter;
    other.onMessage = () => {};
    other._onrecord = () => {};
    t0 = Date.now();
    await assert.rejects(cluster.ios[0].fetchSockets(), /timeout reached/);
    took = Date.now() - t0;
    assert.ok(took >= 280 && took < 2000, `fetchSockets took ${took} ms`);
  });
});
