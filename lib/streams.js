"use strict";
// socket.io-hiredis-adapter/streams: @socket.io/redis-streams-adapter's entry point, same signature,
// so switching is one import line. The client's settings are read (node-redis v4/v5, ioredis, their
// cluster clients, or our createClient()); the adapter opens its own native connections from them and
// closes them when its last namespace closes (a client passed in stays the caller's).
const { createStreamsAdapter } = require("./index");

/**
 * @param redisClient a node-redis or ioredis client (standalone or cluster), or createClient()'s
 * @param opts upstream's options: streamName, streamCount, channelPrefix, useShardedPubSub, maxLen,
 *   readCount, blockTimeInMs, sessionKeyPrefix, onlyPlaintext, heartbeatInterval, heartbeatTimeout
 */
function createAdapter(redisClient, opts) {
  return createStreamsAdapter(redisClient, opts);
}

module.exports = { createAdapter };
