"use strict";
// Memory and cost of local state: what holding rooms costs a server, upstream against ours, alternating,
// medians of --reps runs (each in a fresh process).
//
// 1. membership: a namespace adapter gets adapter.addAll(sid, rooms) for --sockets sockets (and again for
//    --large), each in 2 rooms of 10,000, then the same with each socket also in its own room (one addAll
//    of 3 rooms, socket ids as socket.io makes them); then adapter.delAll(sid) for each. Figures: the RSS
//    the adapter's local state adds, per membership (after full GCs, inputs built first and kept alive, the
//    young generation pinned to 16 MB and its resident pages left out), and the CPU time per addAll and per
//    delAll call (the process's user + system time, GC threads included: wall time would also count whatever
//    else runs on the machine).
// 2. room miss: receive-and-discard (bench/receive-discard.js) with the server holding only its sentinel's
//    rooms, then holding --held more rooms: CPU per broadcast for a room the server does not hold.
//
//   node bench/rooms.js [--sockets 100000] [--large 500000] [--held 100000] [--messages 200000] [--reps 3]
const h = require("./lib/harness");
const { UPSTREAM, OURS } = require("./lib/adapters");

const SOCKETS = h.arg("sockets", 100000, 20000);
const LARGE = h.arg("large", 500000, 50000);
const HELD = h.arg("held", 100000, 10000);
const N = h.arg("messages", 200000, 20000);
const REPS = h.arg("reps", 3, 1);
const ROOMS = 10000;

// The young generation is pinned to one size: V8 grows it by its own heuristics, by up to 30 MB, which would
// otherwise show in the RSS as if one adapter's state took it.
const CHILD_ARGS = ["--expose-gc", "--min-semi-space-size=16", "--max-semi-space-size=16"];

async function membershipOnce(redis, variant, args) {
  const child = await h.Child.start("rooms-child.js", { impl: variant.impl, url: redis.url, options: variant.options }, { execArgv: CHILD_ARGS });
  try {
    return await h.within(600000, child.call("run", args), "membership run");
  } finally {
    await child.stop();
  }
}

h.main("rooms", async (redis) => {
  const variants = [UPSTREAM, OURS];
  const cases = [
    { tag: "100k", sockets: SOCKETS, own: false },
    { tag: "500k", sockets: LARGE, own: false },
    { tag: "100k+own", sockets: SOCKETS, own: true },
    { tag: "500k+own", sockets: LARGE, own: true },
  ];
  const raw = {};
  for (const v of variants) raw[v.key] = {};
  const merge = (part) => {
    for (const [k, figs] of Object.entries(part)) for (const [f, xs] of Object.entries(figs)) raw[k][f] = xs;
  };
  for (const c of cases) {
    const part = await h.alternate(variants, REPS, async (v) => {
      const r = await membershipOnce(redis, v, { sockets: c.sockets, rooms: ROOMS, perSocket: 2, own: c.own });
      return { [`bytes:${c.tag}`]: r.bytesPerMembership, [`add:${c.tag}`]: r.addAllUs, [`del:${c.tag}`]: r.delAllUs, [`mb:${c.tag}`]: r.addedMB };
    });
    merge(part);
  }

  const flood = Buffer.concat(Array.from({ length: N }, (_, i) => h.upstreamBroadcast("other" + (i % 1000), ["ev", i])));
  const sentinel = h.upstreamBroadcast("sentinel", ["sentinel"]);
  for (const [tag, held] of [
    ["1", 0],
    ["held", HELD],
  ]) {
    const part = await h.alternate(variants, REPS, async (v) => {
      const r = await h.discardOnce(redis, v, { flood, sentinel, count: N, waitReady: () => h.waitSubscribed(redis, 1), extra: { holdRooms: held } });
      return { [`miss:${tag}`]: r.cpuPerMessage };
    });
    merge(part);
  }

  const k = (n) => `${Math.round(n / 1000)}k`;
  const rows = [];
  for (const c of cases) {
    const what = `${k(c.sockets)} sockets, 2 rooms of 10k${c.own ? " + own room" : ""}`;
    rows.push(h.row({ metric: `RSS per membership, ${what}`, unit: "B", figure: `bytes:${c.tag}`, raw, ours: ["ours"], target: 1.0 }));
    rows.push(h.row({ metric: `addAll per call, ${what}`, unit: "us", figure: `add:${c.tag}`, raw, ours: ["ours"], target: 1.0 }));
    rows.push(h.row({ metric: `delAll per call, ${what}`, unit: "us", figure: `del:${c.tag}`, raw, ours: ["ours"], target: 1.0 }));
  }
  rows.push(h.row({ metric: "room miss: CPU per message, sentinel's rooms only", unit: "us", figure: "miss:1", raw, ours: ["ours"], target: 0.07 }));
  rows.push(h.row({ metric: `room miss: CPU per message, ${k(HELD)} rooms held`, unit: "us", figure: "miss:held", raw, ours: ["ours"], target: 0.07 }));
  const mb = (tag) => `${tag}: upstream ${h.fmt(h.median(raw.upstream[`mb:${tag}`]))} MB, ours ${h.fmt(h.median(raw.ours[`mb:${tag}`]))} MB`;
  return {
    params: { sockets: SOCKETS, large: LARGE, held: HELD, messages: N, reps: REPS },
    variants: variants.map((v) => v.key),
    raw,
    rows,
    notes: [`RSS added by the local state (medians): ${cases.map((c) => mb(c.tag)).join("; ")}`],
  };
});
