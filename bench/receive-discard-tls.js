"use strict";
// receive-and-discard over TLS: receive-discard.js with the measured server's connections over TLS
// (rediss://, verified against the bench's own CA), next to the same over plain TCP, in one run: upstream
// and ours, each over TCP and over TLS, alternating. The figure that matters is how much TLS moves our
// advantage: (ours / upstream over TLS) / (ours / upstream over TCP), which must stay within 1.2. The
// flood itself is written over the plain port (it is the publisher, not what is measured).
//
//   node bench/receive-discard-tls.js [--messages 200000] [--reps 5]
const h = require("./lib/harness");
const { UPSTREAM, OURS, UPSTREAM_TLS, OURS_TLS } = require("./lib/adapters");
const { tlsRows } = require("./lib/tls");

const N = h.arg("messages", 200000, 20000);
const REPS = h.arg("reps", 5, 2);

h.main(
  "receive-discard-tls",
  async (redis) => {
    const flood = Buffer.concat(Array.from({ length: N }, (_, i) => h.upstreamBroadcast("other" + (i % 1000), ["ev", i])));
    const sentinel = h.upstreamBroadcast("sentinel", ["sentinel"]);
    const variants = [UPSTREAM, OURS, UPSTREAM_TLS, OURS_TLS];
    const raw = await h.alternate(variants, REPS, (variant) =>
      h.discardOnce(redis, variant, { flood, sentinel, count: N, waitReady: () => h.waitSubscribed(redis, 1) }),
    );
    return {
      params: { messages: N, reps: REPS },
      variants: variants.map((v) => v.key),
      raw,
      rows: tlsRows({ metric: "receive-and-discard: CPU per message", unit: "us", figure: "cpuPerMessage", raw }),
    };
  },
  { tls: true },
);
