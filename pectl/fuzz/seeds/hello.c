/* The seed program: an entry point, a call, writable data, and a pointer table (absolute
 * addresses: base relocations). */
static int counter = 1;
int *volatile table[2] = {&counter, 0};
__attribute__((noinline)) int helper(int x) { return x * 3 + *table[0]; }
unsigned long long efi_main(void *image, void *system_table) {
  (void)image;
  (void)system_table;
  counter++;
  return (unsigned long long)helper(14);
}
