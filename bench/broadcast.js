"use strict";
// broadcast to all: CPU the emitting server spends per io.emit() with 1 and with 100 real websocket
// clients (socket.io-client, transports ["websocket"], in a separate process). One server; it
// emits as fast as the clients keep up (a bounded window of broadcasts beyond the slowest
// client's count), and its CPU runs from the first emit until every client has every message.
// Ours runs with coalesceWrites on and off.
//
//   node bench/broadcast.js [--messages1 50000] [--messages100 2000] [--reps 5]
const h = require("./lib/harness");
const { UPSTREAM, OURS, OURS_NOCOALESCE } = require("./lib/adapters");

const N1 = h.arg("messages1", 50000, 5000);
const N100 = h.arg("messages100", 2000, 300);
const REPS = h.arg("reps", 5, 2);

async function once(redis, variant, clients, n) {
  const server = await h.startServer(redis.url, variant);
  const group = new h.ClientGroup();
  try {
    await group.add(server.ready.port, clients);
    await h.waitSubscribed(redis, 1);
    const window = clients === 1 ? 2000 : 50;
    const [done] = await group.expect(n * clients, Math.max(1, window / 4), server);
    await server.call("cpuStart");
    await server.call("broadcast", { n, window, batch: Math.max(1, window / 4) });
    await h.within(300000, done, "deliveries");
    const { cpuMicros } = await server.call("cpuRead");
    return { cpuPerBroadcast: cpuMicros / n };
  } finally {
    await group.stop();
    await server.stop();
  }
}

h.main("broadcast", async (redis) => {
  const variants = [UPSTREAM, OURS, OURS_NOCOALESCE];
  const raw1 = await h.alternate(variants, REPS, (v) => once(redis, v, 1, N1));
  const raw100 = await h.alternate(variants, REPS, (v) => once(redis, v, 100, N100));
  const ours = ["ours", "ours-nocoalesce"];
  return {
    params: { messages1: N1, messages100: N100, reps: REPS },
    variants: variants.map((v) => v.key),
    raw: { clients1: raw1, clients100: raw100 },
    rows: [
      h.row({ metric: "broadcast to 1 real client: CPU per broadcast", unit: "us", figure: "cpuPerBroadcast", raw: raw1, ours, target: 0.3 }),
      h.row({ metric: "broadcast to 100 real clients: CPU per broadcast", unit: "us", figure: "cpuPerBroadcast", raw: raw100, ours, target: 0.25 }),
    ],
  };
});
