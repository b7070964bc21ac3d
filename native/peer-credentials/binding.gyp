# The peer-credentials addon: SO_PEERCRED of a connected Unix socket (Linux).
# Built by `make` with node-gyp against the pinned Node's headers.
{
  "targets": [
    {
      "target_name": "peer_credentials",
      "sources": ["peer-credentials.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"]
    }
  ]
}
