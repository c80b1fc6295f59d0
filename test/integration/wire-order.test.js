"use strict";
// What one server publishes in order reaches the others in that order: a server that emits to everyone
// and then answers a request must not have its answer settle the requester's promise before the
// broadcast read just before it is delivered.
const assert = require("node:assert/strict");
const { startRedis, waitForSubscribers } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor } = require("../helpers/util");
const { createAdapter } = require("../..");

describe("request completions keep wire order with broadcasts", function () {
  this.timeout(20000);
  let redis, cluster;

  before(async () => (redis = await startRedis()));
  after(async () => {
    if (cluster) await cluster.closeAll();
    if (redis) await redis.stop();
  });

  it('"emit, then answer" from one server arrives emit first, every time', async function () {
    cluster = await createServers({ count: 2, adapter: () => createAdapter(redis.url) });
    await waitForSubscribers(redis.port, 2);
    const [a, b] = cluster.ios;
    const order = [];
    let serverSocket = null;
    a.on("connection", (s) => {
      serverSocket = s;
      // Called synchronously as the broadcast is written to this client.
      s.onAnyOutgoing((event, n) => order.push(`emit ${n}`));
    });
    await cluster.connect(0);
    await waitFor(() => serverSocket !== null, 2000, { what: "the server-side socket" });
    b.on("ask", (n, cb) => {
      b.emit("before", n);
      cb(n);
    });
    for (let n = 0; n < 30; n++) {
      const answers = await a.serverSideEmitWithAck("ask", n);
      order.push(`answer ${answers[0]}`);
    }
    const expected = [];
    for (let n = 0; n < 30; n++) expected.push(`emit ${n}`, `answer ${n}`);
    assert.deepEqual(order, expected);
  });
});
