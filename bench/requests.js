"use strict";
// request round trips: 3 servers with 100 real websocket clients each. Server 0 runs, one after another,
// fetchSockets() (300 sockets), serverSideEmitWithAck (2 answers) and io.timeout(5000).emitWithAck to all
// 300 clients. Figures: p50 and p99 latency of each, in ms.
//
//   node bench/requests.js [--requests 300] [--reps 5]
const h = require("./lib/harness");
const { UPSTREAM, OURS } = require("./lib/adapters");

const N = h.arg("requests", 300, 40);
const REPS = h.arg("reps", 5, 1);
const KINDS = [
  ["fetchSockets", 300],
  ["serverSideEmitWithAck", 2],
  ["ack", 300],
];

async function once(redis, variant) {
  const servers = [];
  const group = new h.ClientGroup();
  try {
    for (let i = 0; i < 3; i++) servers.push(await h.startServer(redis.url, variant));
    for (const s of servers) await group.add(s.ready.port, 100);
    await h.waitSubscribed(redis, 3);
    const out = {};
    for (const [kind, expect] of KINDS) {
      await servers[0].call("requests", { kind, n: Math.min(10, N), expect }); // warm-up
      const { ms } = await h.within(300000, servers[0].call("requests", { kind, n: N, expect }), kind);
      out[`${kind}P50`] = h.percentile(ms, 50);
      out[`${kind}P99`] = h.percentile(ms, 99);
    }
    return out;
  } finally {
    await group.stop();
    for (const s of servers) await s.stop();
  }
}

h.main("requests", async (redis) => {
  const variants = [UPSTREAM, OURS];
  const raw = await h.alternate(variants, REPS, (v) => once(redis, v));
  const rows = [];
  const names = { fetchSockets: "fetchSockets (300 sockets)", serverSideEmitWithAck: "serverSideEmitWithAck", ack: "ack broadcast to 300 clients" };
  for (const [kind] of KINDS) {
    for (const p of ["P50", "P99"]) {
      rows.push(h.row({ metric: `${names[kind]} ${p.toLowerCase()}`, unit: "ms", figure: `${kind}${p}`, raw, ours: ["ours"], target: 1.0 }));
    }
  }
  return { params: { requests: N, reps: REPS }, variants: variants.map((v) => v.key), raw, rows };
});
