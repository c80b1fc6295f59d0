"use strict";
// StreamsAdapter: @socket.io/redis-streams-adapter 0.3.x on socket.io-adapter's ClusterAdapter, on the
// same wire (spec streams.md): durable messages (broadcasts, socketsJoin/Leave, disconnectSockets) are
// XADDed to the stream, ephemeral ones (requests, broadcasts with acks) and every response go over
// pub/sub as @msgpack/msgpack maps. Each stream is read by one native reader per factory, on a
// connection of its own: the XREAD reply is taken apart in C (native/streams.c), broadcasts are filtered
// against the native room index and encoded once there, and JS gets one batch per read.
const { randomBytes } = require("node:crypto");
const { ClusterAdapter, MessageType } = require("socket.io-adapter");
const msgpack = require("@msgpack/msgpack");
const debug = require("debug")("socket.io-hiredis-adapter:streams");
const binding = require("./binding");
const { RedisAdapter, usesDefaultEncoder, refuseNul, initRoomLog } = require("./adapter");
const { hasBinary, TrackedMap } = require("./sharded");
const { NativeConnection, watchAdapter, unwatchAdapter } = require("./client");
const { coalesceNamespace } = require("./cork");

const C = binding.constants;

// upstream's names and defaults
const DEFAULTS = {
  streamName: "socket.io",
  streamCount: 1,
  channelPrefix: "socket.io",
  useShardedPubSub: false,
  maxLen: 10000,
  readCount: 100,
  blockTimeInMs: 5000,
  sessionKeyPrefix: "sio:session:",
  heartbeatInterval: 5000,
  heartbeatTimeout: 10000,
  onlyPlaintext: false,
};

const MAY_CONTAIN_BINARY = new Set([
  MessageType.BROADCAST,
  MessageType.FETCH_SOCKETS_RESPONSE,
  MessageType.SERVER_SIDE_EMIT,
  MessageType.SERVER_SIDE_EMIT_RESPONSE,
  MessageType.BROADCAST_ACK,
]);

function invalidOption(message) {
  const err = new TypeError(message);
  err.code = "ERR_INVALID_ARG_VALUE";
  return err;
}

function checkOptions(o) {
  const int = (name, min) => {
    if (!Number.isSafeInteger(o[name]) || o[name] < min) throw invalidOption(`${name} must be an integer >= ${min}, got ${String(o[name])}`);
  };
  int("streamCount", 1);
  int("maxLen", 1);
  int("readCount", 1);
  int("blockTimeInMs", 0);
  if (o.requestsTimeout !== undefined) int("requestsTimeout", 1);
  if (o.readCount > 0xffffffff || o.blockTimeInMs > 0xffffffff) throw invalidOption("readCount and blockTimeInMs must fit in 32 bits");
  for (const name of ["streamName", "channelPrefix", "sessionKeyPrefix"]) {
    if (typeof o[name] !== "string") throw invalidOption(`${name} must be a string`);
    refuseNul(name, o[name]);
  }
}

// Java's String#hashCode, as upstream computes the stream of a namespace (it can be negative: then the
// stream is "<name>--<i>", which upstream never reads; our readers read whatever stream they write).
function hashCode(s) {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

function streamOf(nspName, o) {
  return o.streamCount === 1 ? o.streamName : `${o.streamName}-${hashCode(nspName) % o.streamCount}`;
}

// The id right after an entry id (an exclusive XRANGE start that Redis before 6.2 understands).
function nextOffset(id) {
  const dash = id.indexOf("-");
  return `${id.slice(0, dash)}-${BigInt(id.slice(dash + 1)) + 1n}`;
}

// The base class's requests Map, with requestsTimeout applied to serverSideEmitWithAck (the base class
// arms a fixed 5 s timer for it): the timer is re-armed with the option's delay when the request is stored.
class RequestsMap extends TrackedMap {
  set(key, value) {
    const ms = this._adapter.opts.requestsTimeout;
    if (ms !== undefined && value && value.type === MessageType.SERVER_SIDE_EMIT && value.timeout !== undefined && !super.has(key)) {
      clearTimeout(value.timeout);
      value.timeout = setTimeout(() => {
        if (this.get(key) !== value) return;
        value.resolve(new Error(`timeout reached: only ${value.current} responses received out of ${value.expected}`), value.responses);
        this.delete(key);
      }, ms);
    }
    return super.set(key, value);
  }
}

function isEphemeral(message) {
  return (
    (message.type === MessageType.BROADCAST && message.data.requestId !== undefined) ||
    message.type === MessageType.SERVER_SIDE_EMIT ||
    message.type === MessageType.FETCH_SOCKETS
  );
}

// The readers of one factory: one per stream in use, each on its own connection, shared by the
// namespaces that write to that stream.
class Readers {
  constructor(opts) {
    this.opts = opts;
    this.byStream = new Map();
  }

  attach(adapter) {
    const name = adapter._streamName;
    let r = this.byStream.get(name);
    if (r === undefined) {
      const client = adapter._client;
      const ep = { ...client.sub._endpoint };
      // The PING of the health check waits behind a blocked XREAD: give it the block time on top.
      ep.healthTimeout = Math.max(ep.healthTimeout || 5000, this.opts.blockTimeInMs + 2000);
      const conn = new NativeConnection(client, "reader", ep);
      conn.start();
      const handle = { conn };
      binding.streams_init(handle, conn._handle, { stream: name, readCount: this.opts.readCount, blockTimeInMs: this.opts.blockTimeInMs });
      r = { conn, handle, users: new Set() };
      this.byStream.set(name, r);
    }
    r.users.add(adapter);
    binding.streams_attach(r.handle, adapter._handle, adapter.nsp.name, true);
    return r;
  }

  detach(adapter) {
    const r = this.byStream.get(adapter._streamName);
    if (r === undefined || !r.users.delete(adapter)) return Promise.resolve();
    binding.streams_attach(r.handle, adapter._handle, adapter.nsp.name, false);
    if (r.users.size > 0) return Promise.resolve();
    this.byStream.delete(adapter._streamName);
    // No more XREAD, and the connection goes now: its pending XREAD BLOCK ends with it, so nothing
    // keeps the process alive (upstream waits for the block to return).
    binding.streams_close(r.handle);
    return r.conn.close();
  }
}

class StreamsAdapter extends ClusterAdapter {
  constructor(nsp, shared, readers, opts) {
    super(nsp);
    this.opts = opts;
    refuseNul("the namespace name", nsp.name);
    this._streamName = streamOf(nsp.name, opts);
    this._publicChannel = `${opts.channelPrefix}#${nsp.name}#`;
    this._shared = shared;
    this._readers = readers;
    this._client = shared.acquire();
    this._closed = false;
    this._delivered = 0;
    this._deliveries = 0;
    this._noTarget = 0;
    this._jsInvalid = 0;
    this._encodeFailures = 0; // messages msgpack could not encode (stats.encodeFailures)
    this._warnedEncode = false;
    this._persisting = new Map(); // pid -> the SET of its session, until Redis answered
    this._lastServerCount = 0;
    this._nativeEncode = usesDefaultEncoder(this.encoder);
    // Write coalescing, as createAdapter: the deliveries of one read batch cost one write per client.
    this._coalesce = opts.coalesceWrites !== false;
    if (this._coalesce) coalesceNamespace(nsp);
    const server = nsp.server;
    const recovery = !!(server && server.opts && server.opts.connectionStateRecovery);
    this._id = this._client._register(this);
    watchAdapter(this, shared);
    this._handle = {};
    initRoomLog(this, true); // C learns the rooms held here through it (lib/adapter.js)
    const seed = randomBytes(8);
    binding.adapter_init(
      this._handle,
      this._client.sub._handle,
      {
        key: `${opts.channelPrefix}`,
        nsp: nsp.name,
        uid: this.uid,
        id: this._id,
        maxDepth: opts.maxDepth || 100,
        maxMessageBytes: opts.maxMessageBytes || 64 * 1024 * 1024,
        seedLo: seed.readUInt32LE(0),
        seedHi: seed.readUInt32LE(4),
        specificResponseChannel: false,
        sharded: true,
        classicPubSub: !opts.useShardedPubSub,
        // With connection state recovery the base class appends the entry id to the packet, and a
        // custom parser encodes differently: both need the JS path for every broadcast.
        jsBroadcasts: !this._nativeEncode || recovery,
        roomLog: this._roomLog,
      },
      this._client.cmd._handle,
    );
    this.requests = new RequestsMap(this);
    this.ackRequests = new TrackedMap(this);
    this._reader = readers.attach(this);
  }

  get stats() {
    const s = binding.adapter_stats(this._handle);
    s.invalid += this._jsInvalid;
    s.delivered = this._delivered;
    s.deliveries = this._deliveries;
    s.ignoredNoTarget = (s.ignoredNoTarget || 0) + this._noTarget;
    s.encodeFailures = this._encodeFailures;
    s.ignored = s.ignoredRoom + s.ignoredOwn + s.ignoredNamespace + s.ignoredNoTarget;
    s.reader = binding.streams_stats(this._reader.handle);
    return s;
  }

  _track(id, pending) {
    if (!this._closed) binding.adapter_track(this._handle, id, pending);
  }

  // --- publishing (the base class calls these) ---------------------------------------------------

  _pubsub(channel, payload) {
    return this._client.command([this.opts.useShardedPubSub ? "SPUBLISH" : "PUBLISH", channel, payload]);
  }

  doPublish(message) {
    if (isEphemeral(message)) {
      debug("publishing ephemeral message of type %d", message.type);
      this._pubsub(this._publicChannel, Buffer.from(msgpack.encode(message))).catch((err) => debug("publish: %s", err.message));
      return Promise.resolve("");
    }
    const args = ["XADD", this._streamName, "MAXLEN", "~", String(this.opts.maxLen), "*"];
    let fields;
    try {
      fields = this.encode(message);
    } catch (err) {
      // @msgpack/msgpack throws on a function among binary data: upstream then drops the remote part in
      // silence (the base class logs it under DEBUG only). Say so: an 'error' event and a counter.
      this._encodeFailures++;
      const e = new Error(`the message of type ${message.type} cannot be encoded for the stream (${err && err.message}): only local clients get it`);
      e.code = "ERR_STREAMS_ENCODE";
      e.cause = err;
      if (this.listenerCount("error") > 0) this.emit("error", e);
      else if (!this._warnedEncode) {
        this._warnedEncode = true;
        console.warn(`socket.io-hiredis-adapter: ${e.message} (listen with io.of(nsp).adapter.on('error', ...); printed once)`);
      }
      return Promise.reject(e);
    }
    for (const key of Object.keys(fields)) args.push(key, fields[key]);
    return this._client.command(args).then((id) => `${id}`);
  }

  doPublishResponse(requesterUid, response) {
    const payload = Buffer.from(msgpack.encode(response));
    return this._pubsub(`${this.opts.channelPrefix}#${this.nsp.name}#${requesterUid}#`, payload).then(() => undefined);
  }

  // The entry's fields, in upstream's order: uid, nsp, type, data.
  encode(message) {
    const raw = { uid: message.uid, nsp: message.nsp, type: message.type.toString() };
    if (message.data) {
      if (!this.opts.onlyPlaintext && MAY_CONTAIN_BINARY.has(message.type) && hasBinary(message.data)) {
        raw.data = Buffer.from(msgpack.encode(message.data)).toString("base64");
      } else {
        raw.data = JSON.stringify(message.data);
      }
    }
    return raw;
  }

  serverCount() {
    const sub = this.opts.useShardedPubSub ? "SHARDNUMSUB" : "NUMSUB";
    return this._client.command(["PUBSUB", sub, this._publicChannel]).then(
      (res) => (this._lastServerCount = parseInt(res[1], 10) || 0),
      (err) => {
        debug("serverCount: %s", err.message);
        return this._lastServerCount || Number.MAX_SAFE_INTEGER;
      },
    );
  }

  // requestsTimeout (ours) when the caller gave no timeout (upstream always waits 5 s).
  fetchSockets(opts) {
    const ms = this.opts.requestsTimeout;
    if (ms !== undefined && !(opts.flags && opts.flags.timeout)) opts = Object.assign({}, opts, { flags: Object.assign({}, opts.flags, { timeout: ms }) });
    return super.fetchSockets(opts);
  }

  // --- connection state recovery (spec streams.md 7) -----------------------------------------

  // SET <sessionKeyPrefix><pid> base64(msgpack(session)) PX <maxDisconnectionDuration>, as upstream. The
  // write is remembered until Redis has it, so a restore of the same pid on this server waits for it.
  persistSession(session) {
    const key = this.opts.sessionKeyPrefix + session.pid;
    const value = Buffer.from(msgpack.encode(session)).toString("base64");
    const ttl = this.nsp.server.opts.connectionStateRecovery.maxDisconnectionDuration;
    const done = this._client
      .command(["SET", key, value, "PX", String(ttl)])
      .catch((err) => debug("persistSession: %s", err.message))
      .finally(() => {
        if (this._persisting.get(session.pid) === done) this._persisting.delete(session.pid);
      });
    this._persisting.set(session.pid, done);
    return done;
  }

  // The session (GET + DEL in one MULTI, as upstream), the offset's entry still in the stream, then the
  // entries after it in batches of readCount (never one unbounded XRANGE), at most enough batches to walk
  // maxLen entries plus 100: broadcasts of this namespace for the session's rooms, volatile ones skipped,
  // each with its entry id appended. Rejects (socket.io then starts a fresh session) when the offset is not
  // an entry id, or the session or the offset's entry is gone (trimmed).
  async restoreSession(pid, offset) {
    if (typeof offset !== "string" || !/^[0-9]+-[0-9]+$/.test(offset)) throw new Error("invalid offset");
    const pending = this._persisting.get(pid);
    if (pending !== undefined) await pending;
    const key = this.opts.sessionKeyPrefix + pid;
    const c = this._client;
    // MULTI GET DEL EXEC as upstream (GETDEL before Redis 6.2); on a cluster the four commands could be
    // routed apart, so GETDEL (one key, Redis 6.2 or later there).
    const getdel = c.isCluster
      ? c.command(["GETDEL", key])
      : Promise.all([c.command(["MULTI"]), c.command(["GET", key]), c.command(["DEL", key]), c.command(["EXEC"])]).then((r) => (Array.isArray(r[3]) ? r[3][0] : null));
    const [raw, at] = await Promise.all([getdel, c.command(["XRANGE", this._streamName, offset, offset])]);
    if (!raw || !Array.isArray(at) || at.length === 0) throw new Error("session or offset not found");
    const session = msgpack.decode(Buffer.from(`${raw}`, "base64"));
    if (!session || typeof session !== "object" || !Array.isArray(session.rooms)) throw new Error("invalid session");
    session.missedPackets = [];
    const count = this.opts.readCount;
    const rounds = Math.ceil(this.opts.maxLen / count) + 100;
    let from = offset;
    for (let round = 0; round < rounds; round++) {
      const list = await c.command(["XRANGE", this._streamName, nextOffset(from), "+", "COUNT", String(count)]);
      if (!Array.isArray(list) || list.length === 0) break;
      for (const [id, fields] of list) {
        from = `${id}`;
        const packet = this._missedPacket(fields, session.rooms);
        if (packet !== null) {
          packet.push(from);
          session.missedPackets.push(packet);
        }
      }
      if (list.length < count) break;
    }
    return session;
  }

  // The packet data of a stream entry the restored session missed, or null.
  _missedPacket(fields, rooms) {
    const f = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[`${fields[i]}`] = `${fields[i + 1]}`;
    if (f.nsp !== this.nsp.name || f.type !== "3" || !f.data) return null;
    let data;
    try {
      data = f.data[0] === "{" ? JSON.parse(f.data) : msgpack.decode(Buffer.from(f.data, "base64"));
    } catch (err) {
      debug("missed entry not decoded: %s", err.message);
      return null;
    }
    const packet = data && data.packet;
    const opts = data && data.opts;
    if (!packet || !Array.isArray(packet.data) || !opts || data.requestId !== undefined) return null;
    if (opts.flags && opts.flags.volatile) return null;
    const target = Array.isArray(opts.rooms) ? opts.rooms : [];
    const except = Array.isArray(opts.except) ? opts.except : [];
    const included = target.length === 0 || rooms.some((r) => target.includes(r));
    if (!included || rooms.some((r) => except.includes(r))) return null;
    return packet.data;
  }

  // --- records from the native receive path ----------------------------------------------------

  _onrecord(kind, buf, words, i, targets) {
    if (kind === C.REC_BROADCAST) return this._deliver(buf, words, i, targets);
    if (kind === C.REC_STREAM) return this._onentry(buf, words, i);
    if (kind !== C.REC_SHARDED) return;
    const off = words[i + C.F_MSG_OFF];
    const payload = buf.subarray(off, off + words[i + C.F_MSG_LEN]);
    let message;
    try {
      message = payload[0] === 0x7b ? JSON.parse(payload.toString()) : msgpack.decode(payload);
    } catch (err) {
      this._jsInvalid++;
      return debug("invalid format: %s", err.message);
    }
    try {
      if (words[i + C.F_MSG_ROUTE] === 1) this.onResponse(message);
      else this.onMessage(message);
    } catch (err) {
      this._jsInvalid++;
      debug("message of type %s failed: %s", message && message.type, err && err.message);
    }
  }

  // A stream entry C hands over (socketsJoin/Leave, disconnectSockets, broadcasts only the base class
  // reproduces), with its entry id as the offset. A throw is counted, never rethrown: the reader has
  // already moved past the entry.
  _onentry(buf, words, i) {
    const dOff = words[i + C.F_ST_DATA_OFF];
    const data = buf.subarray(dOff, dOff + words[i + C.F_ST_DATA_LEN]);
    const id = buf.toString("latin1", words[i + C.F_ST_ID_OFF], words[i + C.F_ST_ID_OFF] + words[i + C.F_ST_ID_LEN]);
    const uid = buf.toString("utf8", words[i + C.F_ST_UID_OFF], words[i + C.F_ST_UID_OFF] + words[i + C.F_ST_UID_LEN]);
    try {
      const message = {
        uid,
        nsp: this.nsp.name,
        type: words[i + C.F_ST_TYPE],
        data: words[i + C.F_ST_FLAGS] & C.ST_JSON ? JSON.parse(data.toString()) : msgpack.decode(data),
      };
      this.onMessage(message, id);
    } catch (err) {
      this._jsInvalid++;
      debug("entry %s failed: %s", id, err && err.message);
    }
  }

  close() {
    if (this._closed) return Promise.resolve();
    this._closed = true;
    binding.adapter_close(this._handle);
    this._client._unregister(this._id);
    unwatchAdapter(this);
    const reader = this._readers.detach(this);
    return Promise.all([reader, this._shared.release()]).then(() => undefined);
  }
}

// Membership (socket.io-adapter's, with C told of created and deleted rooms) and receive-side helpers, shared
// with the classic adapter (they use no `super`).
for (const name of ["_hold", "addAll", "del", "_del", "delAll", "_eachTarget", "_write", "_send", "_deliver", "_decodeForListeners"]) {
  StreamsAdapter.prototype[name] = RedisAdapter.prototype[name];
}

/** The per-namespace constructor for a factory: options merged over upstream's defaults, checked once. */
function streamsAdapterMaker(shared, options) {
  const opts = Object.assign({}, DEFAULTS, options);
  checkOptions(opts);
  const readers = new Readers(opts);
  return (nsp) => new StreamsAdapter(nsp, shared, readers, opts);
}

module.exports = { StreamsAdapter, streamsAdapterMaker, hashCode, DEFAULTS };
