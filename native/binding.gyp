{
  "targets": [
    {
      "target_name": "eflip_native",
      "sources": ["<!@(ls -1 *.cc)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node ../scripts/find-libtorch.cjs --include)"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-fexceptions", "-frtti", "-O2", "-fno-math-errno", "-Wno-unused-parameter", "-Wno-deprecated-declarations", "<!@(node ../scripts/find-libtorch.cjs --cflags)"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "libraries": ["<!@(node ../scripts/find-libtorch.cjs --libs)"]
    }
  ]
}
