/* Declarations shared by the objects of the peln C test program. */
#ifndef PELN_H
#define PELN_H

#include "efi.h"

#define PELN_NOINLINE __attribute__((noinline))

/* main.c */
extern int peln_main_var;

/* ext.c: plain extern definitions in another object */
extern int peln_ext_var;   /* initialised data: 0x5eed */
extern int peln_ext_bss;   /* zero-initialised */
extern const char *peln_ext_greeting;   /* pointer to a string literal of ext.c */
extern int *peln_ext_ptr_to_main_var;   /* pointer (in ext.c data) to a variable of main.c */
int peln_ext_func(int x);               /* returns x * 3 + peln_ext_var */
int peln_ext_func_twin(int x);          /* the same code: folds under ICF */
int peln_ext_binop(int a, int b);       /* returns a * 100 + b */

/* weak.c / strong.c */
int peln_weak_overridden(void); /* weak in weak.c returns 1; strong in strong.c returns 100 */
int peln_weak_default(void);    /* weak in weak.c returns 2; never overridden */

/* archive members (lib_func.c -> lib_helper.c); lib_unused.c must never be extracted */
int peln_lib_func(int x);   /* returns peln_lib_helper(x) + 1 */
int peln_lib_helper(int x); /* returns x * 2 */

/* support.c */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
void *memmove(void *d, const void *s, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);

#endif
