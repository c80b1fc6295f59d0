"use strict";

// The implementation under test, chosen with ADAPTER=hiredis (default) or ADAPTER=upstream.
// Both expose the same shape so the same suites run against either:
//   impl.name                    "hiredis" | "upstream"
//   await impl.factory(url, opts) an adapter factory for io.adapter()
//   await impl.cleanup()         closes whatever factory() opened that io.close() does not
// upstream = @socket.io/redis-adapter 8.3.0 with node-redis v4 pub/sub clients.

// create: "createAdapter", or "createShardedAdapter" for the sharded suites.
function upstream(create = "createAdapter") {
  const createAdapter = require("@socket.io/redis-adapter")[create];
  const { createClient } = require("redis");
  const clients = [];
  return {
    name: "upstream",
    async factory(url, opts) {
      const pub = createClient({ url, socket: { reconnectStrategy: () => 50 } });
      const sub = pub.duplicate();
      // node-redis throws on 'error' without a listener (Redis outages in tests)
      pub.on("error", () => {});
      sub.on("error", () => {});
      clients.push(pub, sub);
      await Promise.all([pub.connect(), sub.connect()]);
      return createAdapter(pub, sub, opts);
    },
    async cleanup() {
      const { bounded } = require("./util");
      await Promise.all(
        clients.splice(0).map(async (c) => {
          if (!c.isOpen) return;
          if (!(await bounded(c.quit(), 2000)) && c.isOpen) await bounded(c.disconnect(), 2000);
        })
      );
    },
  };
}

function hiredis() {
  const { createAdapter } = require("../..");
  const seen = new WeakSet();
  const errors = [];
  return {
    name: "hiredis",
    errors, // 'error' events of the factories' clients (listening also keeps the warning quiet)
    async factory(url, opts) {
      const inner = createAdapter(url, opts);
      // a plain function, called with `new` by socket.io, like the factory it wraps
      return function (nsp) {
        const adapter = new inner(nsp);
        const client = inner.client;
        if (client && !seen.has(client)) {
          seen.add(client);
          client.on("error", (err) => errors.push(err));
        }
        return adapter;
      };
    },
    async cleanup() {
      errors.length = 0;
    },
  };
}

// No Redis at all: socket.io's in-memory adapter. Cross-server tests must FAIL with it; it exists
// to prove that the suites can fail (ADAPTER=memory).
function memory() {
  const { Adapter } = require("socket.io-adapter");
  return {
    name: "memory",
    subscribes: false,
    async factory() {
      return Adapter;
    },
    async cleanup() {},
  };
}

function implementation(name = process.env.ADAPTER || "hiredis") {
  if (name === "upstream") return upstream();
  if (name === "hiredis" || name === "ours") return hiredis();
  if (name === "memory") return memory();
  throw new Error(`unknown ADAPTER=${name} (use hiredis or upstream)`);
}

module.exports = { implementation, upstream, hiredis, memory };
