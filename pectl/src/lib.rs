//! `pectl`: command-line front end.
use std::ffi::OsString;

/// Runs `pectl` with the given argv (argv[0] included) and returns the error the binary would print.
pub fn run<I, T>(args: I) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let _ = args.into_iter().count();
    Err("pectl is being written".into())
}
