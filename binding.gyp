{
  "targets": [
    {
      "target_name": "offloop_cpp",
      "sources": [
        "native/cpp/addon.cc",
        "native/cpp/blur.cc",
        "native/cpp/env.cc",
        "native/cpp/loop_signal.cc",
        "native/cpp/memory.cc",
        "native/cpp/pbkdf2.cc",
        "native/cpp/pool.cc",
        "native/cpp/primes.cc",
        "native/cpp/sha256.cc",
        "native/cpp/sleep.cc"
      ],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include\")"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags": [ "-O3", "-fvisibility=hidden" ],
      "cflags_cc": [ "-O3", "-std=c++17", "-fvisibility=hidden" ],
      "cflags_cc!": [ "-std=gnu++17", "-O2" ],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "AdditionalOptions": [ "/std:c++17", "/O2" ]
        }
      }
    }
  ]
}
