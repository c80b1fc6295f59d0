"use strict";
const { RedisAdapter, RequestType } = require("./adapter");
const { RedisClient, createClient } = require("./client");
const { checkUint32 } = require("./target");


// requestsTimeout reaches C as uint32 ms; key and channelPrefix become channel names, which a NUL
// would cut short in C.
function checkAdapterOptions(opts) {
  if (opts.requestsTimeout !== undefined) checkUint32("requestsTimeout", opts.requestsTimeout);
  for (const k of ["key", "channelPrefix"]) {
    if (typeof opts[k] === "string" && opts[k].includes("\0")) {
      const err = new TypeError(`${k} must not contain a NUL character`);
      err.code = "ERR_INVALID_ARG_VALUE";
      throw err;
    }
  }
}

function isPlainOptions(x) {
  return (
    x !== null &&
    typeof x === "object" &&
    !(x instanceof RedisClient) &&
    x.constructor === Object &&
    !("host" in x) &&
    !("port" in x) &&
    !("path" in x) &&
    !("url" in x) &&
    !("cluster" in x)
  );
}

// The connections a factory shares between its namespaces. Connections we open ourselves (from a
// URL, options, or a node-redis/ioredis client's settings) are closed when the last adapter closes;
// a RedisClient the user passed stays the user's.
class Shared {
  constructor(target, subTarget) {
    this.target = target;
    this.subTarget = subTarget;
    this.client = null;
    this.users = 0;
    this.owned = !(target instanceof RedisClient);
    if (!this.owned) this.client = target;
  }

  acquire() {
    if (this.client === null) {
      this.client = new RedisClient(this.target, this.subTarget);
    }
    this.users++;
    return this.client;
  }

  release() {
    this.users--;
    if (this.users > 0 || !this.owned || this.client === null) return Promise.resolve();
    const client = this.client;
    this.client = null;
    return client.close();
  }
}

/**
 * Returns a Socket.IO adapter factory, like @socket.io/redis-adapter's createAdapter.
 *
 *   createAdapter(pubClient, subClient, opts)   node-redis v4/v5 or ioredis clients (drop-in)
 *   createAdapter("redis://host:6379", opts)    a URL (or options object, or createClient() object)
 *   createAdapter(target, subTarget, opts)      a separate endpoint for the subscriber
 */
function createAdapter(target, subTarget, opts) {
  if (opts === undefined && isPlainOptions(subTarget)) {
    opts = subTarget;
    subTarget = undefined;
  }
  opts = Object.assign({}, opts);
  if (opts.parser !== undefined && opts.parser !== require("notepack.io")) {
    const err = new TypeError("socket.io-hiredis-adapter speaks notepack.io msgpack only: the `parser` option is not supported");
    err.code = "ERR_UNSUPPORTED_OPTION";
    throw err;
  }
  if (opts.subscriptionMode !== undefined && opts.subscriptionMode !== "pattern" && opts.subscriptionMode !== "dynamic") {
    const err = new TypeError(`subscriptionMode must be "pattern" (the default) or "dynamic", got ${String(opts.subscriptionMode)}`);
    err.code = "ERR_INVALID_ARG_VALUE";
    throw err;
  }
  checkAdapterOptions(opts);
  if (target instanceof RedisClient) subTarget = undefined;
  const shared = new Shared(target, subTarget === target ? undefined : subTarget);
  // A plain function: socket.io calls it with `new`.
  const factory = function (nsp) {
    return new RedisAdapter(nsp, shared, opts);
  };
  Object.defineProperty(factory, "client", { get: () => shared.client });
  return factory;
}

/**
 * Returns a Socket.IO adapter factory for Redis 7 sharded Pub/Sub, like @socket.io/redis-adapter's
 * createShardedAdapter and compatible with it on the wire.
 *
 *   createShardedAdapter(pubClient, subClient, { channelPrefix, subscriptionMode })
 *   createShardedAdapter("redis://host:6379", { subscriptionMode: "dynamic" })
 */
function createShardedAdapter(target, subTarget, opts) {
  if (opts === undefined && isPlainOptions(subTarget)) {
    opts = subTarget;
    subTarget = undefined;
  }
  opts = Object.assign({}, opts);
  checkAdapterOptions(opts);
  if (target instanceof RedisClient) subTarget = undefined;
  const shared = new Shared(target, subTarget === target ? undefined : subTarget);
  const factory = function (nsp) {
    return new ShardedRedisAdapter(nsp, shared, opts);
  };
  Object.defineProperty(factory, "client", { get: () => shared.client });
  return factory;
}

const { Emitter } = require("./emitter");
const { ShardedRedisAdapter } = require("./sharded");

const { coalesceWrites } = require("./cork");

/** The Redis Cluster hash slot of a key or channel (CRC16/XMODEM of its {hash tag}, mod 16384). */
function clusterKeySlot(key) {
  return require("./binding").cluster_key_slot(key);
}

module.exports = {
  createAdapter,
  createShardedAdapter,
  createClient,
  clusterKeySlot,
  coalesceWrites,
  Emitter,
  RedisAdapter,
  ShardedRedisAdapter,
  RedisClient,
  RequestType,
};
