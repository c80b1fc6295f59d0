// Typed usage, compiled by scripts/test-types.sh with tsc --strict, module nodenext: upstream's README
// examples (@socket.io/redis-adapter 8.x, @socket.io/redis-emitter 5.x) with this package's name, then this
// package's own API. Every `@ts-expect-error` line must be an error (the script also checks each one alone).
import { Server } from "socket.io";
import { createClient as createRedisClient, createCluster } from "redis";
import { Redis, Cluster } from "ioredis";
import {
  createAdapter,
  createShardedAdapter,
  createClient,
  clusterKeySlot,
  coalesceWrites,
  Emitter,
  RedisAdapter,
  ShardedRedisAdapter,
  RedisClient,
  RequestType,
  type AdapterStats,
  type ClientStats,
  type RedisConnectionError,
  type RequestError,
} from "socket.io-hiredis-adapter";
import pkg from "socket.io-hiredis-adapter/package.json" with { type: "json" };

// --- @socket.io/redis-adapter README ------------------------------------------------------------------
// node-redis
const pubClient = createRedisClient({ url: "redis://localhost:6379" });
const subClient = pubClient.duplicate();
await Promise.all([pubClient.connect(), subClient.connect()]);
const io = new Server({ adapter: createAdapter(pubClient, subClient) });
io.listen(3000);

// ioredis
const ioPub = new Redis();
const ioSub = ioPub.duplicate();
io.adapter(createAdapter(ioPub, ioSub));

// ioredis cluster
const ioCluster = new Cluster([{ host: "localhost", port: 7000 }]);
io.adapter(createAdapter(ioCluster, ioCluster.duplicate()));

// node-redis cluster
const nrCluster = createCluster({ rootNodes: [{ url: "redis://localhost:7000" }] });
await nrCluster.connect();
io.adapter(createShardedAdapter(nrCluster, nrCluster.duplicate()));

// sharded adapter, with options
io.adapter(createShardedAdapter(pubClient, subClient, { subscriptionMode: "dynamic" }));
io.adapter(createShardedAdapter(pubClient, subClient, { channelPrefix: "app", subscriptionMode: "dynamic-private" }));

// options
io.adapter(createAdapter(pubClient, subClient, { key: "app", requestsTimeout: 3000, publishOnSpecificResponseChannel: true }));

// the socket.io API the adapter serves
const sockets = await io.fetchSockets();
sockets.forEach((s) => s.emit("hi"));
const answers: unknown[] = await io.serverSideEmitWithAck("ping");
io.serverSideEmit("hello", "world");
io.of("/").adapter.on("error", (err: Error) => console.error(err));

// --- @socket.io/redis-emitter README ------------------------------------------------------------------
const redisClient = createRedisClient({ url: "redis://localhost:6379" });
redisClient.connect().then(() => {
  const emitter = new Emitter(redisClient);
  setInterval(() => {
    emitter.emit("time", new Date());
  }, 5000);
});
const ioEmitter = new Emitter(new Redis());
ioEmitter.to("room1").emit("hello");
ioEmitter.of("/admin").emit("hello");
ioEmitter.to("room1").to("room2").except("room3").volatile.compress(false).emit("hello", 1, "2", { 3: "4" });
ioEmitter.socketsJoin("room1");
ioEmitter.in("room1").socketsLeave(["room2", "room3"]);
ioEmitter.in("room1").disconnectSockets(true);
ioEmitter.serverSideEmit("hello", "world");

// typed events
interface Events {
  basicEmit: (a: number, b: string, c: number[]) => void;
  withAck: (d: string, callback: (reply: number) => void) => void;
}
const typed = new Emitter<Events>(redisClient);
typed.emit("basicEmit", 1, "2", [3]);
typed.to("room").emit("basicEmit", 1, "2", [3]);
typed.of("/nsp").emit("basicEmit", 1, "2", []);
// @ts-expect-error wrong argument type
typed.emit("basicEmit", 1, "2", ["3"]);
// @ts-expect-error unknown event
typed.emit("unknown");
// @ts-expect-error missing argument
typed.to("room").emit("basicEmit", 1);

// --- beyond upstream: acknowledgements ----------------------------------------------------------------
const replies: number[] = await typed.timeout(2000).emitWithAck("withAck", "d");
typed.timeout(2000).emit("withAck", "d", (err, responses) => {
  const e: RequestError | null = err;
  const r: number[] = responses;
  void e, r;
});
// @ts-expect-error the replies are numbers
const wrong: string[] = await typed.emitWithAck("withAck", "d");
const serverAnswers: any[] = await ioEmitter.serverSideEmitWithAck("question", 1);
ioEmitter.serverSideEmit("question", 1, (err: Error | null, res: unknown[]) => void [err, res]);
const emitter2 = new Emitter("redis://127.0.0.1:6379", { key: "app", requestsTimeout: 1000, maxQueue: 100, queueTimeout: 2000 }, "/admin");
emitter2.client.on("error", (err) => console.warn(err.code, err.role));
const dropped: number = emitter2.dropped;
await emitter2.close();
ioEmitter.to(123).emit("numeric rooms");

// --- this package's own API ------------------------------------------------------------------------------
const factory = createAdapter("redis://127.0.0.1:6379", { subscriptionMode: "dynamic", coalesceWrites: true, maxDepth: 50, maxMessageBytes: 1 << 20 });
factory.on("error", (err) => {
  const code: string = err.code;
  const role: "command" | "subscriber" = err.role;
  void code, role;
});
const io2 = new Server(3001, { adapter: factory });
const maybeClient: RedisClient | null = factory.client;
io2.adapter(createAdapter({ host: "127.0.0.1", port: 6379, db: 1, password: "x", retryMax: 200, connectTimeout: 1000 }));
io2.adapter(createAdapter("redis://a", "redis://replica", { key: "k" }));
io2.adapter(createAdapter({ cluster: [7000, "redis://h:7001", { host: "h", port: 7002 }], password: "p" }));
io2.adapter(createAdapter());
// every target form of README "Targets"
io2.adapter(createAdapter({ socket: { host: "127.0.0.1", port: 6379 }, username: "u", password: "p", database: 2, name: "n" }));
io2.adapter(createAdapter("localhost:6379"));
io2.adapter(createAdapter({ socket: "/tmp/redis.sock", key: "myapp", requestsTimeout: 3000 }));
io2.adapter(createAdapter({ pubClient: ioPub, subClient: ioSub, key: "myapp" }));
io2.adapter(createAdapter({ rootNodes: [{ url: "redis://h:7000" }], defaults: { password: "p" } }));
// TLS: rediss://, our tls option, node-redis's socket.tls, a cluster over TLS
io2.adapter(createAdapter("rediss://:p@redis.example:6380"));
io2.adapter(createAdapter({ host: "redis.example", port: 6380, tls: { ca: ["-----BEGIN CERTIFICATE-----"], servername: "redis.example", minVersion: "TLSv1.2" } }));
io2.adapter(createAdapter({ host: "redis.example", tls: true, password: "p" }));
io2.adapter(createAdapter({ socket: { host: "redis.example", port: 6380, tls: true, ca: Buffer.from(""), rejectUnauthorized: true }, password: "p" }));
io2.adapter(createShardedAdapter({ cluster: ["rediss://10.0.0.1:6379"], tls: { servername: "cluster.example" } }));
io2.adapter(createAdapter({ rootNodes: [{ url: "rediss://h:7000" }], defaults: { password: "p", socket: { tls: true, ca: "pem" } } }));
// @ts-expect-error minVersion is a protocol name
io2.adapter(createAdapter({ host: "redis.example", tls: { minVersion: 1.2 } }));
io2.adapter(createShardedAdapter({ path: "/tmp/redis.sock", connectionName: "n" }, { channelPrefix: "p" }));
// Redis Sentinel (README "Redis Sentinel"): the subscriber may read from a replica
const sentinels = [{ host: "10.0.0.1", port: 26379 }, "10.0.0.2:26379"];
io2.adapter(createAdapter({ sentinels, name: "mymaster", sentinelPassword: "s", password: "p" }, { sentinels, name: "mymaster", role: "replica" }));
io2.adapter(createAdapter("redis+sentinel://:p@10.0.0.1:26379,10.0.0.2:26379/mymaster?sentinelPassword=s"));
// publishes held while a connection is replaced (README "Frozen Redis"), behind Sentinel too
io2.adapter(createAdapter({ sentinels, name: "mymaster", healthTimeout: 2000, holdMs: 10000, maxOutputMB: 8 }));
io2.adapter(createShardedAdapter({ name: "mymaster", sentinelRootNodes: [{ host: "10.0.0.1", port: 26379 }], nodeClientOptions: { password: "p" } }));
// Sentinel over TLS: the data nodes (tls) and the Sentinels (sentinelTLS), or rediss+sentinel://
io2.adapter(createAdapter({ sentinels, name: "mymaster", tls: { ca: "PEM" }, enableTLSForSentinelMode: true, sentinelTLS: { ca: "PEM", servername: "sentinel.example" } }));
io2.adapter(createAdapter("rediss+sentinel://:p@10.0.0.1:26379/mymaster?sentinelTLS=false"));
io2.adapter(createAdapter({ name: "mymaster", sentinelRootNodes: [{ host: "10.0.0.1", port: 26379 }], nodeClientOptions: { socket: { tls: true, ca: "PEM" } }, sentinelClientOptions: { socket: { tls: true } } }));
// a connected node-redis createSentinel() client, with what it keeps private
declare const nrSentinel: { getSentinelNode(): { host: string; port: number } | undefined; getMasterNode(): { host: string; port: number } | undefined; readonly isReady: boolean };
io2.adapter(createAdapter({ sentinelClient: nrSentinel, name: "mymaster", password: "p", tls: true }));
// @ts-expect-error sentinelTLS is true or TLS options
createClient({ sentinels, name: "mymaster", sentinelTLS: "yes" });
// @ts-expect-error a Sentinel role is "master" or "replica"
createClient({ sentinels, name: "mymaster", role: "primary" });
// @ts-expect-error a typo in a target key
io2.adapter(createAdapter({ hots: "10.0.0.1", port: 6379 }));
const a0 = io2.of("/").adapter as RedisAdapter;
// @ts-expect-error pubClient is read-only
a0.pubClient = null;
io2.adapter(createShardedAdapter("redis://127.0.0.1:6379", { subscriptionMode: "static" }));

const adapter = io2.of("/").adapter as RedisAdapter;
const stats: AdapterStats = adapter.stats;
const received: number = stats.received + stats.ignoredRoom + stats.publishDropped + stats.lastError;
const count: number = await adapter.serverCount();
const rooms: Set<string> = await adapter.allRooms();
const sharded = io2.of("/s").adapter as ShardedRedisAdapter;
const shardedReceived: number = sharded.stats.received;

const client = createClient("redis://127.0.0.1:6379");
client.on("error", (err) => console.warn(err.role, err.code, err.message));
client.on("ready", async () => console.log(await client.command(["PING"])));
client.on("reconnecting", ({ role, delay }) => console.log(role, delay));
client.on("message", (channel, payload) => console.log(channel, payload.byteLength));
client.on("pmessage", (pattern, channel, payload) => console.log(pattern, channel, payload.length));
const ok: boolean = client.publish("ch", Buffer.from("x")) && client.subscribe("ch") && client.sSubscribe("s");
const cstats: ClientStats = client.stats();
const reads: number = cstats.command.bytesRead + cstats.subscriber.messages + cstats.publishDropped;
const hold: number = cstats.command.held + cstats.command.heldDropped + cstats.command.replayed + cstats.command.resumed + cstats.command.replaced;
client.unref().ref();
io2.adapter(createAdapter(client));
await client.close();
const slot: number = clusterKeySlot("{user}:1");
coalesceWrites(io2);
const type: RequestType = RequestType.REMOTE_FETCH;
const name: string = pkg.name;

// @ts-expect-error not a subscription mode of createAdapter
createAdapter("redis://127.0.0.1", { subscriptionMode: "sharded" });
// @ts-expect-error a misspelt target option
createAdapter({ hots: "127.0.0.1" });
// @ts-expect-error a misspelt stats field
adapter.stats.recieved;
// @ts-expect-error error listeners get a RedisConnectionError
client.on("error", (err: string) => err);
// @ts-expect-error the client emits no such event
client.on("connected", () => {});
// @ts-expect-error RequestType is read-only
RequestType.SOCKETS = 1;
// @ts-expect-error adapters are made by factories
new RedisAdapter(io2.of("/"), null, {});
// @ts-expect-error payloads are Buffers
client.publish("ch", "text");
// @ts-expect-error not exported: deep imports are closed by the exports map
import("socket.io-hiredis-adapter/lib/client.js");

void [answers, dropped, received, count, rooms, shardedReceived, ok, reads, slot, type, name, maybeClient, replies, wrong, serverAnswers];
export type { RedisConnectionError };
