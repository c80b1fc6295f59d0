"use strict";
// ShardedRedisAdapter: @socket.io/redis-adapter 8.3.0's createShardedAdapter (Redis 7 sharded
// Pub/Sub) on socket.io-adapter's ClusterAdapter. The base class keeps every ClusterAdapter
// semantic (publish before local delivery, requests, timeouts, error messages); this class supplies
// publishing (SPUBLISH), serverCount (PUBSUB SHARDNUMSUB) and the receive path. Received broadcasts
// are decoded, filtered by the rooms this node holds and encoded in C; JS gets one batch per read
// wakeup and only picks the sockets (from the base class's Maps) and writes frames. Requests, and the responses to this node's own pending requests,
// arrive as raw records and go through the base class's onMessage / onResponse.
const { randomBytes } = require("node:crypto");
const { ClusterAdapter, MessageType } = require("socket.io-adapter");
const notepack = require("notepack.io");
const debug = require("debug")("socket.io-hiredis-adapter:sharded");
const binding = require("./binding");
const { RedisAdapter, usesDefaultEncoder, refuseNul, initRoomLog } = require("./adapter");
const { coalesceNamespace, holdConnection, holdForThisTick } = require("./cork");
const { watchAdapter, unwatchAdapter } = require("./client");

const C = binding.constants;

const MODES = new Set(["static", "dynamic", "dynamic-private"]);

// The types whose data may hold binary; those are sent with notepack when it does (as upstream).
const MAY_CONTAIN_BINARY = new Set([
  MessageType.BROADCAST,
  MessageType.BROADCAST_ACK,
  MessageType.FETCH_SOCKETS_RESPONSE,
  MessageType.SERVER_SIDE_EMIT,
  MessageType.SERVER_SIDE_EMIT_RESPONSE,
]);

// Whether JSON.stringify would lose binary: an ArrayBuffer or a view, in arrays and own enumerable
// properties, or in what a toJSON() method returns (tried once).
function hasBinary(obj, toJSON) {
  if (!obj || typeof obj !== "object") return false;
  if (obj instanceof ArrayBuffer || ArrayBuffer.isView(obj)) return true;
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) if (hasBinary(obj[i])) return true;
    return false;
  }
  for (const key in obj) {
    if (Object.prototype.hasOwnProperty.call(obj, key) && hasBinary(obj[key])) return true;
  }
  if (obj.toJSON && typeof obj.toJSON === "function" && !toJSON) return hasBinary(obj.toJSON(), true);
  return false;
}

function looksLikeASocketId(room) {
  return typeof room === "string" && room.length === 20;
}

// The base class's requests and ackRequests Maps, reporting their keys to C: a response whose
// requestId is not pending here is dropped before it reaches JS.
class TrackedMap extends Map {
  constructor(adapter) {
    super();
    this._adapter = adapter;
  }

  set(key, value) {
    if (typeof key === "string" && !super.has(key)) this._adapter._track(key, true);
    return super.set(key, value);
  }

  delete(key) {
    const had = super.delete(key);
    if (had && typeof key === "string") this._adapter._track(key, false);
    return had;
  }

  clear() {
    for (const key of this.keys()) if (typeof key === "string") this._adapter._track(key, false);
    super.clear();
  }
}

class ShardedRedisAdapter extends ClusterAdapter {
  constructor(nsp, shared, opts) {
    super(nsp);
    // Object.assign as upstream: an explicit undefined overrides a default.
    this.opts = Object.assign({ channelPrefix: "socket.io", subscriptionMode: "dynamic" }, opts);
    // As upstream, any other value behaves like "static" (no room channels anywhere).
    if (!MODES.has(this.opts.subscriptionMode)) debug("subscriptionMode %o acts as \"static\"", this.opts.subscriptionMode);
    const prefix = `${this.opts.channelPrefix}`;
    refuseNul("channelPrefix", prefix);
    refuseNul("the namespace name", nsp.name);
    this.channel = `${prefix}#${nsp.name}#`;
    this.responseChannel = `${this.channel}${this.uid}#`;
    this._mode = this.opts.subscriptionMode;
    this._dynamic = this._mode === "dynamic" || this._mode === "dynamic-private";
    this._shared = shared;
    this._client = shared.acquire();
    this._closed = false;
    this._delivered = 0;
    this._deliveries = 0;
    this._noTarget = 0;
    this._roomChannels = new Set(); // rooms whose channel this adapter holds a subscription for
    this._lastServerCount = 0;
    this._nativeEncode = usesDefaultEncoder(this.encoder);
    // Write coalescing, as createAdapter: on unless coalesceWrites is false.
    this._coalesce = this.opts.coalesceWrites !== false;
    this._holdNext = false;
    if (this._coalesce) coalesceNamespace(nsp);
    const server = nsp.server;
    const recovery = !!(server && server.opts && server.opts.connectionStateRecovery);
    this._id = this._client._register(this);
    watchAdapter(this, shared);
    this._handle = {};
    initRoomLog(this, true); // room channels are this class's (adapter_ssub), not C's
    const seed = randomBytes(8);
    binding.adapter_init(
      this._handle,
      this._client.sub._handle,
      {
        key: prefix,
        nsp: nsp.name,
        uid: this.uid,
        id: this._id,
        maxDepth: this.opts.maxDepth || 100,
        maxMessageBytes: this.opts.maxMessageBytes || 64 * 1024 * 1024,
        seedLo: seed.readUInt32LE(0),
        seedHi: seed.readUInt32LE(4),
        specificResponseChannel: false,
        sharded: true,
        // With connection state recovery the base class appends an offset, and a custom parser
        // encodes differently: both need the JS path for every broadcast.
        jsBroadcasts: !this._nativeEncode || recovery,
        roomLog: this._roomLog,
      },
      this._client.cmd._handle,
    );
    this.requests = new TrackedMap(this);
    this.ackRequests = new TrackedMap(this);
    if (this._dynamic) {
      this.on("create-room", (room) => {
        if (this._closed || !this._qualifies(room) || this._roomChannels.has(room)) return;
        this._roomChannels.add(room);
        binding.adapter_ssub(this._handle, true, String(room));
      });
      this.on("delete-room", (room) => {
        if (!this._roomChannels.delete(room) || this._closed) return;
        binding.adapter_ssub(this._handle, false, String(room));
      });
    }
  }

  get stats() {
    const s = binding.adapter_stats(this._handle);
    s.delivered = this._delivered;
    s.deliveries = this._deliveries;
    s.ignoredNoTarget = (s.ignoredNoTarget || 0) + this._noTarget;
    s.ignored = s.ignoredRoom + s.ignoredOwn + s.ignoredNamespace + s.ignoredNoTarget;
    return s;
  }

  // upstream's shouldUseASeparateNamespace: public rooms in "dynamic", every room in "dynamic-private"
  _qualifies(room) {
    if (typeof room !== "string" && typeof room !== "number") return false;
    return this._mode === "dynamic-private" || (this._mode === "dynamic" && !this.sids.has(room));
  }

  _track(id, pending) {
    if (!this._closed) binding.adapter_track(this._handle, id, pending);
  }

  // --- publishing (the base class calls these) ---------------------------------------------------

  doPublish(message) {
    const channel = this.computeChannel(message);
    debug("publishing message of type %s to %s", message.type, channel);
    return this._client.command(["SPUBLISH", channel, this.encode(message)]).then(() => "");
  }

  doPublishResponse(requesterUid, response) {
    debug("publishing response of type %s to %s", response.type, requesterUid);
    return this._client.command(["SPUBLISH", `${this.channel}${requesterUid}#`, this.encode(response)]).then(() => undefined);
  }

  // Single-room broadcasts without ack go to the room's channel in the dynamic modes (spec 2.3).
  computeChannel(message) {
    const useDynamicChannel =
      message.type === MessageType.BROADCAST &&
      message.data.requestId === undefined &&
      message.data.opts.rooms.length === 1 &&
      ((this._mode === "dynamic" && !looksLikeASocketId(message.data.opts.rooms[0])) || this._mode === "dynamic-private");
    return useDynamicChannel ? this.dynamicChannel(message.data.opts.rooms[0]) : this.channel;
  }

  dynamicChannel(room) {
    return this.channel + room + "#";
  }

  encode(message) {
    if (MAY_CONTAIN_BINARY.has(message.type) && hasBinary(message.data)) return notepack.encode(message);
    return JSON.stringify(message);
  }

  serverCount() {
    // socket.io does not catch a rejection here (broadcast with acks): while Redis is unreachable the
    // last count stands in, so such an operation times out instead of completing as if alone.
    return this._client.shardNumsub(this.channel).then(
      (n) => (this._lastServerCount = n),
      (err) => {
        debug("serverCount: %s", err.message);
        return this._lastServerCount || Number.MAX_SAFE_INTEGER;
      },
    );
  }

  // --- records from the native receive path ----------------------------------------------------

  _onrecord(kind, buf, words, i, targets) {
    if (kind === C.REC_BROADCAST) return this._deliver(buf, words, i, targets);
    if (kind !== C.REC_SHARDED) return;
    const off = words[i + C.F_MSG_OFF];
    const payload = buf.subarray(off, off + words[i + C.F_MSG_LEN]);
    let message;
    try {
      // C has checked the structure and, for msgpack, that no map has a "__proto__" key.
      message = payload[0] === 0x7b ? JSON.parse(payload.toString()) : notepack.decode(payload);
    } catch (err) {
      return debug("invalid format: %s", err.message);
    }
    try {
      if (words[i + C.F_MSG_ROUTE] === 1) this.onResponse(message);
      else this.onMessage(message);
    } catch (err) {
      debug("message of type %s failed: %s", message && message.type, err && err.message);
    }
  }

  // --- close -----------------------------------------------------------------------------------

  // The base class delivers a broadcast locally once its SPUBLISH is answered: encode, then apply() to each
  // target. A burst of emits is answered in one read, so their local deliveries run in one task; hold each
  // target's flush until the end of it, so the burst costs one write per client. Volatile packets are never
  // held (engine.io drops them while a write is pending).
  _encode(packet, packetOpts) {
    if (this._coalesce && packetOpts.volatile !== true && this.nsp.sockets.size > 1) this._holdNext = true;
    return super._encode(packet, packetOpts);
  }

  apply(opts, callback) {
    if (!this._holdNext) return super.apply(opts, callback);
    this._holdNext = false;
    holdForThisTick();
    return super.apply(opts, (socket) => {
      holdConnection(socket.conn);
      callback(socket);
    });
  }

  close() {
    if (this._closed) return Promise.resolve();
    for (const room of this._roomChannels) binding.adapter_ssub(this._handle, false, String(room));
    this._roomChannels.clear();
    this._closed = true;
    binding.adapter_close(this._handle); // SUNSUBSCRIBEs the main and response channels
    this._client._unregister(this._id);
    unwatchAdapter(this);
    return this._shared.release();
  }
}

// Membership (socket.io-adapter's, with C told of created and deleted rooms) and receive-side helpers, shared
// with the classic adapter (they use no `super`).
for (const name of ["_hold", "addAll", "del", "_del", "delAll", "_eachTarget", "_write", "_send", "_deliver", "_decodeForListeners"]) {
  ShardedRedisAdapter.prototype[name] = RedisAdapter.prototype[name];
}

module.exports = { ShardedRedisAdapter, hasBinary, TrackedMap };
