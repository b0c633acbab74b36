//! `pectl link` parses inputs and writes chunks on rayon's threads; the image must not depend on
//! how many there are or how the work was split between them.
use peln_tests::{
    check_needs, compile_c, link_with_pectl, require, Arch, LinkOpts, Need, ObjFormat, WorkDir,
};

/// Files of functions calling their neighbours and a table of pointers to them: thousands of
/// sections and relocations, so two threads interleave in many ways.
const FILES: usize = 4;
const FUNCS: usize = 300;

fn source(i: usize) -> String {
    let mut s = String::from("typedef unsigned long long u64;\n");
    let next = (i + 1) % FILES;
    s += &format!("u64 f{next}_0(u64);\nu64 data_{i}[64] = {{{i}}};\n");
    for j in 0..FUNCS {
        let call = if j == 0 {
            format!("f{next}_0(x >> 1)")
        } else {
            format!("f{i}_{}(x + {j})", j - 1)
        };
        s += &format!(
            "__attribute__((noinline)) u64 f{i}_{j}(u64 x) {{ return x > {j} ? data_{i}[x & 63] : {call}; }}\n"
        );
    }
    s += &format!("u64 (*const ptrs_{i}[])(u64) = {{");
    for j in 0..FUNCS {
        s += &format!("f{i}_{j},");
    }
    s += "};\n";
    if i == 0 {
        s += "u64 efi_main(void *image, void *st) { return f0_0((u64)image ^ (u64)st); }\n";
    }
    s
}

#[test]
fn pectl_images_are_identical_on_one_and_two_threads() {
    require!(check_needs(Arch::Amd64, &[Need::Clang]));
    let work = WorkDir::new("threads");
    let objects: Vec<_> = (0..FILES)
        .map(|i| {
            let src = work.join(format!("unit{i}.c"));
            std::fs::write(&src, source(i)).unwrap();
            let obj = work.join(format!("unit{i}.obj"));
            let flags = ["-ffunction-sections", "-fdata-sections", "-O1"];
            compile_c(Arch::Amd64, ObjFormat::Coff, &flags, &src, &obj);
            obj
        })
        .collect();
    let link = |threads: usize| {
        let out = work.join(format!("t{threads}/BOOTX64.EFI"));
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                link_with_pectl(
                    pectl::run,
                    Arch::Amd64,
                    &out,
                    &objects,
                    &LinkOpts::default(),
                )
            });
        std::fs::read(&out).unwrap()
    };
    let (one, two) = (link(1), link(2));
    assert!(one == two, "the images of 1 and 2 threads differ");
}
