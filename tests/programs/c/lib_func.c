/* Archive member referenced by main.c. */
#include "peln.h"

static int lib_calls;

int peln_lib_func(int x) {
  lib_calls++;
  return peln_lib_helper(x) + lib_calls;
}
