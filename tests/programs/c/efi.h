/* Minimal UEFI definitions for the peln test programs: only what the programs use. */
#ifndef PELN_EFI_H
#define PELN_EFI_H

typedef unsigned char UINT8;
typedef unsigned short UINT16;
typedef unsigned int UINT32;
typedef unsigned long long UINT64;
typedef unsigned short CHAR16;
typedef unsigned long long UINTN;
typedef UINTN EFI_STATUS;
typedef void *EFI_HANDLE;

#if defined(__x86_64__)
#define EFIAPI __attribute__((ms_abi))
#else
#define EFIAPI
#endif

#define EFI_ERROR_BIT (1ull << 63)
#define EFI_INVALID_PARAMETER (EFI_ERROR_BIT | 2)
#define EFI_UNSUPPORTED (EFI_ERROR_BIT | 3)
#define EFI_BUFFER_TOO_SMALL (EFI_ERROR_BIT | 5)

typedef struct {
  UINT32 Data1;
  UINT16 Data2, Data3;
  UINT8 Data4[8];
} EFI_GUID;

typedef struct {
  UINT8 Type, SubType, Length[2];
} EFI_DEVICE_PATH;

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

typedef struct {
  EFI_TABLE_HEADER Hdr;
  void *RaiseTPL, *RestoreTPL, *AllocatePages, *FreePages, *GetMemoryMap;
  EFI_STATUS(EFIAPI *AllocatePool)(UINT32 PoolType, UINTN Size, void **Buffer);
  void *FreePool;
  void *CreateEvent, *SetTimer, *WaitForEvent, *SignalEvent, *CloseEvent, *CheckEvent;
  void *InstallProtocolInterface, *ReinstallProtocolInterface, *UninstallProtocolInterface;
  EFI_STATUS(EFIAPI *HandleProtocol)(EFI_HANDLE Handle, EFI_GUID *Protocol, void **Interface);
  void *Reserved, *RegisterProtocolNotify, *LocateHandle;
  EFI_STATUS(EFIAPI *LocateDevicePath)(EFI_GUID *Protocol, EFI_DEVICE_PATH **DevicePath, EFI_HANDLE *Device);
  /* remaining members unused */
} EFI_BOOT_SERVICES;

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
  EFI_BOOT_SERVICES *BootServices;
  UINTN NumberOfTableEntries;
  void *ConfigurationTable;
} EFI_SYSTEM_TABLE;

typedef struct {
  UINT32 Revision;
  EFI_HANDLE ParentHandle;
  EFI_SYSTEM_TABLE *SystemTable;
  EFI_HANDLE DeviceHandle;
  EFI_DEVICE_PATH *FilePath;
  void *Reserved;
  UINT32 LoadOptionsSize;
  void *LoadOptions;
  /* remaining members unused */
} EFI_LOADED_IMAGE;

typedef struct EFI_LOAD_FILE2 {
  EFI_STATUS(EFIAPI *LoadFile)(struct EFI_LOAD_FILE2 *This, EFI_DEVICE_PATH *FilePath, UINT8 BootPolicy,
                               UINTN *BufferSize, void *Buffer);
} EFI_LOAD_FILE2;

#endif
