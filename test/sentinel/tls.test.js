"use strict";

// Sentinel over TLS: real redis-server nodes and redis-sentinel processes with TLS ports and
// `tls-replication yes` (test/helpers/sentinel.js with `tls`), certificates made by the openssl CLI
// (test/helpers/tls.js). The targets know only the TLS ports, and every address the Sentinels give is a TLS
// port: nothing works unless both the Sentinel connections and the data connections speak TLS. Checked:
// each target form (ioredis options and clients, node-redis createSentinel() options and a connected
// createSentinel() client, rediss+sentinel://),
// broadcasts and requests flowing again within 2 s of a failover, a wrong CA (data nodes and Sentinels), a
// wrong host name, plain text against TLS ports, mutual TLS, and a deployment named by host names
// (announce-hostnames) with certificates for the name only: each node is verified against the name the
// Sentinels give, each Sentinel against the host it is reached by.

const assert = require("node:assert/strict");
const IORedis = require("ioredis");
const { isRedisAvailable } = require("../helpers/redis");
const { startSentinelGroup } = require("../helpers/sentinel");
const { certs } = require("../helpers/tls");
const { createServers } = require("../helpers/servers");
const { waitFor, once } = require("../helpers/util");
const lib = require("../..");

const LIMIT_MS = 2000;

// Server 0 emits ("hi", time) every 25 ms; resolves with the time from `since` to the arrival at client `to`
// of the first one emitted at or after `since`.
function flows(ios, to, since, limitMs) {
  return new Promise((resolve, reject) => {
    const handler = (at) => {
      if (at >= since) finish(null, Date.now() - since);
    };
    const timer = setInterval(() => {
      if (Date.now() - since > limitMs + 3000) return finish(new Error(`broadcasts still lost ${Date.now() - since} ms after ${since}`));
      ios[0].emit("hi", Date.now());
    }, 25);
    to.on("hi", handler);
    ios[0].emit("hi", Date.now());
    let done = false;
    function finish(err, ms) {
      if (done) return;
      done = true;
      clearInterval(timer);
      to.off("hi", handler);
      if (err) reject(err);
      else resolve(ms);
    }
  });
}

// Starts a fetchSockets() every 25 ms, without waiting for those in flight (one started while a connection
// was down waits for its requestsTimeout); resolves with the time from `since` to the first that counts `n`.
function fetchFlows(io, n, since, limitMs) {
  return new Promise((resolve, reject) => {
    const inflight = new Set();
    let done = false;
    const timer = setInterval(fire, 25);
    fire();
    function fire() {
      if (done) return;
      if (Date.now() - since > limitMs + 3000) {
        done = true;
        clearInterval(timer);
        reject(new Error(`fetchSockets still failing ${Date.now() - since} ms after ${since}`));
        return;
      }
      const p = io
        .fetchSockets()
        .then(
          (s) => {
            if (s.length === n && !done) {
              done = true;
              clearInterval(timer);
              const ms = Date.now() - since;
              Promise.allSettled([...inflight]).then(() => resolve(ms));
            }
          },
          () => {},
        )
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
  });
}

describe("Sentinel over TLS", function () {
  this.timeout(90000);
  let g;
  let c;
  const closers = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    c = certs();
    g = await startSentinelGroup({ tls: {} });
    await g.waitSettled();
  });

  after(async function () {
    if (g) await g.stop();
  });

  afterEach(async function () {
    for (const f of closers.splice(0).reverse()) await f();
  });

  const target = (extra = {}) => ({ sentinels: g.sentinelList, name: g.name, tls: { ca: c.ca }, sentinelTLS: { ca: c.ca }, ...extra });

  function client(t, sub) {
    const cl = lib.createClient(t, sub);
    const errors = [];
    cl.on("error", (e) => errors.push(e));
    closers.push(() => cl.close());
    return { cl, errors };
  }

  async function readyOnMaster(t) {
    const { cl, errors } = client(t);
    await once(cl, "ready", 8000).catch((e) => {
      throw new Error(`${e.message}; errors: ${errors.map((x) => `${x.code}: ${x.message}`).join(" | ")}`);
    });
    assert.equal(String((await cl.command(["ROLE"]))[0]), "master");
    return cl;
  }

  it("every target form reaches the master over TLS, through Sentinels over TLS", async function () {
    const S = g.sentinelList;
    // our / ioredis's options
    await readyOnMaster(target());
    await readyOnMaster(target({ enableTLSForSentinelMode: true }));
    // an ioredis client in Sentinel mode with TLS both ways
    const io = new IORedis({ sentinels: S, name: g.name, tls: { ca: c.ca }, enableTLSForSentinelMode: true, sentinelTLS: { ca: c.ca }, lazyConnect: true });
    closers.push(() => io.disconnect());
    await readyOnMaster(io);
    // node-redis createSentinel() options
    await readyOnMaster({ name: g.name, sentinelRootNodes: S, nodeClientOptions: { socket: { tls: true, ca: c.ca } }, sentinelClientOptions: { socket: { tls: true, ca: c.ca } } });
    // a connected node-redis createSentinel() client over TLS, with the TLS settings it keeps private stated
    const nr = require("redis-v5").createSentinel({ name: g.name, sentinelRootNodes: S, nodeClientOptions: { socket: { tls: true, ca: c.ca } }, sentinelClientOptions: { socket: { tls: true, ca: c.ca } } });
    nr.on("error", () => {});
    await nr.connect();
    closers.push(() => nr.close());
    await readyOnMaster({ sentinelClient: nr, name: g.name, tls: { ca: c.ca }, sentinelTLS: { ca: c.ca } });
    // rediss+sentinel:// (TLS both ways), the test CA given next to it
    const hosts = S.map((s) => `${s.host}:${s.port}`).join(",");
    await readyOnMaster({ url: `rediss+sentinel://${hosts}/${g.name}`, tls: { ca: c.ca }, sentinelTLS: { ca: c.ca } });
    // a subscriber on a replica over TLS
    const { cl } = client(target(), target({ role: "replica" }));
    await once(cl, "ready", 8000);
  });

  it("the sharded adapter and the Emitter over TLS", async function () {
    const fleet = await createServers({ count: 2, adapter: () => lib.createShardedAdapter(target(), { requestsTimeout: 1000 }).on("error", () => {}) });
    closers.push(() => fleet.closeAll());
    const b = await fleet.connect(1);
    await flows(fleet.ios, b, Date.now(), LIMIT_MS);
    assert.equal((await fleet.ios[0].fetchSockets()).length, 1);
    const classic = await createServers({ count: 1, adapter: () => lib.createAdapter(target()).on("error", () => {}) });
    closers.push(() => classic.closeAll());
    const d = await classic.connect(0);
    const emitter = new lib.Emitter(`rediss+sentinel://${g.sentinelList.map((x) => `${x.host}:${x.port}`).join(",")}/${g.name}`);
    closers.push(() => emitter.close());
    const refusedErrors = [];
    emitter.client.on("error", (e) => refusedErrors.push(e));
    // rediss+sentinel:// trusts Node's default CAs only: the test CA is not one of them, so the Sentinels'
    // certificates are refused (it speaks TLS to them, and does not fall back).
    await waitFor(() => refusedErrors.some((e) => e.code === "ESENTINEL" && /SELF_SIGNED_CERT_IN_CHAIN/.test(e.message)), 10000, { what: "the Sentinels' certificates refused" });
    const emitter2 = new lib.Emitter(target());
    closers.push(() => emitter2.close());
    emitter2.client.on("error", () => {});
    await waitFor(() => emitter2.client.isReady, 8000, { what: "the Emitter's client over TLS" });
    await waitFor(
      async () => {
        const got = once(d, "emitted", 200).then(
          () => true,
          () => false,
        );
        emitter2.emit("emitted", "over TLS");
        return got;
      },
      5000,
      { what: "an Emitter broadcast over TLS" },
    );
    assert.equal(emitter.client.isReady, false);
  });

  it("broadcasts and requests flow again within 2 s of a failover under TLS", async function () {
    const errors = [];
    const fleet = await createServers({
      count: 2,
      adapter: () => lib.createAdapter(target(), { requestsTimeout: 1000 }).on("error", (e) => errors.push(e)),
    });
    closers.push(() => fleet.closeAll());
    const b = await fleet.connect(1);
    await flows(fleet.ios, b, Date.now(), LIMIT_MS);
    const watch = await g.watchSwitch();
    closers.push(() => watch.close());
    const old = await g.masterPort();
    await g.failover();
    const ev = await watch.first;
    assert.equal(ev.from, old);
    const [broadcastMs, fetchMs] = await Promise.all([flows(fleet.ios, b, ev.at, LIMIT_MS), fetchFlows(fleet.ios[0], 1, ev.at, LIMIT_MS)]);
    console.log(`      TLS: broadcasts flow ${broadcastMs} ms, fetchSockets ${fetchMs} ms after the first +switch-master`);
    assert.ok(broadcastMs <= LIMIT_MS, `broadcasts flowed again after ${broadcastMs} ms`);
    assert.ok(fetchMs <= LIMIT_MS, `fetchSockets worked again after ${fetchMs} ms`);
    assert.ok(!errors.some((e) => e.code === "ESENTINEL"), "no Sentinel error while every Sentinel was up");
    await waitFor(async () => (await g.masterPort()) === ev.to, 3000, { what: "the new master" });
  });

  it("a wrong CA for the data nodes is refused with its TLS code, and retried", async function () {
    const { cl, errors } = client(target({ tls: { ca: c.otherCa }, connectTimeout: 2000 }));
    await waitFor(() => errors.filter((e) => e.code === "SELF_SIGNED_CERT_IN_CHAIN").length >= 2, 10000, { what: "two SELF_SIGNED_CERT_IN_CHAIN errors" });
    assert.equal(cl.isReady, false);
    assert.match(errors.find((e) => e.code === "SELF_SIGNED_CERT_IN_CHAIN").message, /TLS to 127\.0\.0\.1:\d+/);
  });

  it("a wrong CA for the Sentinels: ESENTINEL naming the TLS failure", async function () {
    const { cl, errors } = client(target({ sentinelTLS: { ca: c.otherCa }, connectTimeout: 2000 }));
    await waitFor(() => errors.some((e) => e.code === "ESENTINEL"), 10000, { what: "an ESENTINEL error" });
    assert.equal(cl.isReady, false);
    assert.match(errors.find((e) => e.code === "ESENTINEL").message, /SELF_SIGNED_CERT_IN_CHAIN/);
  });

  it("host names are verified: a servername the certificate does not hold is refused", async function () {
    const { cl, errors } = client(target({ tls: { ca: c.ca, servername: "wrong.example" }, connectTimeout: 2000 }));
    await waitFor(() => errors.some((e) => e.code === "ERR_TLS_CERT_ALTNAME_INVALID"), 10000, { what: "ERR_TLS_CERT_ALTNAME_INVALID" });
    assert.equal(cl.isReady, false);
  });

  it("plain text to the TLS ports never becomes ready", async function () {
    const { cl, errors } = client({ sentinels: g.sentinelList, name: g.name, connectTimeout: 1000 });
    await waitFor(() => errors.some((e) => e.code === "ESENTINEL"), 10000, { what: "an ESENTINEL error" });
    assert.equal(cl.isReady, false);
    // TLS to the Sentinels but plain text to the TLS data nodes
    const second = client(target({ tls: undefined, connectTimeout: 1000 }));
    await waitFor(() => second.errors.length >= 2, 10000, { what: "errors" });
    assert.equal(second.cl.isReady, false);
  });

  // Last in this group: it leaves one node fewer.
  it("kill -9 of the master under TLS: broadcasts and requests flow again within 2 s of the switch", async function () {
    await g.waitSettled(40000);
    const fleet = await createServers({
      count: 2,
      adapter: () => lib.createAdapter(target(), { requestsTimeout: 1000 }).on("error", () => {}),
    });
    closers.push(() => fleet.closeAll());
    const b = await fleet.connect(1);
    await flows(fleet.ios, b, Date.now(), LIMIT_MS);
    const watch = await g.watchSwitch();
    closers.push(() => watch.close());
    const old = await g.master();
    await old.kill("SIGKILL");
    const ev = await watch.first;
    assert.equal(ev.from, g.known(old));
    const [broadcastMs, fetchMs] = await Promise.all([flows(fleet.ios, b, ev.at, LIMIT_MS), fetchFlows(fleet.ios[0], 1, ev.at, LIMIT_MS)]);
    console.log(`      TLS, kill -9: broadcasts flow ${broadcastMs} ms, fetchSockets ${fetchMs} ms after the first +switch-master`);
    assert.ok(broadcastMs <= LIMIT_MS, `broadcasts flowed again after ${broadcastMs} ms`);
    assert.ok(fetchMs <= LIMIT_MS, `fetchSockets worked again after ${fetchMs} ms`);
  });
});

describe("Sentinel over mutual TLS", function () {
  this.timeout(60000);
  let g;
  let c;
  const closers = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    c = certs();
    g = await startSentinelGroup({ tls: { authClients: "yes" }, replicas: 1 });
    await g.waitSettled();
  });

  after(async function () {
    if (g) await g.stop();
  });

  afterEach(async function () {
    for (const f of closers.splice(0).reverse()) await f();
  });

  const mtls = (ca = c.ca) => ({ ca, cert: c.client.cert, key: c.client.key });

  it("with a client certificate on both sides: ready on the master", async function () {
    const cl = lib.createClient({ sentinels: g.sentinelList, name: g.name, tls: mtls(), sentinelTLS: { ...mtls(), key: c.clientEncrypted.key, passphrase: c.clientEncrypted.passphrase } });
    const errors = [];
    cl.on("error", (e) => errors.push(e));
    closers.push(() => cl.close());
    await once(cl, "ready", 8000);
    assert.equal(String((await cl.command(["ROLE"]))[0]), "master");
    assert.deepEqual(errors, []);
  });

  it("without a client certificate for the Sentinels, or for the data nodes: refused", async function () {
    for (const [t, what] of [
      [{ tls: mtls(), sentinelTLS: { ca: c.ca } }, "ESENTINEL"],
      [{ tls: { ca: c.ca }, sentinelTLS: mtls() }, null],
      [{ tls: { ...mtls(), cert: c.otherClient.cert, key: c.otherClient.key }, sentinelTLS: mtls() }, null],
    ]) {
      const cl = lib.createClient({ sentinels: g.sentinelList, name: g.name, connectTimeout: 1500, ...t });
      const errors = [];
      cl.on("error", (e) => errors.push(e));
      closers.push(() => cl.close());
      await waitFor(() => errors.length >= 2 && (what === null || errors.some((e) => e.code === what)), 10000, { what: `errors (${what || "any"})` });
      assert.equal(cl.isReady, false, errors.map((e) => e.code).join(","));
      if (what === null) assert.ok(!errors.some((e) => e.code === "ESENTINEL"), "the Sentinels answered over mutual TLS");
    }
  });
});

describe("Sentinel over TLS, every process named by host name", function () {
  this.timeout(60000);
  let g;
  let c;
  const closers = [];

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    c = certs();
    // Certificates for the name localhost only: a connection that verified an IP address would fail.
    g = await startSentinelGroup({ tls: { server: c.dnsOnly }, hostnames: true, replicas: 1 });
    await g.waitSettled();
  });

  after(async function () {
    if (g) await g.stop();
  });

  afterEach(async function () {
    for (const f of closers.splice(0).reverse()) await f();
  });

  function client(t) {
    const cl = lib.createClient(t);
    const errors = [];
    cl.on("error", (e) => errors.push(e));
    closers.push(() => cl.close());
    return { cl, errors };
  }

  it("the data node is verified against the name the Sentinels give (announce-hostnames), the Sentinels against theirs", async function () {
    assert.equal(String((await g.sentinels[0].command("SENTINEL", "get-master-addr-by-name", g.name))[0]), "localhost");
    const { cl, errors } = client({ sentinels: g.sentinelList, name: g.name, tls: { ca: c.ca }, sentinelTLS: { ca: c.ca } });
    await once(cl, "ready", 8000).catch((e) => {
      throw new Error(`${e.message}; errors: ${errors.map((x) => `${x.code}: ${x.message}`).join(" | ")}`);
    });
    assert.equal(String((await cl.command(["ROLE"]))[0]), "master");
    assert.deepEqual(errors, []);
  });

  it("a Sentinel given by IP address is verified as that address: refused by a certificate for a name", async function () {
    const byIp = g.sentinelList.map((s) => ({ host: "127.0.0.1", port: s.port }));
    const { cl, errors } = client({ sentinels: byIp, name: g.name, tls: { ca: c.ca }, sentinelTLS: { ca: c.ca }, connectTimeout: 2000 });
    await waitFor(() => errors.some((e) => e.code === "ESENTINEL" && /ERR_TLS_CERT_ALTNAME_INVALID/.test(e.message)), 10000, { what: "ESENTINEL naming ERR_TLS_CERT_ALTNAME_INVALID" });
    assert.equal(cl.isReady, false);
    // ... unless servername names what the certificate holds
    const named = client({ sentinels: byIp, name: g.name, tls: { ca: c.ca }, sentinelTLS: { ca: c.ca, servername: "localhost" } });
    await once(named.cl, "ready", 8000);
  });
});
