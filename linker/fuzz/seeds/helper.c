typedef unsigned long long u64;
u64 table[4] = {1, 2, 3, 4};
static u64 bss_counter;
const char msg[] = "hello";
#ifdef _MSC_VER
__declspec(selectany) u64 shared = 5;
#else
__attribute__((weak)) u64 shared = 5;
#endif
static __attribute__((noinline)) u64 twice(u64 x) { return x * 2 + table[x & 3]; }
u64 other(u64 x) { bss_counter += x; return x + msg[x & 3] + shared; }
u64 helper(u64 x) { return twice(x) ^ other(x); }
u64 (*const fns[2])(u64) = {helper, other};
