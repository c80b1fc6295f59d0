"use strict";
// The rows of a TLS bench: ours / upstream over TCP, the same over TLS, and their quotient, which says how
// much TLS moves our advantage (target: within 1.2x of the TCP ratio, i.e. quotient <= 1.2 for a cost,
// >= 1/1.2 for a rate).
const h = require("./harness");

function tlsRows({ metric, unit, figure, raw, better = "lower" }) {
  const tcp = h.row({ metric: `${metric}, over TCP`, unit, figure, raw, upstream: "upstream", ours: ["ours"], better });
  const tls = h.row({ metric: `${metric}, over TLS`, unit, figure, raw, upstream: "upstream-tls", ours: ["ours-tls"], better });
  const a = tcp.ratios.ours;
  const b = tls.ratios["ours-tls"];
  const q = a && b ? b / a : null;
  const target = better === "lower" ? 1.2 : 1 / 1.2;
  const verdict = q === null ? "" : (better === "lower" ? q <= target : q >= target) ? "PASS" : "MISS";
  const quotient = {
    metric: `${metric}: TLS ratio / TCP ratio`,
    unit: "",
    figure,
    upstream: a,
    ours: { "ours-tls": b },
    ratios: { "ours-tls": q },
    target: Number(target.toFixed(3)),
    better,
    verdict,
    note: "upstream column: the TCP ratio; ours column: the TLS ratio",
  };
  return [tcp, tls, quotient];
}

module.exports = { tlsRows };
