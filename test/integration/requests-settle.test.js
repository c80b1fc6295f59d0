"use strict";
// Requests in flight settle when what they need goes away: the client closed first (with the adapter
// still open) rejects them with ECLOSED at once, a dropped connection with ENOTCONN at once (not
// ETIMEDOUT at requestsTimeout), as the README says.
const assert = require("node:assert/strict");
const { startRedis, waitForSubscribers, RawRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { sleep, bounded } = require("../helpers/util");
const { createAdapter, createClient } = require("../..");

// Settles `promise` into { ok, value | err, ms }, or { pending: true } if it has not settled within `ms`.
function settleWithin(promise, ms) {
  const start = Date.now();
  let timer;
  return Promise.race([
    promise.then(
      (value) => ({ ok: true, value, ms: Date.now() - start }),
      (err) => ({ ok: false, err, ms: Date.now() - start }),
    ),
    new Promise((resolve) => (timer = setTimeout(() => resolve({ pending: true }), ms))),
  ]).finally(() => clearTimeout(timer));
}

describe("requests settle when their client closes or a connection drops", function () {
  this.timeout(20000);
  let redis, client, cluster, silent;

  before(async () => (redis = await startRedis()));
  after(async () => {
    if (redis) await redis.stop();
  });

  beforeEach(async () => {
    client = createClient({ host: "127.0.0.1", port: redis.port, name: "settle-test", retryBase: 500, retryMax: 500 });
    client.on("error", () => {});
    cluster = await createServers({ count: 1, adapter: () => createAdapter(client, { requestsTimeout: 5000 }) });
    // A second "server" that subscribes to the request channel and never answers.
    silent = await RawRedis.connect(redis.port);
    await silent.command("SUBSCRIBE", "socket.io-request#/#");
    await waitForSubscribers(redis.port, 2);
  });

  afterEach(async () => {
    await bounded(cluster.closeAll(), 5000);
    await bounded(client.close(), 5000);
    await bounded(silent.close(), 5000);
  });

  it("closing the client first rejects the adapter's pending requests with ECLOSED at once", async function () {
    const io = cluster.ios[0];
    const pending = [io.of("/").adapter.allRooms(), io.fetchSockets(), io.serverSideEmitWithAck("never-answered")];
    await sleep(200); // NUMSUB answered, the requests published and waiting for the silent server
    const results = Promise.all(pending.map((p) => settleWithin(p, 2000)));
    await client.close();
    for (const r of await results) {
      assert.ok(!r.pending, "a request never settled after its client was closed");
      assert.equal(r.ok, false);
      assert.equal(r.err.code, "ECLOSED", r.err.message);
      assert.ok(r.ms < 1000, `settled after ${r.ms} ms`);
    }
  });

  it("a connection dropped after the request was published rejects it with ENOTCONN at once", async function () {
    const io = cluster.ios[0];
    const pending = [io.of("/").adapter.allRooms(), io.fetchSockets()];
    await sleep(200);
    const results = Promise.all(pending.map((p) => settleWithin(p, 4000)));
    // Drop both connections of our client (Redis closes them; the client reconnects later).
    const admin = await RawRedis.connect(redis.port);
    try {
      const list = (await admin.command("CLIENT", "LIST")).toString();
      const ids = list
        .split("\n")
        .filter((l) => / name=settle-test /.test(l))
        .map((l) => /\bid=(\d+)/.exec(l)[1]);
      assert.equal(ids.length, 2);
      for (const id of ids) await admin.command("CLIENT", "KILL", "ID", id);
    } finally {
      await admin.close();
    }
    for (const r of await results) {
      assert.ok(!r.pending, "still pending (the old behaviour: ETIMEDOUT at requestsTimeout)");
      assert.equal(r.ok, false);
      assert.equal(r.err.code, "ENOTCONN", r.err.message);
      assert.ok(r.ms < 1000, `settled after ${r.ms} ms`);
    }
  });
});
