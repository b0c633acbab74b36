//! Where an image goes: a buffer sized by layout, then a staged file put in place (a previous
//! output swapped out, see [`Staged::commit_unsynced`]).
use std::path::{Path, PathBuf};

use peln_pe::output::{Displaced, Staged};

use crate::error::{Error, Result};

/// Where an image is written: sized once layout knows the file size, then filled in place.
pub trait Output {
    /// A zeroed buffer of `len` bytes.
    fn buffer(&mut self, len: usize) -> Result<&mut [u8]>;
}

impl Output for Vec<u8> {
    fn buffer(&mut self, len: usize) -> Result<&mut [u8]> {
        self.clear();
        self.resize(len, 0);
        Ok(self)
    }
}

/// The image in memory, sized by layout and filled in place, then checked, written to a
/// [`Staged`] file beside its final path and renamed into place by [`OutputFile::commit`]. Dropped uncommitted, it is
/// removed: a failed link leaves no partial file and the previous output untouched.
pub struct OutputFile {
    path: PathBuf,
    // The image, until commit writes it to `staged`.
    map: Option<memmap2::MmapMut>,
    staged: Option<Staged>,
}

impl OutputFile {
    pub fn new(path: &Path) -> OutputFile {
        OutputFile {
            path: path.to_path_buf(),
            map: None,
            staged: None,
        }
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs `pectl verify`'s load checks on the finished image, then puts it in place: an
    /// image firmware would refuse never replaces the output. The previous output, if any, is
    /// returned to be removed when the caller is done ([`Staged::commit_unsynced`]). The checks
    /// and the write to the staged file run side by side (both only read the image, and a
    /// refused image's staged file is removed when dropped): a few milliseconds of a large
    /// link's serial tail.
    pub fn commit(mut self) -> Result<Displaced> {
        let (Some(map), Some(staged)) = (self.map.take(), self.staged.take()) else {
            return Err(self.io(std::io::Error::other("no image was written")));
        };
        let (report, written) =
            rayon::join(|| peln_pe::verify::verify(&map), || staged.write(&map));
        if !report.is_clean() {
            return Err(Error::Unloadable {
                path: self.path.clone(),
                report: report.error_text(),
            });
        }
        written.map_err(|e| self.io(e))?;
        staged.commit_unsynced().map_err(|e| self.io(e))
    }
}

impl Output for OutputFile {
    fn buffer(&mut self, len: usize) -> Result<&mut [u8]> {
        let staged = Staged::new(&self.path).map_err(|e| self.io(e))?;
        // Anonymous memory, written to the file in one call at commit: a mapping of the file
        // itself would take one page fault per page the writers touch, which costs more than
        // the copy. Huge pages where the kernel has them: a 2 MiB fault instead of 512 small
        // ones (a hint). Not populated here: the writers fault the pages in on both threads,
        // where populating zeroed all of them on this one first (21 alternating runs each,
        // medians: the COFF job 74.3 → 70.5 ms, riscv64 115.3 → 111.0, loongarch64 86.2 → 82.4).
        let map = memmap2::MmapOptions::new()
            .len(len)
            .map_anon()
            .map_err(|e| self.io(e))?;
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::HugePage);
        self.staged = Some(staged);
        Ok(self.map.insert(map))
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
