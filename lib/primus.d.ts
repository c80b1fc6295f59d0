// Type declarations for socket.io-hiredis-adapter/primus (lib/primus.js): a Primus server plugin with
// primus-redis-rooms 0.3.2's API and wire format. Primus ships no types, so the Primus objects are described
// by the few members the plugin touches. Checked by scripts/test-types.sh (test/types/).
/// <reference types="node" />
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { RedisClient, RedisConnectionError, RedisEndpointOptions, RedisTarget } from "./index";

/**
 * The plugin: `primus.plugin("redis", plugin)` (Primus calls `plugin.server(primus, primus.options)`). Reads
 * `options.redis`, sets `primus.rooms` and `primus.room(name)`, adds `join`, `leave` and `leaveAll` to sparks.
 */
declare function plugin(primus: plugin.PrimusServer, options?: plugin.PrimusServer["options"]): plugin.Rooms;

declare namespace plugin {
  /** What the plugin reads from `options.redis` besides a connection target. */
  export interface PrimusRedisOwnOptions {
    /** channel prefix: nodes PSUBSCRIBE `<channel>.*` and publish on `<channel>.<id>`. @default "primus" */
    channel?: string;
    /** a createClient() client to use (shared; stays open until you close it) */
    client?: RedisClient;
    /** deepest nesting accepted in a received message; deeper ones are dropped and counted. @default 100 */
    maxDepth?: number;
    /** largest received message accepted; larger ones are dropped and counted. @default 64 MiB */
    maxMessageBytes?: number;
    /** one writev per websocket spark per burst of received messages. @default true */
    coalesceWrites?: boolean;
  }

  /** primus-redis-rooms's `options.redis`: node_redis 2.x's createClient() settings plus its own keys. */
  export interface PrimusRedisOptions extends RedisEndpointOptions, PrimusRedisOwnOptions {
    /** node_redis 2.x's name for `password` */
    auth_pass?: string;
    /** Redis Sentinel, primus-redis-rooms's form: the master named `masterName` ("mymaster") via `endpoints` */
    sentinel?: boolean;
    /** the Sentinels */
    endpoints?: ReadonlyArray<{ host?: string; port?: number }>;
    masterName?: string;
    /** with `sentinel`: "slave" puts the subscriber on a replica (the publisher stays on the master) */
    role?: "master" | "slave";
    /** node_redis 2.x tuning (retry_strategy, enable_offline_queue, ...): ignored */
    [nodeRedis2Setting: string]: unknown;
  }

  /** The part of a Primus spark the plugin uses and extends. */
  export interface PrimusSpark {
    readonly id: string;
    write(data: unknown): boolean;
    end(data?: unknown, options?: object): unknown;
    /** joins the room (created when needed) and returns it */
    join(room: string | Room): Room;
    /** leaves the room; returns it, or undefined when there is no such room */
    leave(room: string | Room): Room | undefined;
    /** leaves every room (also done when the spark ends) */
    leaveAll(): void;
  }

  /** The part of a Primus server the plugin uses and extends. */
  export interface PrimusServer {
    options: { redis?: PrimusRedisOptions | RedisTarget | null; [key: string]: unknown };
    rooms?: Rooms;
    room?(name: string): Room;
    on(event: string, listener: (...args: any[]) => void): unknown;
  }

  /** upstream's Room: an objectMode Writable; write(data) reaches the room's sparks on every node. */
  export class Room extends Writable {
    readonly name: string;
    readonly sparks: PrimusSpark[];
    join(spark: PrimusSpark): Room;
    leave(spark: PrimusSpark): Room;
    /** the room's local sparks, updated synchronously by join and leave */
    clients(): PrimusSpark[];
  }

  /** `primus.rooms.stats`: a fresh object of counters. */
  export interface PrimusRoomsStats {
    /** messages on `<channel>.*` from other nodes */
    received: number;
    /** this node's own messages coming back */
    ignoredOwn: number;
    /** dropped because no local spark is in the room */
    ignoredRoom: number;
    /** messages handed to JS for local sparks */
    delivered: number;
    /** of which the data's bytes were sent as they came */
    passthrough: number;
    /** of which JS computed the room's name (an array room) */
    jsRooms: number;
    /** spark writes */
    deliveries: number;
    /** of which written as a websocket frame built once per message (the websockets transformer) */
    frames: number;
    /** not of the shape primus-redis-rooms publishes (then handled as it would, or dropped) */
    invalid: number;
    /** invalid messages dropped: upstream would crash on them, or they pass a limit */
    dropped: number;
    /** the HRA_E* code of the last invalid message; 0 if none */
    lastError: number;
    /** room.write() calls not published because Redis was unreachable */
    publishDropped: number;
    /** rooms in the table */
    rooms: number;
  }

  /** `primus.rooms`. Emits 'error' (a RedisConnectionError) for connection errors when it has a listener. */
  export class Rooms extends EventEmitter {
    /** this node's id: it publishes on `<channel>.<id>` */
    readonly id: string;
    readonly channel: string;
    readonly pattern: string;
    readonly client: RedisClient;
    readonly stats: PrimusRoomsStats;
    room(name: string): Room;
    join(spark: PrimusSpark, room: string | Room): Room;
    leave(spark: PrimusSpark, room: string | Room): Room | undefined;
    leaveAll(spark: PrimusSpark): void;
    /** unsubscribes and closes the connections the plugin opened (done on primus.destroy()) */
    close(): Promise<void>;
    on(event: "error", listener: (err: RedisConnectionError) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
  }

  /** itself, so that an old Primus's `primus.use(plugin)` finds the server part */
  export const server: typeof plugin;
}

export = plugin;
