"use strict";
// npm run bench [-- scenario ...]: runs the scenarios one after another (each in its own process, each
// alternating upstream and ours), then writes bench/results/chart.svg from bench/results/latest.json.
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const ALL = ["receive-discard", "rooms", "sparse", "broadcast", "fanout", "publish-rate", "requests", "sharded", "receive-discard-tls", "fanout-tls", "primus"];
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const scenarios = wanted.length ? wanted : ALL;
let failed = 0;
for (const s of scenarios) {
  if (!ALL.includes(s)) {
    console.error(`unknown scenario ${s} (have: ${ALL.join(", ")})`);
    process.exit(2);
  }
  const r = spawnSync(process.execPath, [path.join(__dirname, `${s}.js`)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
spawnSync(process.execPath, [path.join(__dirname, "..", "scripts", "bench-chart.js")], { stdio: "inherit" });
process.exitCode = failed ? 1 : 0;
