"use strict";
// The native addon, as found by ./loader: a source build (build/Release, build/Debug) when present, else
// the prebuilt binary for this platform. HIREDIS_ADAPTER_BUILD=Release|Debug|prebuild picks one place.
module.exports = require("./loader").load().binding;
