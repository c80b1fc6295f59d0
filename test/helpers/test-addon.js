"use strict";
// The test-only addon (native/binding_test.c: codec entry points for the differential tests), built next
// to the addon the tests run against (build/Release or build/Debug). The released binary does not
// contain these functions.
const path = require("node:path");
const { load } = require("../../lib/loader");

const { kind, file } = load();
if (kind === "prebuild") {
  throw new Error(`the tests need a source build (npm run build): ${file} is a prebuilt binary without the test addon`);
}
module.exports = require(path.join(path.dirname(file), "hiredis_adapter_test.node"));
