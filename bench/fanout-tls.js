"use strict";
// fan-out over TLS: fanout.js (3 server processes x 100 websocket clients, server 0 emitting to everyone)
// with the servers' Redis connections over TLS (rediss://, the bench's own CA), next to the same over plain
// TCP, in one run: upstream and ours (coalesceWrites on), each over TCP and over TLS, alternating. The
// figures that matter are how much TLS moves our advantage, (ours / upstream over TLS) / (ours / upstream
// over TCP), for the receivers' CPU per broadcast (within 1.2) and for deliveries per second.
//
//   node bench/fanout-tls.js [--messages 3000] [--reps 3]
const h = require("./lib/harness");
const { UPSTREAM, OURS, UPSTREAM_TLS, OURS_TLS } = require("./lib/adapters");
const { once, N } = require("./fanout");
const { tlsRows } = require("./lib/tls");

const REPS = h.arg("reps", 3, 1);

h.main(
  "fanout-tls",
  async (redis) => {
    const variants = [UPSTREAM, OURS, UPSTREAM_TLS, OURS_TLS];
    const raw = await h.alternate(variants, REPS, (v) => once(redis, v));
    return {
      params: { messages: N, reps: REPS },
      variants: variants.map((v) => v.key),
      raw,
      rows: [
        ...tlsRows({ metric: "fan-out 3x100: receivers' CPU per broadcast", unit: "us", figure: "receiverCpuPerBroadcast", raw }),
        ...tlsRows({ metric: "fan-out 3x100: deliveries per second", unit: "/s", figure: "deliveriesPerSecond", raw, better: "higher" }),
      ],
    };
  },
  { tls: true },
);
