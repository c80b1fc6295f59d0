"use strict";
// serverSideEmitWithAck: a server that answers with no argument gives `undefined`, as upstream does
// (the answer carries no data field and JSON cannot hold undefined, so C marks the index).
const assert = require("node:assert/strict");
const { startRedis, waitForSubscribers } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { upstream, hiredis } = require("../helpers/adapters");

describe("serverSideEmitWithAck with undefined answers", function () {
  this.timeout(15000);
  let redis, cluster;
  const impls = [hiredis(), upstream(), hiredis()];

  before(async () => (redis = await startRedis()));
  after(async () => {
    if (cluster) await cluster.closeAll();
    for (const impl of impls) await impl.cleanup();
    if (redis) await redis.stop();
  });

  it("keeps undefined answers undefined, and mixed answers in place", async function () {
    cluster = await createServers({ count: 3, adapter: (i) => impls[i].factory(redis.url) });
    await waitForSubscribers(redis.port, 3);
    cluster.ios[1].on("noarg", (cb) => cb());
    cluster.ios[2].on("noarg", (cb) => cb());
    const answers = await cluster.ios[0].serverSideEmitWithAck("noarg");
    assert.deepEqual(answers, [undefined, undefined]);
    assert.equal(answers.length, 2);
    cluster.ios[1].on("mixed", (cb) => cb());
    cluster.ios[2].on("mixed", (cb) => cb({ a: 1 }));
    const mixed = await cluster.ios[0].serverSideEmitWithAck("mixed");
    assert.equal(mixed.length, 2);
    assert.ok(mixed.some((x) => x === undefined));
    assert.ok(mixed.some((x) => x && x.a === 1));
  });
});
