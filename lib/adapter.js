"use strict";
// RedisAdapter: socket.io-adapter's in-memory Adapter plus the classic Redis adapter protocol of
// @socket.io/redis-adapter 8.x. Broadcasts are published with notepack.io (byte-identical to upstream
// by construction). Receiving, filtering by the rooms this node holds, packet encoding and the bookkeeping
// of requests and acknowledgements happen in C; JS gets one batch per read wakeup and one callback per
// finished request, and supplies only what only JS knows: sockets, membership (socket.io-adapter's own
// `rooms`/`sids` Maps, the one index; C hears only of rooms created and deleted), handshakes, local
// operations.
const { createRequire } = require("node:module");
const { randomBytes } = require("node:crypto");
const { Adapter } = require("socket.io-adapter");
const notepack = require("notepack.io");
const debug = require("debug")("socket.io-hiredis-adapter");
const { coalesceNamespace, holdConnection, holdForThisTick } = require("./cork");
const binding = require("./binding");
const { watchAdapter, unwatchAdapter } = require("./client");

const C = binding.constants;

const RequestType = {
  SOCKETS: 0,
  ALL_ROOMS: 1,
  REMOTE_JOIN: 2,
  REMOTE_LEAVE: 3,
  REMOTE_DISCONNECT: 4,
  REMOTE_FETCH: 5,
  SERVER_SIDE_EMIT: 6,
  BROADCAST: 7,
  BROADCAST_CLIENT_COUNT: 8,
  BROADCAST_ACK: 9,
};

// ws and socket.io-parser come with socket.io-adapter and socket.io: use the copies they use.
let WebSocket = null;
let parserModule = null;
try {
  WebSocket = createRequire(require.resolve("socket.io-adapter"))("ws");
} catch {}
try {
  parserModule = createRequire(require.resolve("socket.io"))("socket.io-parser");
} catch {}
const canPreComputeFrame = !!(WebSocket && WebSocket.Sender && typeof WebSocket.Sender.frame === "function");
const FRAME_OPTS = { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true };

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
function uid2(len) {
  const bytes = randomBytes(len);
  let s = "";
  for (let i = 0; i < len; i++) s += ALPHABET[bytes[i] % 64];
  return s;
}

// The C encoder reproduces socket.io-parser's default Encoder only.
function usesDefaultEncoder(encoder) {
  return parserModule !== null && encoder instanceof parserModule.Encoder && encoder.constructor === parserModule.Encoder && encoder.replacer === undefined;
}

function codedError(code, message, extra) {
  const err = new Error(message);
  err.code = code;
  return Object.assign(err, extra);
}

const TIMEOUT_MESSAGES = {
  [RequestType.ALL_ROOMS]: "timeout reached while waiting for allRooms response",
  [RequestType.REMOTE_FETCH]: "timeout reached while waiting for fetchSockets response",
};

const KIND_ACK = -1;

// The room log (native/rooms.h): created and deleted rooms, written here and read by C before its next lookup,
// so a room created costs no call into C. A u32 of bytes used, then per room a u32 head (name length | flags)
// and the name's UTF-8, padded to 4 bytes. Small, since every namespace has one: when it is full, one call
// (adapter_rooms_sync) empties it, about every 150 socket-id rooms.
const ROOM_LOG_BYTES = 4096;
const LOG_NUM = 0x80000000;
const LOG_ON = 0x40000000;

// Channel names are C strings: a NUL would cut them short (and mix namespaces). Refused up front,
// before any connection is acquired.
function refuseNul(what, s) {
  if (typeof s !== "string" || !s.includes("\0")) return;
  const err = new TypeError(`${what} must not contain a NUL character`);
  err.code = "ERR_INVALID_ARG_VALUE";
  throw err;
}

class RedisAdapter extends Adapter {
  constructor(nsp, shared, opts) {
    super(nsp);
    refuseNul("the namespace name", nsp.name);
    refuseNul("key", opts.key);
    this.uid = uid2(6);
    this.requestsTimeout = opts.requestsTimeout || 5000;
    this.publishOnSpecificResponseChannel = !!opts.publishOnSpecificResponseChannel;
    const key = opts.key || "socket.io";
    this.key = key;
    this.channel = `${key}#${nsp.name}#`;
    this.requestChannel = `${key}-request#${nsp.name}#`;
    this.responseChannel = `${key}-response#${nsp.name}#`;
    this.specificResponseChannel = `${this.responseChannel}${this.uid}#`;
    this._shared = shared;
    this._client = shared.acquire();
    this._closed = false;
    this._delivered = 0;
    this._deliveries = 0;
    this._noTarget = 0;
    this._publishDropped = 0;
    this._lastServerCount = 0;
    this._pending = new PendingRequests(this); // token -> { kind, resolve, reject } or ack callbacks
    this._token = 0;
    this._nativeEncode = usesDefaultEncoder(this.encoder);
    this._id = this._client._register(this);
    watchAdapter(this, shared);
    this._handle = {};
    // subscriptionMode "dynamic" subscribes per room: C hears of every room at once, not through the log.
    const dynamic = opts.subscriptionMode === "dynamic";
    initRoomLog(this, !dynamic);
    const seed = randomBytes(8);
    binding.adapter_init(
      this._handle,
      this._client.sub._handle,
      {
        key,
        nsp: nsp.name,
        uid: this.uid,
        id: this._id,
        maxDepth: opts.maxDepth || 100,
        maxMessageBytes: opts.maxMessageBytes || 64 * 1024 * 1024,
        seedLo: seed.readUInt32LE(0),
        seedHi: seed.readUInt32LE(4),
        specificResponseChannel: this.publishOnSpecificResponseChannel,
        rawBroadcasts: !this._nativeEncode,
        dynamic,
        roomLog: this._roomLog || undefined,
      },
      this._client.cmd._handle,
    );
    if (!this._nativeEncode) debug("namespace %s: custom parser, remote packets are encoded by server.encoder", nsp.name);
    this._coalesce = opts.coalesceWrites !== false;
    this._holdNext = false;
    if (this._coalesce) coalesceNamespace(nsp);
    // "dynamic": interest-based subscriptions, one channel per room this node holds (socket-id rooms
    // included), so broadcasts for rooms held elsewhere never reach this node. C subscribes when it is told
    // a room was created (_hold) and unsubscribes when it is deleted; churn is batched per loop turn in C.
    this.subscriptionMode = opts.subscriptionMode === "dynamic" ? "dynamic" : "pattern";
  }

  get stats() {
    const s = binding.adapter_stats(this._handle);
    s.delivered = this._delivered;
    s.deliveries = this._deliveries;
    s.ignoredNoTarget = (s.ignoredNoTarget || 0) + this._noTarget;
    s.ignored = s.ignoredRoom + s.ignoredOwn + s.ignoredNamespace + s.ignoredNoTarget;
    s.publishDropped = this._publishDropped;
    return s;
  }

  // --- membership: socket.io-adapter's Maps, the only index --------------------------------------
  //
  // addAll / del / delAll / _del are socket.io-adapter's, with fewer Map lookups, and with one thing added: C
  // is told when a room is created (its first member) and deleted (its last), so that it can drop a message
  // for a room this node does not hold before decoding it, without calling JS. Same Maps, same events, in
  // the same order. (Shared with the sharded adapter, which has another base class.)

  // The room set in C (and, in subscriptionMode "dynamic", the room's channel) follows the rooms Map: through
  // the room log, or by a call when there is none or the name would not fit in it.
  _hold(room, on) {
    if (this._closed) return;
    const num = typeof room === "number";
    if (!num && typeof room !== "string") return;
    const name = num ? String(room) : room;
    const log = this._roomLog;
    const need = 4 + 3 * name.length + 3; // a UTF-16 unit is at most 3 bytes of UTF-8
    if (log === null || need > ROOM_LOG_BYTES - 4) {
      binding.adapter_room(this._handle, on, name, num);
      return;
    }
    const words = this._roomLogWords;
    let used = words[0]; // C empties the log when it reads it
    if (4 + used + need > ROOM_LOG_BYTES) {
      binding.adapter_rooms_sync(this._handle);
      used = 0;
    }
    const at = 4 + used;
    let p = at + 4;
    let i = 0;
    for (const n = name.length; i < n; i++) {
      const c = name.charCodeAt(i);
      if (c >= 0x80) break;
      log[p++] = c;
    }
    if (i < name.length) p = at + 4 + log.write(name, at + 4, "utf8");
    const len = p - at - 4;
    words[at >>> 2] = len | (num ? LOG_NUM : 0) | (on ? LOG_ON : 0);
    words[0] = used + 4 + ((len + 3) & ~3);
  }

  addAll(id, rooms) {
    let mine = this.sids.get(id);
    if (mine === undefined) this.sids.set(id, (mine = new Set()));
    for (const room of rooms) {
      mine.add(room);
      let members = this.rooms.get(room);
      if (members === undefined) {
        this.rooms.set(room, (members = new Set()));
        this._hold(room, true);
        this.emit("create-room", room);
      }
      const before = members.size;
      members.add(id);
      if (members.size !== before) this.emit("join-room", room, id);
    }
  }

  del(id, room) {
    const mine = this.sids.get(id);
    if (mine !== undefined) mine.delete(room);
    this._del(room, id);
  }

  _del(room, id) {
    const members = this.rooms.get(room);
    if (members === undefined) return;
    if (members.delete(id)) this.emit("leave-room", room, id);
    if (members.size === 0 && this.rooms.delete(room)) {
      this._hold(room, false);
      this.emit("delete-room", room);
    }
  }

  delAll(id) {
    const mine = this.sids.get(id);
    if (mine === undefined) return;
    for (const room of mine) this._del(room, id);
    this.sids.delete(id);
  }

  // --- publishing ------------------------------------------------------------------------------

  _publish(channel, msg) {
    if (this._closed) return false;
    const buf = typeof msg === "string" || Buffer.isBuffer(msg) ? msg : Buffer.from(msg);
    if (this._client.publish(channel, typeof buf === "string" ? Buffer.from(buf) : buf)) return true;
    this._publishDropped++;
    debug("not connected to Redis: publish to %s dropped", channel);
    return false;
  }

  _nextToken() {
    this._token = (this._token + 1) >>> 0 || 1;
    return this._token;
  }

  broadcast(packet, opts) {
    packet.nsp = this.nsp.name;
    const onlyLocal = opts && opts.flags && opts.flags.local;
    if (!onlyLocal && !this._closed) {
      let msg;
      let channel = this.channel;
      if (opts.rooms.size === 0 && (!opts.except || opts.except.size === 0) && isEmptyObject(opts.flags)) {
        // The common io.emit(): no per-emit arrays, Set or options object.
        msg = notepack.encode([this.uid, packet, EMPTY_OPTS]);
      } else {
        const rawOpts = { rooms: [...opts.rooms], except: [...new Set(opts.except)], flags: opts.flags };
        msg = notepack.encode([this.uid, packet, rawOpts]);
        if (opts.rooms.size === 1) channel += rawOpts.rooms[0] + "#";
      }
      this._publish(channel, msg);
    }
    // (one target gains nothing from it: engine.io already queues the rest of a burst behind the first write)
    if (this._coalesce && this.nsp.sockets.size > 1 && !(opts.flags && opts.flags.volatile)) {
      // Hold each target's flush until the end of this task: a burst of emits leaves in one writev per client.
      holdForThisTick();
      this._holdNext = true;
    }
    try {
      super.broadcast(packet, opts);
    } finally {
      this._holdNext = false;
    }
  }

  // socket.io-adapter's broadcast() reaches each target through apply(); hold its connection first.
  apply(opts, callback) {
    if (!this._holdNext) return super.apply(opts, callback);
    return super.apply(opts, (socket) => {
      holdConnection(socket.conn);
      callback(socket);
    });
  }

  broadcastWithAck(packet, opts, clientCountCallback, ack) {
    packet.nsp = this.nsp.name;
    const onlyLocal = opts && opts.flags && opts.flags.local;
    if (!onlyLocal && !this._closed) {
      const rawOpts = { rooms: [...opts.rooms], except: [...opts.except], flags: opts.flags };
      const token = this._nextToken();
      // socket.io's timeout(ms); C takes uint32 ms (0: upstream's "forget at once"), so a negative
      // or huge value must not wrap.
      const t = opts.flags && opts.flags.timeout;
      const timeout = typeof t === "number" && t > 0 ? Math.min(Math.ceil(t), 0xffffffff) : 0;
      const status = binding.adapter_broadcast_ack(this._handle, token, notepack.encode(packet), notepack.encode(rawOpts), timeout);
      if (status === 0) this._pending.set(token, { kind: KIND_ACK, clientCountCallback, ack });
      else this._publishDropped++;
    }
    super.broadcastWithAck(packet, opts, clientCountCallback, ack);
  }

  // --- requests to the other servers -----------------------------------------------------------

  _request(type, fragment) {
    return new Promise((resolve, reject) => {
      if (this._closed) return reject(codedError("ECLOSED", "the adapter is closed"));
      const token = this._nextToken();
      const status = binding.adapter_request(this._handle, type, token, fragment, this.requestsTimeout);
      if (status !== 0) {
        reject(
          status === C.ENOTCONN
            ? codedError("ENOTCONN", "not connected to Redis: the request was not sent")
            : codedError("EREQUEST", `the request could not be sent (${status})`),
        );
        return;
      }
      this._pending.set(token, { kind: type, resolve, reject });
    });
  }

  // Called by native code once per finished, failed or timed-out request.
  _onrequestdone(token, status, payload, received, expected) {
    const p = this._pending.get(token);
    if (p === undefined) return;
    this._pending.delete(token);
    if (p.kind === KIND_ACK) return; // the ack broadcast's deadline passed: late acks are dropped
    const responses = parseAnswers(p.kind, payload);
    if (status === C.DONE_OK) {
      p.resolve(responses);
    } else if (status === C.DONE_TIMEOUT) {
      const message = TIMEOUT_MESSAGES[p.kind] || `timeout reached: only ${received} responses received out of ${expected}`;
      p.reject(codedError("ETIMEDOUT", message, { responses }));
    } else if (status === C.DONE_REFUSED) {
      p.reject(codedError("EREDIS", "Redis refused PUBSUB NUMSUB for the request (the client's 'error' event has Redis's answer)", { responses }));
    } else if (status === C.DONE_CLOSED) {
      p.reject(codedError("ECLOSED", "the Redis client was closed before the request completed", { responses }));
    } else {
      p.reject(codedError("ENOTCONN", "the connection to Redis was lost before the request completed", { responses }));
    }
  }

  async allRooms() {
    const rooms = new Set(this.rooms.keys());
    const remote = await this._request(RequestType.ALL_ROOMS, undefined);
    for (const room of remote) rooms.add(room);
    return rooms;
  }

  async fetchSockets(opts) {
    const localSockets = await super.fetchSockets(opts);
    if (opts.flags && opts.flags.local) return localSockets;
    const fragment = JSON.stringify({ rooms: [...(opts.rooms || [])], except: [...(opts.except || [])] });
    const remote = await this._request(RequestType.REMOTE_FETCH, fragment);
    return localSockets.concat(remote);
  }

  serverSideEmit(packet) {
    const withAck = typeof packet[packet.length - 1] === "function";
    if (!withAck) {
      this._publish(this.requestChannel, JSON.stringify({ uid: this.uid, type: RequestType.SERVER_SIDE_EMIT, data: packet }));
      return;
    }
    const ack = packet.pop();
    this._request(RequestType.SERVER_SIDE_EMIT, JSON.stringify(packet)).then(
      (responses) => ack(null, responses),
      (err) => ack(err, err.responses || []),
    );
  }

  _remote(type, opts, extra) {
    const request = { uid: this.uid, type, opts: { rooms: [...(opts.rooms || [])], except: [...(opts.except || [])] }, ...extra };
    this._publish(this.requestChannel, JSON.stringify(request));
  }

  // Applied here at once (also while Redis is unreachable); other servers apply the published
  // request, and our own copy coming back from Redis is dropped in C by its uid.
  addSockets(opts, rooms) {
    if (!(opts.flags && opts.flags.local)) this._remote(RequestType.REMOTE_JOIN, opts, { rooms: [...rooms] });
    return super.addSockets(opts, rooms);
  }

  delSockets(opts, rooms) {
    if (!(opts.flags && opts.flags.local)) this._remote(RequestType.REMOTE_LEAVE, opts, { rooms: [...rooms] });
    return super.delSockets(opts, rooms);
  }

  disconnectSockets(opts, close) {
    if (!(opts.flags && opts.flags.local)) this._remote(RequestType.REMOTE_DISCONNECT, opts, { close });
    return super.disconnectSockets(opts, close);
  }

  serverCount() {
    // socket.io does not catch a rejection here (broadcast with acks), so an unreachable Redis must
    // not reject. The last count we saw stands in for it, so an ack broadcast then times out with an
    // error instead of completing as if this node were alone (unknown: nothing can complete).
    return this._client.command(["PUBSUB", "NUMSUB", this.requestChannel]).then(
      (res) => (this._lastServerCount = parseInt(res[1], 10) || 0),
      (err) => {
        debug("serverCount: %s", err.message);
        return this._lastServerCount || Number.MAX_SAFE_INTEGER;
      },
    );
  }

  // --- records from the native receive path ----------------------------------------------------

  _onrecord(kind, buf, words, i, targets) {
    switch (kind) {
      case C.REC_BROADCAST:
        return this._deliver(buf, words, i, targets);
      case C.REC_RAW_BROADCAST:
        return this._deliverRaw(buf, words, i, targets);
      case C.REC_BCAST_ACK:
        return this._deliverWithAck(buf, words, i, targets);
      case C.REC_ACK_COUNT: {
        const p = this._pending.get(words[i + C.F_ACK_TOKEN]);
        if (p !== undefined && p.kind === KIND_ACK) p.clientCountCallback(words[i + C.F_ACK_COUNT]);
        return;
      }
      case C.REC_ACK_VALUE: {
        const p = this._pending.get(words[i + C.F_ACK_TOKEN]);
        if (p !== undefined && p.kind === KIND_ACK) {
          // C has checked lengths, depth and that no map key is "__proto__".
          const off = words[i + C.F_ACK_OFF];
          p.ack(notepack.decode(buf.subarray(off, off + words[i + C.F_ACK_LEN])));
        }
        return;
      }
      case C.REC_REQUEST: {
        const off = words[i + C.F_MSG_OFF];
        return this._onrequest(buf.subarray(off, off + words[i + C.F_MSG_LEN]));
      }
    }
  }

  // Calls fn(id) for each local socket id the targets (lib/batch.js) select, as socket.io-adapter's apply() walks them: the
  // members of each room in turn, each once, minus the members of the exceptions; with no rooms, every socket
  // of this.sids (first-join order) minus the exceptions. C listed only rooms this node holds.
  _eachTarget(targets, fn) {
    if (typeof targets !== "object") {
      // one room, no exception (lib/batch.js gives its key alone)
      const members = this.rooms.get(targets);
      if (members !== undefined) for (const id of members) fn(id);
      return;
    }
    const { rooms, except } = targets;
    let excluded = null;
    if (except.length > 0) {
      excluded = new Set();
      for (const room of except) {
        const members = this.rooms.get(room);
        if (members !== undefined) for (const id of members) excluded.add(id);
      }
    }
    if (rooms.length === 0) {
      for (const id of this.sids.keys()) if (excluded === null || !excluded.has(id)) fn(id);
      return;
    }
    const seen = new Set();
    for (const room of rooms) {
      const members = this.rooms.get(room);
      if (members === undefined) continue;
      for (const id of members) {
        if (seen.has(id) || (excluded !== null && excluded.has(id))) continue;
        seen.add(id);
        fn(id);
      }
    }
  }

  // Writes a packet to the sockets the targets select; returns how many there were. One room without exceptions
  // (most broadcasts) is walked here, without a callback.
  _write(encoded, packetOpts, targets, lazyPacket, onTarget) {
    const sockets = this.nsp.sockets;
    let packet = null;
    let count = 0;
    if (typeof targets !== "object") {
      const members = this.rooms.get(targets);
      if (members !== undefined) {
        for (const id of members) {
          const socket = sockets.get(id);
          if (socket === undefined) continue;
          count++;
          packet = this._send(socket, encoded, packetOpts, packet, lazyPacket, onTarget);
        }
      }
    } else {
      this._eachTarget(targets, (id) => {
        const socket = sockets.get(id);
        if (socket === undefined) return;
        count++;
        packet = this._send(socket, encoded, packetOpts, packet, lazyPacket, onTarget);
      });
    }
    if (count > 0) {
      this._delivered++;
      this._deliveries += count;
    } else {
      this._noTarget++;
    }
    return count;
  }

  // One socket's copy; returns the packet object for onAnyOutgoing listeners once one needed it (else packet).
  _send(socket, encoded, packetOpts, packet, lazyPacket, onTarget) {
    if (onTarget !== undefined) onTarget(socket);
    const listeners = socket._anyOutgoingListeners;
    if (listeners !== undefined && listeners.length > 0 && typeof socket.notifyOutgoingListeners === "function") {
      if (packet === null) packet = lazyPacket();
      socket.notifyOutgoingListeners(packet);
    }
    if (packetOpts.volatile !== true) holdConnection(socket.conn);
    socket.client.writeToEngine(encoded, packetOpts);
    return packet;
  }

  _deliver(buf, words, i, targets) {
    const flags = words[i + C.F_BC_FLAGS];
    const off = words[i + C.F_BC_OFF];
    const len = words[i + C.F_BC_LEN];
    const natt = words[i + C.F_BC_NATT];
    const encoded = [buf.toString("utf8", off + 1, off + len)];
    for (let k = 0, p = i + C.F_BC_ATT; k < natt; k++, p += 2) encoded.push(buf.subarray(words[p], words[p] + words[p + 1]));
    const packetOpts = packetOptsFor(flags);
    if (natt === 0 && canPreComputeFrame) packetOpts.wsPreEncodedFrame = WebSocket.Sender.frame(buf.subarray(off, off + len), FRAME_OPTS);
    this._write(encoded, packetOpts, targets, () => this._decodeForListeners(encoded));
  }

  // A custom parser is in use: decode the packet data and let server.encoder encode it.
  _deliverRaw(buf, words, i, targets) {
    const flags = words[i + C.F_RAW_FLAGS];
    const dataOff = words[i + C.F_RAW_DATA_OFF];
    const packet = { type: words[i + C.F_RAW_TYPE], data: notepack.decode(buf.subarray(dataOff, dataOff + words[i + C.F_RAW_DATA_LEN])), nsp: this.nsp.name };
    const idLen = words[i + C.F_RAW_ID_LEN];
    if (idLen > 0) packet.id = notepack.decode(buf.subarray(words[i + C.F_RAW_ID_OFF], words[i + C.F_RAW_ID_OFF] + idLen));
    const packetOpts = packetOptsFor(flags);
    const encoded = this._encode(packet, packetOpts);
    this._write(encoded, packetOpts, targets, () => packet);
  }

  // Another server's broadcast with acks, run on our sockets with our own ack id.
  _deliverWithAck(buf, words, i, targets) {
    const off = words[i + C.F_BA_OFF];
    const len = words[i + C.F_BA_LEN];
    const split = words[i + C.F_BA_SPLIT];
    const natt = words[i + C.F_BA_NATT];
    const attachments = [];
    for (let k = 0, p = i + C.F_BA_ATT; k < natt; k++, p += 2) attachments.push(buf.subarray(words[p], words[p] + words[p + 1]));
    const requestId = buf.toString("utf8", words[i + C.F_BA_RID_OFF], words[i + C.F_BA_RID_OFF] + words[i + C.F_BA_RID_LEN]);
    const requesterUid = buf.toString("utf8", words[i + C.F_BA_UID_OFF], words[i + C.F_BA_UID_OFF] + words[i + C.F_BA_UID_LEN]);
    const id = this.nsp._ids++;
    const packetOpts = { preEncoded: true, volatile: undefined, compress: undefined };
    let encoded;
    let packet = null;
    if (split === 0xffffffff) {
      packet = { type: 2, data: notepack.decode(buf.subarray(off, off + len)), nsp: this.nsp.name, id };
      encoded = this._encode(packet, packetOpts);
    } else {
      encoded = [buf.toString("utf8", off, off + split) + id + buf.toString("utf8", off + split, off + len), ...attachments];
      if (natt === 0 && canPreComputeFrame) packetOpts.wsPreEncodedFrame = WebSocket.Sender.frame(Buffer.from("4" + encoded[0]), FRAME_OPTS);
    }
    const ack = (arg) => {
      let payload;
      try {
        payload = notepack.encode(arg);
      } catch (err) {
        debug("cannot encode an ack argument: %s", err.message);
        return;
      }
      this._respond(RequestType.BROADCAST_ACK, requestId, requesterUid, payload);
    };
    const count = this._write(encoded, packetOpts, targets, () => packet || this._decodeForListeners(encoded), (socket) => socket.acks.set(id, ack));
    this._respond(RequestType.BROADCAST_CLIENT_COUNT, requestId, requesterUid, String(count));
  }

  _respond(type, requestId, requesterUid, payload) {
    if (this._closed) return;
    const status = binding.adapter_respond(this._handle, type, requestId, requesterUid, payload);
    if (status !== 0) {
      this._publishDropped++;
      debug("response to %s not sent (%d)", requestId, status);
    }
  }

  // Only for onAnyOutgoing listeners: rebuild the packet object from the bytes we send.
  _decodeForListeners(encoded) {
    let packet = null;
    if (parserModule !== null) {
      const decoder = new parserModule.Decoder();
      decoder.on("decoded", (p) => (packet = p));
      try {
        for (const e of encoded) decoder.add(e);
      } catch (err) {
        debug("could not rebuild the packet for onAnyOutgoing listeners: %s", err.message);
      }
      decoder.destroy();
    }
    if (packet === null) return { type: 2, data: [], nsp: this.nsp.name };
    if (packet.type === 5) packet.type = 2;
    if (packet.type === 6) packet.type = 3;
    return packet;
  }

  // A JSON request from another server (C has validated it and dropped our own).
  async _onrequest(payload) {
    let request;
    try {
      request = JSON.parse(payload.toString());
    } catch {
      return;
    }
    if (request === null || typeof request !== "object") return;
    try {
      await this._handleRequest(request);
    } catch (err) {
      debug("request of type %s failed: %s", request.type, err && err.message);
    }
  }

  async _handleRequest(request) {
    const { requestId, uid } = request;
    const opts = request.opts && typeof request.opts === "object" ? request.opts : null;
    const decodedOpts = opts ? { rooms: new Set(toArray(opts.rooms)), except: new Set(toArray(opts.except)) } : null;
    switch (request.type) {
      case RequestType.SOCKETS: {
        if (typeof requestId !== "string") return;
        const sockets = await super.sockets(new Set(toArray(request.rooms)));
        this._respond(RequestType.SOCKETS, requestId, uid, JSON.stringify([...sockets]));
        return;
      }
      case RequestType.ALL_ROOMS:
        if (typeof requestId !== "string") return;
        this._respond(RequestType.ALL_ROOMS, requestId, uid, JSON.stringify([...this.rooms.keys()]));
        return;
      case RequestType.REMOTE_JOIN:
      case RequestType.REMOTE_LEAVE: {
        const join = request.type === RequestType.REMOTE_JOIN;
        if (decodedOpts) {
          const rooms = toArray(request.rooms);
          return join ? super.addSockets(decodedOpts, rooms) : super.delSockets(decodedOpts, rooms);
        }
        const socket = this.nsp.sockets.get(request.sid);
        if (!socket) return;
        if (join) socket.join(request.room);
        else socket.leave(request.room);
        if (typeof requestId === "string") this._respond(request.type, requestId, uid);
        return;
      }
      case RequestType.REMOTE_DISCONNECT: {
        if (decodedOpts) return super.disconnectSockets(decodedOpts, request.close);
        const socket = this.nsp.sockets.get(request.sid);
        if (!socket) return;
        socket.disconnect(request.close);
        if (typeof requestId === "string") this._respond(request.type, requestId, uid);
        return;
      }
      case RequestType.REMOTE_FETCH: {
        if (typeof requestId !== "string" || !decodedOpts) return;
        const localSockets = await super.fetchSockets(decodedOpts);
        const sockets = localSockets.map((socket) => {
          // sessionStore may hold circular references; upstream leaves it out too
          const { sessionStore, ...handshake } = socket.handshake;
          return { id: socket.id, handshake, rooms: [...socket.rooms], data: socket.data };
        });
        this._respond(RequestType.REMOTE_FETCH, requestId, uid, JSON.stringify(sockets));
        return;
      }
      case RequestType.SERVER_SIDE_EMIT: {
        if (!Array.isArray(request.data) || request.data.length === 0) return;
        if (typeof requestId !== "string") {
          this.nsp._onServerSideEmit(request.data);
          return;
        }
        let called = false;
        const callback = (arg) => {
          // only the first call counts, and only its first argument is forwarded
          if (called) return;
          called = true;
          this._respond(RequestType.SERVER_SIDE_EMIT, requestId, uid, arg === undefined ? undefined : JSON.stringify(arg));
        };
        this.nsp._onServerSideEmit([...request.data, callback]);
        return;
      }
    }
  }

  // --- close -----------------------------------------------------------------------------------

  close() {
    if (this._closed) return;
    this._closed = true;
    // Take the pending requests first: whatever the native close settles meanwhile (a lost connection's
    // ENOTCONN) must not win over "closed by you".
    const pending = [...this._pending.values()];
    this._pending.clear();
    binding.adapter_close(this._handle);
    this._client._unregister(this._id);
    unwatchAdapter(this);
    for (const p of pending) {
      if (p.reject) p.reject(codedError("ECLOSED", "the adapter was closed before the request completed"));
    }
    return this._shared.release();
  }
}

// Requests in flight keep their adapter reachable (its client holds it while any is pending), so that a
// caller awaiting one is always answered, even once nothing else refers to the adapter.
class PendingRequests extends Map {
  constructor(adapter) {
    super();
    this._adapter = adapter;
  }

  set(token, entry) {
    super.set(token, entry);
    if (this.size === 1) this._adapter._client._busy.add(this._adapter);
    return this;
  }

  delete(token) {
    const had = super.delete(token);
    if (had && this.size === 0) this._adapter._client._busy.delete(this._adapter);
    return had;
  }

  clear() {
    super.clear();
    this._adapter._client._busy.delete(this._adapter);
  }
}

// A room log for the adapter (null: C hears of rooms by calls). Buffer.alloc of this size has its own, aligned
// memory, which C pins for as long as the adapter lives.
function initRoomLog(adapter, enabled) {
  adapter._roomLog = enabled ? Buffer.alloc(ROOM_LOG_BYTES) : null;
  adapter._roomLogWords = enabled ? new Uint32Array(adapter._roomLog.buffer, adapter._roomLog.byteOffset, ROOM_LOG_BYTES / 4) : null;
}

const EMPTY_OPTS = Object.freeze({ rooms: Object.freeze([]), except: Object.freeze([]), flags: Object.freeze({}) });

function isEmptyObject(o) {
  if (o === undefined || o === null) return false;
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) return false;
  return Object.getPrototypeOf(o) === Object.prototype;
}

// The merged answers from C: a JSON array, or for serverSideEmit [answers, indexes of answers that
// were undefined] (JSON has no undefined; upstream hands those on as undefined).
function parseAnswers(kind, payload) {
  try {
    const value = JSON.parse(payload.toString());
    if (kind !== RequestType.SERVER_SIDE_EMIT) return value;
    const [answers, missing] = value;
    for (const i of missing) answers[i] = undefined;
    return answers;
  } catch {
    return [];
  }
}

// What socket.io-adapter's broadcast() passes to writeToEngine, from the flags C read off the wire.
function packetOptsFor(flags) {
  return {
    preEncoded: true,
    volatile: flags & C.BFLAG_VOLATILE ? true : undefined,
    compress: flags & C.BFLAG_COMPRESS_FALSE ? false : undefined,
  };
}

function toArray(x) {
  return Array.isArray(x) ? x : [];
}

module.exports = { RedisAdapter, RequestType, uid2, parseAnswers, usesDefaultEncoder, refuseNul, initRoomLog };
