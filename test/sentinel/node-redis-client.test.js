"use strict";

// A real node-redis v5 createSentinel() client as a target, against real Sentinels (1 master with a
// password, 1 replica, 3 Sentinels). Its options are private, so it is read only as
// { sentinelClient, name, ...what it hides }: the Sentinel it is connected to comes from the client, the rest
// from what the user states. Handed over alone, not connected, or without `name`, it is refused at the call;
// stated without the password the master needs, the connection is refused by Redis (NOAUTH), never made as
// another user.

const assert = require("node:assert/strict");
const nodeRedis5 = require("redis-v5");
const { isRedisAvailable } = require("../helpers/redis");
const { startSentinelGroup } = require("../helpers/sentinel");
const { createServers } = require("../helpers/servers");
const { waitFor, once } = require("../helpers/util");
const lib = require("../..");

const PW = "data-pw-nr";

function refused(fn, pattern) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof TypeError, String(err));
    assert.equal(err.code, "ERR_INVALID_REDIS_TARGET");
    assert.match(err.message, pattern);
    return true;
  });
}

describe("Sentinel: a node-redis v5 createSentinel() client as a target", function () {
  this.timeout(60000);
  let g;
  let sentinel;
  const closers = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    g = await startSentinelGroup({ replicas: 1, masterPassword: PW });
    await g.waitSettled();
    sentinel = nodeRedis5.createSentinel({ name: g.name, sentinelRootNodes: g.sentinelList, nodeClientOptions: { password: PW } });
    sentinel.on("error", () => {});
    await sentinel.connect();
  });

  after(async function () {
    if (sentinel) await sentinel.close().catch(() => {});
    if (g) await g.stop();
  });

  afterEach(async function () {
    for (const f of closers.splice(0).reverse()) await f();
  });

  it("alone, not connected, or without `name`: refused at the call, saying what to pass", async function () {
    refused(() => lib.createAdapter(sentinel), /keeps its options private.*sentinelClient: client, name, password/);
    refused(() => lib.createClient(sentinel), /keeps its options private/);
    refused(() => new lib.Emitter(sentinel), /keeps its options private/);
    refused(() => lib.createAdapter({ sentinelClient: sentinel, password: PW }), /keeps the master's name private: give it as `name`/);
    refused(() => lib.createAdapter({ sentinelClient: {}, name: g.name }), /`sentinelClient` must be a node-redis createSentinel\(\) client/);
    refused(() => lib.createAdapter({ sentinelClient: sentinel, name: g.name, host: "127.0.0.1" }), /`host` does not go with `sentinels`/);
    refused(() => lib.createAdapter({ sentinelClient: sentinel, name: g.name, pasword: PW }), /unknown Redis Sentinel target setting `pasword`/);
    const idle = nodeRedis5.createSentinel({ name: g.name, sentinelRootNodes: g.sentinelList, nodeClientOptions: { password: PW } });
    refused(() => lib.createAdapter({ sentinelClient: idle, name: g.name, password: PW }), /connect the node-redis createSentinel\(\) client/);
  });

  it("connected, with what it hides: takes its Sentinel, follows the master, broadcasts flow", async function () {
    const at = sentinel.getSentinelNode();
    const t = { sentinelClient: sentinel, name: g.name, password: PW };
    const c = lib.createClient(t);
    const errors = [];
    c.on("error", (e) => errors.push(e));
    closers.push(() => c.close());
    await once(c, "ready", 8000);
    assert.equal(String((await c.command(["ROLE"]))[0]), "master");
    assert.deepEqual(errors, []);
    // The client's current Sentinel is the first one asked; `sentinels` adds others.
    const { resolveTarget } = require("../../lib/target");
    const r = resolveTarget({ ...t, sentinels: g.sentinelList });
    assert.deepEqual(r.sentinel.sentinels[0], { host: at.host, port: at.port });
    assert.equal(r.sentinel.sentinels.length, g.sentinelList.length);
    const fleet = await createServers({ count: 2, adapter: () => lib.createAdapter(t, { sentinelClient: sentinel, name: g.name, password: PW }).on("error", () => {}) });
    closers.push(() => fleet.closeAll());
    const b = await fleet.connect(1);
    await waitFor(
      async () => {
        const got = once(b, "hi", 200).then(
          () => true,
          () => false,
        );
        fleet.ios[0].emit("hi");
        return got;
      },
      5000,
      { what: "a broadcast between servers" },
    );
    assert.equal((await fleet.ios[0].fetchSockets()).length, 1);
    // exposed read-only, as upstream's adapter exposes the clients it was given
    assert.equal(fleet.ios[0].of("/").adapter.pubClient, sentinel);
    assert.equal(fleet.ios[0].of("/").adapter.subClient, sentinel);
  });

  it("stated without the password the master needs: Redis refuses (NOAUTH), nothing is guessed", async function () {
    const c = lib.createClient({ sentinelClient: sentinel, name: g.name, connectTimeout: 1500 });
    const errors = [];
    c.on("error", (e) => errors.push(e));
    closers.push(() => c.close());
    await waitFor(() => errors.some((e) => /NOAUTH|AUTH/.test(`${e.code} ${e.message}`)), 10000, { what: "a NOAUTH error" });
    assert.equal(c.isReady, false);
  });
});
