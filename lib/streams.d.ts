// socket.io-hiredis-adapter/streams: @socket.io/redis-streams-adapter's entry point.
import { AdapterFactory, RedisTarget, StreamsAdapter, StreamsAdapterOptions } from "./index";

export { StreamsAdapter, StreamsAdapterOptions };

/** upstream's signature: a node-redis or ioredis client (standalone or cluster), or createClient()'s. */
export declare function createAdapter(redisClient: RedisTarget, opts?: StreamsAdapterOptions): AdapterFactory<StreamsAdapter>;
