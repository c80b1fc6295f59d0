"use strict";
// One run of the local-state measurement, in a fresh process: a Socket.IO server (not listening) on one
// adapter, then `sockets` calls of adapter.addAll(sid, rooms) and as many of adapter.delAll(sid), timed in CPU
// time, with the RSS the index adds (after a full GC, inputs built beforehand and kept alive throughout).
//
//   argv[2]: JSON { impl, url, options }
//   {cmd: "run", args: { sockets, rooms, perSocket, own }} -> { addedMB, bytesPerMembership, addAllUs, delAllUs }
const { randomBytes } = require("node:crypto");
const v8 = require("node:v8");
const { Server } = require("socket.io");
const { adapterFactory } = require("./adapters");
const { serve, main } = require("./child");

const gc = global.gc; // bench/rooms.js starts this process with --expose-gc
const cfg = JSON.parse(process.argv[2]);

// RSS after full GCs, less the young generation's pages: it is empty then, but how many of its pages stay
// resident depends on V8's heuristics, not on what the adapter holds (it swung by +-3 MB between runs).
function settledRss() {
  for (let i = 0; i < 4; i++) gc();
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
  return process.memoryUsage().rss - (young ? young.physical_space_size : 0);
}

// Socket ids as socket.io makes them (20 characters), and for each socket `perSocket` distinct rooms of
// `rooms` (plus its own id with `own`), each as the Set socket.join() passes. Built with next to no garbage, so
// that the RSS baseline is not padded with freed heap pages the adapter would then fill unseen.
function inputs({ sockets, rooms, perSocket, own }) {
  const names = Array.from({ length: rooms }, (_, i) => `room-${i}`);
  const random = randomBytes(15 * sockets);
  const ids = new Array(sockets);
  const sets = new Array(sockets);
  let x = 0x9e3779b9;
  for (let i = 0; i < sockets; i++) {
    ids[i] = random.toString("base64url", 15 * i, 15 * i + 15);
    const set = (sets[i] = new Set());
    if (own) set.add(ids[i]);
    while (set.size < perSocket + (own ? 1 : 0)) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      set.add(names[(x >>> 0) % rooms]);
    }
  }
  return { ids, sets, memberships: sockets * (perSocket + (own ? 1 : 0)) };
}

function cpuSince(t) {
  const d = process.cpuUsage(t);
  return d.user + d.system;
}

let io = null;

async function run(args) {
  const adapter = io.of("/").adapter;
  const { ids, sets, memberships } = inputs(args);
  const before = settledRss();
  const n = ids.length;
  // CPU time (user + system, GC threads included), not wall time: the machine is shared.
  let t = process.cpuUsage();
  for (let i = 0; i < n; i++) adapter.addAll(ids[i], sets[i]);
  const addUs = cpuSince(t);
  const after = settledRss();
  if (adapter.sids.size !== n) throw new Error(`adapter.sids.size is ${adapter.sids.size}, expected ${n}`);
  t = process.cpuUsage();
  for (let i = 0; i < n; i++) adapter.delAll(ids[i]);
  const delUs = cpuSince(t);
  if (adapter.rooms.size !== 0 || adapter.sids.size !== 0) throw new Error("rooms left after delAll");
  return {
    addedMB: (after - before) / 1e6,
    bytesPerMembership: (after - before) / memberships,
    addAllUs: addUs / n,
    delAllUs: delUs / n,
  };
}

serve({ run }, () => io.close());

main(async () => {
  io = new Server({ adapter: await adapterFactory(cfg.impl, cfg.url, cfg.options) });
  await new Promise((r) => setTimeout(r, 200)); // let the adapter subscribe before the baseline
  process.send({ up: true });
});
