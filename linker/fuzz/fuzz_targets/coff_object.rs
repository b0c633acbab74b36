#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peln_linker_fuzz::read_object(data));
