"use strict";
// Emitter: sends to Socket.IO clients from a process that is not a Socket.IO server, byte-compatible
// with @socket.io/redis-emitter 5.1.0. Beyond upstream, emitWithAck and serverSideEmitWithAck: the
// emitter then uses a uid and response channels of its own and the answers are merged in C; servers
// that do not answer simply leave the call to time out with what it got.
const debug = require("debug")("socket.io-hiredis-adapter:emitter");
const notepack = require("notepack.io");
const binding = require("./binding");
const { RedisClient } = require("./client");
const { checkUint32 } = require("./target");
const { uid2, RequestType, parseAnswers } = require("./adapter");

const C = binding.constants;
const UID = "emitter";
const RESERVED_EVENTS = new Set(["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]);
const DEFAULT_MAX_QUEUE = 10000;
const DEFAULT_QUEUE_TIMEOUT = 5000;

function codedError(code, message, extra) {
  const err = new Error(message);
  err.code = code;
  return Object.assign(err, extra);
}

// What every Emitter made from one constructor call (and its of() children) shares: the connections,
// the operations waiting for the first connection, and the native objects used for acks.
class EmitterCore {
  constructor(target, opts) {
    // Checked before any connection is opened.
    this.requestsTimeout = opts.requestsTimeout === undefined ? 5000 : checkUint32("requestsTimeout", opts.requestsTimeout) || 5000;
    this.owned = !(target instanceof RedisClient);
    this.client = this.owned ? new RedisClient(target) : target;
    this.maxQueue = opts.maxQueue === undefined ? DEFAULT_MAX_QUEUE : opts.maxQueue;
    this.queueTimeout = opts.queueTimeout === undefined ? DEFAULT_QUEUE_TIMEOUT : opts.queueTimeout;
    this.everReady = this.client.isReady;
    this.queue = []; // { op, fail, deadline }
    this.queueTimer = null;
    this.lastError = null;
    this.dropped = 0;
    this.pending = 0;
    this.acks = new Map(); // nsp -> AckChannel
    this.closed = false;
    this.onReady = () => {
      this.everReady = true;
      this.lastError = null;
      this.clearQueueTimer();
      const queued = this.queue.splice(0);
      for (const q of queued) q.op();
      this.updateRef();
    };
    // Connection errors reach the client's 'error' listeners, or print one warning when there are none
    // (the client does that); the queue only remembers the last one, to say why its operations failed.
    this.onError = (err) => {
      this.lastError = err;
    };
    this.client.on("ready", this.onReady);
    this.client._errorObservers.add(this.onError);
    this.updateRef();
  }

  // Runs op now, or, before the first connection, once connected (in order). An operation that waited
  // queueTimeout ms, or finds the queue full (maxQueue), fails: fail(err) is called (a promise rejects,
  // a plain emit is counted in `dropped`). So a script whose Redis is unreachable reports it and ends.
  run(op, fail) {
    if (this.closed) throw codedError("ECLOSED", "the emitter is closed");
    if (this.everReady) return op();
    if (this.queue.length >= this.maxQueue) {
      debug("queue full: operation dropped");
      fail(codedError("ENOBUFS", `the emitter's queue is full (maxQueue ${this.maxQueue}) while waiting for the first connection to Redis`));
      return undefined;
    }
    this.queue.push({ op, fail, deadline: Date.now() + this.queueTimeout });
    if (this.queueTimer === null) this.armQueueTimer();
    this.updateRef();
    return undefined;
  }

  armQueueTimer() {
    const delay = Math.max(0, this.queue[0].deadline - Date.now());
    this.queueTimer = setTimeout(() => this.expireQueue(), delay);
  }

  clearQueueTimer() {
    if (this.queueTimer !== null) clearTimeout(this.queueTimer);
    this.queueTimer = null;
  }

  expireQueue() {
    this.queueTimer = null;
    const now = Date.now();
    let n = 0;
    while (n < this.queue.length && this.queue[n].deadline <= now) n++;
    const expired = this.queue.splice(0, n);
    if (this.queue.length > 0) this.armQueueTimer();
    const last = this.lastError;
    const why = last ? `${last.code}: ${last.message}` : "no answer";
    for (const q of expired) {
      const err = codedError(last && last.code ? last.code : "ETIMEDOUT", `could not reach Redis within ${this.queueTimeout} ms (${why}): the operation was not sent`);
      if (last) err.cause = last;
      q.fail(err);
    }
    debug("%d queued operations failed: %s", expired.length, why);
    this.updateRef();
  }

  publish(channel, payload) {
    const buf = typeof payload === "string" ? Buffer.from(payload) : payload;
    this.run(
      () => {
        if (!this.client.publish(channel, buf)) this.dropped++;
      },
      () => this.dropped++,
    );
  }

  // An idle emitter never keeps the process alive (a script may simply end); queued work and
  // pending acks do. Writes already handed to the socket complete either way.
  updateRef() {
    if (!this.owned) return;
    if (this.queue.length > 0 || this.pending > 0) this.client.ref();
    else this.client.unref();
  }

  ackChannel(key, nsp) {
    let ch = this.acks.get(nsp);
    if (ch === undefined) {
      ch = new AckChannel(this, key, nsp);
      this.acks.set(nsp, ch);
    }
    return ch;
  }

  close() {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.client.off("ready", this.onReady);
    this.client._errorObservers.delete(this.onError);
    this.clearQueueTimer();
    for (const q of this.queue.splice(0)) q.fail(codedError("ECLOSED", "the emitter was closed before the operation was sent"));
    for (const ch of this.acks.values()) ch.close();
    this.acks.clear();
    return this.owned ? this.client.close() : Promise.resolve();
  }
}

// The native side of acks for one namespace: subscribed to the response channels only.
class AckChannel {
  constructor(core, key, nsp) {
    this.core = core;
    this.uid = uid2(6);
    this.pending = new Map();
    this.token = 0;
    this._id = core.client._register(this);
    this._handle = {};
    binding.adapter_init(
      this._handle,
      core.client.sub._handle,
      { key, nsp, uid: this.uid, id: this._id, emitter: true, specificResponseChannel: false, seedLo: (Math.random() * 2 ** 32) >>> 0, seedHi: (Math.random() * 2 ** 32) >>> 0 },
      core.client.cmd._handle,
    );
  }

  start(kind, payloadArgs, timeout, done) {
    this.token = (this.token + 1) >>> 0 || 1;
    const token = this.token;
    const status =
      kind === "emit"
        ? binding.adapter_broadcast_ack(this._handle, token, payloadArgs[0], payloadArgs[1], timeout)
        : binding.adapter_request(this._handle, RequestType.SERVER_SIDE_EMIT, token, payloadArgs[0], timeout);
    if (status !== 0) {
      done(codedError(status === C.ENOTCONN ? "ENOTCONN" : "EREQUEST", "not connected to Redis: the request was not sent"), []);
      return;
    }
    this.pending.set(token, { kind, done });
    this.core.pending++;
    this.core.updateRef();
  }

  _onrequestdone(token, status, payload, received, expected) {
    const p = this.pending.get(token);
    if (p === undefined) return;
    this.pending.delete(token);
    this.core.pending--;
    this.core.updateRef();
    let responses = [];
    try {
      responses = p.kind === "emit" ? notepack.decode(payload) : parseAnswers(RequestType.SERVER_SIDE_EMIT, payload);
    } catch (err) {
      debug("could not decode the answers: %s", err.message);
    }
    if (status === C.DONE_OK) p.done(null, responses);
    else if (status === C.DONE_TIMEOUT) {
      const message = p.kind === "emit" ? "operation has timed out" : `timeout reached: only ${received} responses received out of ${expected}`;
      p.done(codedError("ETIMEDOUT", message, { responses }), responses);
    } else if (status === C.DONE_REFUSED) {
      p.done(codedError("EREDIS", "Redis refused PUBSUB NUMSUB for the request (DEBUG=socket.io-hiredis-adapter:emitter shows Redis's answer)", { responses }), responses);
    } else if (status === C.DONE_CLOSED) {
      p.done(codedError("ECLOSED", "the Redis client was closed before the answers came", { responses }), responses);
    } else p.done(codedError("ENOTCONN", "the connection to Redis was lost before the request completed", { responses }), responses);
  }

  _onrecord() {}

  close() {
    binding.adapter_close(this._handle);
    this.core.client._unregister(this._id);
    for (const p of this.pending.values()) p.done(codedError("ECLOSED", "the emitter was closed before the answers came"), []);
    this.core.pending -= this.pending.size;
    this.pending.clear();
  }
}

class Emitter {
  /**
   * @param target a URL, connection options, a createClient() object, or a node-redis / ioredis
   *   client (drop-in for `new Emitter(redisClient)`: its settings are read, our own connections open)
   * @param opts { key = "socket.io", requestsTimeout = 5000, maxQueue = 10000 }
   * @param nsp namespace, "/" by default
   */
  constructor(target, opts, nsp = "/") {
    if (opts && opts.parser !== undefined && opts.parser !== notepack) {
      throw codedError("ERR_UNSUPPORTED_OPTION", "socket.io-hiredis-adapter speaks notepack.io msgpack only: the `parser` option is not supported");
    }
    this.opts = Object.assign({ key: "socket.io" }, opts);
    this.nsp = nsp;
    this._core = target instanceof EmitterCore ? target : new EmitterCore(target, this.opts);
    this._channels = {
      nsp,
      key: this.opts.key,
      broadcastChannel: this.opts.key + "#" + nsp + "#",
      requestChannel: this.opts.key + "-request#" + nsp + "#",
    };
  }

  get client() {
    return this._core.client;
  }

  // Operations dropped because the queue before the first connection was full, or because Redis was
  // unreachable when they were sent.
  get dropped() {
    return this._core.dropped;
  }

  of(nsp) {
    return new Emitter(this._core, this.opts, (nsp[0] !== "/" ? "/" : "") + nsp);
  }

  _op() {
    return new BroadcastOperator(this._core, this._channels);
  }

  emit(ev, ...args) {
    return this._op().emit(ev, ...args);
  }

  emitWithAck(ev, ...args) {
    return this._op().emitWithAck(ev, ...args);
  }

  to(room) {
    return this._op().to(room);
  }

  in(room) {
    return this._op().in(room);
  }

  except(room) {
    return this._op().except(room);
  }

  get volatile() {
    return this._op().volatile;
  }

  compress(compress) {
    return this._op().compress(compress);
  }

  timeout(ms) {
    return this._op().timeout(ms);
  }

  socketsJoin(rooms) {
    return this._op().socketsJoin(rooms);
  }

  socketsLeave(rooms) {
    return this._op().socketsLeave(rooms);
  }

  disconnectSockets(close = false) {
    return this._op().disconnectSockets(close);
  }

  // As upstream; with a function as last argument it is called (err, responses) with every
  // server's answer (upstream throws "Acknowledgements are not supported").
  serverSideEmit(...args) {
    if (typeof args[args.length - 1] === "function") {
      const ack = args.pop();
      this.serverSideEmitWithAck(...args).then(
        (responses) => ack(null, responses),
        (err) => ack(err, err.responses || []),
      );
      return;
    }
    this._core.publish(this._channels.requestChannel, JSON.stringify({ uid: UID, type: RequestType.SERVER_SIDE_EMIT, data: args }));
  }

  serverSideEmitWithAck(...args) {
    const core = this._core;
    const timeout = core.requestsTimeout;
    return new Promise((resolve, reject) => {
      const fragment = JSON.stringify(args);
      const done = (err, responses) => (err ? reject(err) : resolve(responses));
      core.run(
        () => core.ackChannel(this._channels.key, this.nsp).start("sse", [fragment], timeout, done),
        (err) => done(err, []),
      );
    });
  }

  close() {
    return this._core.close();
  }
}

class BroadcastOperator {
  constructor(core, channels, rooms = new Set(), exceptRooms = new Set(), flags = {}) {
    this._core = core;
    this._channels = channels;
    this.rooms = rooms;
    this.exceptRooms = exceptRooms;
    this.flags = flags;
  }

  _with(rooms, exceptRooms, flags) {
    return new BroadcastOperator(this._core, this._channels, rooms, exceptRooms, flags);
  }

  to(room) {
    const rooms = new Set(this.rooms);
    if (Array.isArray(room)) room.forEach((r) => rooms.add(r));
    else rooms.add(room);
    return this._with(rooms, this.exceptRooms, this.flags);
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    const exceptRooms = new Set(this.exceptRooms);
    if (Array.isArray(room)) room.forEach((r) => exceptRooms.add(r));
    else exceptRooms.add(room);
    return this._with(this.rooms, exceptRooms, this.flags);
  }

  compress(compress) {
    return this._with(this.rooms, this.exceptRooms, Object.assign({}, this.flags, { compress }));
  }

  get volatile() {
    return this._with(this.rooms, this.exceptRooms, Object.assign({}, this.flags, { volatile: true }));
  }

  timeout(timeout) {
    checkUint32("timeout", timeout);
    return this._with(this.rooms, this.exceptRooms, Object.assign({}, this.flags, { timeout }));
  }

  emit(ev, ...args) {
    if (RESERVED_EVENTS.has(ev)) throw new Error(`"${String(ev)}" is a reserved event name`);
    if (typeof args[args.length - 1] === "function") {
      const ack = args.pop();
      this._emitWithAck(ev, args, ack);
      return true;
    }
    const packet = { type: 2, data: [ev, ...args], nsp: this._channels.nsp };
    // Upstream's key order, flags before except.
    const opts = { rooms: [...this.rooms], flags: this.flags, except: [...this.exceptRooms] };
    const msg = notepack.encode([UID, packet, opts]);
    let channel = this._channels.broadcastChannel;
    if (this.rooms.size === 1) channel += this.rooms.keys().next().value + "#";
    this._core.publish(channel, msg);
    return true;
  }

  emitWithAck(ev, ...args) {
    return new Promise((resolve, reject) => {
      if (RESERVED_EVENTS.has(ev)) throw new Error(`"${String(ev)}" is a reserved event name`);
      this._emitWithAck(ev, args, (err, responses) => (err ? reject(err) : resolve(responses)));
    });
  }

  _emitWithAck(ev, args, ack) {
    const packet = { type: 2, data: [ev, ...args], nsp: this._channels.nsp };
    const timeout = this.flags.timeout || this._core.requestsTimeout;
    // The adapter's BROADCAST request: opts {rooms, except, flags} with the timeout among the flags.
    const flags = Object.assign({}, this.flags, { timeout });
    const opts = { rooms: [...this.rooms], except: [...this.exceptRooms], flags };
    const p = notepack.encode(packet);
    const o = notepack.encode(opts);
    this._core.run(
      () => this._core.ackChannel(this._channels.key, this._channels.nsp).start("emit", [p, o], timeout, ack),
      (err) => ack(Object.assign(err, { responses: [] }), []),
    );
  }

  _request(type, extra) {
    const request = JSON.stringify({ type, opts: { rooms: [...this.rooms], except: [...this.exceptRooms] }, ...extra });
    this._core.publish(this._channels.requestChannel, request);
  }

  socketsJoin(rooms) {
    this._request(RequestType.REMOTE_JOIN, { rooms: Array.isArray(rooms) ? rooms : [rooms] });
  }

  socketsLeave(rooms) {
    this._request(RequestType.REMOTE_LEAVE, { rooms: Array.isArray(rooms) ? rooms : [rooms] });
  }

  disconnectSockets(close = false) {
    this._request(RequestType.REMOTE_DISCONNECT, { close });
  }
}

module.exports = { Emitter, BroadcastOperator, RESERVED_EVENTS };
