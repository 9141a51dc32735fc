{
  "targets": [
    {
      "target_name": "nfct",
      "sources": ["nfct.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
