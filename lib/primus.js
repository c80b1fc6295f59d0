"use strict";
// The Primus plugin: primus-redis-rooms 0.3.2's API and wire format on the native core.
//
//   primus.plugin("redis", require("socket.io-hiredis-adapter/primus"));   // options.redis as upstream
//
// Every node PSUBSCRIBEs `<channel>.*` and publishes JSON.stringify({ room, data }) on `<channel>.<its id>`.
// Receiving is native (native/primus.c): the pattern and own-channel checks, the JSON scan, the room's
// string and the "does a local spark sit in this room?" test happen in C, and only messages for rooms with
// local sparks reach JS, once per read as records of the batch (lib/batch.js). With Primus's JSON parser
// and no outgoing transformers, the data's bytes are what Primus would send, so a spark gets them without
// a JSON.parse / JSON.stringify round trip. Upstream's crashes are not reproduced: leaveAll() leaves every
// room, a Redis restart is survived, `null` or a room whose string conversion throws is dropped and
// counted, and primus.destroy() closes the connections.
const { EventEmitter } = require("node:events");
const { Writable } = require("node:stream");
const { randomBytes, randomUUID } = require("node:crypto");
const debug = require("debug")("socket.io-hiredis-adapter:primus");
const binding = require("./binding");
const { RedisClient } = require("./client");
const { resolveTarget } = require("./target");

const C = binding.constants;

const kCorked = Symbol("hiredisPrimusCorked");

function targetError(message) {
  const err = new TypeError(message);
  err.code = "ERR_INVALID_REDIS_TARGET";
  return err;
}

function isPlainObject(x) {
  if (x === null || typeof x !== "object" || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

// node_redis 2.x createClient() settings that tune that client (primus-redis-rooms hands options.redis to
// it), not where or how it connects: accepted and ignored.
const NODE_REDIS_2_IGNORED = new Set([
  "retry_strategy", "return_buffers", "detect_buffers", "socket_keepalive", "socket_initial_delay", "socket_nodelay",
  "no_ready_check", "enable_offline_queue", "retry_unfulfilled_commands", "string_numbers", "prefix", "connect_timeout",
  "max_attempts", "retry_max_delay", "disable_resubscribing", "command_queue_high_water", "command_queue_low_water",
  "parser", "usePromise",
]);

// Ours, next to the connection settings in options.redis.
const OWN = ["channel", "client", "maxDepth", "maxMessageBytes", "coalesceWrites"];

// primus-redis-rooms's Sentinel mode: redis-sentinel 0.3's createClient(endpoints, masterName, options.redis),
// whose options go to the data node's node_redis client (the address comes from the Sentinels).
function sentinelTarget(redis, rest) {
  if (!Array.isArray(redis.endpoints) || redis.endpoints.length === 0) {
    throw targetError("`sentinel` needs `endpoints`, the Sentinels as [{ host, port }, ...]");
  }
  const node = {};
  for (const k of Object.keys(rest)) {
    if (k === "host" || k === "port" || k === "path") continue; // node_redis's address: the Sentinels give it
    if (k === "role") continue;
    if (k === "url") throw targetError("`url` does not go with `sentinel`: the Sentinels say where the master is");
    node[k] = rest[k];
  }
  const target = { sentinels: redis.endpoints, name: typeof redis.masterName === "string" ? redis.masterName : "mymaster", ...node };
  // role "slave" (redis-sentinel's name): the subscriber on a replica (published messages replicate to it); the
  // command connection always on the master, where a PUBLISH reaches every node.
  const replica = rest.role === "slave" || rest.role === "replica";
  if (rest.role !== undefined && rest.role !== "master" && !replica) throw targetError(`\`role\` must be "master" or "slave", got ${String(rest.role)}`);
  return { target, subTarget: replica ? { ...target, role: "replica" } : undefined };
}

/**
 * Reads primus-redis-rooms's `options.redis` (host, port, password, url, channel, sentinel, endpoints,
 * masterName and node_redis 2.x's other settings, tls included) or any target form of createAdapter (a URL,
 * an options object, a createClient() client, node-redis / ioredis clients, a cluster, Sentinel, TLS). Throws
 * synchronously (ERR_INVALID_REDIS_TARGET) for what cannot be honoured.
 */
function readOptions(redis) {
  const cfg = { channel: "primus", client: null, target: redis, subTarget: undefined, maxDepth: 100, maxMessageBytes: 64 * 1024 * 1024, coalesceWrites: true };
  if (redis instanceof RedisClient) {
    cfg.client = redis;
    return cfg;
  }
  if (isPlainObject(redis)) {
    const rest = {};
    let authPass;
    for (const k of Object.keys(redis)) {
      const v = redis[k];
      if (v === undefined) continue;
      if (k === "channel") {
        if (v) cfg.channel = v; // upstream: options.redis.channel || 'primus'
      } else if (OWN.includes(k)) cfg[k] = v;
      else if (k === "sentinel" || k === "endpoints" || k === "masterName") continue;
      else if (NODE_REDIS_2_IGNORED.has(k)) continue;
      else if (k === "auth_pass") authPass = v; // node_redis 2.x's name for password
      else if (k === "family") {
        if (v !== "IPv4" && v !== 4 && v !== 0) throw targetError("`family` IPv6: give an IPv6 address as `host` instead");
      } else rest[k] = v;
    }
    if (authPass !== undefined) rest.password = authPass; // node_redis 2.x: auth_pass || password
    cfg.target = rest;
    if (redis.sentinel) {
      if (cfg.client !== null) throw targetError("`sentinel` does not go with `client`: the client already has its connections");
      ({ target: cfg.target, subTarget: cfg.subTarget } = sentinelTarget(redis, rest));
    }
    if (cfg.client !== null) {
      if (!(cfg.client instanceof RedisClient)) throw targetError("`client` must be a createClient() client");
      if (Object.keys(rest).length > 0) throw targetError(`\`${Object.keys(rest)[0]}\` does not go with \`client\`: the client already has its connections`);
    }
  }
  if (typeof cfg.channel !== "string") throw new TypeError(`\`channel\` must be a string, got ${typeof cfg.channel}`);
  if (cfg.channel.includes("\0")) throw new TypeError("`channel` must not contain a NUL character");
  for (const k of ["maxDepth", "maxMessageBytes"]) {
    const v = cfg[k];
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw new RangeError(`\`${k}\` must be an integer from 1 to 4294967295, got ${v}`);
  }
  if (cfg.client === null) {
    cfg.target = resolveTarget(cfg.target);
    if (cfg.subTarget !== undefined) cfg.subTarget = resolveTarget(cfg.subTarget);
  }
  return cfg;
}

// An RFC 6455 frame as ws's server side writes a text message: FIN, opcode 1, unmasked, the payload's length
// in 7, 16 or 64 bits, then the payload (here the packet's UTF-8 bytes, which are those of the text).
function textFrame(buf, start, end) {
  const len = end - start;
  const hl = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const f = Buffer.allocUnsafe(hl + len);
  f[0] = 0x81;
  if (hl === 2) f[1] = len;
  else if (hl === 4) {
    f[1] = 126;
    f.writeUInt16BE(len, 2);
  } else {
    f[1] = 127;
    f.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    f.writeUInt32BE(len >>> 0, 6);
  }
  buf.copy(f, hl, start, end);
  return f;
}

// A Room is upstream's: an objectMode Writable whose write(data) writes to the room's local sparks and then
// publishes. A room emptied by a leave is dropped from the table, as upstream does; a Room object kept from
// before acts on its name's current room (upstream's would write to nobody and miss later joins).
class Room extends Writable {
  constructor(options) {
    if (typeof options.name !== "string") throw new TypeError("`options.name` is required");
    super({ objectMode: true });
    this.name = options.name;
    this.sparks = options.sparks || [];
    this.channel = options.channel;
    Object.defineProperty(this, "_owner", { value: options.rooms, writable: true });
  }

  // The room of this name in the table: this one, or the one that replaced it after it emptied.
  _live(attach) {
    const rooms = this._owner;
    const cur = rooms._table.get(this.name);
    if (cur !== undefined) return cur;
    if (attach) rooms._table.set(this.name, this);
    return this;
  }

  _write(data, enc, callback) {
    const room = this._live(false);
    room.__write(data);
    this._owner._publish(this.name, data);
    callback();
    return true;
  }

  __write(data) {
    const sparks = this.sparks;
    for (let i = 0; i < sparks.length; i++) sparks[i].write(data);
  }

  join(spark) {
    const room = this._live(true);
    if (room !== this) return room.join(spark);
    if (this.sparks.indexOf(spark) === -1) {
      this.sparks.push(spark);
      if (!Array.isArray(spark._rooms)) spark._rooms = [];
      spark._rooms.push(this);
      if (this.sparks.length === 1) this._owner._presence(this.name, true);
    }
    return this;
  }

  leave(spark) {
    const room = this._live(false);
    if (room !== this) return room.leave(spark);
    let index = this.sparks.indexOf(spark);
    if (index !== -1) {
      this.sparks.splice(index, 1);
      if (this.sparks.length === 0) this._owner._presence(this.name, false);
    }
    if (Array.isArray(spark._rooms)) {
      index = spark._rooms.indexOf(this);
      if (index !== -1) spark._rooms.splice(index, 1);
    }
    spark.primus.emit("leave", this, spark);
    if (this.sparks.length === 0) {
      if (this._owner._table.get(this.name) === this) this._owner._table.delete(this.name);
      this.emit("empty");
    }
    return this;
  }

  clients() {
    return this._live(false).sparks;
  }
}

// primus.rooms: the table of rooms, the connections, the native receive path.
class Rooms extends EventEmitter {
  constructor(primus, cfg) {
    super();
    this.primus = primus;
    this.id = randomUUID(); // upstream: node-uuid v4
    this.prefix = `${cfg.channel}.`;
    this.pattern = `${this.prefix}*`;
    this.channel = this.prefix + this.id;
    this._table = new Map(); // room name -> Room (upstream: rooms['+' + name])
    this._owned = cfg.client === null;
    this._client = this._owned ? new RedisClient(cfg.target, cfg.subTarget) : cfg.client;
    this._closed = false;
    this._closing = null;
    this._coalesce = cfg.coalesceWrites !== false;
    this._held = [];
    this._release = () => this._uncorkAll();
    this._js = { deliveries: 0, frames: 0, invalid: 0, ignoredRoom: 0, publishDropped: 0 };
    // The one encoding the native pass-through reproduces: Primus's JSON parser, as it was at startup.
    this._jsonEncoder = primus.parser && primus.spec && primus.spec.parser === "json" ? primus.encoder : null;
    const base = primus.Spark && Object.getPrototypeOf(primus.Spark.prototype);
    this._sparkWrite = base ? base.write : null;
    this._spark_write = base ? base._write : null;
    this._CLOSED = (primus.Spark && primus.Spark.CLOSED) || 2;
    // Frames are pre-built only for Primus's own websockets transformer (ws underneath).
    this._wsTransformer = String(primus.options.transformer || "").toLowerCase() === "websockets";
    this._id = this._client._register(this);
    this._handle = {};
    const seed = randomBytes(8);
    binding.primus_init(this._handle, this._client.sub._handle, {
      channel: cfg.channel,
      id: this.id,
      jsId: this._id,
      maxDepth: cfg.maxDepth,
      maxMessageBytes: cfg.maxMessageBytes,
      seedLo: seed.readUInt32LE(0),
      seedHi: seed.readUInt32LE(4),
    });
    collected.register(this, { client: this._client, id: this._id, owned: this._owned }, this);
  }

  get client() {
    return this._client;
  }

  room(name) {
    const key = "" + name; // upstream: rooms['+' + name]
    let room = this._table.get(key);
    if (room !== undefined) return room;
    room = new Room({ name, rooms: this, channel: this.channel });
    this._table.set(key, room);
    return room;
  }

  join(spark, room) {
    if (typeof room === "object") return room.join(spark);
    return this.room(room).join(spark);
  }

  leave(spark, room) {
    if (typeof room === "object") return room.leave(spark);
    const r = this._table.get("" + room);
    if (r !== undefined) return r.leave(spark);
  }

  remove(room) {
    if (this._table.get(room.name) === room) this._table.delete(room.name);
  }

  // Every room of the spark, on a copy of its list (upstream walks the list it splices: it skips every
  // second room, and the spark stays in those forever).
  leaveAll(spark) {
    if (!Array.isArray(spark._rooms)) return;
    const rooms = spark._rooms.slice();
    for (let i = 0; i < rooms.length; i++) rooms[i].leave(spark);
  }

  get stats() {
    const s = binding.primus_stats(this._handle);
    s.deliveries = this._js.deliveries;
    s.frames = this._js.frames;
    s.invalid += this._js.invalid;
    s.dropped += this._js.invalid;
    s.ignoredRoom += this._js.ignoredRoom;
    s.publishDropped = this._js.publishDropped;
    s.rooms = this._table.size;
    return s;
  }

  close() {
    if (this._closing === null) {
      this._closed = true;
      binding.primus_close(this._handle);
      this._client._unregister(this._id);
      collected.unregister(this);
      this._uncorkAll();
      this._closing = this._owned ? this._client.close() : Promise.resolve();
    }
    return this._closing;
  }

  _presence(name, on) {
    if (!this._closed) binding.primus_presence(this._handle, name, on);
  }

  _publish(name, data) {
    const payload = JSON.stringify({ room: name, data });
    if (this._closed || !this._client.publish(this.channel, Buffer.from(payload))) this._js.publishDropped++;
  }

  // Called by lib/batch.js for each record of a read's batch.
  _onrecord(kind, buf, words, i) {
    if (kind !== C.REC_PRIMUS || this._closed) return;
    const flags = words[i + C.F_PR_FLAGS];
    const roff = words[i + C.F_PR_ROOM_OFF];
    let name = buf.toString("utf8", roff, roff + words[i + C.F_PR_ROOM_LEN]);
    if (flags & C.PR_ROOM_JSON) {
      // An array (or a string C could not represent): what `'+' + chunk.room` gives upstream.
      try {
        name = "" + JSON.parse(name);
      } catch (err) {
        this._js.invalid++;
        debug("room of a message refused: %s", err && err.message);
        return;
      }
    }
    const room = this._table.get(name);
    if (room === undefined || room.sparks.length === 0) {
      this._js.ignoredRoom++;
      return;
    }
    const doff = words[i + C.F_PR_DATA_OFF];
    const dend = doff + words[i + C.F_PR_DATA_LEN];
    const more = i + words[i + C.F_WORDS] < words.length;
    this._deliver(room.sparks, flags, buf, doff, dend, more);
  }

  // Pass-through is exact only with Primus's JSON encoder and no outgoing transformer: checked each time.
  _passThrough() {
    const p = this.primus;
    return this._jsonEncoder !== null && p.encoder === this._jsonEncoder && p.transformers.outgoing.length === 0;
  }

  _deliver(sparks, flags, buf, doff, dend, more) {
    const n = sparks.length;
    if (flags & C.PR_DATA_ABSENT) {
      // upstream: spark.write(undefined), which sends nothing unless a transformer makes something of it
      if (this._passThrough()) return;
      for (let k = 0; k < n && k < sparks.length; k++) sparks[k].write(undefined);
      this._js.deliveries += n;
      return;
    }
    if (!(flags & C.PR_DATA_PACKET) || !this._passThrough()) {
      const data = JSON.parse(buf.toString("utf8", doff, dend)); // valid JSON: C scanned it
      for (let k = 0; k < n && k < sparks.length; k++) sparks[k].write(data);
      this._js.deliveries += n;
      return;
    }
    // text is what spark.write(JSON.parse(text)) would emit: its transforms (none), the JSON encoder, the
    // U+2028/U+2029 escape. A closed spark gets nothing, as spark.write() would have it.
    const CLOSED = this._CLOSED;
    const hold = more && this._coalesce;
    let data;
    let parsed = false;
    let frame = null;
    let text = null;
    for (let k = 0; k < n && k < sparks.length; k++) {
      const spark = sparks[k];
      if (spark.readyState === CLOSED) continue;
      if (spark.write !== this._sparkWrite || spark._write !== this._spark_write) {
        if (!parsed) {
          data = JSON.parse(buf.toString("utf8", doff, dend));
          parsed = true;
        }
        spark.write(data);
        continue;
      }
      const raw = this._frameSocket(spark);
      if (raw === null) {
        if (hold) this._cork(spark);
        if (text === null) text = buf.toString("utf8", doff, dend);
        spark.emit("outgoing::data", text);
        continue;
      }
      // What ws's send(text) would write, built once for every spark of the message.
      if (frame === null) frame = textFrame(buf, doff, dend);
      if (hold && raw[kCorked] !== true) this._corkRaw(raw);
      raw.write(frame);
      this._js.frames++;
    }
    this._js.deliveries += n;
  }

  // The TCP socket a pre-built frame may be written to directly: the websockets transformer's socket (a ws
  // WebSocket) when it is open, with no extension negotiated (permessage-deflate would compress) and nothing
  // queued in its sender, and when the spark's only 'outgoing::data' listener is the transformer's (which
  // would call ws.send(text) with it). Otherwise null: the spark gets emit('outgoing::data', text).
  _frameSocket(spark) {
    if (!this._wsTransformer) return null;
    const ws = spark.socket;
    if (ws === null || typeof ws !== "object" || ws.readyState !== 1 || ws.extensions !== "") return null;
    const sender = ws._sender;
    const raw = ws._socket;
    if (!sender || sender._state !== 0 || !Array.isArray(sender._queue) || sender._queue.length !== 0) return null;
    if (!raw || raw.destroyed || raw.writable !== true || typeof raw.cork !== "function") return null;
    if (spark.listenerCount("outgoing::data") !== 1) return null;
    return raw;
  }

  // Write coalescing for the websockets transformer: while a batch with more records is delivered, each
  // spark's TCP socket is corked at its first frame and uncorked right after the batch (a microtask), so a
  // burst leaves in one writev per spark instead of one write per frame. Same bytes, same order.
  _cork(spark) {
    const ws = spark.socket;
    const raw = ws && ws._sender && ws._socket;
    if (!raw || raw[kCorked] === true || typeof raw.cork !== "function" || raw.destroyed) return;
    this._corkRaw(raw);
  }

  _corkRaw(raw) {
    raw.cork();
    raw[kCorked] = true;
    if (this._held.push(raw) === 1) queueMicrotask(this._release);
  }

  _uncorkAll() {
    const held = this._held;
    this._held = [];
    for (let i = 0; i < held.length; i++) {
      held[i][kCorked] = false;
      held[i].uncork();
    }
  }
}

// A Rooms object collected without close(): its id is forgotten and a client it opened is closed.
const collected = new FinalizationRegistry(({ client, id, owned }) => {
  client._unregister(id);
  if (owned) client.close().catch((err) => debug("closing a collected Primus plugin's client: %s", err && err.message));
});

// upstream lib/spark.js, without calling the previous initialise hook a second time.
function extendSpark(Spark) {
  Spark.prototype.initialise = function initialiseRooms() {
    this._rooms = [];
    this.once("end", this.leaveAll);
  };
  for (const key of ["join", "leave", "leaveAll"]) {
    Spark.prototype[key] = function (room) {
      const rooms = this.primus.rooms;
      return rooms[key](this, room);
    };
  }
}

/**
 * The server plugin: `primus.plugin("redis", plugin)` (Primus calls plugin.server with the Primus instance and
 * its options). Reads options.redis, sets primus.rooms and primus.room(name), extends primus.Spark with join,
 * leave and leaveAll, and closes its connections when Primus closes (primus.destroy()).
 */
function PrimusHiredisRooms(primus, options) {
  const cfg = readOptions((options || primus.options || {}).redis);
  const rooms = new Rooms(primus, cfg);
  primus.rooms = rooms;
  primus.room = function room(name) {
    return rooms.room(name);
  };
  extendSpark(primus.Spark);
  // Primus's asyncemit waits for a listener that takes (options, next): destroy()'s callback runs once the
  // connections are closed.
  primus.on("close", function closeRooms(opts, next) {
    rooms.close().then(() => next(), next);
  });
  return rooms;
}

// So that both primus.plugin(name, plugin) and an old Primus's primus.use(plugin) find the server part.
PrimusHiredisRooms.server = PrimusHiredisRooms;
PrimusHiredisRooms.Rooms = Rooms;
PrimusHiredisRooms.Room = Room;
PrimusHiredisRooms.readOptions = readOptions;

module.exports = PrimusHiredisRooms;
