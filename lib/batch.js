"use strict";
// The one reader of the records native code hands JS once per read wakeup; native/batch.c is their one
// writer and native/batch.h their definition. Field positions come from the binding (C.F_*), never from
// numbers written here.
const debug = require("debug")("socket.io-hiredis-adapter:batch");
const C = require("./binding").constants;

const HEADER = C.F_TARGETS_AT + 1;

// Every local socket: a broadcast that names no rooms and no exception held here.
const NONE = Object.freeze([]);
const ALL = Object.freeze({ rooms: NONE, except: NONE });

// A target list's rooms and exceptions (names in buf; a name flagged TARGET_NUM is a room joined with a number,
// its text the canonical String(number)): one room and no exception as that room's key alone (the common case,
// no allocation), else { rooms, except }. Returns null when it does not fit in its record.
function readTargets(buf, words, p, end) {
  const nrooms = words[p];
  const nexcept = words[p + 1];
  if (p + 2 + 2 * (nrooms + nexcept) > end) return null;
  let rooms = null;
  let except = NONE;
  for (let k = 0, q = p + 2; k < nrooms + nexcept; k++, q += 2) {
    const off = words[q];
    const w = words[q + 1];
    const num = w >= C.TARGET_NUM;
    const len = num ? w - C.TARGET_NUM : w;
    if (off + len > buf.length) return null;
    const text = buf.toString("utf8", off, off + len);
    const key = num ? Number(text) : text;
    if (nrooms === 1 && nexcept === 0) return key;
    if (k < nrooms) (rooms === null ? (rooms = []) : rooms).push(key);
    else (except === NONE ? (except = []) : except).push(key);
  }
  return { rooms: rooms === null ? NONE : rooms, except };
}

/**
 * Hands each record of a batch, in order, to its adapter (looked up by id in `adapters`):
 * a finished request to adapter._onrequestdone(token, status, payload, received, expected), anything else
 * to adapter._onrecord(kind, buf, words, i, targets), where i is the record's first word and targets, when the
 * record has a target list, is one room's key (a string or a number), or { rooms, except }: the rooms (none:
 * every local socket) minus the exceptions, as socket.io-adapter's apply() reads them; only rooms this node
 * holds are listed.
 */
function readBatch(buf, words, adapters) {
  let last = null;
  let i = 0;
  while (i < words.length) {
    const len = words[i + C.F_WORDS];
    if (len < HEADER || i + len > words.length) {
      debug("malformed batch record at word %d (length %d of %d)", i, len, words.length);
      return;
    }
    const at = words[i + C.F_TARGETS_AT];
    let targets = null;
    if (at !== 0) {
      const first = words[i + at];
      if (first === C.TARGETS_ALL) targets = ALL;
      else if (first === C.TARGETS_SAME) targets = last;
      else targets = last = readTargets(buf, words, i + at, i + len);
      if (targets === null || targets === undefined) {
        debug("malformed target list in batch record at word %d", i);
        return;
      }
    }
    const kind = words[i];
    const adapter = adapters.get(words[i + C.F_ADAPTER]);
    if (adapter !== undefined) {
      try {
        if (kind === C.REC_DONE) {
          const off = words[i + C.F_DONE_OFF];
          const payload = buf.subarray(off, off + words[i + C.F_DONE_LEN]);
          adapter._onrequestdone(words[i + C.F_DONE_TOKEN], words[i + C.F_DONE_STATUS], payload, words[i + C.F_DONE_RECEIVED] | 0, words[i + C.F_DONE_EXPECTED] | 0);
        } else {
          adapter._onrecord(kind, buf, words, i, targets);
        }
      } catch (err) {
        debug("batch record %d failed: %s", kind, err && err.stack);
      }
    }
    i += len;
  }
}

module.exports = { readBatch, ALL };
