"use strict";
// lib/index.d.ts against the running code: every runtime export is declared (and nothing else), and the
// declared fields of adapter.stats and client.stats() are exactly the ones the native side fills in.
// (tsc checks the declarations compile and type typical usage: scripts/test-types.sh.)
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { Server } = require("socket.io");
const { freePort } = require("../helpers/redis");
const hiredis = require("../..");

const dts = fs.readFileSync(path.join(__dirname, "..", "..", "lib", "index.d.ts"), "utf8");

// The member names of `interface <name> { ... }` (one level: members are one per line).
function declaredFields(name) {
  const m = new RegExp(`interface ${name}(?: extends [^{]+)? \\{\\n([\\s\\S]*?)\\n\\}`).exec(dts);
  assert.ok(m, `interface ${name} in index.d.ts`);
  const fields = {};
  for (const line of m[1].split("\n")) {
    const f = /^ {2}(?:readonly )?(\w+)(\??):/.exec(line);
    if (f) fields[f[1]] = f[2] === "?" ? "optional" : "required";
  }
  return fields;
}

describe("TypeScript declarations match the runtime", function () {
  it("declares exactly the values lib/index.js exports", function () {
    const declared = new Set();
    for (const m of dts.matchAll(/^export declare (?:function|class|const) (\w+)/gm)) declared.add(m[1]);
    assert.deepEqual([...declared].sort(), Object.keys(hiredis).sort());
    assert.deepEqual({ ...hiredis.RequestType }, Object.fromEntries([...dts.matchAll(/^ {2}readonly ([A-Z_]+): (\d+);/gm)].map((m) => [m[1], Number(m[2])])));
  });

  it("adapter.stats, sharded adapter stats and client.stats() have the declared fields", async function () {
    const target = { host: "127.0.0.1", port: await freePort(), retryMax: 50 };
    const factory = hiredis.createAdapter(target);
    factory.on("error", () => {});
    const sharded = hiredis.createShardedAdapter(target);
    sharded.on("error", () => {});
    const io = new Server(0, { adapter: factory });
    const io2 = new Server(0, { adapter: sharded });
    try {
      const adapterFields = declaredFields("AdapterStats");
      assert.deepEqual(Object.keys(io.of("/").adapter.stats).sort(), Object.keys(adapterFields).sort());
      const shardedKeys = Object.keys(io2.of("/").adapter.stats).sort();
      assert.deepEqual(shardedKeys, Object.keys(adapterFields).filter((k) => k !== "publishDropped").sort());
      const conn = declaredFields("ConnectionStats");
      const required = Object.keys(conn).filter((k) => conn[k] === "required");
      const stats = factory.client.stats();
      assert.deepEqual(Object.keys(stats).sort(), Object.keys(declaredFields("ClientStats")).sort());
      for (const role of ["command", "subscriber"]) {
        assert.deepEqual(Object.keys(stats[role]).sort(), required.sort(), role);
        for (const k of required) assert.equal(typeof stats[role][k], "number", k);
      }
    } finally {
      await new Promise((r) => io.close(() => r()));
      await new Promise((r) => io2.close(() => r()));
    }
  });
});
