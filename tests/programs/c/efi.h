/* Minimal UEFI definitions for the peln test programs: only what the programs use. */
#ifndef PELN_EFI_H
#define PELN_EFI_H

typedef unsigned long long UINT64;
typedef unsigned int UINT32;
typedef unsigned short CHAR16;
typedef unsigned long long UINTN;
typedef UINTN EFI_STATUS;
typedef void *EFI_HANDLE;

#if defined(__x86_64__)
#define EFIAPI __attribute__((ms_abi))
#else
#define EFIAPI
#endif

typedef struct {
  UINT64 Signature;
  UINT32 Revision;
  UINT32 HeaderSize;
  UINT32 CRC32;
  UINT32 Reserved;
} EFI_TABLE_HEADER;

struct SIMPLE_TEXT_OUTPUT;
typedef EFI_STATUS(EFIAPI *EFI_TEXT_RESET)(struct SIMPLE_TEXT_OUTPUT *This, unsigned char Extended);
typedef EFI_STATUS(EFIAPI *EFI_TEXT_STRING)(struct SIMPLE_TEXT_OUTPUT *This, CHAR16 *String);

typedef struct SIMPLE_TEXT_OUTPUT {
  EFI_TEXT_RESET Reset;
  EFI_TEXT_STRING OutputString;
  /* remaining members unused */
} SIMPLE_TEXT_OUTPUT;

typedef enum { EfiResetCold, EfiResetWarm, EfiResetShutdown, EfiResetPlatformSpecific } EFI_RESET_TYPE;

typedef void(EFIAPI *EFI_RESET_SYSTEM)(EFI_RESET_TYPE ResetType, EFI_STATUS ResetStatus, UINTN DataSize,
                                       void *ResetData);

typedef struct {
  EFI_TABLE_HEADER Hdr;
  void *GetTime;
  void *SetTime;
  void *GetWakeupTime;
  void *SetWakeupTime;
  void *SetVirtualAddressMap;
  void *ConvertPointer;
  void *GetVariable;
  void *GetNextVariableName;
  void *SetVariable;
  void *GetNextHighMonotonicCount;
  EFI_RESET_SYSTEM ResetSystem;
  /* remaining members unused */
} EFI_RUNTIME_SERVICES;

typedef struct {
  EFI_TABLE_HEADER Hdr;
  CHAR16 *FirmwareVendor;
  UINT32 FirmwareRevision;
  EFI_HANDLE ConsoleInHandle;
  void *ConIn;
  EFI_HANDLE ConsoleOutHandle;
  SIMPLE_TEXT_OUTPUT *ConOut;
  EFI_HANDLE StandardErrorHandle;
  SIMPLE_TEXT_OUTPUT *StdErr;
  EFI_RUNTIME_SERVICES *RuntimeServices;
  void *BootServices;
  UINTN NumberOfTableEntries;
  void *ConfigurationTable;
} EFI_SYSTEM_TABLE;

#endif
