"use strict";

// Behind Sentinel, a connection the health check gave up on (on probation: kept open while a replacement
// connects, the first of the two Redis answers on wins) and a master that moves meanwhile. A fake Sentinel
// (test/helpers/fake-sentinel.js) names the master, two real Redis servers are the old master (behind a TCP
// proxy whose connections the test can turn dead, then bring back) and the new one, and a raw subscriber on
// the new one sees where the publishes held during the probation go:
//   a. the replacement asks Sentinel the asynchronous way, and a failed answer is retried with backoff;
//      a +switch-master then leaves the old node and its replacement's attempt: the held publishes go to
//      the new master, once each, in order
//   b. no +switch-master, but Sentinel names another master to the replacement: the old connection is left
//      at once, even if it speaks again a moment later, and the held publishes go to the new master
//   c. the old connection speaks again, but its node was demoted meanwhile (READONLY to a write sent before
//      the path died): it is left, and the held publishes go to the new master, not to the demoted node
//   d. the same with nothing to refuse: its ROLE, asked before anything held goes out, says it is a replica

const assert = require("node:assert/strict");
const { startRedis, isRedisAvailable, redisCli, RawRedis } = require("../helpers/redis");
const { startProxy } = require("../helpers/proxy");
const { fake, bulk, arr } = require("../helpers/fake-sentinel");
const { waitFor, sleep } = require("../helpers/util");
const lib = require("../..");

const PROBATION = 8;

describe("Sentinel: a master that moves while a connection is on probation", function () {
  this.timeout(30000);
  const closers = [];
  let a, b, proxy, sentinel, mode, sub, received, healOnAnswer;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
  });

  beforeEach(async function () {
    a = await startRedis();
    b = await startRedis();
    proxy = await startProxy(a.port);
    // mode: where the master is ("a": behind the proxy, "b"), or "none" (no Sentinel knows: nil).
    mode = "a";
    healOnAnswer = false;
    sentinel = await fake((args) => {
      if (args[0].toUpperCase() !== "SENTINEL" || args[1] !== "get-master-addr-by-name") return null;
      if (mode === "none") return "*-1\r\n";
      if (mode === "b" && healOnAnswer) setTimeout(() => proxy.heal(), 20);
      return arr(bulk("127.0.0.1"), bulk(String(mode === "a" ? proxy.port : b.port)));
    });
    sub = await RawRedis.connect(b.port);
    received = [];
    sub.on("push", (m) => received.push(m[2].toString()));
    await sub.command("SUBSCRIBE", "ch");
  });

  afterEach(async function () {
    for (const c of closers.splice(0).reverse()) await c();
    if (sub) await sub.close();
    if (proxy) await proxy.close();
    if (sentinel) await sentinel.stop();
    await redisCli(a.port, "REPLICAOF", "NO", "ONE").catch(() => {});
    for (const r of [a, b]) if (r) await r.stop();
  });

  // The command connection through Sentinel; the subscriber straight on b, out of the way (its own provider
  // would ask the fake Sentinel too).
  async function client() {
    const tuning = { healthInterval: 200, healthTimeout: 400, retryMax: 200, connectTimeout: 2000 };
    const t = { sentinels: [{ host: "127.0.0.1", port: sentinel.address().port }], name: "mymaster", ...tuning };
    const c = lib.createClient(t, { host: "127.0.0.1", port: b.port, ...tuning });
    const errors = [];
    c.on("error", (e) => errors.push(e));
    closers.push(() => c.close());
    await waitFor(() => c.isReady, 5000, { what: "the client ready on the old master" });
    return { c, errors };
  }

  // The command connection given up on (after the path died), then n publishes, all held.
  async function holdPublishes(c, n) {
    await waitFor(() => c.stats().command.state === PROBATION, 5000, { what: "the command connection on probation" });
    for (let i = 0; i < n; i++) assert.equal(c.publish("ch", Buffer.from(`m${i}`)), true, "held, not refused");
    assert.equal(c.stats().command.held, n);
  }

  async function expectOnNewMaster(c, n) {
    const want = Array.from({ length: n }, (_, i) => `m${i}`);
    await waitFor(() => received.length >= n, 10000, { what: `the ${n} held publishes on the new master` });
    await sleep(200);
    assert.deepEqual(received, want, "each held publish once, in order, on the new master");
    const st = c.stats().command;
    assert.equal(st.state, 4);
    assert.equal(st.replayed, n);
    assert.equal(st.heldDropped, 0);
  }

  // The old master becomes a replica of the new one, and the dead path heals.
  async function demoteAndHeal() {
    await redisCli(a.port, "REPLICAOF", "127.0.0.1", String(b.port));
    proxy.heal();
  }

  it("a. the replacement's question fails and is retried; a +switch-master leaves the old node: held publishes go to the new master", async function () {
    const { c, errors } = await client();
    mode = "none";
    proxy.blackhole();
    await holdPublishes(c, 5);
    // The replacement asks (a Sentinel answers later, here with nil), is refused, and asks again.
    const asked = sentinel.asked("get-master-addr-by-name");
    await waitFor(() => sentinel.asked("get-master-addr-by-name") >= asked + 2, 5000, { what: "the replacement asking again" });
    assert.ok(errors.some((e) => e.code === "EUNKNOWNMASTER"), "the failed answer is reported");
    assert.equal(c.stats().command.state, PROBATION, "still on probation while Sentinel cannot say");
    mode = "b";
    sentinel.push(`mymaster 127.0.0.1 ${proxy.port} 127.0.0.1 ${b.port}`);
    await expectOnNewMaster(c, 5);
    assert.equal(c.stats().command.resumed, 0);
    assert.equal(c.stats().command.replaced, 0);
  });

  it("b. Sentinel names another master to the replacement: the old connection is not kept, held publishes go there", async function () {
    const { c } = await client();
    mode = "none";
    proxy.blackhole();
    await holdPublishes(c, 4);
    // The old path heals 20 ms after Sentinel has named the new master: before a replacement could be
    // proven there (its grace alone is 50 ms). The old master is still a master: resumed there, the held
    // publishes would never reach b.
    healOnAnswer = true;
    mode = "b";
    await expectOnNewMaster(c, 4);
    assert.equal(c.stats().command.resumed, 0);
  });

  it("c. the old connection answers READONLY when it speaks again (its node was demoted): held publishes go to the new master", async function () {
    const { c, errors } = await client();
    mode = "none";
    proxy.blackhole();
    // A write on the dead path: Redis reads it once the path heals.
    const write = c.command(["SET", "k", "v"]).then(
      () => null,
      (e) => e,
    );
    await holdPublishes(c, 3);
    assert.equal((await write).code, "ENOTCONN", "a request rejects at once on probation");
    await demoteAndHeal();
    await waitFor(() => errors.some((e) => e.code === "READONLY"), 5000, { what: "READONLY from the resumed connection" });
    assert.equal(c.stats().command.resumed, 1, "the old connection spoke first");
    assert.equal(c.stats().command.held, 3, "still held: not sent to the demoted node");
    mode = "b";
    await expectOnNewMaster(c, 3);
  });

  it("d. the old connection speaks again and its ROLE says its node was demoted: held publishes go to the new master", async function () {
    const { c, errors } = await client();
    mode = "none";
    proxy.blackhole();
    await holdPublishes(c, 3);
    await demoteAndHeal();
    await waitFor(() => errors.some((e) => e.code === "EROLE"), 5000, { what: "EROLE from the resumed connection" });
    assert.equal(c.stats().command.resumed, 1, "the old connection spoke first");
    assert.equal(c.stats().command.held, 3, "still held: not sent to the demoted node");
    mode = "b";
    await expectOnNewMaster(c, 3);
  });
});
