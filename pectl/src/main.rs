use std::process::ExitCode;

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    reexec_with_malloc_tunables();
    match pectl::run(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast::<clap::Error>() {
            // Help, version and usage errors print themselves, with clap's exit codes.
            Ok(clap_err) => {
                let _ = clap_err.print();
                ExitCode::from(clap_err.exit_code() as u8)
            }
            Err(e) => {
                eprintln!("pectl: error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// glibc's malloc for a short process that fills a hundred MiB from several threads: heaps grown
/// 64 MiB at a time and backed by transparent huge pages. A large link otherwise spends a third of
/// its time in page faults (one per 4 KiB touched; a fault costs microseconds in a VM) and in the
/// `mprotect` calls that grow each thread's heap; with these, a 1000-object link takes ~2k faults
/// instead of ~28k and about 30 % less wall time, and peak RSS grows by a few MiB. glibc reads
/// tunables only from the environment at startup, so the process re-executes itself once with
/// them set; a GLIBC_TUNABLES already set (the user's, or this re-execution's) is left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn reexec_with_malloc_tunables() {
    use std::os::unix::process::CommandExt;
    const VAR: &str = "GLIBC_TUNABLES";
    if std::env::var_os(VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    // argv[0] is kept: it selects the linker flavour (`ld.lld`, `lld-link`, ...).
    let _failed = std::process::Command::new(exe)
        .arg0(argv0)
        .args(args)
        .env(VAR, "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=67108864")
        .exec();
    // Only a failed exec returns: go on with the defaults.
}
