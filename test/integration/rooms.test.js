"use strict";

// adapter.rooms / adapter.sids and the room events must behave like socket.io-adapter's
// in-memory Adapter: the same scenario runs on a server using the adapter under test and on a
// server using the in-memory adapter, and the observations are compared.

const assert = require("node:assert/strict");
const { startRedis, isRedisAvailable } = require("../helpers/redis");
const { implementation } = require("../helpers/adapters");
const { createServers } = require("../helpers/servers");
const { waitFor } = require("../helpers/util");

const impl = implementation();

function snapshot(adapter, name) {
  const rooms = [...adapter.rooms].map(([room, ids]) => [name(room), [...ids].map(name)]);
  const sids = [...adapter.sids].map(([id, rs]) => [name(id), [...rs].map(name)]);
  return { rooms, sids };
}

// Runs the scenario on one server and returns everything observed, with socket ids replaced by
// "A"/"B" so that two runs compare equal.
async function scenario(cluster) {
  const io = cluster.ios[0];
  const adapter = io.of("/").adapter;
  const log = [];
  const ids = new Map();
  const name = (v) => (ids.has(v) ? ids.get(v) : v);
  for (const ev of ["create-room", "join-room", "leave-room", "delete-room"]) {
    adapter.on(ev, (...args) => log.push([ev, ...args.map(name)]));
  }
  const check = (label) => log.push(["snapshot", label, snapshot(adapter, name)]);

  const a = await cluster.connect(0);
  ids.set(a.id, "A");
  const b = await cluster.connect(0);
  ids.set(b.id, "B");
  // events fired during connect used the raw ids: rename now
  for (const entry of log) for (let k = 1; k < entry.length; k++) entry[k] = name(entry[k]);
  const sa = cluster.serverSocket(0, a);
  const sb = cluster.serverSocket(0, b);
  check("connected");

  sa.join("r1");
  // synchronous: visible without awaiting anything
  log.push(["sync-after-join", adapter.rooms.has("r1"), adapter.sids.get(sa.id).has("r1"), sa.rooms.has("r1")]);
  sb.join(["r1", "r2"]);
  sa.join("r1"); // already a member: no event
  sa.join(7); // numeric room
  sa.join("7"); // a different room
  check("joined");

  sa.leave("r1");
  log.push(["sync-after-leave", adapter.rooms.has("r1"), adapter.sids.get(sa.id).has("r1")]);
  sb.leave("r2");
  sb.leave("nope"); // not a member: no event
  sa.leave(7);
  check("left");
  log.push(["socket.rooms", [...sa.rooms].map(name), [...sb.rooms].map(name)]);

  // socket.io's own operations on the Maps: socketsJoin/Leave, fetchSockets, except (local: upstream applies
  // the cluster-wide forms on its own node only once its request comes back from Redis)
  io.local.in("r1").socketsJoin(["r3", 9]);
  check("socketsJoin");
  log.push(["fetch", (await io.local.in(9).fetchSockets()).map((s) => name(s.id)), (await io.local.except("r3").fetchSockets()).map((s) => name(s.id))]);
  io.local.in("r3").socketsLeave(["r1", "r3", "none"]);
  check("socketsLeave");

  a.disconnect();
  await waitFor(() => !io.of("/").sockets.has(sa.id), 2000, { what: "server-side disconnect" });
  check("disconnected");
  io.local.in(sb.id).disconnectSockets(true);
  await waitFor(() => !io.of("/").sockets.has(sb.id), 2000, { what: "disconnectSockets" });
  check("all gone");
  return log;
}

describe(`adapter rooms and sids like the in-memory adapter [${impl.name}]`, function () {
  this.timeout(10000);
  let redis;
  const toClose = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip(); // no redis-server on this machine
    redis = await startRedis();
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  afterEach(async function () {
    for (const fn of toClose.splice(0).reverse()) await fn();
    await impl.cleanup();
  });

  it("produces the same events, rooms and sids as the in-memory adapter", async function () {
    const reference = await createServers({ count: 1 }); // default: in-memory Adapter
    toClose.push(() => reference.closeAll());
    const tested = await createServers({ count: 1, adapter: () => impl.factory(redis.url) });
    toClose.push(() => tested.closeAll());

    const expected = await scenario(reference);
    const actual = await scenario(tested);
    assert.deepEqual(actual, expected);
    // and the reference itself is what socket.io-adapter documents
    assert.deepEqual(expected.slice(0, 4), [
      ["create-room", "A"],
      ["join-room", "A", "A"],
      ["create-room", "B"],
      ["join-room", "B", "B"],
    ]);
  });

  it("keeps rooms and sids consistent after a remote socketsJoin/socketsLeave", async function () {
    if (impl.subscribes === false) this.skip();
    const cluster = await createServers({ count: 2, adapter: () => impl.factory(redis.url) });
    toClose.push(() => cluster.closeAll());
    const { waitForSubscribers } = require("../helpers/redis");
    await waitForSubscribers(redis.port, 2);
    const client = await cluster.connect(1);
    const adapter = cluster.ios[1].of("/").adapter;
    const events = [];
    adapter.on("join-room", (room) => events.push(["join", room]));
    adapter.on("leave-room", (room) => events.push(["leave", room]));
    cluster.ios[0].socketsJoin("remote-room");
    await waitFor(() => adapter.rooms.has("remote-room"), 3000, { what: "remote join" });
    assert.ok(adapter.sids.get(client.id).has("remote-room"));
    cluster.ios[0].socketsLeave("remote-room");
    await waitFor(() => !adapter.rooms.has("remote-room"), 3000, { what: "remote leave" });
    assert.ok(!adapter.sids.get(client.id).has("remote-room"));
    assert.deepEqual(events, [
      ["join", "remote-room"],
      ["leave", "remote-room"],
    ]);
  });
});
