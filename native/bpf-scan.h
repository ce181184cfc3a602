/* native/bpf-scan.c: the filtered read's skip loop (documented there). */
#ifndef WEFT_BPF_SCAN_H
#define WEFT_BPF_SCAN_H
#include <node_api.h>

napi_value BpfSkipPcapng(napi_env env, napi_callback_info info);
napi_value BpfSkipPcap(napi_env env, napi_callback_info info);
napi_value BpfRun(napi_env env, napi_callback_info info);

#endif
