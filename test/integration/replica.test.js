"use strict";
// createAdapter(pubClient, subClient) where the subscriber is a replica: our native subscriber must
// connect where subClient points (PUBLISH on the primary reaches subscribers of its replicas).
const assert = require("node:assert/strict");
const { createClient: createNodeRedis } = require("redis");
const { startRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, once } = require("../helpers/util");
const { createAdapter } = require("../..");

describe("subscriber on a replica", function () {
  this.timeout(20000);
  let primary, replica, cluster;
  const jsClients = [];

  before(async function () {
    primary = await startRedis();
    replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(primary.port)] });
    await waitFor(async () => /master_link_status:up/.test(await replica.cli("INFO", "replication")), 10000, { what: "replication link" });
  });

  after(async function () {
    if (cluster) await cluster.closeAll();
    await Promise.all(jsClients.map((c) => c.quit().catch(() => {})));
    if (replica) await replica.stop();
    if (primary) await primary.stop();
  });

  it("subscribes on the replica and receives what is published on the primary", async function () {
    const pub = createNodeRedis({ url: primary.url });
    const sub = createNodeRedis({ url: replica.url });
    jsClients.push(pub, sub);
    await Promise.all([pub.connect(), sub.connect()]);
    cluster = await createServers({
      count: 2,
      adapter: (i) => (i === 0 ? createAdapter(pub, sub) : createAdapter(primary.url)),
    });
    // Server 0's pattern subscription lives on the replica, server 1's on the primary.
    await waitFor(async () => (await replica.cli("PUBSUB", "NUMPAT")) === "1", 3000, { what: "a pattern on the replica" });
    assert.equal(await primary.cli("PUBSUB", "NUMPAT"), "1");
    const client = await cluster.connect(0);
    const got = once(client, "hello", 3000);
    cluster.ios[1].emit("hello", "from the primary side");
    assert.deepEqual(await got, ["from the primary side"]);
  });
});
