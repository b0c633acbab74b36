/* `la.abs` on LoongArch: a 64-bit absolute address built by lu12i.w, ori, lu32i.d, lu52i.d
 * (ABS_HI20, ABS_LO12, ABS64_LO20, ABS64_HI12). edk2 moves the image, so this only prints "ok" if
 * the linker emitted IMAGE_REL_BASED_LOONGARCH64_MARK_LA and the firmware patched all four
 * instructions: the absolute result must equal the PC-relative address of the same variable. */
#include "../c/console.h"

static int target_var = 0x1a2b;

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st) {
  (void)image;
  con = st->ConOut;
  int *absolute;
  __asm__ volatile("la.abs %0, target_var" : "=r"(absolute));
  int *relative = &target_var; /* pcalau12i + addi.d */
  __asm__ volatile("" : "+r"(relative));
  print(absolute == relative && *absolute == 0x1a2b ? "\r\nPELN la.abs: ok\r\n"
                                                    : "\r\nPELN la.abs: FAIL\r\n");
  st->RuntimeServices->ResetSystem(EfiResetShutdown, 0, 0, 0);
  return 0;
}
