"use strict";
// sparse rooms: 3 servers hold 3000 rooms, a third each (10 clients per server, 100 rooms per client), and a
// 4th server holds none of them (its clients are in rooms nobody targets). Server 0 emits to random rooms of
// the 3000. Figures: CPU per message on server 1 (holds a third of the targets) and on the 4th server (holds
// none), from the first emit to a sentinel broadcast that follows the flood. The 4th server also runs ours
// with subscriptionMode "dynamic" (interest subscriptions), where it should receive nothing at all.
//
//   node bench/sparse.js [--messages 30000] [--reps 5]
const h = require("./lib/harness");
const { UPSTREAM, OURS, OURS_DYNAMIC } = require("./lib/adapters");

const N = h.arg("messages", 30000, 3000);
const REPS = h.arg("reps", 5, 1);
const ROOMS = Array.from({ length: 3000 }, (_, i) => `room-${i}`);

function roomsFor(server) {
  // 10 clients x 100 rooms: rooms i with i % 3 === server
  const mine = ROOMS.filter((_, i) => i % 3 === server);
  return Array.from({ length: 10 }, (_, c) => mine.slice(c * 100, c * 100 + 100));
}

async function once(redis, variant) {
  const servers = [];
  const group = new h.ClientGroup();
  try {
    for (let i = 0; i < 4; i++) servers.push(await h.startServer(redis.url, variant, { sentinel: i > 0 }));
    for (let i = 0; i < 3; i++) await group.add(servers[i].ready.port, 10, roomsFor(i));
    await group.add(servers[3].ready.port, 10, Array.from({ length: 10 }, (_, c) => [`elsewhere-${c}`]));
    await h.waitSubscribed(redis, 4);
    if (variant.options.subscriptionMode === "dynamic") {
      // the room channels of 1000 rooms x 3 servers + sockets + sentinels must be in place first
      await h.waitSubscribed(redis, 3 * 1000, ROOMS.map((r) => `socket.io#/#${r}#`), 20000);
    }
    await Promise.all(servers.map((s) => s.call("cpuStart")));
    await servers[0].call("emitRooms", { n: N, rooms: ROOMS, batch: 200 });
    const [held, none] = await h.within(300000, Promise.all([servers[1].call("sentinel", { k: 1 }), servers[3].call("sentinel", { k: 1 })]), "sentinels");
    return { holderCpuPerMessage: held.cpuMicros / N, noneCpuPerMessage: none.cpuMicros / N };
  } finally {
    await group.stop();
    for (const s of servers) await s.stop();
  }
}

h.main("sparse", async (redis) => {
  const variants = [UPSTREAM, OURS, OURS_DYNAMIC];
  const raw = await h.alternate(variants, REPS, (v) => once(redis, v));
  return {
    params: { messages: N, reps: REPS },
    variants: variants.map((v) => v.key),
    raw,
    rows: [
      h.row({ metric: "sparse rooms: CPU per message, node holding a third", unit: "us", figure: "holderCpuPerMessage", raw, ours: ["ours", "ours-dynamic"] }),
      h.row({ metric: "sparse rooms: CPU per message, node holding none", unit: "us", figure: "noneCpuPerMessage", raw, ours: ["ours"], target: 0.1 }),
      h.row({ metric: "... same, ours with interest subscriptions", unit: "us", figure: "noneCpuPerMessage", raw, ours: ["ours-dynamic"], target: 0.02 }),
    ],
  };
});
