/* Archive member that nothing references: it must NOT be extracted.
 * If a linker extracted it anyway, its second definition of peln_ext_var would either make the link
 * fail with a duplicate symbol or replace ext.c's value 0x5eed (the "extern" check then fails). */
#include "peln.h"

int peln_ext_var = 0xbad;

int peln_lib_unused(void) { return 666; }
