#!/usr/bin/env node
"use strict";
// Draws bench/results/chart.svg from bench/results/latest.json: one bar per figure and variant of ours, the
// ratio ours / upstream (lower is better for CPU and latency, higher for rates), with the issue's target
// marked. Plain SVG, no dependencies.
const fs = require("node:fs");
const path = require("node:path");

const dir = path.join(__dirname, "..", "bench", "results");
const data = JSON.parse(fs.readFileSync(path.join(dir, "latest.json"), "utf8"));
const LABELS = { ours: "ours", "ours-nocoalesce": "ours, coalescing off", "ours-dynamic": "ours, dynamic subscriptions", "ours-coalesce": "ours + coalesceWrites(io)", "ours-tls": "ours over TLS" };
const COLORS = { ours: "#2f6fb0", "ours-nocoalesce": "#9bbbe0", "ours-dynamic": "#3a9a5b", "ours-coalesce": "#c77c2e", "ours-tls": "#7a4fb0" };
const bars = [];
for (const [name, sc] of Object.entries(data.scenarios || {})) {
  for (const r of sc.rows) {
    // The TLS benches' quotient rows compare two ratios, not ours with upstream: not a bar here.
    if (r.metric.endsWith("TLS ratio / TCP ratio")) continue;
    for (const [k, ratio] of Object.entries(r.ratios)) {
      if (ratio === null) continue;
      // Show "how many times better": upstream/ours for lower-is-better, ours/upstream for rates.
      const factor = r.better === "higher" ? ratio : 1 / ratio;
      const targetFactor = r.target === undefined ? null : r.better === "higher" ? r.target : 1 / r.target;
      bars.push({ label: `${r.metric}`, variant: k, factor, targetFactor, quick: sc.quick });
    }
  }
}
// The label column grows with the longest label (about 6.2 px per character at 12 px).
const labelOf = (b) => `${b.label}${b.variant !== "ours" ? ` (${LABELS[b.variant] || b.variant})` : ""}`;
const left = Math.max(430, Math.ceil(Math.max(0, ...bars.map((b) => labelOf(b).length)) * 6.2) + 20);
const W = left + 470, rowH = 22, top = 60;
const H = top + bars.length * rowH + 60;
const max = Math.max(2, ...bars.map((b) => Math.max(b.factor, b.targetFactor || 0))) * 1.1;
const x = (v) => left + (Math.log10(Math.max(v, 0.1)) - Math.log10(0.1)) / (Math.log10(max) - Math.log10(0.1)) * (W - left - 30);
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
const out = [];
out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
out.push(`<rect width="100%" height="100%" fill="white"/>`);
const m = data.machine || {};
out.push(`<text x="10" y="20" font-size="15" font-weight="bold">socket.io-hiredis-adapter vs @socket.io/redis-adapter 8.3.0: times better (log scale)</text>`);
out.push(`<text x="10" y="38" fill="#555">${esc(`${m.cpu}, ${m.cores} cores, node ${m.node}, redis ${m.redis}, ${m.date}`)}. Black tick: the target. 1x = same as upstream.</text>`);
for (const v of [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500].filter((v) => v <= max)) {
  out.push(`<line x1="${x(v)}" y1="${top - 8}" x2="${x(v)}" y2="${H - 50}" stroke="${v === 1 ? "#888" : "#ddd"}"/>`);
  out.push(`<text x="${x(v)}" y="${H - 36}" text-anchor="middle" fill="#555">${v}x</text>`);
}
bars.forEach((b, i) => {
  const y = top + i * rowH;
  out.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end">${esc(labelOf(b))}</text>`);
  out.push(`<rect x="${x(0.1)}" y="${y + 3}" width="${Math.max(1, x(b.factor) - x(0.1))}" height="${rowH - 8}" fill="${COLORS[b.variant] || "#777"}"/>`);
  out.push(`<text x="${x(b.factor) + 4}" y="${y + 14}" fill="#222">${b.factor.toFixed(b.factor < 10 ? 2 : 0)}x</text>`);
  if (b.targetFactor) out.push(`<line x1="${x(b.targetFactor)}" y1="${y + 1}" x2="${x(b.targetFactor)}" y2="${y + rowH - 3}" stroke="black" stroke-width="2"/>`);
});
out.push(`<text x="10" y="${H - 12}" fill="#555">Reproduce: npm run bench (bench/results/latest.json holds every repetition).${bars.some((b) => b.quick) ? " Some figures come from BENCH_QUICK smoke runs." : ""}</text>`);
out.push("</svg>");
fs.writeFileSync(path.join(dir, "chart.svg"), out.join("\n") + "\n");
console.log(`wrote ${path.join(dir, "chart.svg")} (${bars.length} bars)`);
