"use strict";

// Inter-node requests across three servers: fetchSockets, allRooms (via adapter), socketsJoin /
// socketsLeave / disconnectSockets, serverSideEmit (with and without ack), broadcast with ack.

const assert = require("node:assert/strict");
const { startRedis, isRedisAvailable } = require("../helpers/redis");
const { implementation } = require("../helpers/adapters");
const { startCluster, barrier } = require("../helpers/cluster");
const { waitFor, once } = require("../helpers/util");

const impl = implementation();

describe(`requests across 3 servers [${impl.name}]`, function () {
  this.timeout(10000);
  let redis;
  let fx;

  before(async function () {
    if (impl.subscribes === false) this.skip();
    if (!(await isRedisAvailable())) return this.skip(); // no redis-server on this machine
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(async function () {
    fx = await startCluster({ redis, factory: () => impl.factory(redis.url, { requestsTimeout: 3000 }) });
  });

  afterEach(async function () {
    if (fx) await fx.close();
    fx = null;
    await impl.cleanup();
  });

  const c = (i, j) => fx.clients["/"][i][j];
  const ss = (i, j) => fx.serverSocket(i, c(i, j));

  it("fetchSockets returns the sockets of every server", async function () {
    ss(1, 0).join("fetched");
    ss(2, 1).join("fetched");
    ss(2, 1).data = { user: "u21", n: [1, 2] };
    const all = await fx.ios[0].fetchSockets();
    assert.deepEqual(all.map((s) => s.id).sort(), fx.all().map((s) => s.id).sort());
    const inRoom = await fx.ios[0].in("fetched").fetchSockets();
    assert.deepEqual(inRoom.map((s) => s.id).sort(), [c(1, 0).id, c(2, 1).id].sort());
    const remote = inRoom.find((s) => s.id === c(2, 1).id);
    assert.deepEqual(remote.data, { user: "u21", n: [1, 2] });
    assert.ok(remote.rooms.has("fetched"));
    assert.equal(typeof remote.handshake.address, "string");
    const except = await fx.ios[0].except("fetched").fetchSockets();
    assert.equal(except.length, 4);
  });

  it("a RemoteSocket can be emitted to, joined and disconnected", async function () {
    const [remote] = await fx.ios[0].in(c(2, 0).id).fetchSockets();
    assert.equal(remote.id, c(2, 0).id);
    const got = once(c(2, 0), "remote-emit");
    remote.emit("remote-emit", "hi");
    assert.deepEqual(await got, ["hi"]);
    remote.join("via-remote");
    await waitFor(() => ss(2, 0).rooms.has("via-remote"), 3000, { what: "remote join" });
    const gone = once(c(2, 0), "disconnect");
    remote.disconnect();
    await gone;
  });

  it("socketsJoin / socketsLeave apply on every server", async function () {
    ss(0, 0).join("src");
    ss(2, 1).join("src");
    fx.ios[1].in("src").socketsJoin("dst");
    await waitFor(() => ss(0, 0).rooms.has("dst") && ss(2, 1).rooms.has("dst"), 3000, { what: "socketsJoin" });
    assert.ok(!ss(1, 0).rooms.has("dst"));
    fx.ios[1].socketsLeave("dst");
    await waitFor(() => !ss(0, 0).rooms.has("dst") && !ss(2, 1).rooms.has("dst"), 3000, { what: "socketsLeave" });
  });

  it("disconnectSockets disconnects matching sockets on every server", async function () {
    ss(0, 1).join("kick");
    ss(1, 1).join("kick");
    const d1 = once(c(0, 1), "disconnect");
    const d2 = once(c(1, 1), "disconnect");
    fx.ios[2].in("kick").disconnectSockets();
    await Promise.all([d1, d2]);
    await barrier(fx.ios[2], [c(0, 0), c(1, 0), c(2, 0), c(2, 1)]);
    assert.ok(c(0, 0).connected && c(2, 1).connected);
  });

  it("serverSideEmit reaches the other servers", async function () {
    const got = [1, 2].map((i) => once(fx.ios[i], "ping-servers").then((args) => [i, ...args]));
    let self = 0;
    fx.ios[0].on("ping-servers", () => self++);
    fx.ios[0].serverSideEmit("ping-servers", "a", 1);
    assert.deepEqual(await Promise.all(got), [
      [1, "a", 1],
      [2, "a", 1],
    ]);
    assert.equal(self, 0);
  });

  it("serverSideEmitWithAck collects one answer per other server", async function () {
    fx.ios[1].on("ask", (q, cb) => cb(`one:${q}`));
    fx.ios[2].on("ask", (q, cb) => cb(`two:${q}`));
    const answers = await fx.ios[0].serverSideEmitWithAck("ask", "q");
    assert.deepEqual(answers.sort(), ["one:q", "two:q"]);
  });

  it("broadcast with ack collects every client's answer", async function () {
    for (const client of fx.all()) client.on("ack-me", (n, cb) => cb(n + 1));
    const answers = await fx.ios[1].timeout(3000).emitWithAck("ack-me", 41);
    assert.deepEqual(answers, [42, 42, 42, 42, 42, 42]);
  });

  it("broadcast with ack to a room on other servers", async function () {
    ss(0, 0).join("acks");
    ss(2, 1).join("acks");
    for (const client of fx.all()) client.on("ack-room", (cb) => cb(client.id));
    const answers = await fx.ios[1].to("acks").timeout(3000).emitWithAck("ack-room");
    assert.deepEqual(answers.sort(), [c(0, 0).id, c(2, 1).id].sort());
  });

  it("allRooms via the adapter lists rooms of every server", async function () {
    ss(0, 0).join("r0");
    ss(2, 1).join("r2");
    const rooms = await fx.ios[1].of("/").adapter.allRooms();
    assert.ok(rooms.has("r0") && rooms.has("r2"), [...rooms].join(","));
    for (const client of fx.all()) assert.ok(rooms.has(client.id));
  });
});
