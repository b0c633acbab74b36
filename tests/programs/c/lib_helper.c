/* Archive member, extracted only because lib_func.c (another member) references it. */
#include "peln.h"

int peln_lib_helper(int x) { return x * 2; }
