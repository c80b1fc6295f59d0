"use strict";
// Finds the compiled addon. A source build (build/Release, then build/Debug) wins when present: that is a
// checkout, or an install with --build-from-source or without a matching prebuilt binary. Otherwise the
// prebuilt binary shipped in the package: prebuilds/<platform>-<arch>/<tags>.node, named as prebuildify
// names them (e.g. node.napi.glibc.node), so node-gyp-build would pick the same file.
// HIREDIS_ADAPTER_BUILD=Release|Debug|prebuild restricts the search to that one place.
const path = require("node:path");
const fs = require("node:fs");

const ROOT = path.join(__dirname, "..");
const NAME = "hiredis_adapter";

let libcCache;
// "glibc" or "musl" on Linux (undefined elsewhere): a glibc binary must not be tried on Alpine.
function libc() {
  if (process.platform !== "linux") return undefined;
  if (libcCache === undefined) {
    let glibc = null;
    try {
      glibc = process.report.getReport().header.glibcVersionRuntime || null;
    } catch {
      // No diagnostic report here: musl systems are Alpine-like in practice.
      glibc = fs.existsSync("/etc/alpine-release") ? null : "unknown";
    }
    libcCache = glibc ? "glibc" : "musl";
  }
  return libcCache;
}

// The tags of a prebuildify-style file name, or null if it is not a binary we can load here.
function matches(file) {
  if (!file.endsWith(".node")) return false;
  const tags = file.slice(0, -".node".length).split(".");
  if (!tags.includes("napi")) return false; // only Node-API binaries are ABI-stable across Node versions
  for (const tag of tags) {
    if ((tag === "glibc" || tag === "musl") && tag !== libc()) return false;
    if (tag === "electron" || tag === "node-webkit") return false;
  }
  return true;
}

function prebuildDir(root = ROOT) {
  return path.join(root, "prebuilds", `${process.platform}-${process.arch}`);
}

// Prebuilt binaries for this platform, architecture and libc, most specific (libc-tagged) first.
function prebuildCandidates(root = ROOT) {
  const dir = prebuildDir(root);
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter(matches)
    .sort((a, b) => b.split(".").length - a.split(".").length)
    .map((f) => path.join(dir, f));
}

function candidates(root = ROOT, wanted = process.env.HIREDIS_ADAPTER_BUILD) {
  const built = (kind) => ({ kind, file: path.join(root, "build", kind, `${NAME}.node`) });
  const prebuilt = () => prebuildCandidates(root).map((file) => ({ kind: "prebuild", file }));
  if (wanted === "prebuild") return prebuilt();
  if (wanted) return [built(wanted)];
  return [built("Release"), built("Debug"), ...prebuilt()];
}

// Returns { binding, kind, file }; throws one error (code ERR_HIREDIS_ADAPTER_NOT_BUILT) that says what was
// tried and what to do.
function load(root = ROOT) {
  const tried = [];
  for (const c of candidates(root)) {
    if (!fs.existsSync(c.file)) continue;
    try {
      return { binding: require(c.file), kind: c.kind, file: c.file };
    } catch (err) {
      tried.push(`${path.relative(root, c.file)}: ${err.message}`);
    }
  }
  const where = `${process.platform}-${process.arch}${libc() ? ` (${libc()})` : ""}`;
  const err = new Error(
    `socket.io-hiredis-adapter: no usable native addon for ${where}, Node ${process.version}.` +
      (tried.length ? ` Tried ${tried.join("; ")}.` : ` No prebuilt binary for ${where} and no source build found.`) +
      " Build it from source: `npm rebuild socket.io-hiredis-adapter --build-from-source` (needs a C compiler, make," +
      " python3, pkg-config and the hiredis and msgpack-c headers: see the README, Install).",
  );
  err.code = "ERR_HIREDIS_ADAPTER_NOT_BUILT";
  throw err;
}

module.exports = { load, candidates, prebuildCandidates, prebuildDir, libc, NAME };
