"use strict";
// fan-out: 3 server processes x 100 real websocket clients (one client process per server). Server 0 emits
// to everyone as fast as the slowest client keeps up (a bounded window of broadcasts in flight, so memory
// stays bounded). Figures: the receiving servers' (1 and 2) CPU per broadcast, and deliveries per second
// counted at the clients (all 300). Ours runs with coalesceWrites on and off.
//
//   node bench/fanout.js [--messages 3000] [--reps 5]
const h = require("./lib/harness");
const { UPSTREAM, OURS, OURS_NOCOALESCE } = require("./lib/adapters");

const N = h.arg("messages", 3000, 300);
const REPS = h.arg("reps", 5, 1);
const CLIENTS = 100;

async function once(redis, variant) {
  const servers = [];
  const group = new h.ClientGroup();
  try {
    for (let i = 0; i < 3; i++) servers.push(await h.startServer(redis, variant));
    for (const s of servers) await group.add(s.ready.port, CLIENTS);
    await h.waitSubscribed(redis, 3);
    const window = 50;
    const dones = await group.expect(N * CLIENTS, 10, servers[0]);
    const t0 = Date.now();
    await Promise.all(servers.map((s) => s.call("cpuStart")));
    await servers[0].call("broadcast", { n: N, window, batch: 10 });
    const ends = await h.within(600000, Promise.all(dones), "deliveries");
    const wall = (Math.max(...ends.map((e) => e.t)) - t0) / 1000;
    const cpu = await Promise.all(servers.slice(1).map((s) => s.call("cpuRead")));
    const receiverCpu = (cpu[0].cpuMicros + cpu[1].cpuMicros) / 2;
    return { receiverCpuPerBroadcast: receiverCpu / N, deliveriesPerSecond: (3 * CLIENTS * N) / wall };
  } finally {
    await group.stop();
    for (const s of servers) await s.stop();
  }
}

module.exports = { once, N, CLIENTS };

if (require.main === module) h.main("fanout", async (redis) => {
  const variants = [UPSTREAM, OURS, OURS_NOCOALESCE];
  const raw = await h.alternate(variants, REPS, (v) => once(redis, v));
  const ours = ["ours", "ours-nocoalesce"];
  return {
    params: { messages: N, reps: REPS },
    variants: variants.map((v) => v.key),
    raw,
    rows: [
      h.row({ metric: "fan-out 3x100: receivers' CPU per broadcast", unit: "us", figure: "receiverCpuPerBroadcast", raw, ours, target: 0.35 }),
      h.row({ metric: "fan-out 3x100: deliveries per second", unit: "/s", figure: "deliveriesPerSecond", raw, ours, target: 2.0, better: "higher" }),
    ],
  };
});
