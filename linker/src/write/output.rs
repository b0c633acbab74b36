//! Where an image goes: a buffer sized by layout, or a staged file written piece by piece and
//! put in place (a previous output swapped out, see [`Staged::commit_unsynced`]).
use std::path::{Path, PathBuf};

use peln_pe::output::{Displaced, Staged};

use super::Target;
use crate::error::{Error, Result};

/// Where an image is written, once layout knows the file size.
pub trait Output {
    /// The target for an image of `len` bytes.
    fn target(&mut self, len: usize) -> Result<Target<'_>>;
}

impl Output for Vec<u8> {
    fn target(&mut self, len: usize) -> Result<Target<'_>> {
        self.clear();
        self.resize(len, 0);
        Ok(Target::Memory(self))
    }
}

/// The image written to a [`Staged`] file beside its final path, then checked and renamed into
/// place by [`OutputFile::commit`]. Dropped uncommitted, it is removed: a failed link leaves no
/// partial file and the previous output untouched.
pub struct OutputFile {
    path: PathBuf,
    staged: Option<Staged>,
}

impl OutputFile {
    pub fn new(path: &Path) -> OutputFile {
        OutputFile {
            path: path.to_path_buf(),
            staged: None,
        }
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs `pectl verify`'s load checks on the written image, then puts it in place: an image
    /// firmware would refuse never replaces the output. The previous output, if any, is
    /// returned to be removed when the caller is done ([`Staged::commit_unsynced`]). The image
    /// is read back through a mapping of the page cache it was written to: the checks read the
    /// headers and tables, a few pages of it.
    pub fn commit(mut self) -> Result<Displaced> {
        let Some(staged) = self.staged.take() else {
            return Err(self.io(std::io::Error::other("no image was written")));
        };
        // SAFETY: the staged file is this link's own, created exclusively and written; nothing
        // changes it while it is mapped.
        let map = unsafe { memmap2::Mmap::map(staged.file()) }.map_err(|e| self.io(e))?;
        let report = peln_pe::verify::loadable(&map);
        if !report.is_clean() {
            return Err(Error::Unloadable {
                path: self.path.clone(),
                report: report.error_text(),
            });
        }
        drop(map);
        staged.commit_unsynced().map_err(|e| self.io(e))
    }
}

impl Output for OutputFile {
    fn target(&mut self, len: usize) -> Result<Target<'_>> {
        let staged = Staged::new(&self.path).map_err(|e| self.io(e))?;
        staged.preallocate(len as u64);
        let staged = self.staged.insert(staged);
        Ok(Target::File {
            file: staged.file(),
            path: &self.path,
        })
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place, so a failed link
/// never leaves a partial file or clobbers a previous good one.
pub fn commit(path: &Path, bytes: &[u8]) -> Result {
    peln_pe::output::write_atomic(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
