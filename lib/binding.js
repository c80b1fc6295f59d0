"use strict";
// Loads the compiled addon: build/Release by default, build/Debug when HIREDIS_ADAPTER_BUILD=Debug
// (the sanitizer build) or when only a debug build exists.
const path = require("node:path");
const fs = require("node:fs");

const root = path.join(__dirname, "..");
const wanted = process.env.HIREDIS_ADAPTER_BUILD;
const candidates = wanted ? [wanted] : ["Release", "Debug"];

let binding = null;
let lastError = null;
for (const kind of candidates) {
  const file = path.join(root, "build", kind, "hiredis_adapter.node");
  if (!fs.existsSync(file)) continue;
  try {
    binding = require(file);
    break;
  } catch (err) {
    lastError = err;
  }
}
if (binding === null) {
  const err = new Error(
    "socket.io-hiredis-adapter: the native addon is not built" +
      (lastError ? ` (${lastError.message})` : "") +
      ". Run `npm run build` (needs libhiredis-dev, libmsgpack-dev, pkg-config and a C compiler; see scripts/setup.sh).",
  );
  err.code = "ERR_HIREDIS_ADAPTER_NOT_BUILT";
  throw err;
}
module.exports = binding;
