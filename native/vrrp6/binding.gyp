{
  "targets": [
    {
      "target_name": "vrrp6",
      "sources": ["vrrp6.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
