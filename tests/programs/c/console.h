/* Console output shared by the test programs: ASCII text on ConOut, each '\n' sent as CR LF
 * (firmware consoles want both), and numbers in decimal and hex. Set `con` before printing. */
#ifndef PELN_CONSOLE_H
#define PELN_CONSOLE_H

#include "efi.h"

static SIMPLE_TEXT_OUTPUT *con;

static inline void print(const char *s) {
  CHAR16 buf[64];
  char prev = 0;
  while (*s) {
    unsigned n = 0;
    /* Room for a CR LF pair and the NUL. */
    while (*s && n < 62) {
      if (*s == '\n' && prev != '\r') buf[n++] = '\r';
      prev = *s;
      buf[n++] = (CHAR16)(UINT8)*s++;
    }
    buf[n] = 0;
    con->OutputString(con, buf);
  }
}

static inline void print_dec(UINT64 v) {
  char tmp[21];
  int i = 20;
  tmp[i] = 0;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  print(tmp + i);
}

static inline void print_hex(UINT64 v, int digits) {
  char tmp[17];
  for (int i = 0; i < digits; i++) tmp[i] = "0123456789abcdef"[(v >> (4 * (digits - 1 - i))) & 15];
  tmp[digits] = 0;
  print(tmp);
}

#endif
