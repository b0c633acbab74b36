/* Strong definition that must win over the weak one in weak.c. */
#include "peln.h"

int peln_weak_overridden(void) { return 100; }
