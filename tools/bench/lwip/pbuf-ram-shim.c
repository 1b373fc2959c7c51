/*
 * pbuf-ram-shim: an LD_PRELOAD library for the lwIP reference server (httpd-tap.c).
 *
 * Debian's liblwip-dev 2.1.3 sizes its PBUF_POOL elements for an MSS of 536 (616 bytes), while its
 * pbuf_alloc() fills one with up to 1,536 bytes and its TAP netif receives every frame into one:
 * a received frame over about 592 bytes corrupts the heap and aborts the process. This wrapper
 * turns every PBUF_POOL request into PBUF_RAM (one heap block sized to the request), which lwIP
 * handles identically otherwise. Calls inside liblwip.so go through its PLT, so preloading this
 * library reaches them.
 *
 * Figures measured with it say so: it changes lwIP's receive path from pool to heap allocations.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "lwip/pbuf.h"

typedef struct pbuf *(*pbuf_alloc_fn)(pbuf_layer layer, u16_t length, pbuf_type type);

struct pbuf *pbuf_alloc(pbuf_layer layer, u16_t length, pbuf_type type) {
  static pbuf_alloc_fn real;
  pbuf_alloc_fn fn = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
  if (fn == NULL) {
    fn = (pbuf_alloc_fn)dlsym(RTLD_NEXT, "pbuf_alloc");
    if (fn == NULL) {
      fprintf(stderr, "pbuf-ram-shim: pbuf_alloc not found after this library\n");
      abort();
    }
    __atomic_store_n(&real, fn, __ATOMIC_RELEASE);
  }
  return fn(layer, length, type == PBUF_POOL ? PBUF_RAM : type);
}
