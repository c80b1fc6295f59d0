// The pending-request table (native/requests.c) without Node, under ASan/UBSan with leak detection:
// every buffer an entry owns is released by remove and by free.
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "../../native/requests.h"

int
main (void) {
  hra_requests_t t;
  memset(&t, 0, sizeof(t));
  char id[16];
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof(id), "r%05d", i);
    int k = hra_requests_add(&t, (const uint8_t *) id, 6, 6, (uint32_t) i, 1000 + (uint64_t) i);
    assert(k == i);
    // serverSideEmit requests record the indexes of undefined answers in `missing`.
    assert(hra_buf_puts(&t.items[k].acc, "[1,2") == HRA_OK);
    assert(hra_buf_puts(&t.items[k].missing, "0,3") == HRA_OK);
  }
  assert(hra_requests_add(&t, (const uint8_t *) "r00007", 6, 6, 1, 1) == HRA_ELIMIT);
  assert(hra_requests_find(&t, (const uint8_t *) "r00042", 6) >= 0);
  assert(hra_requests_next_deadline(&t) == 1000);
  // Half removed one by one, the rest (with their `missing` buffers) by hra_requests_free.
  for (int i = 0; i < 100; i += 2) {
    snprintf(id, sizeof(id), "r%05d", i);
    int k = hra_requests_find(&t, (const uint8_t *) id, 6);
    assert(k >= 0);
    hra_requests_remove(&t, (size_t) k);
  }
  assert(t.len == 50);
  assert(hra_requests_find(&t, (const uint8_t *) "r00042", 6) < 0);
  assert(hra_requests_find(&t, (const uint8_t *) "r00043", 6) >= 0);
  hra_requests_free(&t);
  assert(t.len == 0 && t.items == NULL);
  printf("requests_test: ok\n");
  return 0;
}
