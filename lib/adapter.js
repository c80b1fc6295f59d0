"use strict";
// RedisAdapter: socket.io-adapter's in-memory Adapter, plus the classic Redis adapter protocol.
// Publishing goes through notepack.io (byte-identical to upstream by construction); receiving,
// filtering, target selection and packet encoding happen in C, and JS gets one batch per read.
const { createRequire } = require("node:module");
const { randomBytes } = require("node:crypto");
const { Adapter } = require("socket.io-adapter");
const notepack = require("notepack.io");
const debug = require("debug")("socket.io-hiredis-adapter");
const binding = require("./binding");

const C = binding.constants;

// ws comes with socket.io-adapter; use the same copy it uses to pre-frame WebSocket messages.
let WebSocket = null;
let parserModule = null;
try {
  const req = createRequire(require.resolve("socket.io-adapter"));
  WebSocket = req("ws");
} catch {}
try {
  const req = createRequire(require.resolve("socket.io"));
  parserModule = req("socket.io-parser");
} catch {}
const canPreComputeFrame = !!(WebSocket && WebSocket.Sender && typeof WebSocket.Sender.frame === "function");

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
function uid2(len) {
  const bytes = randomBytes(len);
  let s = "";
  for (let i = 0; i < len; i++) s += ALPHABET[bytes[i] % 64];
  return s;
}

function usesDefaultEncoder(encoder) {
  return (
    parserModule !== null &&
    encoder instanceof parserModule.Encoder &&
    encoder.replacer === undefined &&
    encoder.constructor === parserModule.Encoder
  );
}

class RedisAdapter extends Adapter {
  constructor(nsp, shared, opts) {
    super(nsp);
    this.uid = uid2(6);
    this.requestsTimeout = opts.requestsTimeout || 5000;
    this.publishOnSpecificResponseChannel = !!opts.publishOnSpecificResponseChannel;
    const key = opts.key || "socket.io";
    this.key = key;
    this.channel = `${key}#${nsp.name}#`;
    this.requestChannel = `${key}-request#${nsp.name}#`;
    this.responseChannel = `${key}-response#${nsp.name}#`;
    this.specificResponseChannel = `${this.responseChannel}${this.uid}#`;
    this.parser = opts.parser || notepack;
    this._shared = shared;
    this._client = shared.acquire();
    this._closed = false;
    this._slots = new Map();
    this._slotIds = [];
    this._freeSlots = [];
    this._publishDropped = 0;
    this._nativeEncode = usesDefaultEncoder(this.encoder);
    this._id = this._client._register(this);
    this._handle = {};
    const seed = randomBytes(8);
    binding.adapter_init(this._handle, this._client.sub._handle, {
      key,
      nsp: nsp.name,
      uid: this.uid,
      id: this._id,
      maxDepth: opts.maxDepth || 100,
      maxMessageBytes: opts.maxMessageBytes || 64 * 1024 * 1024,
      seedLo: seed.readUInt32LE(0),
      seedHi: seed.readUInt32LE(4),
    });
    if (!this._nativeEncode) {
      debug("namespace %s: custom parser in use, remote broadcasts are re-encoded by server.encoder", nsp.name);
    }
  }

  get stats() {
    const s = binding.adapter_stats(this._handle);
    s.publishDropped = this._publishDropped;
    return s;
  }

  // --- membership: keep socket.io-adapter's Maps and the native index in step -------------------

  _slotFor(id) {
    let slot = this._slots.get(id);
    if (slot === undefined) {
      slot = this._freeSlots.length > 0 ? this._freeSlots.pop() : this._slotIds.length;
      this._slots.set(id, slot);
      this._slotIds[slot] = id;
    }
    return slot;
  }

  _room(op, slot, room) {
    if (typeof room === "number") binding.adapter_room(this._handle, op, slot, String(room), true);
    else binding.adapter_room(this._handle, op, slot, room, false);
  }

  addAll(id, rooms) {
    super.addAll(id, rooms);
    if (this._closed) return;
    const slot = this._slotFor(id);
    for (const room of rooms) this._room(1, slot, room);
  }

  del(id, room) {
    super.del(id, room);
    const slot = this._slots.get(id);
    if (slot !== undefined && !this._closed) this._room(2, slot, room);
  }

  delAll(id) {
    super.delAll(id);
    const slot = this._slots.get(id);
    if (slot === undefined) return;
    if (!this._closed) binding.adapter_room(this._handle, 3, slot, "", false);
    this._slots.delete(id);
    this._slotIds[slot] = undefined;
    this._freeSlots.push(slot);
  }

  // --- broadcast ---------------------------------------------------------------------------------

  broadcast(packet, opts) {
    packet.nsp = this.nsp.name;
    const onlyLocal = opts && opts.flags && opts.flags.local;
    if (!onlyLocal && !this._closed) {
      const rawOpts = {
        rooms: [...opts.rooms],
        except: [...new Set(opts.except)],
        flags: opts.flags,
      };
      const msg = this.parser.encode([this.uid, packet, rawOpts]);
      let channel = this.channel;
      if (opts.rooms && opts.rooms.size === 1) channel += rawOpts.rooms[0] + "#";
      this._publish(channel, msg);
    }
    super.broadcast(packet, opts);
  }

  _publish(channel, msg) {
    const buf = Buffer.isBuffer(msg) ? msg : Buffer.from(msg);
    if (!this._client.publish(channel, buf)) {
      this._publishDropped++;
      debug("not connected to Redis: publish to %s dropped", channel);
    }
  }

  // Called from the client's batch loop for one HRA_REC_BROADCAST record.
  _deliver(buf, words, i) {
    const flags = words[i + 2];
    const off = words[i + 3];
    const len = words[i + 4];
    const natt = words[i + 5];
    let p = i + 6;
    const encoded = [buf.toString("utf8", off + 1, off + len)];
    for (let k = 0; k < natt; k++, p += 2) encoded.push(buf.subarray(words[p], words[p] + words[p + 1]));
    const n = words[p++];
    const packetOpts = {
      preEncoded: true,
      volatile: flags & C.BFLAG_VOLATILE ? true : undefined,
      compress: flags & C.BFLAG_COMPRESS_FALSE ? false : undefined,
    };
    if (natt === 0 && canPreComputeFrame) {
      packetOpts.wsPreEncodedFrame = WebSocket.Sender.frame(buf.subarray(off, off + len), {
        readOnly: false,
        mask: false,
        rsv1: false,
        opcode: 1,
        fin: true,
      });
    }
    const sockets = this.nsp.sockets;
    let packet = null;
    for (let k = 0; k < n; k++) {
      const id = this._slotIds[words[p + k]];
      if (id === undefined) continue;
      const socket = sockets.get(id);
      if (socket === undefined) continue;
      const listeners = socket._anyOutgoingListeners;
      if (listeners !== undefined && listeners.length > 0 && typeof socket.notifyOutgoingListeners === "function") {
        if (packet === null) packet = this._decodeForListeners(encoded);
        socket.notifyOutgoingListeners(packet);
      }
      socket.client.writeToEngine(encoded, packetOpts);
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

  // Request and response channel messages: handled by the requests layer (see requests work).
  _onraw(kind, payload) {
    debug("%s message of %d bytes on %s", kind === C.REC_REQUEST ? "request" : "response", payload.length, this.nsp.name);
  }

  // --- cluster-wide queries --------------------------------------------------------------------

  serverCount() {
    return this._client.command(["PUBSUB", "NUMSUB", this.requestChannel]).then((res) => parseInt(res[1], 10) || 0);
  }

  close() {
    if (this._closed) return;
    this._closed = true;
    binding.adapter_close(this._handle);
    this._client._unregister(this._id);
    return this._shared.release();
  }
}

module.exports = { RedisAdapter, uid2 };
