"use strict";
const { EventEmitter } = require("node:events");
const { RedisAdapter, RequestType } = require("./adapter");
const { RedisClient, createClient } = require("./client");
const { resolveTarget, isExternalClient, checkUint32, checkCommandTarget } = require("./target");

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


// The keys that make an object a connection target rather than adapter options (see lib/target.js).
const TARGET_KEYS = [
  "url", "host", "port", "path", "socket", "username", "password", "db", "database", "name", "cluster",
  "rootNodes", "tls", "sentinels", "sentinelRootNodes", "sentinelClient", "connectTimeout", "retryBase", "retryMax", "healthInterval", "healthTimeout",
  "keepAlive", "maxReplyMB", "maxOutputMB",
];
// createAdapter's options, which socket.io-redis also read from its single options object.
const ADAPTER_KEYS = [
  "key", "requestsTimeout", "publishOnSpecificResponseChannel", "parser", "maxDepth", "maxMessageBytes",
  "coalesceWrites", "subscriptionMode",
];

function invalidTarget(message) {
  const err = new TypeError(message);
  err.code = "ERR_INVALID_REDIS_TARGET";
  return err;
}

function isPlainObject(x) {
  if (x === null || typeof x !== "object" || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

// Is the second argument the options (not a subscriber target)? An object that carries both
// connection settings and adapter options is refused rather than guessed at.
function isOptionsArgument(x, adapterKeys) {
  if (!isPlainObject(x)) return false;
  const targetKey = Object.keys(x).find((k) => TARGET_KEYS.includes(k) && x[k] !== undefined);
  if (targetKey === undefined) return true;
  const optionKey = Object.keys(x).find((k) => adapterKeys.includes(k) && x[k] !== undefined);
  if (optionKey !== undefined) {
    throw invalidTarget(
      `the second argument mixes a connection setting (\`${targetKey}\`) with an adapter option (\`${optionKey}\`): ` +
        "pass the subscriber target and the options as separate arguments"
    );
  }
  return false;
}

const SHARDED_KEYS = ["channelPrefix", "subscriptionMode", "maxDepth", "maxMessageBytes", "coalesceWrites", "requestsTimeout"];

// socket.io-redis's single options object: createAdapter({ host, port, socket, key, requestsTimeout,
// pubClient, subClient }). Splits it into targets and adapter options; anything left is a target setting.
function splitLegacy(target, subTarget, opts) {
  if (!isPlainObject(target)) return { target, subTarget, opts };
  const has = (k) => target[k] !== undefined;
  if (!ADAPTER_KEYS.some(has) && !has("pubClient") && !has("subClient")) return { target, subTarget, opts };
  const rest = {};
  const fromTarget = {};
  for (const k of Object.keys(target)) {
    if (ADAPTER_KEYS.includes(k)) fromTarget[k] = target[k];
    else if (k !== "pubClient" && k !== "subClient") rest[k] = target[k];
  }
  const merged = Object.assign({}, opts);
  for (const [k, v] of Object.entries(fromTarget)) {
    if (merged[k] !== undefined && merged[k] !== v) {
      throw invalidTarget(`\`${k}\` is given both in the target object and in the options, with different values`);
    }
    merged[k] = v;
  }
  const restKeys = Object.keys(rest).filter((k) => rest[k] !== undefined);
  let pub = Object.keys(rest).length > 0 ? rest : undefined;
  let sub = subTarget;
  if (has("pubClient")) {
    if (restKeys.length > 0) {
      throw invalidTarget(`\`${restKeys[0]}\` next to \`pubClient\`: the clients say where to connect; give one or the other`);
    }
    pub = target.pubClient;
  }
  if (has("subClient")) {
    if (subTarget !== undefined) throw invalidTarget("`subClient` is given both in the options object and as an argument");
    sub = target.subClient;
  }
  return { target: pub, subTarget: sub, opts: merged };
}

// The connections a factory shares between its namespaces. Connections we open ourselves (from a
// URL, options, or a node-redis/ioredis client's settings) are closed when the last adapter closes;
// a RedisClient the user passed stays the user's.
class Shared {
  constructor(target, subTarget) {
    this.client = null;
    this.users = 0;
    this.owned = !(target instanceof RedisClient);
    if (!this.owned) this.client = target;
    this.events = null; // the factory, which re-emits the client's connection errors
    // The clients the user passed, exposed read-only as adapter.pubClient / subClient (never used); a
    // createSentinel() client handed over as { sentinelClient, ... } counts as passed.
    const passed = (t) => (isExternalClient(t) ? t : isPlainObject(t) && isExternalClient(t.sentinelClient) ? t.sentinelClient : null);
    this.pubClient = passed(target);
    this.subClient = passed(subTarget) || this.pubClient;
    // Every setting is read (and anything we cannot honour refused) now, at the user's call, not
    // when the first namespace opens the connections.
    if (this.owned) {
      this.target = checkCommandTarget(resolveTarget(target));
      this.subTarget = subTarget === undefined || subTarget === null ? undefined : resolveTarget(subTarget);
      if (this.subTarget !== undefined && !this.target.cluster !== !this.subTarget.cluster) {
        throw invalidTarget("the command and subscriber targets must both be Redis Cluster targets, or neither");
      }
    }
  }

  acquire() {
    if (this.client === null) {
      this.client = new RedisClient(this.target, this.subTarget);
    }
    if (this.users === 0 && this.events !== null) this.client._errorSinks.add(this.events);
    this.users++;
    return this.client;
  }

  release() {
    this.users--;
    if (this.users > 0 || this.client === null) return Promise.resolve();
    if (this.events !== null) this.client._errorSinks.delete(this.events);
    if (!this.owned) return Promise.resolve();
    const client = this.client;
    this.client = null;
    return client.close();
  }
}

// The factory is a plain function (socket.io calls it with `new`) that is also an EventEmitter: it emits
// 'error' for connection errors of the client it uses while one of its adapters is open.
function makeFactory(shared, create) {
  const factory = function (nsp) {
    return create(nsp);
  };
  for (const name of Object.getOwnPropertyNames(EventEmitter.prototype)) {
    if (name !== "constructor") factory[name] = EventEmitter.prototype[name];
  }
  EventEmitter.call(factory);
  shared.events = factory;
  Object.defineProperty(factory, "client", { get: () => shared.client });
  return factory;
}

/**
 * Returns a Socket.IO adapter factory, like @socket.io/redis-adapter's createAdapter.
 *
 *   createAdapter(pubClient, subClient, opts)   node-redis v4/v5 or ioredis clients (drop-in)
 *   createAdapter("redis://host:6379", opts)    a URL (or options object, or createClient() object)
 *   createAdapter(target, subTarget, opts)      a separate endpoint for the subscriber
 */
function createAdapter(target, subTarget, opts) {
  if (opts === undefined && isOptionsArgument(subTarget, ADAPTER_KEYS)) {
    opts = subTarget;
    subTarget = undefined;
  }
  ({ target, subTarget, opts } = splitLegacy(target, subTarget, opts));
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
  if (target instanceof RedisClient && subTarget !== undefined && subTarget !== null && subTarget !== target) {
    throw invalidTarget("a createClient() client already has its subscriber connection: pass no subscriber target with it");
  }
  checkAdapterOptions(opts);
  if (target instanceof RedisClient) subTarget = undefined;
  const shared = new Shared(target, subTarget === target ? undefined : subTarget);
  return makeFactory(shared, (nsp) => new RedisAdapter(nsp, shared, opts));
}

/**
 * Returns a Socket.IO adapter factory for Redis 7 sharded Pub/Sub, like @socket.io/redis-adapter's
 * createShardedAdapter and compatible with it on the wire.
 *
 *   createShardedAdapter(pubClient, subClient, { channelPrefix, subscriptionMode })
 *   createShardedAdapter("redis://host:6379", { subscriptionMode: "dynamic" })
 */
function createShardedAdapter(target, subTarget, opts) {
  if (opts === undefined && isOptionsArgument(subTarget, SHARDED_KEYS)) {
    opts = subTarget;
    subTarget = undefined;
  }
  opts = Object.assign({}, opts);
  if (target instanceof RedisClient && subTarget !== undefined && subTarget !== null && subTarget !== target) {
    throw invalidTarget("a createClient() client already has its subscriber connection: pass no subscriber target with it");
  }
  checkAdapterOptions(opts);
  if (target instanceof RedisClient) subTarget = undefined;
  const shared = new Shared(target, subTarget === target ? undefined : subTarget);
  return makeFactory(shared, (nsp) => new ShardedRedisAdapter(nsp, shared, opts));
}

/**
 * Returns a Socket.IO adapter factory on Redis Streams, wire-compatible with
 * @socket.io/redis-streams-adapter 0.3.x (its options, names and defaults).
 *
 *   createStreamsAdapter("redis://host:6379", { streamName, maxLen, readCount, ... })
 *   createStreamsAdapter(nodeRedisOrIoredisClient, opts)   (its settings; we open our own connections)
 */
function createStreamsAdapter(target, opts) {
  if (target === undefined || target === null) throw invalidTarget("createStreamsAdapter needs a target (a URL, options, or a Redis client)");
  opts = Object.assign({}, opts);
  checkAdapterOptions(opts);
  const shared = new Shared(target, undefined);
  return makeFactory(shared, streamsAdapterMaker(shared, opts));
}

const { streamsAdapterMaker, StreamsAdapter } = require("./streams-adapter");
const { Emitter } = require("./emitter");
const { ShardedRedisAdapter } = require("./sharded");

const { coalesceWrites } = require("./cork");

// adapter.pubClient / adapter.subClient, as upstream's classic adapter has them: the clients the user
// passed (read-only; we never send through them), or our RedisClient when the target was a URL or options.
for (const Cls of [RedisAdapter, ShardedRedisAdapter, StreamsAdapter]) {
  Object.defineProperties(Cls.prototype, {
    pubClient: { get() { return this._shared.pubClient || this._client; }, configurable: true },
    subClient: { get() { return this._shared.subClient || this._client; }, configurable: true },
  });
}

/** The Redis Cluster hash slot of a key or channel (CRC16/XMODEM of its {hash tag}, mod 16384). */
function clusterKeySlot(key) {
  return require("./binding").cluster_key_slot(key);
}

module.exports = {
  createAdapter,
  createShardedAdapter,
  createStreamsAdapter,
  createClient,
  clusterKeySlot,
  coalesceWrites,
  Emitter,
  RedisAdapter,
  ShardedRedisAdapter,
  StreamsAdapter,
  RedisClient,
  RequestType,
};
