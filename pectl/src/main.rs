fn main() -> std::process::ExitCode {
    match pectl::run(std::env::args_os()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pectl: error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
