{
  "variables": { "asan%": 0, "werror%": 0 },
  "targets": [
    {
      "target_name": "hiredis_adapter",
      "sources": [
        "native/common.c",
        "native/batch.c",
        "native/jsnum.c",
        "native/mp.c",
        "native/encoder.c",
        "native/envelope.c",
        "native/rooms.c",
        "native/subs.c",
        "native/resp.c",
        "native/conn.c",
        "native/cluster.c",
        "native/json.c",
        "native/requests.c",
        "native/pipeline.c",
        "native/adapter.c",
        "native/sharded.c",
        "native/napi_util.c",
        "native/binding_test.c",
        "native/binding.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(sh scripts/pkgconf.sh --cflags)"],
      "libraries": ["<!@(sh scripts/pkgconf.sh --libs)"],
      "conditions": [
        ["werror==1", { "cflags_c": ["-Werror"] }],
        ["asan==1", {
          "cflags_c": ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-O1", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
