"use strict";
// `npm run prebuild` (and `prepack`): builds the self-contained binary shipped in the npm package,
// prebuilds/<platform>-<arch>/node.napi[.glibc|.musl].node, with hiredis and msgpack-c linked statically.
// It builds in a temporary directory holding only the files the package ships for a source build
// (binding.gyp, native/ without the test addon, scripts/pkgconf.sh), so the dev build in build/ is left
// alone and a missing file in that set fails here, not on a user's machine. Then it loads the result
// in a fresh Node process and, on Linux, refuses a binary that needs any shared library beyond libc.
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { prebuildDir, libc } = require("../lib/loader");

const root = path.join(__dirname, "..");
const log = (msg) => console.error(`[prebuild] ${msg}`);

// What a source build of the package needs (package.json "files" ships the same).
function sourceFiles() {
  const native = fs
    .readdirSync(path.join(root, "native"))
    .filter((f) => /\.[ch]$/.test(f) && f !== "binding_test.c")
    .map((f) => `native/${f}`);
  return ["binding.gyp", "scripts/pkgconf.sh", ...native];
}

function nodeGyp() {
  try {
    return require.resolve("node-gyp/bin/node-gyp.js", { paths: [root] });
  } catch {
    if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
    throw new Error("node-gyp not found: run `npm ci` first");
  }
}

function main() {
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hra-prebuild-"));
  try {
    for (const f of sourceFiles()) {
      fs.mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
      fs.copyFileSync(path.join(root, f), path.join(tmp, f));
    }
    log(`building in ${tmp} (static hiredis and msgpack-c)`);
    const args = [nodeGyp(), "rebuild", "--release", "--static_deps=1", "--loglevel=warn"];
    // The running Node's own headers when it has them (no download; Node-API headers serve every version).
    const prefix = path.join(path.dirname(process.execPath), "..");
    if (!process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, "include", "node", "node_api.h"))) {
      args.push(`--nodedir=${prefix}`);
    }
    execFileSync(process.execPath, args, {
      cwd: tmp,
      stdio: ["ignore", "ignore", "inherit"],
    });
    const built = path.join(tmp, "build", "Release", "hiredis_adapter.node");
    if (fs.existsSync(path.join(tmp, "build", "Release", "hiredis_adapter_test.node"))) {
      throw new Error("the test addon was built from the package's file set: native/binding_test.c leaked into it");
    }
    if (process.platform === "linux") {
      try {
        execFileSync("strip", ["--strip-unneeded", built]);
      } catch (err) {
        log(`strip failed (${err.message}); shipping unstripped`);
      }
      checkNeeded(built);
    }
    const dir = prebuildDir(root);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const tag = libc() ? `.${libc()}` : "";
    const out = path.join(dir, `node.napi${tag}.node`);
    fs.copyFileSync(built, out);
    // Load it in a fresh process, alone (no source build in the way).
    execFileSync(process.execPath, ["-e", `require(${JSON.stringify(out)}).constants.ENOTCONN.toFixed()`], { stdio: "inherit" });
    log(`${path.relative(root, out)}: ${fs.statSync(out).size} bytes, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// The binary must need nothing but the C library (and the loader's own libraries).
function checkNeeded(file) {
  let out;
  try {
    out = execFileSync("readelf", ["-d", file], { encoding: "utf8" });
  } catch (err) {
    log(`readelf unavailable (${err.message}): NEEDED entries not checked`);
    return;
  }
  const needed = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const allowed = /^(libc|libm|libdl|libpthread|librt|ld-linux[-\w]*)\.so/;
  const extra = needed.filter((n) => !allowed.test(n));
  if (extra.length) throw new Error(`the prebuilt binary needs ${extra.join(", ")}: hiredis and msgpack-c must be linked statically`);
  log(`NEEDED: ${needed.join(", ") || "(none)"}`);
}

try {
  main();
} catch (err) {
  log(`failed: ${err.message}`);
  process.exitCode = 1;
}
