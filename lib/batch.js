"use strict";
// The one reader of the records native code hands JS once per read wakeup; native/batch.c is their one
// writer and native/batch.h their definition. Field positions come from the binding (C.F_*), never from
// numbers written here.
const debug = require("debug")("socket.io-hiredis-adapter:batch");
const C = require("./binding").constants;

const HEADER = C.F_TARGETS_AT + 1;

/**
 * Hands each record of a batch, in order, to its adapter (looked up by id in `adapters`):
 * a finished request to adapter._onrequestdone(token, status, payload, received, expected), anything else
 * to adapter._onrecord(kind, buf, words, i, tp, tn), where i is the record's first word and the record's
 * target slots are words[tp .. tp + tn) (tn === -1: every local socket, in the adapter's own order).
 */
function readBatch(buf, words, adapters) {
  let lastP = 0;
  let lastN = 0;
  let i = 0;
  while (i < words.length) {
    const len = words[i + C.F_WORDS];
    if (len < HEADER || i + len > words.length) {
      debug("malformed batch record at word %d (length %d of %d)", i, len, words.length);
      return;
    }
    const at = words[i + C.F_TARGETS_AT];
    let tp = 0;
    let tn = 0;
    if (at !== 0) {
      const count = words[i + at];
      if (count === C.TARGETS_ALL) tn = -1;
      else if (count === C.TARGETS_SAME) {
        tp = lastP;
        tn = lastN;
      } else {
        tp = i + at + 1;
        tn = count;
        lastP = tp;
        lastN = tn;
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
          adapter._onrecord(kind, buf, words, i, tp, tn);
        }
      } catch (err) {
        debug("batch record %d failed: %s", kind, err && err.stack);
      }
    }
    i += len;
  }
}

module.exports = { readBatch };
