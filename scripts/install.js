"use strict";
// npm "install" script. Uses the prebuilt binary shipped in prebuilds/ when it loads on this machine;
// otherwise, or with `--build-from-source`, or in a checkout (native/binding_test.c present: the tests
// need the test addon), builds from source with node-gyp as before. Package managers that skip install
// scripts (pnpm 10) still get the prebuilt binary: lib/loader.js finds it at require time.
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { prebuildCandidates } = require("../lib/loader");

const root = path.join(__dirname, "..");
const log = (msg) => console.error(`socket.io-hiredis-adapter: ${msg}`);

function wantsSource() {
  const v = process.env.npm_config_build_from_source;
  if (v === "true" || v === "1" || v === "socket.io-hiredis-adapter") return "--build-from-source was given";
  if (fs.existsSync(path.join(root, "native", "binding_test.c"))) return "this is a checkout";
  return null;
}

// The first prebuilt binary that loads here, or the reasons none did.
function usablePrebuild() {
  const errors = [];
  for (const file of prebuildCandidates(root)) {
    try {
      require(file);
      return { file };
    } catch (err) {
      errors.push(`${path.relative(root, file)}: ${err.message}`);
    }
  }
  return { errors };
}

function buildFromSource() {
  const gyp = process.env.npm_config_node_gyp;
  const args = ["rebuild"];
  const res = gyp
    ? spawnSync(process.execPath, [gyp, ...args], { cwd: root, stdio: "inherit" })
    : spawnSync("node-gyp", args, { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
  if (res.error) {
    log(`could not run node-gyp (${res.error.message}); building needs node-gyp, a C compiler, make, python3, pkg-config, hiredis and msgpack-c (see the README, Install)`);
    return 1;
  }
  return res.status === null ? 1 : res.status;
}

function main() {
  const reason = wantsSource();
  if (reason === null) {
    const found = usablePrebuild();
    if (found.file) return 0;
    if (found.errors.length) log(`the prebuilt binary does not load here (${found.errors.join("; ")}): building from source`);
    else log(`no prebuilt binary for ${process.platform}-${process.arch}: building from source`);
  }
  return buildFromSource();
}

process.exitCode = main();
