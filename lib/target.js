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

const KEYS = ["host", "port", "path", "username", "password", "db", "name", "connectTimeout", "retryBase", "retryMax", "healthInterval", "healthTimeout", "keepAlive", "maxReplyMB"];

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

// Returns native endpoint settings for a target that is not one of our own clients.
function resolveTarget(target) {
  if (target === undefined || target === null) return { host: "127.0.0.1", port: 6379 };
  if (typeof target === "string") return fromUrl(target);
  if (typeof target !== "object") throw fail(`unsupported Redis target of type ${typeof target}`);
  if (isNodeRedisCluster(target) || isIoRedisCluster(target)) {
    throw fail("Redis Cluster clients are not supported yet by socket.io-hiredis-adapter (planned)");
  }
  if (isNodeRedis(target)) return fromNodeRedis(target);
  if (isIoRedis(target)) return fromIoRedis(target);
  return fromOptions(target);
}

module.exports = { resolveTarget };
