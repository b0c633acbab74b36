use std::process::ExitCode;

use pectl::heap::Heap;

/// Links allocate from a reservation on huge pages and free little before they exit (see
/// [`pectl::process`]); until a link starts this is the system allocator.
#[global_allocator]
static HEAP: Heap = Heap::new();

fn main() -> ExitCode {
    pectl::process::own(&HEAP);
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
