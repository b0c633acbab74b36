/* Extern definitions used from main.c: data, bss, functions, and data pointing back into main.c. */
#include "peln.h"

int peln_ext_var = 0x5eed;
int peln_ext_bss;
const char *peln_ext_greeting = "hello from ext.c";
int *peln_ext_ptr_to_main_var = &peln_main_var;

int peln_ext_func(int x) { return x * 3 + peln_ext_var; }

/* The same code as peln_ext_func: identical code folding (--icf=all, /OPT:ICF) keeps one. */
int peln_ext_func_twin(int x) { return x * 3 + peln_ext_var; }

int peln_ext_binop(int a, int b) { return a * 100 + b; }

/* Never referenced. With -ffunction-sections -fdata-sections, --gc-sections must drop both
 * (the gc test checks the image shrinks by at least the 64 KiB of initialised data). */
unsigned char peln_dead_data[65536] = {1};

int peln_dead_function(void) { return peln_dead_data[0] + peln_dead_data[65535]; }
