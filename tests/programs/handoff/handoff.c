/* peln handoff payload: stands in for a Linux kernel inside a UKI and shows what the stub handed
 * over, the way Linux's EFI stub takes it:
 *   HANDOFF cmdline: <LoadOptions as ASCII>
 *   HANDOFF cmdline bytes: <LoadOptionsSize>
 *   HANDOFF loadfile2 checks: ok            (BootPolicy=TRUE -> UNSUPPORTED, NULL size -> INVALID_PARAMETER)
 *   HANDOFF initrd: <size> bytes, first 16: <hex bytes>
 *   HANDOFF initrd fnv1a32: 0x<hash of all bytes>
 *   HANDOFF done
 * or `HANDOFF error: <what>: <status>` lines, then ResetSystem(EfiResetShutdown).
 * The initrd is found as Linux finds it: LocateDevicePath(LoadFile2, VenMedia(LINUX_EFI_INITRD_MEDIA_GUID))
 * -> HandleProtocol(LoadFile2) -> LoadFile(NULL) for the size -> AllocatePool -> LoadFile.
 * One file (with the C program's efi.h and console.h): clang-19 -c handoff.c. */

#include "../c/console.h"

static EFI_GUID loaded_image_guid = {0x5b1b31a1, 0x9562, 0x11d2, {0x8e, 0x3f, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b}};
static EFI_GUID load_file2_guid = {0x4006c0c1, 0xfcb3, 0x403e, {0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d}};

/* VenMedia(LINUX_EFI_INITRD_MEDIA_GUID 5568e427-68fc-4f3d-ac74-ca555231cc68)/End, byte by byte. */
static UINT8 initrd_media_path[24] = {
    4,    3,    20,   0,    0x27, 0xe4, 0x68, 0x55, 0xfc, 0x68, 0x3d, 0x4f,
    0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68, 0x7f, 0xff, 4,    0,
};

static EFI_BOOT_SERVICES *bs;

static void error(const char *what, EFI_STATUS s) {
  print("HANDOFF error: ");
  print(what);
  print(": status 0x");
  print_hex(s, 16);
  print("\n");
}

/* Prints the CHAR16 LoadOptions as ASCII (others as '?'), up to the NUL or the size. */
static void print_options(const CHAR16 *o, UINT32 bytes) {
  char buf[65];
  unsigned n = 0;
  for (UINT32 i = 0; i < bytes / 2 && o[i]; i++) {
    buf[n++] = o[i] >= 0x20 && o[i] < 0x7f ? (char)o[i] : '?';
    if (n == 64) {
      buf[n] = 0;
      print(buf);
      n = 0;
    }
  }
  buf[n] = 0;
  print(buf);
}

static void find_initrd(void) {
  EFI_DEVICE_PATH *dp = (EFI_DEVICE_PATH *)initrd_media_path;
  EFI_HANDLE h = 0;
  EFI_STATUS s = bs->LocateDevicePath(&load_file2_guid, &dp, &h);
  if (s) {
    error("LocateDevicePath(LoadFile2, initrd media path)", s);
    return;
  }
  EFI_LOAD_FILE2 *lf2 = 0;
  s = bs->HandleProtocol(h, &load_file2_guid, (void **)&lf2);
  if (s || !lf2) {
    error("HandleProtocol(LoadFile2)", s);
    return;
  }
  UINTN size = 0;
  EFI_STATUS policy = lf2->LoadFile(lf2, dp, 1, &size, 0);
  EFI_STATUS nullsize = lf2->LoadFile(lf2, dp, 0, 0, 0);
  if (policy != EFI_UNSUPPORTED) error("LoadFile(BootPolicy=TRUE) did not return EFI_UNSUPPORTED", policy);
  else if (nullsize != EFI_INVALID_PARAMETER)
    error("LoadFile(BufferSize=NULL) did not return EFI_INVALID_PARAMETER", nullsize);
  else print("HANDOFF loadfile2 checks: ok\n");

  size = 0;
  s = lf2->LoadFile(lf2, dp, 0, &size, 0);
  if (s != EFI_BUFFER_TOO_SMALL) {
    error("LoadFile(Buffer=NULL) did not return EFI_BUFFER_TOO_SMALL", s);
    return;
  }
  UINT8 *buf = 0;
  s = bs->AllocatePool(2 /* EfiLoaderData */, size ? size : 1, (void **)&buf);
  if (s) {
    error("AllocatePool", s);
    return;
  }
  UINTN got = size;
  s = lf2->LoadFile(lf2, dp, 0, &got, buf);
  if (s || got != size) {
    error("LoadFile", s);
    return;
  }
  print("HANDOFF initrd: ");
  print_dec(size);
  print(" bytes, first 16:");
  for (UINTN i = 0; i < size && i < 16; i++) {
    print(" ");
    print_hex(buf[i], 2);
  }
  UINT32 h32 = 0x811c9dc5u;
  for (UINTN i = 0; i < size; i++) h32 = (h32 ^ buf[i]) * 0x01000193u;
  print("\nHANDOFF initrd fnv1a32: 0x");
  print_hex(h32, 8);
  print("\n");
}

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st) {
  con = st->ConOut;
  bs = st->BootServices;
  EFI_LOADED_IMAGE *li = 0;
  EFI_STATUS s = bs->HandleProtocol(image, &loaded_image_guid, (void **)&li);
  if (s || !li) {
    error("HandleProtocol(EFI_LOADED_IMAGE_PROTOCOL)", s);
  } else {
    print("HANDOFF cmdline: ");
    if (li->LoadOptions) print_options((const CHAR16 *)li->LoadOptions, li->LoadOptionsSize);
    print("\nHANDOFF cmdline bytes: ");
    print_dec(li->LoadOptionsSize);
    print("\n");
  }
  find_initrd();
  print("HANDOFF done\n");
  st->RuntimeServices->ResetSystem(EfiResetShutdown, 0, 0, 0);
  return 0;
}
