use std::process::ExitCode;

fn main() -> ExitCode {
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
