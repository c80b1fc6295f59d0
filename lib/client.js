"use strict";
// RedisClient: a command connection and a subscriber connection to one Redis endpoint (the
// subscriber may point elsewhere, e.g. a replica), both native sockets on Node's own loop.
const { EventEmitter } = require("node:events");
const debug = require("debug")("socket.io-hiredis-adapter:client");
const { beginHold, endHold } = require("./cork");
const binding = require("./binding");
const { resolveTarget, checkCommandTarget } = require("./target");
const { readBatch } = require("./batch");

const C = binding.constants;

function makeError(code, message, extra) {
  const err = new Error(message);
  err.code = code;
  return Object.assign(err, extra);
}

class NativeConnection {
  constructor(owner, role, endpoint) {
    this._owner = owner;
    this._role = role;
    this._endpoint = endpoint;
    this._handle = {};
    this._pending = new Map();
    this._settled = []; // [promise callbacks, err, value, ...] waiting for _settleAll
    this._settle = () => this._settleAll();
    this._nextId = 1;
    this._ready = false;
    this._closed = false;
    this._closePromise = null;
    this._closeResolve = null;
    binding.conn_init(this._handle, this, endpoint);
  }

  start() {
    binding.conn_start(this._handle);
  }

  get ready() {
    return this._ready;
  }

  // Resolves with the reply; rejects at once with code ENOTCONN while not connected, ENOBUFS while
  // the output to Redis is at maxOutputMB.
  command(args) {
    if (this._closed) return Promise.reject(makeError("ECLOSED", "the Redis client is closed"));
    const id = this._nextId++;
    if (this._nextId > 0xfffffff0) this._nextId = 1;
    return new Promise((resolve, reject) => {
      const status = binding.conn_command(this._handle, args, id);
      if (status === 0) {
        this._pending.set(id, { resolve, reject });
      } else if (status === C.ENOBUFS) {
        reject(makeError("ENOBUFS", `the output to Redis (${this._describe()}) is at maxOutputMB: command ${args[0]} not sent`));
      } else if (status === C.ECLOSED) {
        reject(makeError("ECLOSED", "the Redis client is closed"));
      } else {
        reject(makeError("ENOTCONN", `not connected to Redis (${this._describe()}): command ${args[0]} not sent`));
      }
    });
  }

  publish(channel, payload) {
    return !this._closed && binding.conn_publish(this._handle, channel, payload);
  }

  stats() {
    return binding.conn_stats(this._handle);
  }

  subscribe(kind, name, on) {
    return !this._closed && binding.conn_subscribe(this._handle, kind, name, on);
  }

  close() {
    if (!this._closePromise) {
      this._closePromise = new Promise((resolve) => (this._closeResolve = resolve));
      if (!binding.conn_close(this._handle)) this._finishClose();
    }
    return this._closePromise;
  }

  ref() {
    binding.conn_ref(this._handle);
  }

  unref() {
    binding.conn_unref(this._handle);
  }

  _describe() {
    const e = this._endpoint;
    if (e.cluster) return `cluster ${e.cluster.map((n) => `${n.host}:${n.port}`).join(",")}`;
    if (e.sentinel) {
      const s = e.sentinel;
      return `${s.role === "replica" ? "a replica" : "the master"} of "${s.name}" via Sentinel ${s.sentinels.map((n) => `${n.host}:${n.port}`).join(",")}`;
    }
    return e.path ? e.path : `${e.host}:${e.port}`;
  }

  _finishClose() {
    this._closed = true;
    this._ready = false;
    if (this._closeResolve) this._closeResolve();
  }

  // Called by native code.
  _onevent(type, code, message, value) {
    switch (type) {
      case C.EV_CLOSED:
        this._finishClose();
        this._owner._onconnclosed(this);
        break;
      case C.EV_CONNECT:
        this._owner._onconnevent(this, "connect");
        break;
      case C.EV_READY:
        this._ready = true;
        this._owner._onconnevent(this, "ready");
        break;
      case C.EV_DISCONNECT:
        this._ready = false;
        this._owner._onconnevent(this, "disconnect", message || undefined);
        break;
      case C.EV_RECONNECTING:
        this._ready = false;
        this._owner._onconnevent(this, "reconnecting", value);
        break;
      case C.EV_ERROR:
        this._owner._onconnerror(this, makeError(code || "ERR", message || "Redis connection error", { role: this._role }));
        break;
    }
  }

  // Replies are settled together, once per loop iteration (right after the poll phase that read them), not
  // one native callback each: whatever awaits them (the sharded adapter's local delivery after SPUBLISH)
  // then runs in one task, as with node-redis, where one socket read resolves all its replies at once.
  _onreply(id, err, value) {
    const p = this._pending.get(id);
    if (!p) return;
    this._pending.delete(id);
    this._settled.push(p, err, value);
    if (this._settled.length === 3) setImmediate(this._settle);
  }

  _settleAll() {
    const q = this._settled;
    this._settled = [];
    for (let i = 0; i < q.length; i += 3) {
      if (q[i + 1]) q[i].reject(q[i + 1]);
      else q[i].resolve(q[i + 2]);
    }
  }

  _onbatch(buf, words) {
    this._owner._onbatch(buf, words);
  }

  _onmessage(kind, channel, payload, pattern) {
    this._owner._onrawmessage(kind, channel, payload, pattern);
  }


  // Called by native code only when a completion could not be written into a batch (no memory); it
  // normally comes as a REC_DONE record (lib/batch.js).
  _onrequestdone(adapterId, token, status, payload, received, expected) {
    const adapter = this._owner._adapters.get(adapterId);
    if (adapter !== undefined) adapter._onrequestdone(token, status, payload, received, expected);
  }
}

// The adapters of a client, by id, held weakly: an adapter its namespace dropped without close() is
// collected, and then its native finalizer unsubscribes its channels (see collected() in lib/adapter.js).
class AdapterTable {
  constructor() {
    this._refs = new Map();
  }

  set(id, adapter) {
    this._refs.set(id, new WeakRef(adapter));
  }

  get(id) {
    const ref = this._refs.get(id);
    return ref === undefined ? undefined : ref.deref();
  }

  delete(id) {
    this._refs.delete(id);
  }

  get size() {
    return this._refs.size;
  }

  *values() {
    for (const ref of this._refs.values()) {
      const adapter = ref.deref();
      if (adapter !== undefined) yield adapter;
    }
  }
}

// An adapter collected without close(): its id is forgotten and its share of the factory's client given
// back, as close() would (its native finalizer has already unsubscribed its channels).
const collected = new FinalizationRegistry(({ client, id, shared }) => {
  client._unregister(id);
  Promise.resolve(shared.release()).catch((err) => debug("releasing a collected adapter's client: %s", err && err.message));
});

function watchAdapter(adapter, shared) {
  collected.register(adapter, { client: adapter._client, id: adapter._id, shared }, adapter);
}

function unwatchAdapter(adapter) {
  collected.unregister(adapter);
}

class RedisClient extends EventEmitter {
  /**
   * @param target URL string or options ({host, port, path, username, password, db, name, ...})
   * @param subTarget optional endpoint for the subscriber connection (defaults to target)
   */
  constructor(target, subTarget) {
    super();
    const cmd = checkCommandTarget(resolveTarget(target));
    const sub = subTarget === undefined || subTarget === null ? { ...cmd } : resolveTarget(subTarget);
    if (!cmd.cluster !== !sub.cluster) {
      const err = new TypeError("the command and subscriber targets must both be Redis Cluster targets, or neither");
      err.code = "ERR_INVALID_REDIS_TARGET";
      throw err;
    }
    this.isCluster = !!cmd.cluster;
    this.cmd = new NativeConnection(this, "command", withName(cmd, "cmd"));
    this.sub = new NativeConnection(this, "subscriber", withName(sub, "sub"));
    this._adapters = new AdapterTable();
    this._busy = new Set(); // adapters with requests in flight: held strongly until they settle
    this._nextAdapterId = 1;
    this._closing = null;
    this._warned = false;
    // Also told of connection errors: EventEmitters (factories) that re-emit them as 'error' when they
    // have listeners, and observers (the Emitter's queue) that do not count as listeners.
    this._errorSinks = new Set();
    this._errorObservers = new Set();
    this.publishDropped = 0;
    this.cmd.start();
    this.sub.start();
  }

  get isReady() {
    return this.cmd.ready && this.sub.ready;
  }

  command(args) {
    return this.cmd.command(args);
  }

  // PUBSUB SHARDNUMSUB channel -> the number of subscribers (sharded serverCount). The one place that
  // asks it: on a Redis Cluster the answer is the sum over the masters.
  shardNumsub(channel) {
    return this.cmd.command(["PUBSUB", "SHARDNUMSUB", channel]).then((res) => parseInt(res[1], 10) || 0);
  }

  // Fire and forget, like upstream; while disconnected the message is dropped and counted.
  publish(channel, payload) {
    if (this.cmd.publish(channel, payload)) return true;
    this.publishDropped++;
    return false;
  }

  // Raw pub/sub on the subscriber connection, reference counted per name (on a cluster: sharded
  // channels on their slot's master, following it through failovers and slot migrations).
  // Messages are emitted as 'message' (channel, payload), 'pmessage' (pattern, channel, payload)
  // and 'smessage' (channel, payload); payloads are Buffers.
  subscribe(channel) {
    return this.sub.subscribe("c", channel, true);
  }

  unsubscribe(channel) {
    return this.sub.subscribe("c", channel, false);
  }

  pSubscribe(pattern) {
    return this.sub.subscribe("p", pattern, true);
  }

  pUnsubscribe(pattern) {
    return this.sub.subscribe("p", pattern, false);
  }

  sSubscribe(channel) {
    return this.sub.subscribe("s", channel, true);
  }

  sUnsubscribe(channel) {
    return this.sub.subscribe("s", channel, false);
  }

  _onrawmessage(kind, channel, payload, pattern) {
    if (kind === "s") this.emit("smessage", channel, payload);
    else if (kind === "p") this.emit("pmessage", pattern, channel, payload);
    else this.emit("message", channel, payload);
  }

  // publishDropped: publishes refused (not connected, or output at maxOutputMB), those sent but never
  // answered because the connection was lost (the command connection's `unanswered`), and those held
  // while it was replaced that could not go out within holdMs (`heldDropped`).
  stats() {
    const command = this.cmd.stats();
    const dropped = this.publishDropped + (command.unanswered || 0) + (command.heldDropped || 0);
    return { publishDropped: dropped, command, subscriber: this.sub.stats() };
  }

  ref() {
    this.cmd.ref();
    this.sub.ref();
    return this;
  }

  unref() {
    this.cmd.unref();
    this.sub.unref();
    return this;
  }

  close() {
    if (!this._closing) {
      this._closing = Promise.all([this.cmd.close(), this.sub.close()]).then(() => {
        this.emit("end");
      });
    }
    return this._closing;
  }

  _register(adapter) {
    const id = this._nextAdapterId++;
    this._adapters.set(id, adapter);
    return id;
  }

  _unregister(id) {
    this._adapters.delete(id);
  }

  _onconnevent(conn, event, value) {
    debug("%s %s %s", conn._role, event, value === undefined ? "" : value);
    if (event === "connect") this.emit("connect", conn._role);
    else if (event === "ready") {
      if (this.isReady) this.emit("ready");
    } else if (event === "reconnecting") this.emit("reconnecting", { role: conn._role, delay: value });
    else if (event === "disconnect") this.emit("disconnect", conn._role);
  }

  // A connection error goes to every 'error' listener: this client's, its factories' and its adapters'
  // (io.of(nsp).adapter). With none anywhere it is printed once per client, never thrown: a Redis hiccup
  // must not crash a process that did not ask to hear about it (upstream's friendly handler).
  _onconnerror(conn, err) {
    debug("%s error %s %s", conn._role, err.code, err.message);
    for (const fn of this._errorObservers) fn(err);
    let heard = false;
    if (this.listenerCount("error") > 0) {
      this.emit("error", err);
      heard = true;
    }
    const sinks = [...this._errorSinks];
    for (const a of this._adapters.values()) if (typeof a.listenerCount === "function") sinks.push(a);
    for (const sink of sinks) {
      if (sink.listenerCount("error") > 0) {
        sink.emit("error", err);
        heard = true;
      }
    }
    if (!heard && !this._warned) {
      this._warned = true;
      console.warn(
        `socket.io-hiredis-adapter: missing 'error' handler on this Redis client (${err.code}: ${err.message}); ` +
          "listen with .on('error', ...) on the client, the adapter factory, io.of(nsp).adapter or emitter.client " +
          "(this warning is printed once; DEBUG=socket.io-hiredis-adapter:* shows every event)",
      );
    }
  }

  _onconnclosed() {}

  // One call per read wakeup: every record of the batch, in order (see native/batch.h, lib/batch.js).
  _onbatch(buf, words) {
    beginHold();
    try {
      this._deliverBatch(buf, words);
    } finally {
      endHold();
    }
  }

  _deliverBatch(buf, words) {
    readBatch(buf, words, this._adapters);
  }
}

function withName(ep, role) {
  const out = { ...ep };
  if (out.name) out.name = `${out.name}`;
  return out;
}

function createClient(target, subTarget) {
  return new RedisClient(target, subTarget);
}

module.exports = { RedisClient, NativeConnection, createClient, watchAdapter, unwatchAdapter };
