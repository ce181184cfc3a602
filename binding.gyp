{
  "targets": [
    {
      "target_name": "weft_native",
      "sources": ["native/weft.c", "native/bpf-scan.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror=implicit-function-declaration"]
    }
  ]
}
