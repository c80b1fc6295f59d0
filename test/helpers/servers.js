"use strict";

// Starts N socket.io servers on free HTTP ports and connects socket.io-client sockets to them.
// Everything created here is closed by closeAll().

const http = require("node:http");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { bounded } = require("./util");

// Resolves with a connected client socket; rejects on connect_error or after `timeoutMs`.
// The socket does not reconnect on its own (reconnection: false) unless asked to.
function connectClient(port, { nsp = "/", auth, transports = ["websocket"], timeoutMs = 5000, ...rest } = {}) {
  const socket = ioc(`http://127.0.0.1:${port}${nsp}`, {
    forceNew: true,
    reconnection: false,
    transports,
    auth,
    ...rest,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      socket.disconnect();
      reject(new Error(`client did not connect to :${port}${nsp} within ${timeoutMs} ms`));
    }, timeoutMs);
    function onConnect() {
      cleanup();
      resolve(socket);
    }
    function onError(err) {
      cleanup();
      socket.disconnect();
      reject(err);
    }
    function cleanup() {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    }
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve(server.address().port);
    });
  });
}

// createServers({ count, adapter: (i) => factory | Promise<factory>, namespaces: [...], serverOpts })
// -> { ios, ports, httpServers, connect(i, opts), clients, closeAll() }
// `namespaces` (names or RegExps) are created on every server right away (so their adapters exist);
// keep using cluster.namespaces[i][k]: io.of(regex) makes a new, empty, parent namespace each call.
async function createServers({ count = 3, adapter, namespaces = [], serverOpts = {} } = {}) {
  const cluster = {
    ios: [],
    ports: [],
    httpServers: [],
    namespaces: [], // namespaces[i][k]: server i's Namespace (or ParentNamespace) for namespaces[k]
    clients: [],
    // connect(i, opts) -> connected client socket on server i, closed by closeAll()
    async connect(i, opts = {}) {
      const socket = await connectClient(cluster.ports[i], opts);
      cluster.clients.push(socket);
      return socket;
    },
    // the server-side Socket of a connected client (looked up on server i, namespace nsp)
    serverSocket(i, clientSocket, nsp = "/") {
      return cluster.ios[i].of(nsp).sockets.get(clientSocket.id);
    },
    async closeAll() {
      for (const socket of cluster.clients.splice(0)) socket.disconnect();
      const ios = cluster.ios.splice(0);
      // bounded: an adapter whose Redis client is wedged must not hang the whole run
      await Promise.all(ios.map((io) => bounded(io.close(), 5000)));
      // io.close() closes the attached http server; make sure anyway.
      await Promise.allSettled(
        cluster.httpServers.splice(0).map(
          (srv) =>
            new Promise((resolve) => {
              if (!srv.listening) return resolve();
              srv.close(() => resolve());
              srv.closeAllConnections();
            })
        )
      );
    },
  };
  try {
    for (let i = 0; i < count; i++) {
      const httpServer = http.createServer();
      cluster.httpServers.push(httpServer);
      const io = new Server(httpServer, serverOpts);
      cluster.ios.push(io);
      if (adapter) io.adapter(await adapter(i));
      cluster.namespaces.push(namespaces.map((name) => io.of(name)));
      cluster.ports.push(await listen(httpServer));
    }
  } catch (err) {
    await cluster.closeAll();
    throw err;
  }
  return cluster;
}

module.exports = { createServers, connectClient };
