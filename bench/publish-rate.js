"use strict";
// publish rate: one server process emits n single-room broadcasts (to rooms nobody holds) as fast as it can,
// then one to room "sentinel". A raw Redis subscriber on the sentinel's channel timestamps its arrival: Redis
// keeps a connection's order, so by then Redis has taken every message. Figure: messages per second.
//
//   node bench/publish-rate.js [--messages 200000] [--reps 5]
const h = require("./lib/harness");
const { RawRedis } = require("../test/helpers/redis");
const { UPSTREAM, OURS } = require("./lib/adapters");

const N = h.arg("messages", 200000, 20000);
const REPS = h.arg("reps", 5, 1);

async function once(redis, variant) {
  const server = await h.startServer(redis.url, variant);
  const sub = await RawRedis.connect(redis.port, redis.host);
  try {
    await h.waitSubscribed(redis, 1);
    const arrived = new Promise((resolve) => sub.on("push", () => resolve(performance.timeOrigin + performance.now())));
    await sub.command("SUBSCRIBE", "socket.io#/#sentinel#");
    const { start } = await server.call("publish", { n: N, batch: 1000 });
    const end = await h.within(120000, arrived, "sentinel");
    return { publishesPerSecond: N / ((end - start) / 1000) };
  } finally {
    sub.close();
    await server.stop();
  }
}

h.main("publish-rate", async (redis) => {
  const variants = [UPSTREAM, OURS];
  const raw = await h.alternate(variants, REPS, (v) => once(redis, v));
  return {
    params: { messages: N, reps: REPS },
    variants: variants.map((v) => v.key),
    raw,
    rows: [h.row({ metric: "publish rate from one node", unit: "/s", figure: "publishesPerSecond", raw, ours: ["ours"], target: 1.5, better: "higher" })],
  };
});
