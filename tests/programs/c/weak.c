/* Weak default definitions: one is overridden by strong.c, the other is not. */
#include "peln.h"

__attribute__((weak)) int peln_weak_overridden(void) { return 1; }

__attribute__((weak)) int peln_weak_default(void) { return 2; }
