"use strict";
// Redis frozen (SIGSTOP, then SIGCONT: a fork, a slow script, a VM pause) and dead paths (no FIN), with two
// Socket.IO servers broadcasting at a steady rate in both directions:
//   a. frozen 15 s with the default health check (given up at ~10 s): every broadcast arrives exactly once
//      and in order, nothing unhandled, RSS bounded; the connections were given up on and replacements
//      opened within the health deadline, and the old ones, answering first once Redis resumed, were kept
//   b. a dead path under the command connection: the replacement takes over within the health deadline,
//      sends again what the path never acknowledged, and nothing is sent twice
//   c. frozen longer than holdMs: held publishes past holdMs are dropped and counted, maxOutputMB refuses
//      past it (held bytes included), RSS stays bounded; everything else arrives once, in order
const assert = require("node:assert/strict");
const { startRedis, waitForSubscribers } = require("../helpers/redis");
const { startProxy } = require("../helpers/proxy");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep } = require("../helpers/util");
const { createAdapter } = require("../..");

const MB = 1024 * 1024;

function outcome(promise) {
  return Promise.resolve(promise).then(
    (value) => ({ ok: true, value }),
    (err) => ({ ok: false, err }),
  );
}

// seqs must be 1..n exactly, in order.
function assertExactlyOnceInOrder(seqs, n, what) {
  const dup = seqs.length - new Set(seqs).size;
  const missing = [];
  for (let s = 1, i = 0; s <= n; s++) if (!seqs.includes(s)) missing.push(s), i++;
  const outOfOrder = seqs.filter((s, i) => i > 0 && s <= seqs[i - 1]).length;
  assert.deepEqual({ dup, missing: missing.length, outOfOrder }, { dup: 0, missing: 0, outOfOrder: 0 }, `${what}: ${seqs.length} received of ${n} (missing ${missing.slice(0, 10)}...)`);
}

// The missing seqs of 1..n, which must form one run; returns it.
function missingRun(seqs, n) {
  const have = new Set(seqs);
  const missing = [];
  for (let s = 1; s <= n; s++) if (!have.has(s)) missing.push(s);
  for (let i = 1; i < missing.length; i++) assert.equal(missing[i], missing[i - 1] + 1, `missing seqs are not one run: ${missing}`);
  return missing;
}

describe("Redis frozen, and dead paths", function () {
  this.timeout(60000);
  let redis, proxy, cluster, factories, errors, unhandled;
  const onUnhandled = (reason) => unhandled.push(reason);

  // Two servers, each with its own factory (so its own client); targets(i) -> [target, subTarget].
  async function start(targets) {
    factories = [];
    errors = [[], []];
    cluster = await createServers({
      count: 2,
      adapter: (i) => {
        const [target, subTarget] = targets(i);
        return (factories[i] = createAdapter(target, subTarget, { requestsTimeout: 2000 }));
      },
    });
    factories.forEach((f, i) => f.client.on("error", (err) => errors[i].push({ code: err.code, role: err.role, at: Date.now() })));
    await waitForSubscribers(redis.port, 2);
    await waitFor(() => factories.every((f) => f.client.isReady), 3000, { what: "ready clients" });
  }

  beforeEach(async () => {
    unhandled = [];
    process.on("unhandledRejection", onUnhandled);
    redis = await startRedis();
  });

  afterEach(async () => {
    process.off("unhandledRejection", onUnhandled);
    if (redis) redis.resume();
    if (cluster) await cluster.closeAll();
    if (proxy) await proxy.close();
    if (redis) await redis.stop();
    cluster = proxy = redis = null;
  });

  it("a. frozen 15 s: every broadcast arrives exactly once and in order in both directions; connections given up at the deadline, the old ones kept", async function () {
    const endpoint = { host: "127.0.0.1", port: redis.port }; // the default health check: 5 s + 5 s
    await start(() => [endpoint, null]);
    const clients = [await cluster.connect(0), await cluster.connect(1)];
    // got[i]: what server i's broadcasts brought to the client of the other server
    const got = [[], []];
    clients[1].on("tick", (from, seq) => from === 0 && got[0].push(seq));
    clients[0].on("tick", (from, seq) => from === 1 && got[1].push(seq));
    cluster.ios.forEach((io) => io.on("ping-servers", (cb) => cb("pong")));
    const sent = [0, 0];
    const ticker = setInterval(() => {
      for (let i = 0; i < 2; i++) cluster.ios[i].emit("tick", i, ++sent[i], "x".repeat(200));
    }, 65); // about 15 a second each way, as the issue measured
    const requests = [];
    const asker = setInterval(() => {
      requests.push(outcome(cluster.ios[0].fetchSockets()), outcome(cluster.ios[1].serverSideEmitWithAck("ping-servers")));
    }, 1000);
    try {
      await waitFor(() => got[0].length > 10 && got[1].length > 10, 3000, { what: "traffic before the freeze" });
      if (global.gc) global.gc();
      const rss0 = process.memoryUsage().rss;
      let rssMax = rss0;
      const connects0 = factories.map((f) => [f.client.stats().command.connects, f.client.stats().subscriber.connects]);
      redis.pause();
      const frozenAt = Date.now();
      let connectsFrozen = null;
      while (Date.now() - frozenAt < 15000) {
        await sleep(250);
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
        if (connectsFrozen === null && errors.every((e) => e.filter((x) => x.code === "ETIMEDOUT").length >= 2)) {
          await sleep(300);
          connectsFrozen = factories.map((f) => [f.client.stats().command.connects, f.client.stats().subscriber.connects]);
        }
      }
      redis.resume();
      const resumedAt = Date.now();
      // Given up within the health deadline (healthInterval + healthTimeout, plus the check's period), and
      // a replacement connected for each connection while Redis was still frozen.
      for (let i = 0; i < 2; i++) {
        const timeouts = errors[i].filter((e) => e.code === "ETIMEDOUT");
        assert.deepEqual(timeouts.map((e) => e.role).sort(), ["command", "subscriber"], `server ${i}: ${JSON.stringify(errors[i])}`);
        for (const e of timeouts) assert.ok(e.at - frozenAt >= 9000 && e.at - frozenAt < 13000, `given up after ${e.at - frozenAt} ms`);
      }
      assert.ok(connectsFrozen !== null, "ETIMEDOUT on every connection during the freeze");
      for (let i = 0; i < 2; i++) for (let k = 0; k < 2; k++) assert.equal(connectsFrozen[i][k], connects0[i][k] + 1, "a replacement connected during the freeze");
      // Redis answers the old connections first: they are kept, and what they carried runs.
      await waitFor(() => factories.every((f) => f.client.isReady), 3000, { what: "ready again" });
      assert.ok(Date.now() - resumedAt < 2000, `ready ${Date.now() - resumedAt} ms after SIGCONT`);
      await sleep(2000); // and traffic goes on
      clearInterval(ticker);
      clearInterval(asker);
      await waitFor(() => got[0].length >= sent[0] && got[1].length >= sent[1], 5000, { what: `every broadcast (${got[0].length}/${sent[0]}, ${got[1].length}/${sent[1]})` });
      await sleep(200); // nothing twice
      assertExactlyOnceInOrder(got[0], sent[0], "server 0 to server 1");
      assertExactlyOnceInOrder(got[1], sent[1], "server 1 to server 0");
      assert.ok(sent[0] >= 200 && sent[1] >= 200, `sent ${sent}`);
      for (const f of factories) {
        const { publishDropped, command, subscriber } = f.client.stats();
        assert.equal(publishDropped, 0);
        assert.deepEqual([command.resumed, subscriber.resumed, command.replaced, subscriber.replaced], [1, 1, 0, 0]);
        // published while given up on (about 5 s of ticks: how many depends on how busy the machine is)
        assert.ok(command.replayed > 0, `replayed ${command.replayed}`);
        assert.equal(command.heldDropped, 0);
      }
      for (const io of cluster.ios) assert.equal(io.of("/").adapter.stats.publishDropped, 0);
      if (global.gc) global.gc();
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      assert.ok(rssMax - rss0 < 50 * MB, `rss peaked ${((rssMax - rss0) / MB).toFixed(1)} MB above the start`);
    } finally {
      clearInterval(ticker);
      clearInterval(asker);
    }
    // Requests made meanwhile all settled (ENOTCONN at once while given up on, or their timeout), none
    // unhandled.
    const outcomes = await Promise.all(requests);
    assert.ok(outcomes.length >= 30);
    assert.ok(outcomes.some((o) => !o.ok && o.err.code === "ENOTCONN"), "requests during the freeze failed at once");
    for (const o of outcomes) if (!o.ok) assert.ok(o.err instanceof Error, String(o.err));
    await sleep(50);
    assert.deepEqual(unhandled, []);
  });

  it("b. a dead path (no FIN) under the command connection: replaced within the health deadline, what it never acknowledged sent again, nothing twice", async function () {
    proxy = await startProxy(redis.port);
    const health = { healthInterval: 500, healthTimeout: 1000, retryBase: 20, retryMax: 200 };
    // Server 0 publishes through the proxy; its subscriber and server 1 go to Redis directly.
    await start((i) => (i === 0 ? [{ host: "127.0.0.1", port: proxy.port, ...health }, { host: "127.0.0.1", port: redis.port, ...health }] : [{ host: "127.0.0.1", port: redis.port, ...health }, null]));
    const remote = await cluster.connect(1);
    const got = [];
    remote.on("tick", (seq) => got.push(seq));
    let seq = 0;
    const payload = "y".repeat(4096);
    const send = (n) => {
      for (let i = 0; i < n; i++) cluster.ios[0].emit("tick", ++seq, payload);
    };
    const ticker = setInterval(() => send(1), 20);
    const client = factories[0].client;
    try {
      await waitFor(() => got.length > 20, 3000, { what: "traffic before the dead path" });
      assert.equal(proxy.blackhole(), 1);
      const deadAt = Date.now();
      send(500); // 2 MB: more than the path's buffers take, so part of it is never acknowledged
      await waitFor(() => client.stats().command.replaced === 1, 4000, { what: "the replacement taking over" });
      const after = Date.now() - deadAt;
      // as before the change: given up after healthInterval + healthTimeout (or the write stall), then the
      // replacement's handshake and a 50 ms grace
      assert.ok(after < 500 + 1000 + 1500, `replaced after ${after} ms`);
      assert.ok(errors[0].some((e) => e.code === "ETIMEDOUT" && e.role === "command"));
      await sleep(500);
    } finally {
      clearInterval(ticker);
    }
    await waitFor(() => got.length > 0 && got[got.length - 1] === seq, 5000, { what: `the last broadcast (${got.length} of ${seq})` });
    const onTime = got.length;
    // The dead path now delivers what it had acknowledged: late, but once.
    proxy.release();
    await waitFor(() => new Set(got).size === seq, 5000, { what: `every broadcast (${new Set(got).size} of ${seq})` });
    await sleep(300);
    assert.equal(got.length, seq, "nothing twice");
    const late = got.slice(onTime);
    const missing = missingRun(got.slice(0, onTime), seq);
    assert.deepEqual(late, missing, "what arrived late is exactly the run missing before");
    assertExactlyOnceInOrder(got.slice(0, onTime).concat(late).sort((a, b) => a - b), seq, "in all");
    assert.ok(got.slice(0, onTime).every((s, i, a) => i === 0 || s > a[i - 1]), "on time ones in order");
    const st = client.stats().command;
    assert.ok(st.replayed > 0, "what the path never acknowledged was sent again");
    // counted unanswered: what the path acknowledged and kept, plus replies it swallowed
    assert.ok(st.unanswered >= late.length && st.unanswered <= late.length + 5, `unanswered ${st.unanswered}, late ${late.length}`);
    assert.equal(st.resumed, 0);
    assert.deepEqual(unhandled, []);
  });

  it("c. frozen longer than holdMs: held publishes past it dropped and counted, maxOutputMB holds held bytes too, RSS bounded", async function () {
    const opts = { host: "127.0.0.1", port: redis.port, healthInterval: 200, healthTimeout: 500, holdMs: 2000, maxOutputMB: 4, retryBase: 20, retryMax: 200 };
    await start(() => [opts, null]);
    const remote = await cluster.connect(1);
    const io = cluster.ios[0];
    const ticks = [];
    const bigs = [];
    remote.on("tick", (seq) => ticks.push(seq));
    remote.on("big", (seq) => bigs.push(seq));
    let tick = 0;
    let big = 0;
    const ticker = setInterval(() => io.emit("tick", ++tick, "z".repeat(500)), 10);
    const client = factories[0].client;
    let heldMax = 0;
    try {
      await waitFor(() => ticks.length > 20, 3000, { what: "traffic before the freeze" });
      if (global.gc) global.gc();
      const rss0 = process.memoryUsage().rss;
      let rssMax = rss0;
      redis.pause();
      const frozenAt = Date.now();
      await waitFor(() => client.stats().command.state === 8, 2000, { what: "the command connection given up on" });
      // 8 MiB of broadcasts against a bound of 4: refused past it
      const blob = Buffer.alloc(256 * 1024, 0x61);
      let refused = 0;
      for (let i = 0; i < 32; i++) {
        const before = client.stats().publishDropped;
        io.emit("big", ++big, blob);
        if (client.stats().publishDropped > before) refused++;
      }
      assert.ok(refused >= 12 && refused <= 20, `refused ${refused} of 32`);
      while (Date.now() - frozenAt < 6000) {
        await sleep(100);
        heldMax = Math.max(heldMax, client.stats().command.held);
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
      }
      redis.resume();
      await waitFor(() => client.isReady, 2000, { what: "ready again" });
      await sleep(1000);
      clearInterval(ticker);
      await waitFor(() => ticks.length > 0 && ticks[ticks.length - 1] === tick, 5000, { what: "the last tick" });
      await sleep(300);
      if (global.gc) global.gc();
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      // bound 4 MiB, plus the copy made when the held publishes go out, plus the kernel's and test's own
      assert.ok(rssMax - rss0 < 40 * MB, `rss peaked ${((rssMax - rss0) / MB).toFixed(1)} MB above the start`);
    } finally {
      clearInterval(ticker);
    }
    const st = client.stats();
    // Held ticks older than 2 s at SIGCONT (and every big one: they were held from the start) are dropped
    // and counted; the rest arrive once, in order; what is missing is one run.
    assert.ok(st.command.heldDropped > 50, `heldDropped ${st.command.heldDropped}`);
    assert.ok(st.command.replayed > 50, `replayed ${st.command.replayed}`);
    assert.ok(ticks.every((s, i) => i === 0 || s > ticks[i - 1]), "ticks in order, none twice");
    const missingTicks = missingRun(ticks, tick);
    assert.ok(missingTicks.length > 100, `missing ${missingTicks.length}`);
    assert.equal(missingTicks.length + (big - bigs.length), st.publishDropped, "every missing broadcast is counted");
    // about 2 s of ticks (100 a second) plus the big ones not yet expired, never more
    assert.ok(heldMax <= 280, `held ${heldMax}`);
    assert.deepEqual(unhandled, []);
  });
});
