"use strict";

// Sentinels that are down, unknown names and wrong passwords: a Sentinel down at start is skipped; with every
// Sentinel down the client reports a clear error (code ESENTINEL), keeps retrying with backoff and recovers
// when they return; a master name no Sentinel knows is EUNKNOWNMASTER; connections already on the master keep
// working while the Sentinels are away.

const assert = require("node:assert/strict");
const { isRedisAvailable, freePort, redisCli } = require("../helpers/redis");
const { startSentinelGroup } = require("../helpers/sentinel");
const { createServers } = require("../helpers/servers");
const { waitFor, once, sleep } = require("../helpers/util");
const lib = require("../..");

describe("Sentinel: outages, unknown names, passwords", function () {
  this.timeout(60000);
  let g;
  const closers = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    g = await startSentinelGroup();
    await g.waitSettled();
  });

  after(async function () {
    if (g) await g.stop();
  });

  afterEach(async function () {
    for (const c of closers.splice(0).reverse()) await c();
    for (const s of g.sentinels) await s.start();
  });

  const target = (extra = {}) => ({ sentinels: g.sentinelList, name: g.name, ...extra });

  function client(t) {
    const c = lib.createClient(t);
    const errors = [];
    c.on("error", (e) => errors.push(e));
    closers.push(() => c.close());
    return { c, errors };
  }

  it("a Sentinel down at start is skipped: ready, broadcasts flow, no error", async function () {
    const dead = await freePort();
    await g.sentinels[0].kill();
    const t = { sentinels: [{ host: "127.0.0.1", port: dead }, ...g.sentinelList], name: g.name };
    const { c, errors } = client(t);
    await once(c, "ready", 5000);
    assert.equal((await c.command(["ROLE"]))[0], "master");
    const errs2 = [];
    const fleet = await createServers({ count: 2, adapter: () => lib.createAdapter(t).on("error", (e) => errs2.push(e)) });
    closers.push(() => fleet.closeAll());
    const b = await fleet.connect(1);
    await waitFor(
      async () => {
        const got = once(b, "hi", 300).then(() => true, () => false);
        fleet.ios[0].emit("hi");
        return got;
      },
      5000,
      { what: "a broadcast between the servers" },
    );
    assert.deepEqual(errors.concat(errs2).map((e) => e.code), [], "no error reaches the application");
  });

  it("every Sentinel down: a clear ESENTINEL error, retries, and recovery when they return", async function () {
    for (const s of g.sentinels) await s.kill();
    const { c, errors } = client(target({ retryMax: 400 }));
    await waitFor(() => errors.filter((e) => e.code === "ESENTINEL").length >= 3, 15000, { what: "3 ESENTINEL errors" });
    const e = errors.find((x) => x.code === "ESENTINEL");
    assert.match(e.message, /no Sentinel could say where the master of "mymaster" is \(3 of 3 tried; last: Sentinel 127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.ok(["command", "subscriber"].includes(e.role));
    assert.equal(c.isReady, false);
    // Listening first: the client may be ready before the last Sentinel has answered its PING.
    const ready = once(c, "ready", 10000);
    const restarting = Date.now();
    for (const s of g.sentinels) await s.start();
    const up = Date.now();
    await ready;
    console.log(`      ready ${Date.now() - restarting} ms after the Sentinels began restarting (${up - restarting} ms to restart them)`);
    assert.equal((await c.command(["ROLE"]))[0], "master");
  });

  it("every Sentinel down while connected: the master keeps serving, and nothing is reported", async function () {
    const errors = [];
    const fleet = await createServers({ count: 2, adapter: () => lib.createAdapter(target()).on("error", (e) => errors.push(e)) });
    closers.push(() => fleet.closeAll());
    const b = await fleet.connect(1);
    const flows = async () => {
      const got = once(b, "hi", 300).then(() => true, () => false);
      fleet.ios[0].emit("hi");
      return got;
    };
    await waitFor(flows, 5000, { what: "a broadcast" });
    for (const s of g.sentinels) await s.kill();
    await sleep(1500);
    assert.ok(await flows(), "broadcasts flow with every Sentinel down");
    assert.equal((await fleet.ios[0].fetchSockets()).length, 1);
    assert.deepEqual(errors.map((x) => x.code), []);
  });

  it("the other Sentinels are learned from the one given, and used when it is gone", async function () {
    const { c, errors } = client({ sentinels: [g.sentinelList[0]], name: g.name });
    await once(c, "ready", 5000);
    await sleep(300); // SENTINEL sentinels answered
    await g.sentinels[0].kill();
    const master = await g.masterPort();
    await redisCli(master, "CLIENT", "KILL", "TYPE", "normal");
    await redisCli(master, "CLIENT", "KILL", "TYPE", "pubsub");
    await waitFor(async () => c.isReady && (await c.command(["PING"]).catch(() => null)) === "PONG", 8000, { what: "ready again through a learned Sentinel" });
    assert.ok(c.stats().command.connects >= 2, "the command connection did reconnect");
    assert.deepEqual(errors.filter((e) => /^E(SENTINEL|UNKNOWNMASTER)$/.test(e.code)), []);
  });

  it("a master name no Sentinel knows: EUNKNOWNMASTER, retried", async function () {
    const { c, errors } = client(target({ name: "no-such-master", retryMax: 400 }));
    await waitFor(() => errors.filter((e) => e.code === "EUNKNOWNMASTER").length >= 2, 10000, { what: "2 EUNKNOWNMASTER errors" });
    assert.match(errors.find((e) => e.code === "EUNKNOWNMASTER").message, /no Sentinel knows a master named "no-such-master" \(3 asked\)/);
    assert.equal(c.isReady, false);
  });
});

describe("Sentinel: passwords on the Sentinels and on the data nodes", function () {
  this.timeout(60000);
  let g;
  const closers = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    g = await startSentinelGroup({ replicas: 1, sentinelPassword: "sentinel-pw", masterPassword: "data-pw" });
    await g.waitSettled();
  });

  after(async function () {
    for (const c of closers.splice(0).reverse()) await c();
    if (g) await g.stop();
  });

  it("sentinelPassword for the Sentinels, password for the master", async function () {
    const c = lib.createClient({ sentinels: g.sentinelList, name: g.name, sentinelPassword: "sentinel-pw", password: "data-pw" });
    closers.push(() => c.close());
    c.on("error", () => {});
    await once(c, "ready", 5000);
    assert.equal((await c.command(["ROLE"]))[0], "master");
    const url = `redis+sentinel://:data-pw@${g.sentinelList.map((s) => `${s.host}:${s.port}`).join(",")}/${g.name}?sentinelPassword=sentinel-pw`;
    const c2 = lib.createClient(url);
    closers.push(() => c2.close());
    c2.on("error", () => {});
    await once(c2, "ready", 5000);
  });

  it("a wrong sentinelPassword is a clear ESENTINEL naming Redis's refusal, without the password", async function () {
    const c = lib.createClient({ sentinels: g.sentinelList, name: g.name, sentinelPassword: "not-the-pw", password: "data-pw", retryMax: 400 });
    closers.push(() => c.close());
    const errors = [];
    c.on("error", (e) => errors.push(e));
    await waitFor(() => errors.some((e) => e.code === "ESENTINEL"), 10000, { what: "an ESENTINEL error" });
    const e = errors.find((x) => x.code === "ESENTINEL");
    assert.match(e.message, /WRONGPASS|invalid password|NOAUTH/);
    assert.ok(!errors.some((x) => x.message.includes("not-the-pw") || x.message.includes("data-pw")));
  });
});
