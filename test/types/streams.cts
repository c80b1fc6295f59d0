// The streams adapter, typed, from CommonJS TypeScript: upstream's entry point and ours.
import { Server } from "socket.io";
import streams = require("socket.io-hiredis-adapter/streams");
import { createStreamsAdapter, StreamsAdapter, StreamsAdapterOptions } from "socket.io-hiredis-adapter";

declare const nodeRedisClient: { pSubscribe: (...args: any[]) => unknown; duplicate: () => unknown; isOpen: boolean };

const opts: StreamsAdapterOptions = { streamName: "app", maxLen: 100000, readCount: 50, blockTimeInMs: 2000, useShardedPubSub: false };
const io = new Server({ adapter: streams.createAdapter(nodeRedisClient, opts) });
io.adapter(createStreamsAdapter("redis://127.0.0.1:6379", { onlyPlaintext: true }));
const adapter = io.of("/").adapter as unknown as StreamsAdapter;
const invalid: number = adapter.stats.invalid + adapter.stats.reader.entries;
const last: string = adapter.stats.reader.lastId;
// @ts-expect-error maxLen is a number
createStreamsAdapter("redis://127.0.0.1:6379", { maxLen: "1000" });
