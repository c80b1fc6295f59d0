"use strict";

// Write coalescing. engine.io queues a client's packets while a write is in flight and flushes them together
// on drain, but its WebSocket transport then writes each packet (frame) with its own system call. Corking the
// client's TCP socket around that flush turns the burst into one writev, with the same bytes in the same
// order. Applied per engine.io connection, on the transport instance (never on a prototype), again after an
// upgrade; anything of another shape is left alone with a debug note.

const debug = require("debug")("socket.io-hiredis-adapter:cork");

const kApplied = Symbol("hiredisAdapterCork");
const engines = new WeakSet();
let shapeWarned = false;

// The net.Socket under a websocket transport, or null when the shape is not the one we know (engine.io 6.x
// WebSocket transport over ws 8.x).
function rawSocketOf(transport) {
  if (transport === null || typeof transport !== "object" || transport.name !== "websocket") return null;
  if (typeof transport.send !== "function") return null;
  const ws = transport.socket;
  const raw = ws && ws._socket;
  if (!raw || typeof raw.cork !== "function" || typeof raw.uncork !== "function") return null;
  return raw;
}

// engine.io's own condition for writing a packet's pre-encoded frame (WebSocket._canSendPreEncodedFrame), for
// every packet, plus the shapes the single write relies on.
function allPreEncoded(transport, packets) {
  if (transport.perMessageDeflate || typeof transport._onSentLast !== "function") return false;
  const sender = transport.socket && transport.socket._sender;
  if (!sender || typeof sender.sendFrame !== "function") return false;
  for (let i = 0; i < packets.length; i++) {
    const o = packets[i].options;
    const frame = o && o.wsPreEncodedFrame;
    if (!Array.isArray(frame)) return false;
    for (let k = 0; k < frame.length; k++) if (!Buffer.isBuffer(frame[k]) && !(frame[k] instanceof Uint8Array)) return false;
  }
  return true;
}

// Wraps one transport instance's send(packets). Returns true when coalescing is now on for it.
function corkTransport(transport) {
  if (transport && transport[kApplied]) return true;
  const raw = rawSocketOf(transport);
  if (raw === null) {
    // Polling already answers with one HTTP body per flush; any other transport is not ours to touch.
    if (transport && transport.name === "websocket" && !shapeWarned) {
      shapeWarned = true;
      debug("websocket transport of an unknown shape (no net.Socket with cork/uncork): plain writes");
    }
    return false;
  }
  const send = transport.send;
  transport.send = function corkedSend(packets) {
    if (!Array.isArray(packets) || packets.length < 2 || raw.destroyed) return send.call(this, packets);
    if (allPreEncoded(this, packets)) {
      // Every packet is a complete pre-encoded WebSocket frame (broadcasts): engine.io would hand each to
      // ws's sendFrame, one socket.write per frame. Their concatenation is the same bytes in one write.
      const pieces = [];
      for (let i = 0; i < packets.length; i++) {
        const frame = packets[i].options.wsPreEncodedFrame;
        for (let k = 0; k < frame.length; k++) pieces.push(frame[k]);
      }
      this.writable = false;
      raw.write(Buffer.concat(pieces), this._onSentLast);
      return;
    }
    raw.cork();
    try {
      return send.call(this, packets);
    } finally {
      // Synchronous writes (plain and pre-encoded frames) leave as one writev here. Compressed frames
      // (permessage-deflate) are written later by ws, in order, outside the cork: no delay, no reordering.
      raw.uncork();
    }
  };
  transport[kApplied] = true;
  return true;
}

// Applies coalescing to one engine.io Socket (a client connection), now and after every upgrade.
function corkConnection(conn) {
  if (conn === null || typeof conn !== "object" || conn[kApplied]) return;
  if (typeof conn.on !== "function") return;
  conn[kApplied] = true;
  corkTransport(conn.transport);
  conn.on("upgrade", (transport) => corkTransport(transport || conn.transport));
}

// Applies coalescing to every current and future connection of a socket.io Server (io) or engine.io Server.
function coalesceWrites(server) {
  const engine = server && server.engine && typeof server.engine.on === "function" ? server.engine : server;
  if (!engine || typeof engine.on !== "function") throw new TypeError("coalesceWrites(io): expected a socket.io or engine.io Server");
  if (engines.has(engine)) return;
  engines.add(engine);
  engine.on("connection", corkConnection);
  if (engine.clients && typeof engine.clients === "object") {
    for (const conn of Object.values(engine.clients)) corkConnection(conn);
  }
}

// Used by the adapters: the namespace's server may not have an engine yet (socket.io creates the main
// namespace's adapter before attach()), so connections are picked up as they reach the namespace.
function coalesceNamespace(nsp) {
  const server = nsp && nsp.server;
  if (server && server.engine && typeof server.engine.on === "function") {
    coalesceWrites(server);
    return;
  }
  nsp.on("connection", (socket) => {
    if (server && server.engine && typeof server.engine.on === "function") coalesceWrites(server);
    else corkConnection(socket.conn);
  });
}

// Holding flushes during one batch of remote deliveries. engine.io writes a client's first packet at once
// and queues the rest until that write completes, so a batch of k broadcasts costs two writes per client.
// While a batch is delivered, a corked client's transport is marked busy before its first packet, so every
// packet of the batch queues; at the end of the batch one flush sends them all in one corked writev.
// Volatile packets are never held: they meet the same writable check as without the hold (engine.io drops
// them while a write is pending, and a held transport has one pending by definition).
const kHeld = Symbol("hiredisAdapterHeld");
const held = [];
let holding = 0;

function beginHold() {
  holding++;
}

function holdConnection(conn) {
  if (holding === 0 || conn[kHeld] !== undefined) return;
  const t = conn.transport;
  if (!t || t[kApplied] !== true || t.writable !== true || conn.readyState !== "open") return;
  t.writable = false;
  conn[kHeld] = t;
  held.push(conn);
}

function endHold() {
  if (--holding > 0) return;
  for (let i = 0; i < held.length; i++) {
    const conn = held[i];
    const t = conn[kHeld];
    conn[kHeld] = undefined;
    if (t.writable === false) t.writable = true;
    if (conn.transport === t) conn.flush();
  }
  held.length = 0;
}

// Local broadcasts: every io.emit() of one synchronous run of code (one event-loop task) is held the same way
// and flushed in a microtask right after it, so a burst of emits costs one write per client, not two.
let tickHold = false;

function endTickHold() {
  tickHold = false;
  endHold();
}

function holdForThisTick() {
  if (tickHold) return;
  tickHold = true;
  beginHold();
  queueMicrotask(endTickHold);
}

module.exports = { coalesceWrites, coalesceNamespace, corkTransport, corkConnection, kApplied, beginHold, holdConnection, endHold, holdForThisTick };
