"use strict";
// receive-and-discard: CPU a server spends per message for rooms it does not hold.
// One server process; a raw connection (this process) floods N single-room broadcasts, encoded
// exactly as upstream publishes them, for rooms the server does not hold, then one sentinel for a
// room it holds. CPU is the server process's own process.cpuUsage() from the start of the flood to
// the sentinel. Upstream and ours alternate; medians of --reps runs.
//
//   node bench/receive-discard.js [--messages 200000] [--reps 5]
const h = require("./lib/harness");
const { UPSTREAM, OURS } = require("./lib/adapters");

const N = h.arg("messages", 200000, 20000);
const REPS = h.arg("reps", 5, 2);

h.main("receive-discard", async (redis) => {
  const flood = Buffer.concat(Array.from({ length: N }, (_, i) => h.upstreamBroadcast("other" + (i % 1000), ["ev", i])));
  const sentinel = h.upstreamBroadcast("sentinel", ["sentinel"]);
  const variants = [UPSTREAM, OURS];
  const raw = await h.alternate(variants, REPS, (variant) =>
    h.discardOnce(redis, variant, { flood, sentinel, count: N, waitReady: () => h.waitSubscribed(redis, 1) }),
  );

  return {
    params: { messages: N, reps: REPS },
    variants: variants.map((v) => v.key),
    raw,
    rows: [
      h.row({ metric: "receive-and-discard: CPU per message", unit: "us", figure: "cpuPerMessage", raw, ours: ["ours"], target: 0.1 }),
    ],
  };
});
