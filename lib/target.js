"use strict";
// The one reader of every target form: what a user passes to createAdapter, createShardedAdapter,
// createClient or the Emitter (a URL, an options object, node-redis v3/v4/v5 and ioredis clients and
// their cluster and Sentinel variants) becomes native connection settings here, and nowhere else.
//
// Each form has an explicit list of the settings we honour. A setting that would change where or how we
// connect and that we cannot honour (Sentinel, a NAT map, a custom connector, a TLS option such as a
// checkServerIdentity function, ...) is refused with
// a TypeError whose code is ERR_INVALID_REDIS_TARGET, synchronously, before any socket is opened: we never
// connect elsewhere, or in plain text, than the user asked. Settings of other libraries that do not change
// the connection (their retry and queue tuning) are ignored; in our own options-object form an unknown key
// is refused too, so a typo cannot send us to 127.0.0.1:6379. The lists are in README.md ("Targets").

const RESOLVED = Symbol("socket.io-hiredis-adapter.resolvedTarget");

function fail(message) {
  const err = new TypeError(message);
  err.code = "ERR_INVALID_REDIS_TARGET";
  return err;
}

const SENTINEL_ONLY = "a Redis Sentinel setting: give `sentinels` and `name` with it, or use a redis+sentinel:// URL";

// --- our own connection settings ---------------------------------------------------------------

// Tuning of our native connection: non-negative integers (ms unless said).
const TUNING = {
  connectTimeout: { max: 2 ** 31 - 1 },
  retryBase: { max: 2 ** 31 - 1 },
  retryMax: { max: 2 ** 31 - 1 },
  healthInterval: { max: 2 ** 31 - 1 },
  healthTimeout: { max: 2 ** 31 - 1 },
  keepAlive: { max: 2 ** 31 - 1 }, // seconds
  maxReplyMB: { min: 1, max: 1 << 20 },
  maxOutputMB: { min: 1, max: 1 << 20 },
  holdMs: { max: 2 ** 31 - 1 },
};

function checkTuning(key, value) {
  const { min = 0, max } = TUNING[key];
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw fail(`\`${key}\` must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

function describe(v) {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "function") return "a function";
  if (v === null || typeof v !== "object") return String(v);
  return Array.isArray(v) ? "an array" : "an object";
}

function checkString(key, value) {
  if (typeof value !== "string") throw fail(`\`${key}\` must be a string, got ${describe(value)}`);
  if (value.includes("\0")) throw fail(`\`${key}\` must not contain a NUL character`);
  return value;
}

function toPort(value, key = "port") {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw fail(`invalid Redis \`${key}\` ${describe(value)}`);
  return n;
}

function toDb(value, key = "db") {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) throw fail(`invalid Redis database index \`${key}\` ${describe(value)}`);
  return n;
}

// A fresh settings object; the fields the native side reads are host, port, path, username, password,
// db, name and the TUNING keys (or `cluster` plus the shared ones).
function settings(ep) {
  if (ep.path !== undefined) {
    delete ep.host;
    delete ep.port;
  } else {
    if (ep.host === undefined || ep.host === "") ep.host = "127.0.0.1";
    if (ep.port === undefined) ep.port = 6379;
  }
  Object.defineProperty(ep, RESOLVED, { value: true });
  return ep;
}

// --- TLS -------------------------------------------------------------------------------------------

const tlsModule = require("node:tls");
const fs = require("node:fs");
const { X509Certificate } = require("node:crypto");

// The tls.connect() options we honour, normalised for the native side: ca, cert and key as Buffers of PEM,
// versions as TLS1_x_VERSION numbers.
const TLS_KEYS = ["ca", "cert", "key", "passphrase", "servername", "rejectUnauthorized", "minVersion", "maxVersion"];
const TLS_VERSIONS = { TLSv1: 0x301, "TLSv1.1": 0x302, "TLSv1.2": 0x303, "TLSv1.3": 0x304 };

// tls.connect() options that change how the session is made and that the native handshake does not
// implement: refused, naming them (a connection made without them would not be the one asked for).
const TLS_REFUSED = {
  checkServerIdentity:
    "a checkServerIdentity function cannot run inside the native handshake: the certificate is checked against `servername` (or else the host) exactly as Node's default checkServerIdentity does, so drop it, or give `servername`, or `rejectUnauthorized: false`",
  pfx: "PKCS#12 (`pfx`) is not read: give `cert` and `key` as PEM",
  secureContext: "a SecureContext object cannot be read: give `ca`, `cert` and `key` as PEM",
  ciphers: "cipher lists are not supported (OpenSSL's defaults apply)",
  ecdhCurve: "ECDH curve lists are not supported (OpenSSL's defaults apply)",
  sigalgs: "signature algorithm lists are not supported (OpenSSL's defaults apply)",
  secureProtocol: "`secureProtocol` is not supported: use `minVersion` / `maxVersion`",
  secureOptions: "raw OpenSSL `secureOptions` are not supported",
  crl: "certificate revocation lists are not supported",
  ALPNProtocols: "ALPN is not supported",
  session: "TLS session resumption from a saved session is not supported",
  pskCallback: "pre-shared keys are not supported",
  privateKeyEngine: "OpenSSL engines are not supported",
  privateKeyIdentifier: "OpenSSL engines are not supported",
  clientCertEngine: "OpenSSL engines are not supported",
  enableTrace: "TLS tracing is not supported",
  requestOCSP: "OCSP stapling is not supported",
  minDHSize: "`minDHSize` is not supported",
  dhparam: "`dhparam` is a server setting",
  lookup: "a custom DNS lookup changes which address we connect to, and is not supported",
  host: "give the host outside the TLS options",
  port: "give the port outside the TLS options",
  path: "TLS over a unix socket is not supported",
  socket: "an existing socket cannot be used",
};

// tls.connect() / net.connect() options that do not change the TLS session: ignored.
const TLS_IGNORED = new Set(["timeout", "highWaterMark", "noDelay", "keepAlive", "keepAliveInitialDelay", "allowHalfOpen", "readable", "writable", "onread", "signal", "requestCert", "family", "hints"]);

function defaultRejectUnauthorized() {
  if (process.env.NODE_TLS_REJECT_UNAUTHORIZED !== "0") return true;
  if (!defaultRejectUnauthorized.warned) {
    defaultRejectUnauthorized.warned = true;
    process.emitWarning("Setting the NODE_TLS_REJECT_UNAUTHORIZED environment variable to '0' makes TLS connections to Redis insecure by disabling certificate verification (socket.io-hiredis-adapter follows it, as tls.connect() does).");
  }
  return false;
}

// The CAs Node trusts by default: its bundled roots (plus, on Node versions that have it,
// tls.getCACertificates("default"): the system store under --use-system-ca) and NODE_EXTRA_CA_CERTS.
let defaultCa = null;
function defaultCA() {
  if (defaultCa) return defaultCa;
  const certs = typeof tlsModule.getCACertificates === "function" ? tlsModule.getCACertificates("default") : [...tlsModule.rootCertificates];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra && typeof tlsModule.getCACertificates !== "function") {
    try {
      certs.push(fs.readFileSync(extra, "latin1"));
    } catch {
      // Node itself only warns about an unreadable file
    }
  }
  defaultCa = Buffer.from(certs.join("\n"), "latin1");
  return defaultCa;
}

function pem(value, key) {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw fail(`\`${key}\` is an empty array`);
  const parts = list.map((v, i) => {
    if (typeof v === "string") return Buffer.from(v, "latin1");
    if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    throw fail(`\`${key}${Array.isArray(value) ? `[${i}]` : ""}\` must be a PEM string or Buffer, got ${describe(v)}`);
  });
  return Buffer.concat(parts.flatMap((b, i) => (i ? [Buffer.from("\n"), b] : [b])));
}

// Every PEM certificate in `buf` must parse (OpenSSL would skip a broken one silently, and with it the
// trust the user meant to give); at least one must be there.
function checkCertificates(buf, key) {
  const blocks = buf.toString("latin1").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) || [];
  if (blocks.length === 0) throw fail(`\`${key}\` holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw fail(`\`${key}\` holds a certificate that cannot be read: ${err.message}`);
    }
  }
}

function tlsVersion(value, key) {
  if (!Object.prototype.hasOwnProperty.call(TLS_VERSIONS, value)) throw fail(`\`${key}\` must be one of ${Object.keys(TLS_VERSIONS).join(", ")}, got ${describe(value)}`);
  return TLS_VERSIONS[value];
}

// Reads the TLS options of `o` (an ioredis/our `tls` object, or node-redis's socket object with `tls: true`;
// `skip` lists its keys that are not TLS options). `strict`: an unknown key is refused (our own forms);
// otherwise it is ignored (another library's client, whose options that library has checked).
function readTls(o, where, { skip = [], strict = true } = {}) {
  for (const key of Object.keys(o)) {
    if (o[key] === undefined || skip.includes(key) || TLS_KEYS.includes(key)) continue;
    if (Object.prototype.hasOwnProperty.call(TLS_REFUSED, key)) throw fail(`\`${where}${key}\`: ${TLS_REFUSED[key]}`);
    if (TLS_IGNORED.has(key) || !strict) continue;
    throw fail(`unknown TLS setting \`${where}${key}\` (read: ${TLS_KEYS.join(", ")})`);
  }
  const has = (k) => o[k] !== undefined && o[k] !== null;
  const out = {};
  out.ca = has("ca") ? pem(o.ca, `${where}ca`) : defaultCA();
  if (has("ca")) checkCertificates(out.ca, `${where}ca`);
  if (has("cert")) {
    out.cert = pem(o.cert, `${where}cert`);
    checkCertificates(out.cert, `${where}cert`);
  }
  if (has("key")) {
    const k = Array.isArray(o.key) && o.key.length === 1 ? o.key[0] : o.key;
    if (Array.isArray(k)) throw fail(`\`${where}key\`: give one private key`);
    if (k !== null && typeof k === "object" && !Buffer.isBuffer(k) && !(k instanceof Uint8Array)) throw fail(`\`${where}key\`: give the key as a PEM string or Buffer (and \`passphrase\` next to it)`);
    out.key = pem(k, `${where}key`);
  }
  if (!out.cert !== !out.key) throw fail(`\`${where}${out.cert ? "cert" : "key"}\` needs \`${where}${out.cert ? "key" : "cert"}\` too (a client certificate and its private key)`);
  if (has("passphrase")) out.passphrase = checkString(`${where}passphrase`, o.passphrase);
  if (has("servername") && o.servername !== "") out.servername = checkString(`${where}servername`, o.servername);
  if (has("rejectUnauthorized")) {
    if (typeof o.rejectUnauthorized !== "boolean") throw fail(`\`${where}rejectUnauthorized\` must be a boolean, got ${describe(o.rejectUnauthorized)}`);
    out.rejectUnauthorized = o.rejectUnauthorized;
  } else {
    out.rejectUnauthorized = defaultRejectUnauthorized();
  }
  out.minVersion = tlsVersion(has("minVersion") ? o.minVersion : tlsModule.DEFAULT_MIN_VERSION, `${where}minVersion`);
  out.maxVersion = tlsVersion(has("maxVersion") ? o.maxVersion : tlsModule.DEFAULT_MAX_VERSION, `${where}maxVersion`);
  if (out.minVersion > out.maxVersion) throw fail(`\`${where}minVersion\` is above \`${where}maxVersion\``);
  // Node's own parser checks the PEM, the key, its passphrase and that it matches the certificate, here, at
  // the user's call (the native context is built from the same bytes when the connection opens).
  try {
    tlsModule.createSecureContext({ ca: has("ca") ? out.ca : undefined, cert: out.cert, key: out.key, passphrase: out.passphrase });
  } catch (err) {
    const e = fail(`invalid TLS settings in \`${where || "tls"}\`: ${err.message}`);
    e.cause = err;
    throw e;
  }
  Object.defineProperty(out, RESOLVED, { value: true });
  return Object.freeze(out);
}

// The TLS settings of an ioredis-style / our `tls` value: true or an object (TLS on), false/null/undefined
// (off). A value this module normalised already is returned as is.
function tlsValue(v, where, strict = true) {
  if (v === undefined || v === null || v === false) return undefined;
  if (v === true) return readTls({}, where);
  if (typeof v !== "object" || Array.isArray(v)) throw fail(`\`${where}\` must be true or an object of TLS options, got ${describe(v)}`);
  if (v[RESOLVED] === true) return v;
  return readTls(v, `${where}.`, { strict });
}

function sameTls(a, b) {
  if (!a || !b) return !a === !b;
  return TLS_KEYS.every((k) => (Buffer.isBuffer(a[k]) && Buffer.isBuffer(b[k]) ? a[k].equals(b[k]) : a[k] === b[k]));
}

// --- URLs and legacy "host:port" strings ----------------------------------------------------------

const URL_QUERY = {
  db: (ep, v) => (ep.db = toDb(v)),
  database: (ep, v) => (ep.db = toDb(v, "database")),
  name: (ep, v) => (ep.name = checkString("name", v)),
  clientName: (ep, v) => (ep.name = checkString("clientName", v)),
  password: (ep, v) => (ep.password = checkString("password", v)),
  username: (ep, v) => (ep.username = checkString("username", v)),
};

function decode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function redact(str) {
  return JSON.stringify(String(str).replace(/\/\/[^@/]*@/, "//***@"));
}

// socket.io-redis's legacy forms: "host:port", "host", "[v6addr]:port".
const LEGACY_HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/;

function fromString(str) {
  if (str.includes("\0")) throw fail("a Redis URL must not contain a NUL character");
  if (!str.includes("://")) {
    const m = LEGACY_HOST_PORT.exec(str);
    if (m) return settings({ host: m[1] || m[2], port: m[3] === undefined ? 6379 : toPort(m[3]) });
    throw fail(`invalid Redis target ${redact(str)}: expected a redis:// or unix:// URL, or host:port`);
  }
  return settings(fromUrl(str));
}

function fromUrl(str) {
  let url;
  try {
    url = new URL(str);
  } catch {
    throw fail(`invalid Redis URL: ${redact(str)}`);
  }
  const ep = {};
  switch (url.protocol) {
    case "redis:":
    case "rediss:": {
      ep.host = url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
      if (url.protocol === "rediss:") ep.tls = readTls({}, "");
      ep.port = url.port ? toPort(url.port) : 6379;
      const db = url.pathname.replace(/^\//, "");
      if (db) ep.db = toDb(db, "database (URL path)");
      break;
    }
    case "unix:":
    case "redis+unix:":
      if (url.hostname) throw fail(`a ${url.protocol}// URL takes a path, not a host (${redact(str)}): write unix:///path/to/redis.sock`);
      ep.path = decode(url.pathname);
      if (!ep.path) throw fail(`a ${url.protocol}// URL needs a socket path`);
      break;
    case "redis+sentinel:":
    case "rediss+sentinel:":
    case "sentinel:":
      throw fail(`a ${url.protocol}// URL names a Sentinel deployment: it is read on its own, not next to other settings`);
    default:
      throw fail(`unsupported Redis URL scheme ${url.protocol} (expected redis:, rediss:, unix: or redis+unix:)`);
  }
  if (url.username) ep.username = decode(url.username);
  if (url.password) ep.password = decode(url.password);
  if (url.username && !url.password) {
    // redis://secret@host: a lone user-info part is the password (as node-redis reads it).
    ep.password = ep.username;
    delete ep.username;
  }
  for (const [k, v] of url.searchParams) {
    const read = Object.prototype.hasOwnProperty.call(URL_QUERY, k) ? URL_QUERY[k] : null;
    if (read === null) throw fail(`unsupported Redis URL parameter \`${k}\` (read: ${Object.keys(URL_QUERY).join(", ")})`);
    read(ep, v);
  }
  if (url.hash) throw fail(`a Redis URL has no #fragment: ${redact(str)}`);
  return ep;
}

// --- our options object (also node-redis createClient() options and socket.io-redis's legacy keys) ---

// Settings of other libraries that do not change where or how we connect: accepted and ignored.
const IGNORED = new Set([
  // node-redis
  "modules", "scripts", "functions", "commandsQueueMaxLength", "disableOfflineQueue", "readonly", "legacyMode",
  "isolationPoolOptions", "pingInterval", "disableClientInfo", "clientInfoTag", "RESP", "commandOptions",
  "clientSideCache", "maintNotifications", "maintEndpointType", "maintRelaxedSocketTimeout",
  "maintRelaxedCommandTimeout", "unstableResp3", "typeMapping",
  // ioredis
  "retryStrategy", "reconnectOnError", "maxRetriesPerRequest", "enableOfflineQueue", "enableReadyCheck",
  "lazyConnect", "autoResubscribe", "autoResendUnfulfilledCommands", "keyPrefix", "stringNumbers",
  "enableAutoPipelining", "autoPipeliningIgnoredCommands", "maxLoadingRetryTime", "disconnectTimeout",
  "commandTimeout", "socketTimeout", "blockingTimeoutGrace", "showFriendlyErrorStack", "noDelay", "readOnly",
  "offlineQueue", "commandQueue",
  // node-redis v3
  "retry_strategy", "return_buffers", "detect_buffers", "socket_keepalive", "socket_initial_delay",
  "no_ready_check", "enable_offline_queue", "retry_unfulfilled_commands", "string_numbers", "prefix",
  "connect_timeout", "max_attempts", "retry_max_delay", "disable_resubscribing",
]);

// Settings that change where or how we connect, which we cannot honour: refused, naming the setting.
const REFUSED = {
  servername: "`servername` is a TLS setting: give it inside `tls`",
  ssl: "`ssl` is not read: write `tls`",
  enableTLSForSentinelMode: SENTINEL_ONLY,
  sentinelPassword: SENTINEL_ONLY,
  sentinelUsername: SENTINEL_ONLY,
  sentinelClientOptions: SENTINEL_ONLY,
  sentinelTLS: SENTINEL_ONLY,
  role: "a role other than \"master\" needs Redis Sentinel: give `sentinels` and `name` with it",
  preferredSlaves: "a replica preference (a function or a list) cannot be honoured: Sentinel's healthy replicas are used in turn",
  natMap: "a NAT map changes which address we connect to, and is not supported",
  nodeAddressMap: "a node address map changes which address we connect to, and is not supported",
  Connector: "a custom connector is not supported: give the address it would connect to",
  credentialsProvider: "a credentials provider (a function) cannot be read: give `username` and `password`",
  useSRVRecords: "SRV record discovery is not supported: list the nodes",
  family: "an address family is not supported: give an address of that family as `host`",
  localAddress: "binding to a local address is not supported",
  user: "`user` is not read: write `username`",
  auth_pass: "`auth_pass` is not read: write `password`",
  rename_commands: "renamed commands are not supported",
};

// The adapters' own options, which belong in the options argument, not in a target.
const ADAPTER_OPTIONS = new Set([
  "key", "requestsTimeout", "publishOnSpecificResponseChannel", "parser", "maxDepth", "maxMessageBytes",
  "coalesceWrites", "subscriptionMode", "channelPrefix", "pubClient", "subClient",
]);

function refuse(key, where) {
  return fail(`\`${where}${key}\`: ${REFUSED[key]}`);
}

const OWN = ["url", "host", "port", "path", "socket", "username", "password", "db", "database", "name", "connectionName", "clientName", "tls", ...Object.keys(TUNING)];

// The keys of node-redis's socket object that are not TLS options (with `tls: true` the object carries
// tls.connect() options too).
const SOCKET_KEYS = ["host", "port", "path", "connectTimeout", "keepAlive", "keepAliveInitialDelay", "noDelay", "reconnectStrategy", "socketTimeout", "tls", "family", "localAddress"];

// The TLS settings of a node-redis socket object (and of its client's url): undefined when TLS is off.
function nodeRedisTls(sock, url, where, strict) {
  if (sock.tls !== undefined && sock.tls !== null && typeof sock.tls !== "boolean") {
    throw fail(`\`${where}tls\` must be a boolean (node-redis reads the TLS options from the socket object itself), got ${describe(sock.tls)}`);
  }
  const rediss = typeof url === "string" && /^rediss:/i.test(url);
  if (sock.tls === false && rediss) throw fail(`\`${where}tls\` is false next to a rediss:// URL`);
  if (sock.tls !== true && !rediss) {
    if (strict) {
      const stray = Object.keys(sock).find((k) => sock[k] !== undefined && (TLS_KEYS.includes(k) || Object.prototype.hasOwnProperty.call(TLS_REFUSED, k)) && !SOCKET_KEYS.includes(k));
      if (stray) throw fail(`\`${where}${stray}\` is a TLS setting, but \`${where}tls\` is not true`);
    }
    return undefined;
  }
  return readTls(sock, where, { skip: SOCKET_KEYS, strict });
}

// { host, port, path, url, socket, username, password, db, name, tls, ...tuning }. `socket` is node-redis's
// object ({ host, port, path, connectTimeout, keepAlive, tls, ca, ... }) or, as in socket.io-redis, a unix path.
function fromOptions(o) {
  for (const key of Object.keys(o)) {
    if (o[key] === undefined) continue;
    if (Object.prototype.hasOwnProperty.call(REFUSED, key)) {
      if (key === "family" && (o.family === 0 || o.family === 4)) continue;
      if (key === "role" && o.role === "master") continue;
      throw refuse(key, "");
    }
    if (OWN.includes(key) || IGNORED.has(key)) continue;
    if (key === "cluster" || key === "rootNodes") continue; // handled by the caller
    if (ADAPTER_OPTIONS.has(key)) throw fail(`\`${key}\` is an adapter option, not a connection setting: pass it in the options argument`);
    throw fail(`unknown Redis target setting \`${key}\` (read: ${OWN.join(", ")}; see README, "Targets")`);
  }
  const ep = o.url !== undefined && o.url !== null ? fromUrl(checkString("url", o.url)) : {};
  const urlHost = ep.host !== undefined;
  let sock = o.socket;
  if (typeof sock === "string") sock = { path: sock };
  else if (sock !== undefined && sock !== null && (typeof sock !== "object" || Array.isArray(sock))) {
    throw fail(`\`socket\` must be a unix socket path or node-redis's socket options object, got ${describe(sock)}`);
  }
  if (sock) {
    for (const key of Object.keys(sock)) {
      if (sock[key] === undefined) continue;
      if (key === "family" && (sock.family === 0 || sock.family === 4)) continue;
      if (key === "family" || key === "localAddress") throw refuse(key, "socket.");
      if (SOCKET_KEYS.includes(key) || (sock.tls === true && (TLS_KEYS.includes(key) || TLS_IGNORED.has(key)))) continue;
      if (sock.tls === true && Object.prototype.hasOwnProperty.call(TLS_REFUSED, key)) continue; // readTls names it
      if (TLS_KEYS.includes(key)) continue; // nodeRedisTls: a TLS setting without tls: true
      if (Object.prototype.hasOwnProperty.call(REFUSED, key)) throw refuse(key, "socket.");
      throw fail(`unknown Redis target setting \`socket.${key}\` (read: socket.host, socket.port, socket.path, socket.connectTimeout, socket.tls and the TLS options)`);
    }
    const socketTls = nodeRedisTls(sock, o.url, "socket.", true);
    if (socketTls && o.tls !== undefined && o.tls !== null && o.tls !== false) throw fail("TLS settings are given both in `tls` and in `socket`: keep one");
    if (sock.tls === false && o.tls) throw fail("`tls` next to `socket.tls: false`");
    if (socketTls) ep.tls = socketTls;
    if (sock.path !== undefined && sock.path !== null) ep.path = checkString("socket.path", sock.path);
    if (sock.host !== undefined && sock.host !== null) ep.host = checkString("socket.host", sock.host);
    if (sock.port !== undefined && sock.port !== null) ep.port = toPort(sock.port, "socket.port");
    if (sock.connectTimeout !== undefined) ep.connectTimeout = checkTuning("connectTimeout", sock.connectTimeout);
  }
  const has = (k) => o[k] !== undefined && o[k] !== null;
  if (has("host")) ep.host = checkString("host", o.host);
  if (has("port")) ep.port = toPort(o.port);
  if (has("path")) ep.path = checkString("path", o.path);
  if (has("username")) ep.username = checkString("username", o.username);
  if (has("password")) ep.password = checkString("password", o.password);
  if (has("db")) ep.db = toDb(o.db);
  if (has("database")) ep.db = toDb(o.database, "database");
  for (const k of ["name", "connectionName", "clientName"]) if (has(k)) ep.name = checkString(k, o[k]);
  for (const k of Object.keys(TUNING)) if (has(k)) ep[k] = checkTuning(k, o[k]);
  if (o.tls === false && ep.tls && !(sock && sock.tls === true)) throw fail("`tls: false` next to a rediss:// URL");
  if (has("tls") && o.tls !== false) ep.tls = tlsValue(o.tls, "tls");
  if (ep.tls && ep.path !== undefined) throw fail("TLS over a unix socket is not supported: give a host and port");
  if (ep.path !== undefined && ep.path !== "") {
    const hostGiven = has("host") || urlHost || (sock && sock.host !== undefined && sock.host !== null);
    const portGiven = has("port") || (sock && sock.port !== undefined && sock.port !== null);
    if (hostGiven || portGiven) {
      throw fail(`both a unix socket path (\`${sock && sock.path ? "socket" : "path"}\`) and a TCP ${hostGiven ? "host" : "port"} were given: keep one`);
    }
  }
  if (ep.path === "") throw fail("`path` must not be empty");
  return settings(ep);
}

// --- node-redis v4/v5 clients: their public `options` ---------------------------------------------

function fromNodeRedis(c) {
  const o = c.options || {};
  const sock = o.socket || {};
  const tls = nodeRedisTls(sock, o.url, "socket.", false);
  for (const key of ["family", "localAddress"]) {
    if (sock[key] !== undefined && sock[key] !== 0 && sock[key] !== 4) throw refuse(key, "socket.");
  }
  if (o.credentialsProvider && o.password === undefined && o.username === undefined) throw refuse("credentialsProvider", "");
  const ep = {};
  if (sock.path) ep.path = checkString("socket.path", sock.path);
  else {
    if (sock.host) ep.host = checkString("socket.host", sock.host);
    if (sock.port) ep.port = toPort(sock.port, "socket.port");
  }
  if (o.username) ep.username = checkString("username", o.username);
  if (o.password) ep.password = checkString("password", o.password);
  if (o.database !== undefined) ep.db = toDb(o.database, "database");
  if (o.name) ep.name = checkString("name", o.name);
  if (tls) {
    if (ep.path) throw fail("TLS over a unix socket is not supported");
    ep.tls = tls;
  }
  return settings(ep);
}

// --- node-redis v3 (still accepted by upstream 8.3): `options` as createClient() normalised them ---

function fromNodeRedisV3(c) {
  const o = c.options || {};
  if (o.family !== undefined && o.family !== "IPv4" && o.family !== 4 && o.family !== 0) throw refuse("family", "");
  const ep = {};
  const tls = tlsValue(o.tls, "tls", false);
  if (tls) ep.tls = tls;
  if (o.path) ep.path = checkString("path", o.path);
  else {
    if (o.host) ep.host = checkString("host", o.host);
    if (o.port) ep.port = toPort(o.port);
  }
  // the client's own fields: it reads password/auth_pass and user/auth_user (and the URL's) into them
  if (c.auth_pass) ep.password = checkString("password", c.auth_pass);
  if (c.auth_user) ep.username = checkString("user", c.auth_user);
  if (o.db !== undefined && o.db !== null && o.db !== "") ep.db = toDb(o.db);
  // a client already switched by SELECT keeps using that database
  else if (Number.isInteger(c.selected_db)) ep.db = c.selected_db;
  return settings(ep);
}

// --- ioredis: `options` holds every default, so only set (non-default) values count ---------------

function fromIoRedis(c) {
  const o = c.options || {};
  if (o.natMap) throw refuse("natMap", "");
  if (o.Connector) throw refuse("Connector", "");
  if (o.family !== undefined && o.family !== 0 && o.family !== 4) throw refuse("family", "");
  const ep = {};
  if (o.path) ep.path = checkString("path", o.path);
  else {
    ep.host = o.host ? checkString("host", o.host) : "127.0.0.1";
    ep.port = o.port ? toPort(o.port) : 6379;
  }
  if (o.username) ep.username = checkString("username", o.username);
  if (o.password) ep.password = checkString("password", o.password);
  if (o.db) ep.db = toDb(o.db);
  if (o.connectionName) ep.name = checkString("connectionName", o.connectionName);
  const tls = tlsValue(o.tls, "tls", false);
  if (tls) {
    if (ep.path) throw fail("TLS over a unix socket is not supported");
    ep.tls = tls;
  }
  return settings(ep);
}

// --- Redis Cluster: seed nodes plus settings shared by every node -----------------------------

const SHARED_KEYS = ["username", "password", "name", "tls", ...Object.keys(TUNING)];

function seedFrom(node) {
  if (typeof node === "number") return settings({ host: "127.0.0.1", port: toPort(node) });
  const ep = typeof node === "string" ? fromString(node) : node !== null && typeof node === "object" && !Array.isArray(node) ? fromOptions(node) : null;
  if (ep === null) throw fail(`invalid Redis Cluster node ${describe(node)}`);
  if (ep.path !== undefined) throw fail("Redis Cluster nodes must be TCP endpoints, not unix sockets");
  return ep;
}

// { cluster: [ {host, port} | "redis://h:p" | port, ... ], username, password, tls, ... }: the
// credentials of the options win, then those of the first seed that has some. TLS is on for every node
// when the options give `tls`, or else when a seed is rediss:// (seeds disagreeing are refused).
function fromCluster(o) {
  const list = o.cluster;
  if (!Array.isArray(list) || list.length === 0) throw fail("`cluster` must be a non-empty array of seed nodes");
  if (list.length > 1024) throw fail("at most 1024 Redis Cluster seed nodes");
  const rest = {};
  for (const k of Object.keys(o)) if (k !== "cluster") rest[k] = o[k];
  const shared = fromOptions(rest); // the same checks as a single node's options
  for (const k of ["host", "port", "path", "url", "socket"]) {
    if (o[k] !== undefined) throw fail(`\`${k}\` does not go with \`cluster\`: list the nodes in \`cluster\``);
  }
  const seeds = list.map(seedFrom);
  const out = { cluster: seeds.map((s) => ({ host: s.host, port: s.port })) };
  for (const k of SHARED_KEYS) if (shared[k] !== undefined) out[k] = shared[k];
  if (shared.db !== undefined && shared.db !== 0) throw fail("Redis Cluster has database 0 only: drop `db`");
  if (out.tls === undefined) {
    const withTls = seeds.filter((s) => s.tls);
    if (withTls.length > 0 && (withTls.length < seeds.length || withTls.some((s) => !sameTls(s.tls, withTls[0].tls)))) {
      throw fail("the Redis Cluster seeds disagree on TLS: make them all rediss:// (or give `tls` once, next to `cluster`)");
    }
    if (withTls.length > 0) out.tls = withTls[0].tls;
  }
  if (out.password === undefined) {
    const withCreds = seeds.find((s) => s.password !== undefined);
    if (withCreds) {
      out.password = withCreds.password;
      if (withCreds.username !== undefined && out.username === undefined) out.username = withCreds.username;
    }
  }
  Object.defineProperty(out, RESOLVED, { value: true });
  return out;
}

// node-redis createCluster() options ({ rootNodes, defaults, ... }), as a plain object or read from a
// v5 cluster client's `_options`.
function fromNodeRedisClusterOptions(o) {
  if (!Array.isArray(o.rootNodes) || o.rootNodes.length === 0) throw fail("`rootNodes` must be a non-empty array of node options");
  if (o.nodeAddressMap) throw refuse("nodeAddressMap", "");
  const d = o.defaults || {};
  const dsock = d.socket || {};
  // node-redis gives every node the defaults (the root nodes theirs merged over them): TLS is on for all
  // nodes when the defaults say so, or when the root nodes all do, with the same settings.
  let tls = nodeRedisTls(dsock, d.url, "defaults.socket.", false);
  let rootTls;
  if (d.credentialsProvider && d.password === undefined) throw refuse("credentialsProvider", "defaults.");
  const seeds = o.rootNodes.map((n, i) => {
    if (n === null || typeof n !== "object") throw fail(`cannot read rootNodes[${i}]: ${describe(n)}`);
    const sock = n.socket || {};
    const mine = nodeRedisTls({ ...dsock, ...sock }, typeof n.url === "string" && /^rediss:/i.test(n.url) ? n.url : d.url, `rootNodes[${i}].socket.`, false);
    if ((tls && !mine) || (i > 0 && !mine !== !rootTls) || (mine && rootTls && !sameTls(mine, rootTls)) || (tls && mine && !sameTls(tls, mine))) {
      throw fail(`rootNodes[${i}] and the other nodes disagree on TLS: give the TLS settings once, in \`defaults.socket\``);
    }
    rootTls = mine;
    if (n.url !== undefined) return n.url;
    if (!sock.host && !sock.port && !n.host && !n.port) throw fail(`cannot read rootNodes[${i}]: it has no url, socket.host or socket.port`);
    return { host: sock.host || n.host || "127.0.0.1", port: sock.port || n.port || 6379 };
  });
  tls = tls || rootTls;
  const out = { cluster: seeds };
  if (tls) out.tls = tls;
  if (d.username) out.username = d.username;
  if (d.password) out.password = d.password;
  if (d.name) out.name = d.name;
  return fromCluster(out);
}

// A node-redis v4/v5 `createCluster()` client. v4 keeps its options private, but once connected (as
// upstream's adapter requires too) its node lists are public, and every node client carries the
// `defaults` (credentials) in its options.
function fromNodeRedisCluster(c) {
  const publicOptions = [c.options, c._options].find((x) => x && Array.isArray(x.rootNodes));
  if (publicOptions) return fromNodeRedisClusterOptions(publicOptions);
  const nodes = [...(Array.isArray(c.masters) ? c.masters : []), ...(Array.isArray(c.replicas) ? c.replicas : [])];
  if (nodes.length === 0) {
    throw fail("connect the node-redis cluster client before handing it over: its seed nodes are private until it has discovered the cluster");
  }
  const o = { cluster: nodes.map((n) => ({ host: n.host, port: n.port })) };
  nodes.forEach((n, i) => {
    const co = (n.client && n.client.options) || {};
    const tls = nodeRedisTls(co.socket || {}, co.url, "socket.", false);
    if (i > 0 && !sameTls(tls, o.tls)) throw fail("the nodes of this node-redis cluster client disagree on TLS");
    o.tls = tls;
    if (o.password === undefined && co.password) {
      o.password = co.password;
      if (co.username) o.username = co.username;
    }
    if (o.name === undefined && co.name) o.name = co.name;
  });
  if (!o.tls) delete o.tls;
  return fromCluster(o);
}

// `dnsLookup: (address, callback) => callback(null, address)`, which ioredis's README gives for ElastiCache
// over TLS (connect to each node by the name it announces, so that its certificate matches): that is what
// we do anyway. Told apart from a real lookup by asking it a name nobody resolves: the identity answers
// with that very name at once.
function isIdentityLookup(fn) {
  const probe = "identity-probe.socket-io-hiredis-adapter.invalid";
  let answer = null;
  try {
    fn(probe, (err, address) => {
      if (!err) answer = address;
    });
  } catch {
    return false;
  }
  return answer === probe;
}

// ioredis `new Redis.Cluster(startupNodes, { redisOptions })`.
function fromIoRedisCluster(c) {
  const startup = Array.isArray(c.startupNodes) ? c.startupNodes : [];
  if (startup.length === 0) throw fail("this ioredis Cluster has no startup nodes");
  const co = c.options || {};
  if (co.natMap) throw refuse("natMap", "");
  if (co.useSRVRecords) throw refuse("useSRVRecords", "");
  if (co.tls) throw fail("`tls` is not an ioredis Cluster option (ioredis ignores it): give `redisOptions.tls`");
  if (co.dnsLookup && co.dnsLookup !== require("node:dns").lookup && !isIdentityLookup(co.dnsLookup)) {
    throw fail("`dnsLookup`: a custom DNS lookup changes which address we connect to, and is not supported");
  }
  const ro = co.redisOptions || {};
  const o = { cluster: startup.map((n) => (n && typeof n === "object" ? { host: n.host, port: n.port } : n)) };
  const tls = tlsValue(ro.tls, "redisOptions.tls", false);
  if (tls) o.tls = tls;
  if (ro.username) o.username = ro.username;
  if (ro.password) o.password = ro.password;
  if (ro.connectionName) o.name = ro.connectionName;
  return fromCluster(o);
}

// --- Redis Sentinel: the Sentinels to ask, the master's name, and the settings of the data nodes ----------

const MAX_SENTINELS = 32;
const SENTINEL_DEFAULT_PORT = 26379;

// The settings of another library's Sentinel mode that only tune its own retries: ignored.
const SENTINEL_IGNORED = new Set([
  // ioredis
  "sentinelRetryStrategy", "sentinelReconnectStrategy", "sentinelMaxConnections", "sentinelCommandTimeout",
  "failoverDetector", "updateSentinels", "sentinelKeepAlive",
  // node-redis createSentinel()
  "masterPoolSize", "replicaPoolSize", "scanInterval", "passthroughClientErrorEvents", "reserveClient",
  "maxCommandRediscovers", "commandOptions",
]);

function toRole(value, key = "role") {
  if (value === undefined || value === null || value === "master") return "master";
  if (value === "replica" || value === "slave") return "replica";
  throw fail(`\`${key}\` must be "master" or "replica" (ioredis's "slave"), got ${describe(value)}`);
}

function toMasterName(value, key = "name") {
  checkString(key, value);
  if (value === "" || value.length > 255) throw fail(`\`${key}\` (the master's name in the Sentinels' configuration) must be 1 to 255 characters`);
  return value;
}

// A Sentinel: { host, port } (port 26379 unless given), "host:port", or "host".
function sentinelNode(node, i) {
  if (typeof node === "string") {
    const m = LEGACY_HOST_PORT.exec(node);
    if (!m) throw fail(`invalid Sentinel address ${redact(node)} (sentinels[${i}]): expected host:port`);
    return sentinelNode({ host: m[1] || m[2], port: m[3] === undefined ? SENTINEL_DEFAULT_PORT : toPort(m[3], `sentinels[${i}] port`) }, i);
  }
  if (node === null || typeof node !== "object" || Array.isArray(node)) throw fail(`invalid Sentinel sentinels[${i}]: ${describe(node)}`);
  for (const k of Object.keys(node)) {
    if (node[k] === undefined) continue;
    if (k === "tls" || k === "servername") throw fail(`\`sentinels[${i}].${k}\`: TLS settings per Sentinel are not read: give \`sentinelTLS\` once, for every Sentinel (each is verified against its own host)`);
    if (k !== "host" && k !== "port" && k !== "family") throw fail(`unknown setting \`sentinels[${i}].${k}\` (read: host, port)`);
    if (k === "family" && node.family !== 0 && node.family !== 4) throw refuse("family", `sentinels[${i}].`);
  }
  const host = node.host === undefined || node.host === null ? "127.0.0.1" : checkString(`sentinels[${i}].host`, node.host);
  // What the native side accepts as a Sentinel's host (a name or an IP literal), checked here so that a bad
  // one is refused at the user's call.
  if (!/^[A-Za-z0-9._:%-]{1,255}$/.test(host)) throw fail(`\`sentinels[${i}].host\` must be a host name or an IP address, got ${describe(host)}`);
  return { host, port: node.port === undefined || node.port === null ? SENTINEL_DEFAULT_PORT : toPort(node.port, `sentinels[${i}].port`) };
}

function sentinelList(list, key = "sentinels") {
  if (!Array.isArray(list) || list.length === 0) throw fail(`\`${key}\` must be a non-empty array of Sentinels ({ host, port })`);
  if (list.length > MAX_SENTINELS) throw fail(`at most ${MAX_SENTINELS} Sentinels in \`${key}\``);
  return list.map(sentinelNode);
}

// The resolved form: { sentinel: { sentinels, name, role, username, password, tls }, username, password, db,
// name, tls, ...tuning }, the outer keys for the data nodes (master or replica), the inner ones for the
// Sentinels. Each `tls` is its side's TLS settings (absent: plain TCP); the data nodes are verified against
// the host the Sentinels name them by (an IP address is checked against the certificate's IP SANs and sent
// no SNI, as Node's tls.connect() does), unless `servername` is given.
function sentinelSettings(sentinel, node) {
  if (sentinel.tls === undefined) delete sentinel.tls;
  const out = { sentinel };
  for (const k of ["username", "password", "db", "name", "tls", ...Object.keys(TUNING)]) if (node[k] !== undefined) out[k] = node[k];
  Object.defineProperty(out, RESOLVED, { value: true });
  return out;
}

// redis+sentinel://[user[:pass]@]host1[:port1][,host2[:port2]...]/name[/db][?role=&sentinelUsername=
// &sentinelPassword=&db=&name=&clientName=&tls=&sentinelTLS=]: user and password are the data nodes', the
// query's sentinel* keys the Sentinels'; `name` in the query is the client name (CLIENT SETNAME), the path's
// first segment the master's name. rediss+sentinel:// is TLS (default settings) to the Sentinels and to the
// data nodes; `tls` and `sentinelTLS` (true/false) turn either side on or off.
const SENTINEL_SCHEME = /^(rediss?\+)?sentinel:/i;
const SENTINEL_URL = /^(?:(rediss?)\+sentinel|sentinel):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?(#.*)?$/i;

function urlBoolean(key, v) {
  if (v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no") return false;
  throw fail(`the redis+sentinel:// URL parameter \`${key}\` must be true or false, got ${describe(v)}`);
}

function fromSentinelUrl(str) {
  if (str.includes("\0")) throw fail("a Redis URL must not contain a NUL character");
  const m = SENTINEL_URL.exec(str);
  if (!m) throw fail(`invalid redis+sentinel:// URL ${redact(str)}`);
  const [, scheme, userinfo, hosts, pathname = "", query = "", hash] = m;
  const secure = typeof scheme === "string" && scheme.toLowerCase() === "rediss";
  let nodeTls = secure;
  let sentinelTls = secure;
  if (hash) throw fail(`a Redis URL has no #fragment: ${redact(str)}`);
  const sentinels = hosts.split(",").map((h, i) => {
    if (h === "") throw fail(`a redis+sentinel:// URL lists its Sentinels as host:port,host:port: ${redact(str)}`);
    return sentinelNode(decode(h).replace(/^\[(.*)\](?=:|$)/, "[$1]"), i);
  });
  if (sentinels.length > MAX_SENTINELS) throw fail(`at most ${MAX_SENTINELS} Sentinels in a redis+sentinel:// URL`);
  const parts = pathname.split("/").filter((p) => p !== "");
  if (parts.length === 0) throw fail(`a redis+sentinel:// URL names the master after the Sentinels (redis+sentinel://host:26379/mymaster): ${redact(str)}`);
  if (parts.length > 2) throw fail(`a redis+sentinel:// URL path is /name or /name/db: ${redact(str)}`);
  const node = {};
  const sentinel = { sentinels, name: toMasterName(decode(parts[0]), "name (URL path)"), role: "master" };
  if (parts.length === 2) node.db = toDb(decode(parts[1]), "database (URL path)");
  if (userinfo !== undefined && userinfo !== "") {
    const i = userinfo.indexOf(":");
    if (i < 0) node.password = checkString("password", decode(userinfo)); // redis+sentinel://secret@...: a password
    else {
      if (i > 0) node.username = checkString("username", decode(userinfo.slice(0, i)));
      node.password = checkString("password", decode(userinfo.slice(i + 1)));
    }
  }
  for (const [k, v] of new URLSearchParams(query)) {
    if (k === "role") sentinel.role = toRole(v);
    else if (k === "sentinelPassword") sentinel.password = checkString(k, v);
    else if (k === "sentinelUsername") sentinel.username = checkString(k, v);
    else if (k === "tls") nodeTls = urlBoolean(k, v);
    else if (k === "sentinelTLS") sentinelTls = urlBoolean(k, v);
    else if (Object.prototype.hasOwnProperty.call(URL_QUERY, k)) URL_QUERY[k](node, v);
    else throw fail(`unsupported redis+sentinel:// URL parameter \`${k}\` (read: role, sentinelUsername, sentinelPassword, tls, sentinelTLS, ${Object.keys(URL_QUERY).join(", ")})`);
  }
  if (nodeTls) node.tls = readTls({}, "");
  if (sentinelTls) sentinel.tls = readTls({}, "");
  return { sentinel, node };
}

const SENTINEL_OWN = ["sentinels", "name", "role", "sentinelPassword", "sentinelUsername", "sentinelTLS", "enableTLSForSentinelMode", "url", "username", "password", "db", "database", "connectionName", "clientName", "tls", ...Object.keys(TUNING)];

// ioredis's TLS settings in Sentinel mode: `sentinelTLS` for the Sentinels; `tls` for the data nodes, which
// ioredis uses only with `enableTLSForSentinelMode: true` (without it, it talks to them in plain text). We
// never guess between the two: `tls` with `enableTLSForSentinelMode: false` (given, or an ioredis client's
// default), and `enableTLSForSentinelMode: true` without `tls`, are refused. `explicit`: our own options
// form, where `tls` alone means TLS to the data nodes.
function sentinelModeTls(o, explicit) {
  const nodeTls = tlsValue(o.tls, "tls", explicit);
  const sentinelTls = tlsValue(o.sentinelTLS, "sentinelTLS", explicit);
  const mode = o.enableTLSForSentinelMode;
  if (mode !== undefined && mode !== null && typeof mode !== "boolean") throw fail(`\`enableTLSForSentinelMode\` must be a boolean, got ${describe(mode)}`);
  if (mode === true && !nodeTls) throw fail("`enableTLSForSentinelMode: true` without `tls`: give the data nodes' TLS settings in `tls` (true for the defaults)");
  if (nodeTls && mode !== true && (mode === false || !explicit)) {
    throw fail("`tls` without `enableTLSForSentinelMode: true`: ioredis then talks to the data nodes in plain text; set `enableTLSForSentinelMode: true` for TLS to them (or drop `tls`)");
  }
  return { nodeTls, sentinelTls };
}

// { sentinels, name, role, sentinelPassword, sentinelUsername, sentinelTLS, enableTLSForSentinelMode, username,
// password, db, connectionName, tls, ...tuning } (ioredis's Sentinel options), or { url: "redis+sentinel://..." }
// with the same keys overriding it.
function fromSentinelOptions(o) {
  for (const key of Object.keys(o)) {
    if (o[key] === undefined || SENTINEL_OWN.includes(key) || SENTINEL_IGNORED.has(key) || IGNORED.has(key)) continue;
    if (["host", "port", "path", "socket", "cluster", "rootNodes"].includes(key)) {
      throw fail(`\`${key}\` does not go with \`sentinels\`: the Sentinels say where the master is`);
    }
    if (Object.prototype.hasOwnProperty.call(REFUSED, key) && key !== "role") throw refuse(key, "");
    if (ADAPTER_OPTIONS.has(key)) throw fail(`\`${key}\` is an adapter option, not a connection setting: pass it in the options argument`);
    throw fail(`unknown Redis Sentinel target setting \`${key}\` (read: ${SENTINEL_OWN.join(", ")}; see README, "Sentinel")`);
  }
  const has = (k) => o[k] !== undefined && o[k] !== null;
  let sentinel = { sentinels: undefined, name: undefined, role: "master" };
  const node = {};
  if (has("url")) {
    if (typeof o.url !== "string" || !SENTINEL_SCHEME.test(o.url)) throw fail("`url` next to `sentinels` must be a redis+sentinel:// URL");
    const u = fromSentinelUrl(o.url);
    sentinel = u.sentinel;
    Object.assign(node, u.node);
  }
  if (has("sentinels")) sentinel.sentinels = sentinelList(o.sentinels);
  if (has("name")) sentinel.name = toMasterName(o.name);
  if (sentinel.name === undefined) throw fail("a Sentinel target needs `name`, the master's name in the Sentinels' configuration");
  if (has("role")) sentinel.role = toRole(o.role);
  if (has("sentinelPassword")) sentinel.password = checkString("sentinelPassword", o.sentinelPassword);
  if (has("sentinelUsername")) sentinel.username = checkString("sentinelUsername", o.sentinelUsername);
  if (has("username")) node.username = checkString("username", o.username);
  if (has("password")) node.password = checkString("password", o.password);
  if (has("db")) node.db = toDb(o.db);
  if (has("database")) node.db = toDb(o.database, "database");
  for (const k of ["connectionName", "clientName"]) if (has(k)) node.name = checkString(k, o[k]);
  for (const k of Object.keys(TUNING)) if (has(k)) node[k] = checkTuning(k, o[k]);
  // Given keys override the URL's TLS (rediss+sentinel://); `tls: false` / `sentinelTLS: false` turn it off.
  const { nodeTls, sentinelTls } = sentinelModeTls(o, true);
  if (nodeTls) node.tls = nodeTls;
  else if (o.tls === false) delete node.tls;
  if (sentinelTls) sentinel.tls = sentinelTls;
  else if (o.sentinelTLS === false) delete sentinel.tls;
  return sentinelSettings(sentinel, node);
}

// An ioredis client created with `sentinels`: its options hold every default, so only set values count.
function fromIoRedisSentinel(c) {
  const o = c.options || {};
  const { nodeTls, sentinelTls } = sentinelModeTls(o, false);
  if (o.natMap) throw refuse("natMap", "");
  if (o.Connector && o.Connector.name !== "SentinelConnector") throw refuse("Connector", "");
  const role = toRole(o.role);
  if (role === "replica" && o.preferredSlaves) throw refuse("preferredSlaves", "");
  const sentinel = { sentinels: sentinelList(o.sentinels), name: toMasterName(o.name), role };
  if (o.sentinelPassword) sentinel.password = checkString("sentinelPassword", o.sentinelPassword);
  if (o.sentinelUsername) sentinel.username = checkString("sentinelUsername", o.sentinelUsername);
  const node = {};
  if (o.username) node.username = checkString("username", o.username);
  if (o.password) node.password = checkString("password", o.password);
  if (o.db) node.db = toDb(o.db);
  if (o.connectionName) node.name = checkString("connectionName", o.connectionName);
  if (nodeTls) node.tls = nodeTls;
  if (sentinelTls) sentinel.tls = sentinelTls;
  return sentinelSettings(sentinel, node);
}

// node-redis v5 createSentinel() options: { name, sentinelRootNodes, nodeClientOptions, sentinelClientOptions }
// (plus our `role`), as a plain object or from an object that keeps them public (RedisSentinelFactory).
function fromNodeRedisSentinelOptions(o) {
  for (const key of Object.keys(o)) {
    if (o[key] === undefined || SENTINEL_IGNORED.has(key) || IGNORED.has(key)) continue;
    if (["name", "sentinelRootNodes", "nodeClientOptions", "sentinelClientOptions", "role"].includes(key)) continue;
    if (key === "nodeAddressMap") throw refuse("nodeAddressMap", "");
    throw fail(`unknown node-redis Sentinel setting \`${key}\` (read: name, sentinelRootNodes, nodeClientOptions, sentinelClientOptions, role)`);
  }
  const sentinel = { sentinels: sentinelList(o.sentinelRootNodes, "sentinelRootNodes"), name: toMasterName(o.name), role: toRole(o.role) };
  const clientOptions = (x, where) => {
    if (x === undefined || x === null) return { opts: {}, tls: undefined };
    if (typeof x !== "object" || Array.isArray(x)) throw fail(`\`${where}\` must be node-redis client options, got ${describe(x)}`);
    const sock = x.socket || {};
    if (sock === null || typeof sock !== "object" || Array.isArray(sock)) throw fail(`\`${where}.socket\` must be node-redis's socket options object, got ${describe(sock)}`);
    if (x.url !== undefined) throw fail(`\`${where}.url\`: the Sentinels say where the nodes are (node-redis refuses it too); give TLS as \`${where}.socket.tls\` and credentials as username and password`);
    if (sock.host !== undefined || sock.port !== undefined || sock.path !== undefined) {
      throw fail(`\`${where}.socket.host/port/path\`: the Sentinels say where the nodes are`);
    }
    for (const key of ["family", "localAddress"]) {
      if (sock[key] !== undefined && sock[key] !== 0 && sock[key] !== 4) throw refuse(key, `${where}.socket.`);
    }
    if (x.credentialsProvider && x.password === undefined) throw refuse("credentialsProvider", `${where}.`);
    // node-redis gives every node (or Sentinel) client these socket options with the host and port the
    // Sentinels name: TLS with socket.tls: true, its settings in the socket object itself.
    return { opts: x, tls: nodeRedisTls(sock, undefined, `${where}.socket.`, true) };
  };
  const { opts: nodeOpts, tls: nodeTls } = clientOptions(o.nodeClientOptions, "nodeClientOptions");
  const { opts: sentOpts, tls: sentinelTls } = clientOptions(o.sentinelClientOptions, "sentinelClientOptions");
  if (sentOpts.username) sentinel.username = checkString("sentinelClientOptions.username", sentOpts.username);
  if (sentOpts.password) sentinel.password = checkString("sentinelClientOptions.password", sentOpts.password);
  if (sentinelTls) sentinel.tls = sentinelTls;
  const node = {};
  if (nodeOpts.username) node.username = checkString("nodeClientOptions.username", nodeOpts.username);
  if (nodeOpts.password) node.password = checkString("nodeClientOptions.password", nodeOpts.password);
  if (nodeOpts.database !== undefined) node.db = toDb(nodeOpts.database, "nodeClientOptions.database");
  if (nodeOpts.name) node.name = checkString("nodeClientOptions.name", nodeOpts.name);
  if (nodeOpts.socket && nodeOpts.socket.connectTimeout !== undefined) node.connectTimeout = checkTuning("connectTimeout", nodeOpts.socket.connectTimeout);
  if (nodeTls) node.tls = nodeTls;
  return sentinelSettings(sentinel, node);
}

// A node-redis v5 createSentinel() client keeps everything it was given in private fields: the master's
// name, the data nodes' credentials, database and TLS, the Sentinels' credentials and TLS. Once connected
// it shows only where it is: getSentinelNode() (the Sentinel it watches), getMasterNode(). So it is read
// only next to the settings it hides, stated by the user:
//   { sentinelClient, name, username, password, db, tls, sentinelUsername, sentinelPassword, sentinelTLS,
//     sentinels, role, connectionName, ...tuning }
// (the keys of our Sentinel options, `sentinels` optional: the client's Sentinel is asked first). Nothing
// is guessed: what is not stated is not used (no password, plain text), as for any options object.
function fromNodeRedisSentinelClient(o) {
  const c = o.sentinelClient;
  if (c === null || typeof c !== "object" || !isNodeRedisSentinel(c)) {
    throw fail(`\`sentinelClient\` must be a node-redis createSentinel() client, got ${describe(c)}`);
  }
  const { sentinelClient, ...rest } = o;
  if (rest.name === undefined) {
    throw fail("`sentinelClient`: a node-redis createSentinel() client keeps the master's name private: give it as `name` next to the client");
  }
  let node;
  try {
    node = typeof c.getSentinelNode === "function" ? c.getSentinelNode() : undefined;
  } catch {
    node = undefined;
  }
  if (c.isReady !== true || node === undefined || node === null || typeof node !== "object") {
    throw fail("`sentinelClient`: connect the node-redis createSentinel() client before handing it over (await client.connect()): until then it does not say which Sentinel it uses");
  }
  const first = sentinelNode({ host: node.host, port: node.port }, 0);
  const more = rest.sentinels === undefined || rest.sentinels === null ? [] : sentinelList(rest.sentinels);
  const sentinels = [first, ...more.filter((n) => n.host !== first.host || n.port !== first.port)].slice(0, MAX_SENTINELS);
  return fromSentinelOptions({ ...rest, sentinels });
}

// The message for a createSentinel() client handed over alone.
const SENTINEL_CLIENT_PRIVATE =
  "a node-redis createSentinel() client keeps its options private (the master's name, the credentials and TLS settings of the " +
  "data nodes and of the Sentinels), and we never connect without settings you gave it: pass the options you gave createSentinel() " +
  "({ name, sentinelRootNodes, nodeClientOptions, sentinelClientOptions }) as the target, or the connected client with what it hides, " +
  "{ sentinelClient: client, name, password, tls, sentinelPassword, sentinelTLS, ... } (see README, \"Redis Sentinel\")";

/**
 * The command connection (and the Emitter) publishes: it must go to the master. `role: "replica"` is for the
 * subscriber side only (the subTarget), as the Go adapter reads from replicas.
 */
function checkCommandTarget(ep) {
  if (ep && ep.sentinel && ep.sentinel.role === "replica") {
    throw fail("`role: \"replica\"` is for the subscriber connection only (pass it as the subscriber target): the command connection publishes, which only the master spreads to every node");
  }
  return ep;
}

// --- telling the forms apart --------------------------------------------------------------------------

// A node-redis v5 createSentinel() client, or a RedisSentinelFactory (whose options are public).
function isNodeRedisSentinel(c) {
  if (typeof c.getSentinelNode === "function" && typeof c.getMasterNode === "function") return true;
  return typeof c.getMasterNode === "function" && c.options !== null && typeof c.options === "object" && Array.isArray(c.options.sentinelRootNodes);
}

function isNodeRedisPool(c) {
  return "totalClients" in c && "idleClients" in c && typeof c.execute === "function";
}

function isNodeRedisCluster(c) {
  if (typeof c.getSlotMaster === "function" || typeof c.getMasters === "function") return true;
  return Array.isArray(c.masters) || [c.options, c._options].some((x) => x && Array.isArray(x.rootNodes));
}

function isIoRedisCluster(c) {
  return c.isCluster === true || (c.constructor && c.constructor.name === "Cluster" && typeof c.nodes === "function");
}

function isNodeRedis(c) {
  return typeof c.sendCommand === "function" && (typeof c.pSubscribe === "function" || typeof c.PUBLISH === "function");
}

function isNodeRedisV3(c) {
  return typeof c.send_command === "function" && c.options !== null && typeof c.options === "object" && "connection_options" in c;
}

function isIoRedis(c) {
  return typeof c.psubscribe === "function" && c.options && typeof c.options === "object" && "retryStrategy" in c.options;
}

function isPlainObject(x) {
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Returns native endpoint settings for any target form that is not one of our own clients; throws a
 * TypeError (code ERR_INVALID_REDIS_TARGET) naming the setting it cannot honour. Idempotent: a result
 * passed back in is returned as is.
 */
function resolveTarget(target) {
  if (target === undefined || target === null) return settings({ host: "127.0.0.1", port: 6379 });
  if (typeof target === "string") {
    if (SENTINEL_SCHEME.test(target)) {
      const { sentinel, node } = fromSentinelUrl(target);
      return sentinelSettings(sentinel, node);
    }
    return fromString(target);
  }
  if (typeof target !== "object") throw fail(`unsupported Redis target of type ${typeof target}`);
  if (target[RESOLVED] === true) return target;
  if (Array.isArray(target)) return fromCluster({ cluster: target });
  if (isNodeRedisSentinel(target)) {
    const o = [target.options, target._options].find((x) => x && Array.isArray(x.sentinelRootNodes));
    if (o) return fromNodeRedisSentinelOptions(o);
    throw fail(SENTINEL_CLIENT_PRIVATE);
  }
  if (isNodeRedisPool(target)) {
    throw fail("a node-redis createClientPool() pool keeps its client options private: pass a createClient() client with the same options, or its URL");
  }
  if (isIoRedisCluster(target)) return fromIoRedisCluster(target);
  if (isNodeRedisCluster(target)) return fromNodeRedisCluster(target);
  if (isNodeRedisV3(target)) return fromNodeRedisV3(target); // before v4: v3 has camelCase aliases too
  if (isNodeRedis(target)) return fromNodeRedis(target);
  if (isIoRedis(target)) {
    const so = target.options.sentinels;
    return Array.isArray(so) ? (so.length > 0 ? fromIoRedisSentinel(target) : fromIoRedis(target)) : so ? fromIoRedisSentinel(target) : fromIoRedis(target);
  }
  if (!isPlainObject(target)) {
    const name = (target.constructor && target.constructor.name) || "object";
    throw fail(`unsupported Redis target: an instance of ${name} (expected a URL, an options object, or a node-redis / ioredis client)`);
  }
  if (target.sentinelClient !== undefined) return fromNodeRedisSentinelClient(target);
  if (target.sentinels !== undefined || (typeof target.url === "string" && SENTINEL_SCHEME.test(target.url))) return fromSentinelOptions(target);
  if (target.sentinelRootNodes !== undefined) return fromNodeRedisSentinelOptions(target);
  if (Array.isArray(target.cluster)) return fromCluster(target);
  if (target.cluster !== undefined) throw fail("`cluster` must be a non-empty array of seed nodes");
  if (target.rootNodes !== undefined) {
    const { rootNodes, defaults, nodeAddressMap, ...rest } = target;
    for (const k of Object.keys(rest)) {
      if (rest[k] !== undefined && !IGNORED.has(k) && !["useReplicas", "minimizeConnections", "maxCommandRedirections"].includes(k)) {
        if (Object.prototype.hasOwnProperty.call(REFUSED, k)) throw refuse(k, "");
        throw fail(`unknown Redis Cluster setting \`${k}\` next to \`rootNodes\``);
      }
    }
    return fromNodeRedisClusterOptions({ rootNodes, defaults, nodeAddressMap });
  }
  return fromOptions(target);
}

// Durations that reach C as uint32 ms (adapter and emitter options): a negative or fractional value would wrap.
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

// A client object of another library (or ours), as opposed to a URL or an options object.
function isExternalClient(x) {
  return x !== null && typeof x === "object" && !Array.isArray(x) && !isPlainObject(x) && x[RESOLVED] !== true;
}

module.exports = { resolveTarget, isExternalClient, checkUint32, checkCommandTarget };
