//! Per-test scratch directories that survive a failing test.
use std::path::{Path, PathBuf};

/// A temporary directory for one test's artifacts. It is deleted when dropped — except when the test
/// is panicking (the path is printed so the objects and images can be inspected) or when the
/// environment variable `PELN_KEEP_WORK` is set.
pub struct WorkDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl WorkDir {
    /// Creates `$TMPDIR/peln-<name>-XXXXXX`.
    pub fn new(name: &str) -> WorkDir {
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("peln-{clean}-"))
            .tempdir()
            .expect("cannot create a temporary directory");
        let path = dir.path().to_path_buf();
        WorkDir {
            dir: Some(dir),
            path,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path().join(rel)`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Creates (if needed) and returns a subdirectory.
    pub fn subdir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let p = self.path.join(rel);
        std::fs::create_dir_all(&p)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()));
        p
    }
}

impl AsRef<Path> for WorkDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            if std::thread::panicking() || std::env::var_os("PELN_KEEP_WORK").is_some() {
                let kept = dir.keep();
                eprintln!("note: test artifacts kept in {}", kept.display());
            }
        }
    }
}
