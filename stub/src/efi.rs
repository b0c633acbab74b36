//! The few UEFI definitions the stub uses (UEFI 2.10), hand-written: tables are declared up to the
//! last member the stub calls, and unused members are placeholders of pointer size.
use core::ffi::c_void;
use core::mem::offset_of;

pub type Handle = *mut c_void;
pub type Status = usize;

/// The high bit of an EFI_STATUS marks an error.
pub const ERROR_BIT: Status = 1 << (usize::BITS - 1);
pub const SUCCESS: Status = 0;
pub const LOAD_ERROR: Status = ERROR_BIT | 1;
pub const INVALID_PARAMETER: Status = ERROR_BIT | 2;
pub const UNSUPPORTED: Status = ERROR_BIT | 3;
pub const BUFFER_TOO_SMALL: Status = ERROR_BIT | 5;
pub const NOT_FOUND: Status = ERROR_BIT | 14;
pub const SECURITY_VIOLATION: Status = ERROR_BIT | 26;

pub fn is_error(s: Status) -> bool {
    s & ERROR_BIT != 0
}

/// The spec's name of a status code, if it has one.
pub fn status_name(s: Status) -> Option<&'static str> {
    const ERRORS: [&str; 36] = [
        "",
        "EFI_LOAD_ERROR",
        "EFI_INVALID_PARAMETER",
        "EFI_UNSUPPORTED",
        "EFI_BAD_BUFFER_SIZE",
        "EFI_BUFFER_TOO_SMALL",
        "EFI_NOT_READY",
        "EFI_DEVICE_ERROR",
        "EFI_WRITE_PROTECTED",
        "EFI_OUT_OF_RESOURCES",
        "EFI_VOLUME_CORRUPTED",
        "EFI_VOLUME_FULL",
        "EFI_NO_MEDIA",
        "EFI_MEDIA_CHANGED",
        "EFI_NOT_FOUND",
        "EFI_ACCESS_DENIED",
        "EFI_NO_RESPONSE",
        "EFI_NO_MAPPING",
        "EFI_TIMEOUT",
        "EFI_NOT_STARTED",
        "EFI_ALREADY_STARTED",
        "EFI_ABORTED",
        "EFI_ICMP_ERROR",
        "EFI_TFTP_ERROR",
        "EFI_PROTOCOL_ERROR",
        "EFI_INCOMPATIBLE_VERSION",
        "EFI_SECURITY_VIOLATION",
        "EFI_CRC_ERROR",
        "EFI_END_OF_MEDIA",
        "",
        "",
        "EFI_END_OF_FILE",
        "EFI_INVALID_LANGUAGE",
        "EFI_COMPROMISED_DATA",
        "EFI_IP_ADDRESS_CONFLICT",
        "EFI_HTTP_ERROR",
    ];
    const WARNINGS: [&str; 8] = [
        "EFI_SUCCESS",
        "EFI_WARN_UNKNOWN_GLYPH",
        "EFI_WARN_DELETE_FAILURE",
        "EFI_WARN_WRITE_FAILURE",
        "EFI_WARN_BUFFER_TOO_SMALL",
        "EFI_WARN_STALE_DATA",
        "EFI_WARN_FILE_SYSTEM",
        "EFI_WARN_RESET_REQUIRED",
    ];
    let name = if is_error(s) {
        ERRORS.get(s & !ERROR_BIT)
    } else {
        WARNINGS.get(s)
    };
    name.copied().filter(|n| !n.is_empty())
}

/// EFI_GUID: `uguid`'s, the `uefi` crate's own, 16 bytes at 4-byte alignment as edk2 has it.
/// `guid!` reads the text form the UEFI specification and Linux write at compile time.
pub use uguid::{guid, Guid};

pub const LOADED_IMAGE_PROTOCOL_GUID: Guid = guid!("5b1b31a1-9562-11d2-8e3f-00a0c969723b");
pub const DEVICE_PATH_PROTOCOL_GUID: Guid = guid!("09576e91-6d3f-11d2-8e39-00a0c969723b");
pub const LOAD_FILE2_PROTOCOL_GUID: Guid = guid!("4006c0c1-fcb3-403e-996d-4a6c8724e06d");
/// Linux's vendor media device path GUID for the initrd (drivers/firmware/efi/libstub).
pub const LINUX_EFI_INITRD_MEDIA_GUID: Guid = guid!("5568e427-68fc-4f3d-ac74-ca555231cc68");

pub const EFI_NATIVE_INTERFACE: u32 = 0;
/// EFI_MEMORY_TYPE EfiLoaderData.
pub const LOADER_DATA: u32 = 2;

#[repr(C)]
pub struct TableHeader {
    pub signature: u64,
    pub revision: u32,
    pub header_size: u32,
    pub crc32: u32,
    pub reserved: u32,
}

#[repr(C)]
pub struct SimpleTextOutput {
    pub reset: usize,
    pub output_string: unsafe extern "efiapi" fn(*mut SimpleTextOutput, *const u16) -> Status,
}

#[repr(C)]
pub struct SystemTable {
    pub hdr: TableHeader,
    pub firmware_vendor: *const u16,
    pub firmware_revision: u32,
    pub console_in_handle: Handle,
    pub con_in: *mut c_void,
    pub console_out_handle: Handle,
    pub con_out: *mut SimpleTextOutput,
    pub standard_error_handle: Handle,
    pub std_err: *mut SimpleTextOutput,
    pub runtime_services: *mut c_void,
    pub boot_services: *mut BootServices,
}

#[repr(C)]
pub struct BootServices {
    pub hdr: TableHeader,
    /// RaiseTPL RestoreTPL AllocatePages FreePages GetMemoryMap
    _unused0: [usize; 5],
    pub allocate_pool: unsafe extern "efiapi" fn(u32, usize, *mut *mut c_void) -> Status,
    pub free_pool: unsafe extern "efiapi" fn(*mut c_void) -> Status,
    /// CreateEvent SetTimer WaitForEvent SignalEvent CloseEvent CheckEvent
    _unused1: [usize; 6],
    pub install_protocol_interface:
        unsafe extern "efiapi" fn(*mut Handle, *const Guid, u32, *mut c_void) -> Status,
    _reinstall_protocol_interface: usize,
    pub uninstall_protocol_interface:
        unsafe extern "efiapi" fn(Handle, *const Guid, *mut c_void) -> Status,
    pub handle_protocol: unsafe extern "efiapi" fn(Handle, *const Guid, *mut *mut c_void) -> Status,
    /// Reserved RegisterProtocolNotify LocateHandle LocateDevicePath InstallConfigurationTable
    _unused2: [usize; 5],
    pub load_image: unsafe extern "efiapi" fn(
        u8,
        Handle,
        *const c_void,
        *const c_void,
        usize,
        *mut Handle,
    ) -> Status,
    pub start_image: unsafe extern "efiapi" fn(Handle, *mut usize, *mut *mut u16) -> Status,
    _exit: usize,
    pub unload_image: unsafe extern "efiapi" fn(Handle) -> Status,
}

#[repr(C)]
pub struct LoadedImage {
    pub revision: u32,
    pub parent_handle: Handle,
    pub system_table: *mut SystemTable,
    pub device_handle: Handle,
    pub file_path: *mut c_void,
    pub reserved: *mut c_void,
    pub load_options_size: u32,
    pub load_options: *mut c_void,
    pub image_base: *mut c_void,
    pub image_size: u64,
    pub image_code_type: u32,
    pub image_data_type: u32,
    pub unload: usize,
}

/// EFI_LOAD_FILE2_PROTOCOL.LoadFile(This, FilePath, BootPolicy, BufferSize, Buffer).
pub type LoadFileFn =
    unsafe extern "efiapi" fn(*mut LoadFile2, *mut c_void, u8, *mut usize, *mut c_void) -> Status;

#[repr(C)]
pub struct LoadFile2 {
    pub load_file: LoadFileFn,
}

// The table offsets the stub depends on (UEFI 2.10 section 4.4 / 9.1), for 64-bit targets.
const _: () = {
    assert!(offset_of!(SystemTable, con_out) == 64);
    assert!(offset_of!(SystemTable, boot_services) == 96);
    assert!(offset_of!(BootServices, allocate_pool) == 24 + 5 * 8);
    assert!(offset_of!(BootServices, install_protocol_interface) == 24 + 13 * 8);
    assert!(offset_of!(BootServices, handle_protocol) == 24 + 16 * 8);
    assert!(offset_of!(BootServices, load_image) == 24 + 22 * 8);
    assert!(offset_of!(BootServices, unload_image) == 24 + 25 * 8);
    assert!(offset_of!(LoadedImage, load_options_size) == 48);
    assert!(offset_of!(LoadedImage, image_base) == 64);
};

/// Device path node header types.
pub const HARDWARE_DEVICE_PATH: u8 = 1;
pub const HW_MEMMAP_DP: u8 = 3;
pub const MEDIA_DEVICE_PATH: u8 = 4;
pub const MEDIA_VENDOR_DP: u8 = 3;
pub const END_DEVICE_PATH: [u8; 4] = [0x7f, 0xff, 4, 0];

/// VenMedia(LINUX_EFI_INITRD_MEDIA_GUID)/End: where Linux's EFI stub looks for a LoadFile2
/// protocol that yields the initrd.
pub const INITRD_DEVICE_PATH: [u8; 24] = {
    let g = LINUX_EFI_INITRD_MEDIA_GUID.to_bytes();
    let mut p = [0u8; 24];
    p[0] = MEDIA_DEVICE_PATH;
    p[1] = MEDIA_VENDOR_DP;
    p[2] = 20;
    let mut i = 0;
    while i < 16 {
        p[4 + i] = g[i];
        i += 1;
    }
    let mut j = 0;
    while j < 4 {
        p[20 + j] = END_DEVICE_PATH[j];
        j += 1;
    }
    p
};

/// MemoryMapped(EfiLoaderData, start, end)/End: the device path the kernel is loaded "from".
#[repr(C, align(8))]
pub struct MemMapDevicePath(pub [u8; 28]);

impl MemMapDevicePath {
    /// `end` is the address of the last byte, as in the spec's text form.
    pub fn new(start: u64, end: u64) -> MemMapDevicePath {
        let mut p = [0u8; 28];
        p[0] = HARDWARE_DEVICE_PATH;
        p[1] = HW_MEMMAP_DP;
        p[2] = 24;
        p[4..8].copy_from_slice(&LOADER_DATA.to_le_bytes());
        p[8..16].copy_from_slice(&start.to_le_bytes());
        p[16..24].copy_from_slice(&end.to_le_bytes());
        p[24..28].copy_from_slice(&END_DEVICE_PATH);
        MemMapDevicePath(p)
    }
}
