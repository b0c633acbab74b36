/* peln C test program: checks its own results and prints one line per check on ConOut:
 *   PELN check <name>: ok | FAIL
 *   PELN RESULT: PASS n/n | FAIL k/n
 * then shuts the machine down with ResetSystem(EfiResetShutdown).
 * The same sources build for every architecture and object format (COFF/ELF, pic/no-pic). */
#include "console.h"
#include "peln.h"

typedef unsigned char u8;
typedef int (*binop)(int, int);

static unsigned checks_run, checks_ok;

/* ---------- output ---------- */

static void report(const char *name, int ok) {
  print("PELN check ");
  print(name);
  print(ok ? ": ok\r\n" : ": FAIL\r\n");
  checks_run++;
  if (ok) checks_ok++;
}

static PELN_NOINLINE unsigned my_strlen(const char *s) {
  unsigned n = 0;
  while (s[n]) n++;
  return n;
}

static PELN_NOINLINE int my_streq(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/* ---------- fnptr-table: absolute function addresses in initialised data ---------- */

static PELN_NOINLINE int op_add(int a, int b) { return a + b; }
static PELN_NOINLINE int op_sub(int a, int b) { return a - b; }
static PELN_NOINLINE int op_mul(int a, int b) { return a * b; }
static PELN_NOINLINE int op_xor(int a, int b) { return a ^ b; }

/* writable table (.data) and read-only table (.rdata / .data.rel.ro) */
binop peln_op_table[5] = {op_add, op_sub, op_mul, op_xor, peln_ext_binop};
static const binop op_table_ro[5] = {op_xor, op_mul, op_sub, op_add, peln_ext_binop};

static int check_fnptr_table(void) {
  volatile binop taken[5]; /* addresses taken in code */
  static const int want[5] = {10, 4, 21, 4, 703};
  static const int want_ro[5] = {4, 21, 4, 10, 703};
  volatile int idx[5] = {0, 1, 2, 3, 4};
  int ok = 1;
  taken[0] = op_add;
  taken[1] = op_sub;
  taken[2] = op_mul;
  taken[3] = op_xor;
  taken[4] = peln_ext_binop;
  for (int i = 0; i < 5; i++) {
    binop f = peln_op_table[idx[i]];
    binop g = op_table_ro[idx[i]];
    ok &= f == taken[i];
    ok &= g == taken[i < 4 ? 3 - i : 4];
    ok &= f(7, 3) == want[i];
    ok &= g(7, 3) == want_ro[i];
  }
  return ok;
}

/* ---------- data-ptrs: pointers stored in data equal &symbol taken in code ---------- */

int peln_main_var = 1234;
int *peln_main_var_ptr = &peln_main_var;
char peln_main_array[256] = {1};
char *peln_main_array_mid = &peln_main_array[100]; /* relocation with an addend */
int *peln_main_ptr_to_ext = &peln_ext_var;        /* pointer to another object's data */
static int local_bss_var;
int *peln_main_ptr_to_bss = &local_bss_var;

static int check_data_ptrs(void) {
  int ok = 1;
  ok &= peln_main_var_ptr == &peln_main_var;
  ok &= *peln_main_var_ptr == 1234;
  ok &= peln_main_array_mid == &peln_main_array[100];
  ok &= peln_main_array_mid - peln_main_array == 100;
  ok &= peln_main_ptr_to_ext == &peln_ext_var;
  ok &= peln_ext_ptr_to_main_var == &peln_main_var;
  ok &= peln_main_ptr_to_bss == &local_bss_var;
  *peln_main_ptr_to_bss = 77;
  ok &= local_bss_var == 77;
  return ok;
}

/* ---------- jump-table: a dense switch, not foldable into a value table ---------- */

static PELN_NOINLINE int dispatch(int v, int x) {
  int r;
  switch (v) {
  case 0: r = x + 101; break;
  case 1: r = x * 7; break;
  case 2: r = x ^ 0x55; break;
  case 3: r = x - 9; break;
  case 4: r = x << 3; break;
  case 5: r = x * x + 1; break;
  case 6: r = x | 0x100; break;
  case 7: r = 1000 - x; break;
  case 8: r = x * 13 + 5; break;
  case 9: r = ~x; break;
  case 10: r = x / 3; break;
  case 11: r = (x >> 1) + 17; break;
  default: r = -1; break;
  }
  return r;
}

static int check_jump_table(void) {
  volatile int vals[14] = {3, 0, 11, 7, 1, 9, 2, 12, 4, 10, 5, 8, 6, -4};
  volatile int x = 40;
  static const int want[14] = {31, 141, 37, 960, 280, -41, 125, -1, 320, 13, 1601, 525, 296, -1};
  int ok = 1;
  for (int i = 0; i < 14; i++) ok &= dispatch(vals[i], x) == want[i];
  return ok;
}

/* ---------- strings ---------- */

static const char *const greek[4] = {"alpha", "beta", "gamma", "delta"};

static int check_strings(void) {
  volatile int i2 = 2;
  const char *lit = "PELN string literal";
  char built[6];
  int ok = 1;
  ok &= my_strlen(lit) == 19;
  ok &= lit[0] == 'P' && lit[18] == 'l';
  ok &= my_strlen(greek[0]) == 5 && my_strlen(greek[1]) == 4;
  ok &= my_streq(greek[i2], "gamma");
  ok &= greek[3][0] == 'd' && greek[3][4] == 'a';
  ok &= my_streq(peln_ext_greeting, "hello from ext.c");
  built[0] = 'd';
  built[1] = 'e';
  built[2] = 'l';
  built[3] = 't';
  built[4] = 'a';
  built[5] = 0;
  ok &= my_streq(built, greek[3]);
  ok &= memcmp(built, "delta", 6) == 0;
  return ok;
}

/* ---------- extern: variable and function defined in another object ---------- */

static int check_extern(void) {
  int ok = 1;
  ok &= peln_ext_var == 0x5eed;
  ok &= peln_ext_func(5) == 15 + 0x5eed;
  ok &= peln_ext_func_twin(6) == 18 + 0x5eed;
  peln_ext_var = 10;
  ok &= peln_ext_func(5) == 25;
  ok &= peln_ext_func_twin(5) == 25;
  peln_ext_var = 0x5eed;
  ok &= peln_ext_bss == 0;
  peln_ext_bss = 99;
  ok &= peln_ext_bss == 99;
  return ok;
}

/* ---------- archive: member function that itself pulls another member ---------- */

static int check_archive(void) {
  volatile int x = 20;
  int ok = 1;
  ok &= peln_lib_func(x) == 41;
  ok &= peln_lib_func(x) == 42;
  ok &= peln_lib_helper(x) == 40;
  return ok;
}

/* ---------- weak: one weak definition overridden by a strong one, one not ---------- */

static int check_weak(void) { return peln_weak_overridden() == 100 && peln_weak_default() == 2; }

/* ---------- static-local: function-local statics in .data and .bss ---------- */

static PELN_NOINLINE int counter(void) {
  static int n = 40;
  static int z;
  z += 2;
  return ++n + z;
}

static int check_static_local(void) {
  int a = counter(), b = counter(), c = counter();
  return a == 43 && b == 46 && c == 49;
}

/* ---------- const64: 64-bit constants through a volatile ---------- */

unsigned long long peln_big_const = 0xfedcba9876543210ULL;

static int check_const64(void) {
  volatile unsigned long long a = 0x123456789abcdef0ULL;
  unsigned long long b = a;
  int ok = 1;
  ok &= (unsigned)(b >> 32) == 0x12345678u;
  ok &= (unsigned)b == 0x9abcdef0u;
  ok &= b * 3 == 0x369d0369d0369cd0ULL;
  ok &= (b ^ peln_big_const) == 0xece8ece0ece8ece0ULL;
  return ok;
}

/* ---------- bss-large: 2 MiB + 4 KiB of .bss, zeroed by the loader ---------- */

#define BIG_SIZE (2u * 1024 * 1024 + 4096)
unsigned char peln_big_bss[BIG_SIZE];
unsigned char *peln_big_bss_last = &peln_big_bss[BIG_SIZE - 1];

static int check_bss_large(void) {
  volatile const unsigned long long *p = (volatile const unsigned long long *)peln_big_bss;
  volatile unsigned char *b = peln_big_bss;
  unsigned long long acc = 0;
  int ok = 1;
  for (unsigned i = 0; i < BIG_SIZE / 8; i++) acc |= p[i];
  ok &= acc == 0;
  for (unsigned i = 0; i < BIG_SIZE; i += 4093) b[i] = (u8)(i * 7 + 1);
  *peln_big_bss_last = 0xa5;
  for (unsigned i = 0; i < BIG_SIZE; i += 4093) ok &= b[i] == (u8)(i * 7 + 1);
  ok &= b[BIG_SIZE - 1] == 0xa5;
  return ok;
}

/* ---------- alignment: over-aligned data and bss ---------- */

__attribute__((aligned(64))) unsigned char peln_aligned64[3] = {1, 2, 3};
__attribute__((aligned(4096))) unsigned char peln_aligned_page[4096];

static int check_alignment(void) {
  return ((UINTN)peln_aligned64 & 63) == 0 && ((UINTN)peln_aligned_page & 4095) == 0 && peln_aligned64[2] == 3;
}

/* ---------- entry point ---------- */

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st) {
  (void)image;
  con = st->ConOut;
  print("\r\nPELN start\r\n");
  report("fnptr-table", check_fnptr_table());
  report("data-ptrs", check_data_ptrs());
  report("jump-table", check_jump_table());
  report("strings", check_strings());
  report("extern", check_extern());
  report("archive", check_archive());
  report("weak", check_weak());
  report("static-local", check_static_local());
  report("const64", check_const64());
  report("bss-large", check_bss_large());
  report("alignment", check_alignment());
  print(checks_ok == checks_run ? "PELN RESULT: PASS " : "PELN RESULT: FAIL ");
  print_dec(checks_ok);
  print("/");
  print_dec(checks_run);
  print("\r\n");
  st->RuntimeServices->ResetSystem(EfiResetShutdown, 0, 0, 0);
  return 0;
}
