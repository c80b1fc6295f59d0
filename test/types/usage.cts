// The same package from CommonJS TypeScript (require through `import = require`).
import hiredis = require("socket.io-hiredis-adapter");
import { Server } from "socket.io";

const io = new Server({ adapter: hiredis.createAdapter("redis://127.0.0.1:6379") });
const emitter = new hiredis.Emitter<{ hello: (to: string) => void }>("redis://127.0.0.1:6379");
emitter.emit("hello", "world");
// @ts-expect-error wrong argument type
emitter.emit("hello", 1);
io.close();
export {};
