#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pectl_fuzz::authenticode(data));
