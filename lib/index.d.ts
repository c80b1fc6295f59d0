// Type declarations for socket.io-hiredis-adapter (lib/index.js). They follow @socket.io/redis-adapter 8.x
// and @socket.io/redis-emitter 5.x where the API is the same, so code typed against those compiles here.
// Checked by scripts/test-types.sh (test/types/).
/// <reference types="node" />
import { EventEmitter } from "node:events";
import { Adapter, BroadcastOptions, ClusterAdapter, ClusterMessage, ClusterResponse, Offset, Room } from "socket.io-adapter";

// ---------------------------------------------------------------------------------------------------
// Targets: where to connect

/** Connection tuning, in any options-object target (all nodes of a cluster share them). */
export interface RedisConnectionOptions {
  /** ms allowed to resolve the host name and to open the socket. @default 10000 */
  connectTimeout?: number;
  /** reconnect backoff in ms: attempt n waits between half and all of min(retryBase * 2^n, retryMax). @default 50 */
  retryBase?: number;
  /** @default 1000 */
  retryMax?: number;
  /** ms of silence after which a PING is sent; 0 disables the check. @default 5000 */
  healthInterval?: number;
  /**
   * ms after which an unanswered PING (nothing read meanwhile) gives the connection up with ETIMEDOUT: a
   * replacement connects at once, and whichever of the two Redis answers first is kept. @default 5000
   */
  healthTimeout?: number;
  /** TCP keepalive delay in s; 0 disables it. @default 30 */
  keepAlive?: number;
  /** largest reply buffered, in MiB, before the connection is dropped. @default 512 */
  maxReplyMB?: number;
  /** most bytes queued for Redis (held publishes included), in MiB: past it publishes are dropped and counted, commands rejected with ENOBUFS. @default 32 */
  maxOutputMB?: number;
  /**
   * ms a publish may be held while a connection that was ready is replaced (Redis frozen, restarted,
   * unreachable), to be sent in order once one is ready again; older ones are dropped and counted. 0: not
   * held, dropped at once. @default 30000
   */
  holdMs?: number;
}

/** PEM text: a string, a Buffer, or several of them (certificates). */
export type PemInput = string | Buffer | Uint8Array | ReadonlyArray<string | Buffer | Uint8Array>;

/**
 * TLS settings, as in `tls.connect()` (the ones the native handshake implements; the others, such as a
 * `checkServerIdentity` function, `pfx` or `ciphers`, are refused). Verification is on by default.
 */
export interface RedisTlsOptions {
  /** the CAs to trust (PEM). @default Node's root certificates (and NODE_EXTRA_CA_CERTS) */
  ca?: PemInput;
  /** a client certificate (PEM, then its chain), for mutual TLS; needs `key` */
  cert?: PemInput;
  /** the client certificate's private key (PEM) */
  key?: string | Buffer | Uint8Array;
  /** of an encrypted `key` */
  passphrase?: string;
  /** SNI and the name the certificate must match. @default each node's host (no SNI for an IP address, which is verified as an IP) */
  servername?: string;
  /** verify the certificate chain and name. @default true (false when NODE_TLS_REJECT_UNAUTHORIZED=0, as Node does) */
  rejectUnauthorized?: boolean;
  /** @default tls.DEFAULT_MIN_VERSION ("TLSv1.2") */
  minVersion?: "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";
  /** @default tls.DEFAULT_MAX_VERSION ("TLSv1.3") */
  maxVersion?: "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";
}

/** node-redis's socket options with `tls: true`: the TLS settings sit in the socket object itself. */
export interface NodeRedisTlsSocketOptions extends RedisTlsOptions {
  tls: true;
  host?: string;
  port?: number;
  connectTimeout?: number;
  keepAlive?: number | boolean;
  noDelay?: boolean;
  reconnectStrategy?: unknown;
  socketTimeout?: number;
}

/** One Redis server. `url` is parsed first; the other keys override it. */
export interface RedisEndpointOptions extends RedisConnectionOptions {
  /** `redis://[user:pass@]host[:port][/db]`, `rediss://...` (TLS), `unix:///path/to/redis.sock` or `redis+unix://...` */
  url?: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** @default 6379 */
  port?: number;
  /** a unix socket path (instead of host and port) */
  path?: string;
  username?: string;
  password?: string;
  db?: number;
  /** node-redis's name for `db` */
  database?: number;
  /** sent with CLIENT SETNAME (a refusal is ignored) */
  name?: string;
  /** ioredis's name for `name` */
  connectionName?: string;
  clientName?: string;
  /** TLS (as ioredis's `tls`): `true` for the defaults, or the settings. */
  tls?: boolean | RedisTlsOptions;
  /**
   * node-redis's socket options (`host`, `port`, `path`, `connectTimeout`, and with `tls: true` the TLS settings,
   * are read; `noDelay`, `keepAlive`, `reconnectStrategy`, `socketTimeout` ignored), or, as in socket.io-redis, a
   * unix socket path.
   */
  socket?:
    | string
    | NodeRedisTlsSocketOptions
    | { host?: string; port?: number; path?: string; connectTimeout?: number; keepAlive?: number | boolean; noDelay?: boolean; reconnectStrategy?: unknown; socketTimeout?: number; tls?: false };
}

/** node-redis `createCluster()` options: the root nodes' url or socket host/port, the defaults' credentials. */
export interface NodeRedisClusterOptions {
  rootNodes: ReadonlyArray<{ url?: string; socket?: { host?: string; port?: number } | NodeRedisTlsSocketOptions }>;
  /** `socket` with `tls: true` (and its TLS settings) makes every node TLS */
  defaults?: { username?: string; password?: string; name?: string; url?: string; socket?: { tls?: false } | Omit<NodeRedisTlsSocketOptions, "host" | "port"> };
  useReplicas?: boolean;
  minimizeConnections?: boolean;
  maxCommandRedirections?: number;
}

/**
 * socket.io-redis's single options object, still read by createAdapter: connection settings, adapter options,
 * and/or the clients to read the settings of.
 */
export interface LegacyAdapterOptions extends RedisEndpointOptions, Partial<RedisAdapterOptions> {
  pubClient?: RedisTarget;
  subClient?: RedisTarget;
}

/** A Redis Cluster seed node: a `redis://host:port` (or `rediss://`) URL, a port on 127.0.0.1, or an object. */
export type RedisClusterNode =
  | string
  | number
  | { url?: string; host?: string; port?: number; username?: string; password?: string; socket?: { host?: string; port?: number } };

/** A Redis Cluster, from any of its nodes. */
export interface RedisClusterTarget extends RedisConnectionOptions {
  cluster: RedisClusterNode[];
  username?: string;
  password?: string;
  name?: string;
  /** TLS to every node (each verified against its own host unless `servername` is given) */
  tls?: boolean | RedisTlsOptions;
}

/** A Redis Sentinel address: `{ host, port }` (port 26379 unless given) or `"host:port"`. */
export type RedisSentinelNode = string | { host?: string; port?: number };

/**
 * A Redis Sentinel deployment (README, "Redis Sentinel"): the Sentinels to ask and the master's name (ioredis's
 * Sentinel options). The connections follow the master through failovers.
 */
export interface RedisSentinelTarget extends RedisConnectionOptions {
  /** 1 to 32 Sentinels; the others are learned from them */
  sentinels: ReadonlyArray<RedisSentinelNode>;
  /** the master's name in the Sentinels' configuration (not a client name: that is `connectionName`) */
  name: string;
  /** `"replica"` (ioredis's `"slave"`): a healthy replica, for the subscriber side only. @default "master" */
  role?: "master" | "replica" | "slave";
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** the data nodes' credentials and database */
  username?: string;
  password?: string;
  db?: number;
  database?: number;
  /** sent with CLIENT SETNAME to the data nodes */
  connectionName?: string;
  clientName?: string;
  /**
   * `redis+sentinel://[user:pass@]host1:port1,host2:port2/name[/db]` (`rediss+sentinel://`: TLS to the Sentinels
   * and to the data nodes), read first; the other keys override it
   */
  url?: string;
  /**
   * TLS to the data nodes, each verified against the host the Sentinels name it by (an IP address is checked
   * against the certificate's IP addresses, with no SNI) unless `servername` is given
   */
  tls?: boolean | RedisTlsOptions;
  /** ioredis's switch for `tls`: `false` next to `tls` is refused (ioredis would talk plain text) */
  enableTLSForSentinelMode?: boolean;
  /** TLS to the Sentinels, each verified against its own host */
  sentinelTLS?: boolean | RedisTlsOptions;
}

/**
 * A connected node-redis v5 `createSentinel()` client, with the settings it keeps private stated next to it:
 * the Sentinel it is connected to is asked first (`sentinels` adds others), everything else is read from here
 * (README, "Redis Sentinel"). Refused when the client is not connected yet.
 */
export interface NodeRedisSentinelClientTarget extends Omit<RedisSentinelTarget, "sentinels" | "url"> {
  sentinelClient: NodeRedisSentinelLike;
  sentinels?: ReadonlyArray<RedisSentinelNode>;
}

/** A node-redis v5 `createSentinel()` client. */
export interface NodeRedisSentinelLike {
  getSentinelNode(): { host: string; port: number } | undefined;
  getMasterNode(): { host: string; port: number } | undefined;
  readonly isReady: boolean;
}

/**
 * node-redis v5 `createSentinel()` options (or pass its connected client as {@link NodeRedisSentinelClientTarget}),
 * plus our `role` for a subscriber on a replica.
 */
export interface NodeRedisSentinelOptions {
  name: string;
  sentinelRootNodes: ReadonlyArray<{ host: string; port: number }>;
  /** `socket.tls: true` and its settings in `socket`: TLS to the data nodes */
  nodeClientOptions?: { username?: string; password?: string; database?: number; name?: string; socket?: { connectTimeout?: number; tls?: false } | Omit<NodeRedisTlsSocketOptions, "host" | "port"> };
  /** `socket.tls: true` and its settings in `socket`: TLS to the Sentinels */
  sentinelClientOptions?: { username?: string; password?: string; socket?: { tls?: false } | Omit<NodeRedisTlsSocketOptions, "host" | "port"> };
  role?: "master" | "replica";
  masterPoolSize?: number;
  replicaPoolSize?: number;
  scanInterval?: number;
  passthroughClientErrorEvents?: boolean;
  reserveClient?: boolean;
  maxCommandRediscovers?: number;
}

/** A node-redis v4/v5 client (`createClient()`); only its settings are read, it is never used. */
export interface NodeRedisClientLike {
  pSubscribe(...args: any[]): unknown;
}
/** A connected node-redis cluster client (`createCluster()`). */
export interface NodeRedisClusterLike {
  readonly masters: ReadonlyArray<unknown>;
}
/** An ioredis `Redis` client (also one created with `sentinels`). */
export interface IoRedisClientLike {
  psubscribe(...args: any[]): unknown;
  readonly options: object;
}
/** An ioredis `Cluster`. */
export interface IoRedisClusterLike {
  readonly isCluster: boolean;
  nodes(...args: any[]): unknown;
}

/**
 * Where to connect: a URL (`redis://...`, `rediss://...`, `unix://...`, `redis+sentinel://...`), an options
 * object, a `{ cluster: [...] }` or `{ sentinels: [...], name }` object, a {@link RedisClient} (shared, stays open
 * until you close it), or a node-redis / ioredis client or cluster (drop-in for upstream's `createAdapter(pubClient,
 * subClient)`: their settings are read, their connections never used). TLS is honoured (`rediss://`, `tls`,
 * node-redis's `socket.tls`, ioredis's `tls`), behind Sentinel too (`sentinelTLS`); unknown keys and every other setting
 * we cannot honour are refused with a TypeError, code `ERR_INVALID_REDIS_TARGET` (README, "Targets").
 */
export type RedisTarget =
  | string
  | RedisEndpointOptions
  | RedisClusterTarget
  | RedisSentinelTarget
  | NodeRedisClusterOptions
  | NodeRedisSentinelOptions
  | NodeRedisSentinelClientTarget
  | RedisClient
  | NodeRedisClientLike
  | NodeRedisClusterLike
  | IoRedisClientLike
  | IoRedisClusterLike;

// ---------------------------------------------------------------------------------------------------
// Errors

/** A connection error, emitted as 'error' by the client, its factories and its adapters. */
export interface RedisConnectionError extends Error {
  /** e.g. ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTFOUND, WRONGPASS, NOAUTH, NOPERM */
  code: string;
  /** which connection failed */
  role: "command" | "subscriber";
}

/** How requests between servers and emitter operations fail. */
export interface RequestError extends Error {
  /** ETIMEDOUT, ENOTCONN, ECLOSED, EREDIS, ENOBUFS, or a connection error's code (emitter queue) */
  code: string;
  /** the answers received before the failure */
  responses?: unknown[];
}

// ---------------------------------------------------------------------------------------------------
// createClient

/** What `RedisClient#command()` resolves with (a Redis error rejects, code `EREPLY`). */
export type RedisReply = string | number | boolean | null | RedisReply[];

/** Counters of one connection (or of all the nodes of a cluster). Empty once the client is closed. */
export interface ConnectionStats {
  /** 0 idle, 1 resolving, 2 connecting, 3 handshake, 4 ready, 5 waiting to retry, 6 closing, 7 closed, 8 on probation (given up by the health check, a replacement connecting) */
  state: number;
  connects: number;
  disconnects: number;
  replies: number;
  messages: number;
  commandsDropped: number;
  /** commands refused because the output to Redis was at maxOutputMB (publishes among them are dropped) */
  commandsRefusedFull: number;
  /** publishes sent but lost with their connection before Redis answered */
  unanswered: number;
  /** publishes held now, waiting for a ready connection (holdMs) */
  held: number;
  /** held publishes dropped: older than holdMs when a connection was ready again, or held at close() */
  heldDropped: number;
  /** held publishes sent once a connection was ready again */
  replayed: number;
  /** connections the health check gave up on that answered before their replacement and were kept (a frozen Redis) */
  resumed: number;
  /** connections the health check gave up on that their replacement took over from (a dead path) */
  replaced: number;
  commandErrors: number;
  bytesRead: number;
  bytesWritten: number;
  channels: number;
  patterns: number;
  shardChannels: number;
  /** Redis Cluster only */
  clusterNodes?: number;
  clusterMasters?: number;
  clusterSlotsCovered?: number;
  clusterRefreshes?: number;
  clusterMoved?: number;
  clusterAsk?: number;
  clusterSubMoves?: number;
  clusterSubRetries?: number;
  clusterSubLost?: number;
}

export interface ClientStats {
  /** messages not published: refused (not connected, output full), lost unanswered with a connection, or held past holdMs */
  publishDropped: number;
  command: ConnectionStats | Record<string, never>;
  subscriber: ConnectionStats | Record<string, never>;
}

/** A command connection and a subscriber connection, shareable between several createAdapter() calls. */
export declare class RedisClient extends EventEmitter {
  /** @param subTarget the subscriber's endpoint (e.g. a replica); defaults to `target` */
  constructor(target?: RedisTarget | null, subTarget?: RedisTarget | null);
  /** both connections are authenticated, database selected, subscriptions restored */
  readonly isReady: boolean;
  readonly isCluster: boolean;
  readonly publishDropped: number;
  /** Sends one command; rejects at once with ENOTCONN while disconnected, ECLOSED after close(). */
  command(args: ReadonlyArray<string | Buffer>): Promise<RedisReply>;
  /**
   * Fire and forget; false (and counted) when dropped: the output is at maxOutputMB, or the command connection
   * is not ready and never was (or holdMs is 0). While a connection that was ready is replaced it is held.
   */
  publish(channel: string, payload: Buffer): boolean;
  subscribe(channel: string): boolean;
  unsubscribe(channel: string): boolean;
  pSubscribe(pattern: string): boolean;
  pUnsubscribe(pattern: string): boolean;
  sSubscribe(channel: string): boolean;
  sUnsubscribe(channel: string): boolean;
  stats(): ClientStats;
  ref(): this;
  unref(): this;
  /** Idempotent. */
  close(): Promise<void>;

  on(event: "connect" | "disconnect", listener: (role: "command" | "subscriber") => void): this;
  on(event: "ready" | "end", listener: () => void): this;
  on(event: "error", listener: (err: RedisConnectionError) => void): this;
  on(event: "reconnecting", listener: (info: { role: "command" | "subscriber"; delay: number }) => void): this;
  on(event: "message" | "smessage", listener: (channel: string, payload: Buffer) => void): this;
  on(event: "pmessage", listener: (pattern: string, channel: string, payload: Buffer) => void): this;
  once(event: "connect" | "disconnect", listener: (role: "command" | "subscriber") => void): this;
  once(event: "ready" | "end", listener: () => void): this;
  once(event: "error", listener: (err: RedisConnectionError) => void): this;
  once(event: "reconnecting", listener: (info: { role: "command" | "subscriber"; delay: number }) => void): this;
  once(event: "message" | "smessage", listener: (channel: string, payload: Buffer) => void): this;
  once(event: "pmessage", listener: (pattern: string, channel: string, payload: Buffer) => void): this;
}

export declare function createClient(target?: RedisTarget | null, subTarget?: RedisTarget | null): RedisClient;

// ---------------------------------------------------------------------------------------------------
// createAdapter

interface Parser {
  decode: (msg: any) => any;
  encode: (msg: any) => any;
}

export interface RedisAdapterOptions {
  /**
   * the name of the key to pub/sub events on as prefix
   * @default "socket.io"
   */
  key: string;
  /**
   * ms to wait for other nodes' answers (fetchSockets, allRooms, serverSideEmit with ack)
   * @default 5000
   */
  requestsTimeout: number;
  /**
   * answer on `${key}-response#${nsp}#${uid}#` (the requesting node's channel) instead of `${key}-response#${nsp}#`
   * @default false
   */
  publishOnSpecificResponseChannel: boolean;
  /** only notepack.io is supported: any other value throws (code ERR_UNSUPPORTED_OPTION) */
  parser: Parser;
  /** deepest nesting accepted in a received message; deeper ones are dropped and counted. @default 100 */
  maxDepth: number;
  /** largest received message accepted, in bytes. @default 67108864 */
  maxMessageBytes: number;
  /** write coalescing: a client's queued packets leave in one writev. @default true */
  coalesceWrites: boolean;
  /** "dynamic": SUBSCRIBE per room held instead of PSUBSCRIBE key#nsp#*. @default "pattern" */
  subscriptionMode: "pattern" | "dynamic";
}

export interface ShardedRedisAdapterOptions {
  /** @default "socket.io" */
  channelPrefix?: string;
  /** @default "dynamic" */
  subscriptionMode?: "static" | "dynamic" | "dynamic-private";
  /** @default 100 */
  maxDepth?: number;
  /** @default 67108864 */
  maxMessageBytes?: number;
  /** @default true */
  coalesceWrites?: boolean;
}

/** `adapter.stats`: a fresh object of counters for one namespace on this server. */
export interface AdapterStats {
  received: number;
  delivered: number;
  deliveries: number;
  ignoredRoom: number;
  ignoredOwn: number;
  ignoredNamespace: number;
  ignoredNoTarget: number;
  /** the sum of the four ignored* counters */
  ignored: number;
  invalid: number;
  /** the code of the last invalid message (HRA_E* in native/common.h); 0 if none */
  lastError: number;
  requests: number;
  responses: number;
  responsesIgnored: number;
  pending: number;
  publishDropped: number;
}

export type ShardedAdapterStats = Omit<AdapterStats, "publishDropped">;

/**
 * What createAdapter() / createShardedAdapter() return: pass it to `new Server({ adapter })` or
 * `io.adapter()`. It is also an EventEmitter: 'error' for connection errors while one of its adapters is open.
 */
export interface AdapterFactory<A extends Adapter> extends EventEmitter {
  (nsp: any): A;
  /** the client in use (opened with the first namespace), or null */
  readonly client: RedisClient | null;
  on(event: "error", listener: (err: RedisConnectionError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "error", listener: (err: RedisConnectionError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * Returns an adapter factory, like @socket.io/redis-adapter's createAdapter.
 *
 * @example createAdapter("redis://127.0.0.1:6379", { key: "app" })
 * @example createAdapter(pubClient, subClient) // node-redis or ioredis clients: a drop-in
 */
export declare function createAdapter(target?: RedisTarget | null, opts?: Partial<RedisAdapterOptions>): AdapterFactory<RedisAdapter>;
export declare function createAdapter(legacy: LegacyAdapterOptions): AdapterFactory<RedisAdapter>;
export declare function createAdapter(
  target: RedisTarget | null | undefined,
  subTarget: RedisTarget | null | undefined,
  opts?: Partial<RedisAdapterOptions>,
): AdapterFactory<RedisAdapter>;

/** Returns an adapter factory for Redis 7 sharded Pub/Sub, like @socket.io/redis-adapter's createShardedAdapter. */
export declare function createShardedAdapter(target?: RedisTarget | null, opts?: ShardedRedisAdapterOptions): AdapterFactory<ShardedRedisAdapter>;
export declare function createShardedAdapter(
  target: RedisTarget | null | undefined,
  subTarget: RedisTarget | null | undefined,
  opts?: ShardedRedisAdapterOptions,
): AdapterFactory<ShardedRedisAdapter>;

/** @socket.io/redis-streams-adapter 0.3.x's options, with its defaults. */
export interface StreamsAdapterOptions {
  /** The stream (or the prefix of the streams when streamCount > 1). Default "socket.io". */
  streamName?: string;
  /** How many streams the namespaces are spread over. Default 1. */
  streamCount?: number;
  /** Prefix of the pub/sub channels <prefix>#<nsp># and <prefix>#<nsp>#<uid>#. Default "socket.io". */
  channelPrefix?: string;
  /** SSUBSCRIBE / SPUBLISH / PUBSUB SHARDNUMSUB instead of the classic commands. Default false. */
  useShardedPubSub?: boolean;
  /** XADD ... MAXLEN ~ maxLen on every write. Default 10000. */
  maxLen?: number;
  /** XREAD COUNT. Default 100. */
  readCount?: number;
  /** XREAD BLOCK, in ms. Default 5000. */
  blockTimeInMs?: number;
  /** Connection state recovery session keys (not used yet by this adapter). Default "sio:session:". */
  sessionKeyPrefix?: string;
  /** Always JSON in the stream, never msgpack. Default false. */
  onlyPlaintext?: boolean;
  /** Accepted, unused (as in 0.3.x). */
  heartbeatInterval?: number;
  /** Accepted, unused (as in 0.3.x). */
  heartbeatTimeout?: number;
  /** Deepest nesting of a received message. Default 100. */
  maxDepth?: number;
  /** Largest received message, in bytes. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Hold the deliveries of one read batch to one write per client (as createAdapter). Default true. */
  coalesceWrites?: boolean;
  /** fetchSockets() without a timeout flag and serverSideEmitWithAck() wait this long (ms). Default: 5000, as upstream. */
  requestsTimeout?: number;
}

export interface StreamsAdapterStats {
  received: number;
  delivered: number;
  deliveries: number;
  ignoredOwn: number;
  ignoredNoTarget: number;
  invalid: number;
  requests: number;
  responses: number;
  ignored: number;
  lastError: number;
  /** messages @msgpack/msgpack could not encode (each also an 'error' event, code ERR_STREAMS_ENCODE) */
  encodeFailures: number;
  /** The stream's reader: entries read, skipped (other namespaces), invalid replies, the last id. */
  reader: { replies: number; entries: number; skipped: number; ignored: number; invalid: number; lastId: string };
  [key: string]: unknown;
}

/** The adapter of one namespace on createStreamsAdapter() (extends socket.io-adapter's ClusterAdapter). */
export declare class StreamsAdapter extends ClusterAdapter {
  /** created by a factory from createStreamsAdapter() */
  protected constructor(nsp: any, shared: unknown, readers: unknown, opts: StreamsAdapterOptions);
  /** the options in force: upstream's defaults, then yours */
  readonly opts: Required<Omit<StreamsAdapterOptions, "maxDepth" | "maxMessageBytes">> & StreamsAdapterOptions;
  /** the client you passed (read-only, never used: we send through our own connections), or our RedisClient */
  readonly pubClient: unknown;
  readonly subClient: unknown;
  readonly stats: StreamsAdapterStats;
  /** XADD to the stream (durable messages, resolves with the entry id), or a publish (ephemeral ones, ""). */
  doPublish(message: ClusterMessage): Promise<Offset>;
  doPublishResponse(requesterUid: string, response: ClusterResponse): Promise<void>;
  /** PUBSUB NUMSUB (or SHARDNUMSUB) of the namespace's public channel; never rejects. */
  serverCount(): Promise<number>;
  close(): Promise<void> | void;
  on(event: "error", listener: (err: RedisConnectionError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "error", listener: (err: RedisConnectionError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * Returns an adapter factory on Redis Streams, wire-compatible with @socket.io/redis-streams-adapter 0.3.x.
 *
 * @example createStreamsAdapter("redis://127.0.0.1:6379", { maxLen: 100000 })
 */
export declare function createStreamsAdapter(target: RedisTarget, opts?: StreamsAdapterOptions): AdapterFactory<StreamsAdapter>;

export declare class RedisAdapter extends Adapter {
  /** created by a factory from createAdapter() */
  protected constructor(nsp: any, shared: unknown, opts: Partial<RedisAdapterOptions>);
  readonly uid: string;
  /** the publisher client you passed (read-only, never used: we send through our own connections), or our RedisClient */
  readonly pubClient: unknown;
  /** the subscriber client you passed (read-only, never used), or our RedisClient */
  readonly subClient: unknown;
  readonly requestsTimeout: number;
  readonly publishOnSpecificResponseChannel: boolean;
  readonly key: string;
  readonly channel: string;
  readonly requestChannel: string;
  readonly responseChannel: string;
  readonly specificResponseChannel: string;
  readonly subscriptionMode: "pattern" | "dynamic";
  readonly stats: AdapterStats;
  broadcast(packet: any, opts: BroadcastOptions): void;
  broadcastWithAck(packet: any, opts: BroadcastOptions, clientCountCallback: (clientCount: number) => void, ack: (...args: any[]) => void): void;
  /** Every room, across every node. */
  allRooms(): Promise<Set<Room>>;
  fetchSockets(opts: BroadcastOptions): Promise<any[]>;
  addSockets(opts: BroadcastOptions, rooms: Room[]): void;
  delSockets(opts: BroadcastOptions, rooms: Room[]): void;
  disconnectSockets(opts: BroadcastOptions, close: boolean): void;
  serverSideEmit(packet: any[]): void;
  /** PUBSUB NUMSUB of the request channel; never rejects (the last count seen while Redis is unreachable). */
  serverCount(): Promise<number>;
  close(): Promise<void> | void;
  on(event: "error", listener: (err: RedisConnectionError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "error", listener: (err: RedisConnectionError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

export declare class ShardedRedisAdapter extends ClusterAdapter {
  /** created by a factory from createShardedAdapter() */
  protected constructor(nsp: any, shared: unknown, opts: ShardedRedisAdapterOptions);
  readonly opts: ShardedRedisAdapterOptions;
  /** the publisher client you passed (read-only, never used: we send through our own connections), or our RedisClient */
  readonly pubClient: unknown;
  /** the subscriber client you passed (read-only, never used), or our RedisClient */
  readonly subClient: unknown;
  readonly channel: string;
  readonly responseChannel: string;
  readonly stats: ShardedAdapterStats;
  doPublish(message: ClusterMessage): Promise<Offset>;
  doPublishResponse(requesterUid: string, response: ClusterResponse): Promise<void>;
  /** PUBSUB SHARDNUMSUB of the namespace's channel; never rejects. */
  serverCount(): Promise<number>;
  close(): Promise<void> | void;
  on(event: "error", listener: (err: RedisConnectionError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "error", listener: (err: RedisConnectionError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** The request and response types exchanged between servers (upstream's numbering). */
export declare const RequestType: {
  readonly SOCKETS: 0;
  readonly ALL_ROOMS: 1;
  readonly REMOTE_JOIN: 2;
  readonly REMOTE_LEAVE: 3;
  readonly REMOTE_DISCONNECT: 4;
  readonly REMOTE_FETCH: 5;
  readonly SERVER_SIDE_EMIT: 6;
  readonly BROADCAST: 7;
  readonly BROADCAST_CLIENT_COUNT: 8;
  readonly BROADCAST_ACK: 9;
};
export type RequestType = (typeof RequestType)[keyof typeof RequestType];

/** The Redis Cluster hash slot of a key or channel (CRC16/XMODEM of its {hash tag}, mod 16384). */
export declare function clusterKeySlot(key: string): number;

/** A socket.io Server (its engine) or an engine.io Server. */
export type CoalescibleServer = { engine: { on(event: "connection", listener: (socket: any) => void): unknown } } | { on(event: "connection", listener: (socket: any) => void): unknown };

/** Write coalescing for a server on any adapter (on by default with ours). */
export declare function coalesceWrites(server: CoalescibleServer): void;

// ---------------------------------------------------------------------------------------------------
// Emitter (as @socket.io/redis-emitter 5.x, plus acknowledgements)

export interface EventsMap {
  [event: string]: any;
}
export interface DefaultEventsMap {
  [event: string]: (...args: any[]) => void;
}
export type EventNames<Map extends EventsMap> = keyof Map & (string | symbol);
export type EventParams<Map extends EventsMap, Ev extends EventNames<Map>> = Parameters<Map[Ev]>;

type AllButLast<T extends any[]> = T extends [...infer H, any] ? H : any[];
type Last<T extends any[]> = T extends [...any[], infer L] ? L : any;
type FirstArg<T> = T extends (arg: infer A, ...rest: any[]) => any ? A : any;
/** An event whose last parameter is an ack `(reply: R) => void` is emitted with `(err, replies: R[]) => void`. */
type DecorateAck<F> = F extends (...args: infer P) => any
  ? P extends [...infer H, (arg: infer R, ...rest: any[]) => any]
    ? (...args: [...H, (err: RequestError | null, responses: R[]) => void]) => void
    : F
  : F;
export type WithMultipleResponses<E extends EventsMap> = { [K in keyof E]: DecorateAck<E[K]> };
/** What emitWithAck resolves with: every client's (or server's) answer. */
export type AckResponses<E extends EventsMap, Ev extends EventNames<E>> = FirstArg<Last<EventParams<E, Ev>>>[];

export interface EmitterOptions {
  /** @default "socket.io" */
  key?: string;
  /** only notepack.io is supported: any other value throws (code ERR_UNSUPPORTED_OPTION) */
  parser?: { encode: (msg: any) => any };
  /** ms to wait for acks and answers. @default 5000 */
  requestsTimeout?: number;
  /** operations kept while the first connection is being made. @default 10000 */
  maxQueue?: number;
  /** ms an operation waits for the first connection before it fails. @default 5000 */
  queueTimeout?: number;
}

export interface BroadcastOperator<EmitEvents extends EventsMap> {
  to(room: Room | number | Array<Room | number>): BroadcastOperator<EmitEvents>;
  in(room: Room | number | Array<Room | number>): BroadcastOperator<EmitEvents>;
  except(room: Room | number | Array<Room | number>): BroadcastOperator<EmitEvents>;
  compress(compress: boolean): BroadcastOperator<EmitEvents>;
  readonly volatile: BroadcastOperator<EmitEvents>;
  /** for emit() with an ack callback and emitWithAck() */
  timeout(ms: number): BroadcastOperator<EmitEvents>;
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<WithMultipleResponses<EmitEvents>, Ev>): true;
  emitWithAck<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: AllButLast<EventParams<EmitEvents, Ev>>): Promise<AckResponses<EmitEvents, Ev>>;
  socketsJoin(rooms: Room | number | Array<Room | number>): void;
  socketsLeave(rooms: Room | number | Array<Room | number>): void;
  disconnectSockets(close?: boolean): void;
}

export declare class Emitter<EmitEvents extends EventsMap = DefaultEventsMap> {
  /** @param nsp @default "/" */
  constructor(target?: RedisTarget | null, opts?: EmitterOptions, nsp?: string);
  readonly nsp: string;
  /** the connections; listen for 'error' here */
  readonly client: RedisClient;
  /** operations dropped: queue full, first connection not made within queueTimeout, or Redis unreachable */
  readonly dropped: number;
  of(nsp: string): Emitter<EmitEvents>;
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<WithMultipleResponses<EmitEvents>, Ev>): true;
  emitWithAck<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: AllButLast<EventParams<EmitEvents, Ev>>): Promise<AckResponses<EmitEvents, Ev>>;
  to(room: Room | number | Array<Room | number>): BroadcastOperator<EmitEvents>;
  in(room: Room | number | Array<Room | number>): BroadcastOperator<EmitEvents>;
  except(room: Room | number | Array<Room | number>): BroadcastOperator<EmitEvents>;
  get volatile(): BroadcastOperator<EmitEvents>;
  compress(compress: boolean): BroadcastOperator<EmitEvents>;
  timeout(ms: number): BroadcastOperator<EmitEvents>;
  socketsJoin(rooms: Room | number | Array<Room | number>): void;
  socketsLeave(rooms: Room | number | Array<Room | number>): void;
  disconnectSockets(close?: boolean): void;
  /** As upstream; with a function as last argument it gets (err, answers) from every server. */
  serverSideEmit(...args: any[]): void;
  /** Every server's answer. */
  serverSideEmitWithAck(...args: any[]): Promise<any[]>;
  close(): Promise<void>;
}
