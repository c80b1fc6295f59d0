"use strict";
// Turns what a user passes to createAdapter/createClient into native connection settings: a URL, an
// options object, or a node-redis v4/v5 or ioredis client whose settings we read (we open our own
// native connections to the same endpoint; the JS client itself is never used).

function fail(message) {
  const err = new TypeError(message);
  err.code = "ERR_INVALID_REDIS_TARGET";
  return err;
}

function decode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function fromUrl(str) {
  let url;
  try {
    url = new URL(str);
  } catch {
    throw fail(`invalid Redis URL: ${JSON.stringify(String(str).replace(/\/\/[^@/]*@/, "//***@"))}`);
  }
  const ep = {};
  if (url.username) ep.username = decode(url.username);
  if (url.password) ep.password = decode(url.password);
  if (url.username && !url.password) {
    // redis://secret@host: a lone user-info part is the password (as node-redis reads it).
    ep.password = ep.username;
    delete ep.username;
  }
  switch (url.protocol) {
    case "redis:": {
      ep.host = url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
      ep.port = url.port ? Number(url.port) : 6379;
      const db = url.pathname.replace(/^\//, "");
      if (db) ep.db = Number(db);
      break;
    }
    case "unix:":
    case "redis+unix:":
      ep.path = decode(url.pathname);
      break;
    case "rediss:":
      throw fail("TLS (rediss://) is not supported yet by socket.io-hiredis-adapter");
    default:
      throw fail(`unsupported Redis URL scheme ${url.protocol}`);
  }
  for (const [k, v] of url.searchParams) {
    if (k === "db" || k === "database") ep.db = Number(v);
    else if (k === "name" || k === "clientName") ep.name = v;
    else if (k === "password") ep.password = v;
    else if (k === "username") ep.username = v;
  }
  return validate(ep);
}

function validate(ep) {
  if (ep.port !== undefined && (!Number.isInteger(ep.port) || ep.port <= 0 || ep.port > 65535)) {
    throw fail(`invalid Redis port ${ep.port}`);
  }
  if (ep.db !== undefined && (!Number.isInteger(ep.db) || ep.db < 0)) {
    throw fail(`invalid Redis database index ${ep.db}`);
  }
  return ep;
}

function fromOptions(o) {
  if (o.url) return { ...fromUrl(o.url), ...pick(o) };
  return validate(pick(o));
}

const KEYS = ["host", "port", "path", "username", "password", "db", "name", "connectTimeout", "retryBase", "retryMax", "healthInterval", "healthTimeout", "keepAlive", "maxReplyMB", "maxOutputMB"];

function pick(o) {
  const ep = {};
  for (const k of KEYS) {
    if (o[k] !== undefined && o[k] !== null) ep[k] = o[k];
  }
  if (ep.port !== undefined) ep.port = Number(ep.port);
  if (ep.db !== undefined) ep.db = Number(ep.db);
  if (ep.path) delete ep.host;
  return ep;
}

function isNodeRedis(c) {
  return typeof c.pSubscribe === "function" || typeof c.sendCommand === "function" && typeof c.PUBLISH === "function";
}

function isNodeRedisCluster(c) {
  return Array.isArray(c.masters) || (c.options && Array.isArray(c.options.rootNodes));
}

function isIoRedisCluster(c) {
  return c.isCluster === true || (c.constructor && c.constructor.name === "Cluster" && typeof c.nodes === "function");
}

function isIoRedis(c) {
  return typeof c.psubscribe === "function" && c.options && typeof c.options === "object" && "retryStrategy" in c.options;
}

function fromNodeRedis(c) {
  const o = c.options || {};
  let ep = {};
  if (o.url) ep = fromUrl(o.url);
  const sock = o.socket || {};
  if (sock.path) {
    ep.path = sock.path;
    delete ep.host;
    delete ep.port;
  } else {
    if (sock.host) ep.host = sock.host;
    if (sock.port) ep.port = Number(sock.port);
  }
  if (sock.tls) throw fail("TLS Redis connections are not supported yet by socket.io-hiredis-adapter");
  if (o.username) ep.username = o.username;
  if (o.password) ep.password = o.password;
  if (o.database !== undefined) ep.db = Number(o.database);
  if (o.name) ep.name = o.name;
  return validate(ep);
}

function fromIoRedis(c) {
  const o = c.options || {};
  if (o.tls) throw fail("TLS Redis connections are not supported yet by socket.io-hiredis-adapter");
  if (o.sentinels) throw fail("Redis Sentinel is not supported yet by socket.io-hiredis-adapter");
  const ep = {};
  if (o.path) ep.path = o.path;
  else {
    ep.host = o.host || "127.0.0.1";
    ep.port = Number(o.port || 6379);
  }
  if (o.username) ep.username = o.username;
  if (o.password) ep.password = o.password;
  if (o.db) ep.db = Number(o.db);
  if (o.connectionName) ep.name = o.connectionName;
  return validate(ep);
}

// --- Redis Cluster: seed nodes plus settings shared by every node -----------------------------

const SHARED_KEYS = ["username", "password", "name", "connectTimeout", "retryBase", "retryMax", "healthInterval", "healthTimeout", "keepAlive", "maxReplyMB", "maxOutputMB"];

function seedFrom(node) {
  if (typeof node === "string") {
    const ep = fromUrl(node);
    if (ep.path) throw fail("Redis Cluster nodes must be TCP endpoints, not unix sockets");
    return ep;
  }
  if (typeof node === "number") return validate({ host: "127.0.0.1", port: node });
  if (node === null || typeof node !== "object") throw fail(`invalid Redis Cluster node ${JSON.stringify(node)}`);
  if (node.url) return seedFrom(node.url);
  const sock = node.socket || {};
  const ep = { host: node.host || sock.host || "127.0.0.1", port: Number(node.port || sock.port || 6379) };
  if (node.username) ep.username = node.username;
  if (node.password) ep.password = node.password;
  if (sock.tls || node.tls) throw fail("TLS Redis connections are not supported yet by socket.io-hiredis-adapter");
  return validate(ep);
}

// { cluster: [ {host, port} | "redis://h:p" | port, ... ], username, password, ... }: the
// credentials of the options win, then those of the first seed that has some.
function fromCluster(o) {
  const list = o.cluster;
  if (!Array.isArray(list) || list.length === 0) throw fail("`cluster` must be a non-empty array of seed nodes");
  if (list.length > 1024) throw fail("at most 1024 Redis Cluster seed nodes");
  const seeds = list.map(seedFrom);
  const out = { cluster: seeds.map((s) => ({ host: s.host, port: s.port })) };
  for (const k of SHARED_KEYS) {
    if (o[k] !== undefined && o[k] !== null) out[k] = o[k];
  }
  if (out.password === undefined) {
    const withCreds = seeds.find((s) => s.password !== undefined);
    if (withCreds) {
      out.password = withCreds.password;
      if (withCreds.username !== undefined && out.username === undefined) out.username = withCreds.username;
    }
  }
  return out;
}

// node-redis v4 `createCluster()`: its options are private, but once connected (as upstream's
// adapter requires too) its node lists are public, and every node client carries the `defaults`
// (credentials) in its options.
function fromNodeRedisCluster(c) {
  const nodes = [...(Array.isArray(c.masters) ? c.masters : []), ...(Array.isArray(c.replicas) ? c.replicas : [])];
  const o = {};
  const publicOptions = c.options && Array.isArray(c.options.rootNodes) ? c.options : null;
  if (publicOptions) {
    o.cluster = publicOptions.rootNodes;
    const d = publicOptions.defaults || {};
    if (d.username) o.username = d.username;
    if (d.password) o.password = d.password;
  } else if (nodes.length > 0) {
    o.cluster = nodes.map((n) => ({ host: n.host, port: n.port }));
  } else {
    throw fail("connect the node-redis cluster client before handing it over: its seed nodes are private until it has discovered the cluster");
  }
  for (const n of nodes) {
    const co = n.client && n.client.options;
    if (co && o.password === undefined && co.password) {
      o.password = co.password;
      if (co.username) o.username = co.username;
    }
  }
  return fromCluster(o);
}

// ioredis `new Redis.Cluster(startupNodes, { redisOptions })`.
function fromIoRedisCluster(c) {
  const startup = Array.isArray(c.startupNodes) ? c.startupNodes : [];
  if (startup.length === 0) throw fail("this ioredis Cluster has no startup nodes");
  const ro = (c.options && c.options.redisOptions) || {};
  if (ro.tls) throw fail("TLS Redis connections are not supported yet by socket.io-hiredis-adapter");
  const o = { cluster: startup };
  if (ro.username) o.username = ro.username;
  if (ro.password) o.password = ro.password;
  if (ro.connectionName) o.name = ro.connectionName;
  return fromCluster(o);
}

// Durations and sizes reach C as uint32: a negative or fractional value would wrap (-1 ms is ~49 days).
const NUMERIC_KEYS = ["connectTimeout", "retryBase", "retryMax", "healthInterval", "healthTimeout", "keepAlive", "maxReplyMB", "maxOutputMB"];

function checkUint32(name, v) {
  if (typeof v !== "number") {
    const err = new TypeError(`${name} must be a number, got ${typeof v}`);
    err.code = "ERR_INVALID_ARG_TYPE";
    throw err;
  }
  if (!Number.isFinite(v) || v < 0 || v > 0xffffffff) {
    const err = new RangeError(`${name} must be a number from 0 to 4294967295, got ${v}`);
    err.code = "ERR_OUT_OF_RANGE";
    throw err;
  }
  return v;
}

function checkNumericOptions(ep) {
  for (const k of NUMERIC_KEYS) if (ep[k] !== undefined && ep[k] !== null) checkUint32(k, ep[k]);
  return ep;
}

// Returns native endpoint settings for a target that is not one of our own clients.
function resolveTarget(target) {
  return checkNumericOptions(resolveAny(target));
}

function resolveAny(target) {
  if (target === undefined || target === null) return { host: "127.0.0.1", port: 6379 };
  if (typeof target === "string") return fromUrl(target);
  if (typeof target !== "object") throw fail(`unsupported Redis target of type ${typeof target}`);
  if (isNodeRedisCluster(target)) return fromNodeRedisCluster(target);
  if (isIoRedisCluster(target)) return fromIoRedisCluster(target);
  if (Array.isArray(target)) return fromCluster({ cluster: target });
  if (Array.isArray(target.cluster)) return fromCluster(target);
  if (isNodeRedis(target)) return fromNodeRedis(target);
  if (isIoRedis(target)) return fromIoRedis(target);
  return fromOptions(target);
}

module.exports = { resolveTarget, checkUint32 };
