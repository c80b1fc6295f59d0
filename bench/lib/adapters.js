"use strict";
// The adapters a bench compares, and what our adapter supports right now.
//
//   upstream            @socket.io/redis-adapter 8.3.0, createAdapter(pub, sub) with node-redis v4 clients,
//                       exactly as its README shows
//   ours                require("../..").createAdapter(url, options)
//   upstream-sharded    @socket.io/redis-adapter 8.3.0, createShardedAdapter(pub, sub, options) with node-redis
//                       v4 clients, exactly as its README shows (Redis 7 sharded pub/sub)
//   ours-sharded        require("../..").createShardedAdapter(url, options)
//
// Two options of ours land separately (write coalescing, interest subscriptions), so the benches ask
// features() before they claim to have measured them.
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.join(__dirname, "..", "..");

function libSource() {
  const dir = path.join(ROOT, "lib");
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".js"))
    .map((f) => fs.readFileSync(path.join(dir, f), "utf8"))
    .join("\n");
}

// { coalesceWrites, subscriptionMode }: true when our lib reads the option. An option our
// createAdapter refuses (ERR_UNSUPPORTED_OPTION) counts as missing; one it never reads is
// silently ignored, so it counts as missing too.
function features() {
  const src = libSource();
  const { createAdapter } = require(ROOT);
  const accepts = (opts) => {
    try {
      createAdapter("redis://127.0.0.1:1", opts); // connects nothing until socket.io calls the factory
      return true;
    } catch (err) {
      if (err && err.code === "ERR_UNSUPPORTED_OPTION") return false;
      throw err;
    }
  };
  return {
    coalesceWrites: /\bcoalesceWrites\b/.test(src) && accepts({ coalesceWrites: false }),
    subscriptionMode: /\bsubscriptionMode\b/.test(src) && accepts({ subscriptionMode: "dynamic" }),
  };
}

// Resolves with a socket.io adapter factory for `impl` ("upstream" | "ours") on `url`. With `ca` (PEM), `url`
// is a rediss:// URL and both connect over TLS, verifying the server against that CA: node-redis with
// `socket.ca`, ours with `tls.ca`.
async function adapterFactory(impl, url, options = {}, ca) {
  const target = ca ? { url, tls: { ca } } : url;
  if (impl === "upstream") {
    const { createClient } = require("redis");
    const pubClient = createClient(ca ? { url, socket: { ca } } : { url });
    const subClient = pubClient.duplicate();
    await Promise.all([pubClient.connect(), subClient.connect()]);
    return require("@socket.io/redis-adapter").createAdapter(pubClient, subClient, options);
  }
  if (impl === "upstream-sharded") {
    const { createClient } = require("redis");
    const pubClient = createClient(ca ? { url, socket: { ca } } : { url });
    const subClient = pubClient.duplicate();
    await Promise.all([pubClient.connect(), subClient.connect()]);
    return require("@socket.io/redis-adapter").createShardedAdapter(pubClient, subClient, options);
  }
  if (impl === "ours") return require(ROOT).createAdapter(target, options);
  if (impl === "ours-sharded") return require(ROOT).createShardedAdapter(target, options);
  throw new Error(`unknown adapter ${impl}`);
}

// The variants of a bench: which adapter, which options, and how its column is labelled.
const UPSTREAM = { key: "upstream", impl: "upstream", label: "upstream 8.3.0", options: {} };
const OURS = { key: "ours", impl: "ours", label: "ours", options: { coalesceWrites: true } };
const OURS_NOCOALESCE = { key: "ours-nocoalesce", impl: "ours", label: "ours, coalesceWrites off", options: { coalesceWrites: false } };
const OURS_DYNAMIC = { key: "ours-dynamic", impl: "ours", label: "ours, subscriptionMode dynamic", options: { subscriptionMode: "dynamic" } };
// The same two over TLS (rediss://, the bench's own CA): the TLS benches run all four in one run.
const UPSTREAM_TLS = { ...UPSTREAM, key: "upstream-tls", label: "upstream 8.3.0 over TLS", tls: true };
const OURS_TLS = { ...OURS, key: "ours-tls", label: "ours over TLS", tls: true };

module.exports = { features, adapterFactory, UPSTREAM, OURS, OURS_NOCOALESCE, OURS_DYNAMIC, UPSTREAM_TLS, OURS_TLS };
