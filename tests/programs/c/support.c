/* The memory functions clang may emit calls to in freestanding code.
 * Byte loops through volatile pointers, so the compiler cannot turn them back into calls to themselves. */
#include "peln.h"

void *memset(void *d, int c, unsigned long n) {
  volatile unsigned char *p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}

void *memcpy(void *d, const void *s, unsigned long n) {
  volatile unsigned char *p = d;
  const volatile unsigned char *q = s;
  while (n--) *p++ = *q++;
  return d;
}

void *memmove(void *d, const void *s, unsigned long n) {
  volatile unsigned char *p = d;
  const volatile unsigned char *q = s;
  if (p < q) {
    while (n--) *p++ = *q++;
  } else {
    p += n;
    q += n;
    while (n--) *--p = *--q;
  }
  return d;
}

int memcmp(const void *a, const void *b, unsigned long n) {
  const volatile unsigned char *p = a, *q = b;
  for (; n; n--, p++, q++)
    if (*p != *q) return *p < *q ? -1 : 1;
  return 0;
}
