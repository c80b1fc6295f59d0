{
  # static_deps=1 links libhiredis.a and libmsgpackc.a into the addon (the prebuilt binary: nothing but
  # libc needed at run time); the default links the shared libraries found by pkg-config.
  # test_addon builds build/<config>/hiredis_adapter_test.node (native/binding_test.c, used by the mocha
  # tests only); it is on in a checkout and off in the npm package, which does not ship that file.
  "variables": {
    "asan%": 0,
    "werror%": 0,
    "static_deps%": 0,
    "test_addon%": "<!(sh -c 'test -f native/binding_test.c && echo 1 || echo 0')"
  },
  "target_defaults": {
    "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
    "cflags_c": ["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(sh scripts/pkgconf.sh --cflags)"],
    "conditions": [
      ["werror==1", { "cflags_c": ["-Werror"] }],
      ["asan==1", {
        "cflags_c": ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-O1", "-g"],
        "ldflags": ["-fsanitize=address,undefined"]
      }]
    ]
  },
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
        "native/outq.c",
        "native/pubsub.c",
        "native/endpoint.c",
        "native/handshake.c",
        "native/sentinel_parse.c",
        "native/endpoint_sentinel.c",
        "native/stream_tcp.c",
        "native/tls.c",
        "native/stream_tls.c",
        "native/standby.c",
        "native/conn.c",
        "native/cluster.c",
        "native/cluster_slots.c",
        "native/json.c",
        "native/requests.c",
        "native/pipeline.c",
        "native/adapter.c",
        "native/sharded.c",
        "native/primus.c",
        "native/streams.c",
        "native/napi_util.c",
        "native/binding_shared.c",
        "native/binding_conn.c",
        "native/binding_adapter.c",
        "native/binding_primus.c",
        "native/binding_streams.c",
        "native/binding.c"
      ],
      "conditions": [
        ["static_deps==1", {
          "libraries": ["<!@(sh scripts/pkgconf.sh --static-libs)"],
          "conditions": [
            # Keep the archives' symbols private to the addon (another addon may bring its own hiredis).
            ["OS=='linux'", { "ldflags": ["-Wl,--exclude-libs,ALL"] }]
          ]
        }, {
          "libraries": ["<!@(sh scripts/pkgconf.sh --libs)"]
        }]
      ]
    }
  ],
  "conditions": [
    ["test_addon==1", {
      "targets": [
        {
          "target_name": "hiredis_adapter_test",
          "sources": [
            "native/common.c",
            "native/jsnum.c",
            "native/mp.c",
            "native/encoder.c",
            "native/envelope.c",
            "native/napi_util.c",
            "native/binding_test.c"
          ]
        }
      ]
    }]
  ]
}
