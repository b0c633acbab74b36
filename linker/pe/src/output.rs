//! Atomic output for every tool: the bytes go to a temporary file in the output's directory
//! (so the final rename stays on one filesystem), which is renamed over the output only once it
//! is complete (and, for media, synced). A failure (full disk, RLIMIT_FSIZE, a check that refuses the result)
//! removes the temporary file: no half-written output, and an existing output stays untouched.
use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A temporary file next to `target` that becomes `target` on [`Staged::commit`] and is removed
/// if dropped before.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    file: File,
    target: PathBuf,
    committed: bool,
}

impl Staged {
    /// Reserves a fresh temporary name next to `target` (created empty, exclusively, so two
    /// runs or two threads never share one).
    pub fn new(target: &Path) -> io::Result<Staged> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?
            .to_string_lossy();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!(".{name}.peln-{}-{n}.tmp", std::process::id()));
            let mut options = File::options();
            options.read(true).write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
            match options.open(&tmp) {
                Ok(file) => {
                    return Ok(Staged {
                        tmp,
                        file,
                        target: target.to_path_buf(),
                        committed: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Where to write the contents.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The temporary file, open for reading and writing (for writers that stream or seek).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Gives the file its `len` bytes and, where the file system can, their blocks in one call,
    /// for writers that then fill it in pieces: ext4 otherwise reserves a block for each 4 KiB
    /// page as it is first written (0.6-0.7 ms of the 10 MiB image of a 1000-object link;
    /// mold and Go's linker preallocate too). Advisory: where the file system cannot or the
    /// space is not there, the writes that follow fail as they would have. Whether the blocks
    /// were reserved.
    pub fn preallocate(&self, len: u64) -> bool {
        #[cfg(target_os = "linux")]
        if let Ok(len) = libc::off_t::try_from(len) {
            use std::os::fd::AsRawFd;
            // SAFETY: a plain call on this stage's own open file.
            return unsafe { libc::fallocate(self.file.as_raw_fd(), 0, 0, len) } == 0;
        }
        let _ = len;
        false
    }

    /// Writes `bytes` as the whole contents.
    pub fn write(&self, bytes: &[u8]) -> io::Result<()> {
        self.file.set_len(0)?;
        (&self.file).seek(io::SeekFrom::Start(0))?;
        (&self.file).write_all(bytes)
    }

    /// Makes the contents durable and renames the temporary file over the target.
    pub fn commit(self) -> io::Result<()> {
        self.file.sync_all()?;
        self.rename()
    }

    /// Puts the temporary file in the target's place without waiting for the disk: for outputs
    /// a build rebuilds from their inputs (a linker's image; lld and mold do not sync either),
    /// where a sync would add a device flush to every link. Readers still see the old file or
    /// the whole new one, never a partial one.
    ///
    /// An existing regular file is swapped out (`RENAME_EXCHANGE`, where the kernel and file
    /// system have it) rather than renamed over: on ext4 a rename over a file starts writing the
    /// new one back before it returns (`auto_da_alloc`), 7 ms for a 10 MiB image, which a link
    /// over its previous output would wait for. The old file is then [`Displaced`]: it is
    /// removed when that is dropped, which a caller may put off until it has reported success
    /// (removing a large file takes milliseconds too; lld removes its old output on a thread of
    /// its own for the same reason).
    pub fn commit_unsynced(mut self) -> io::Result<Displaced> {
        if exchange(&self.tmp, &self.target)? {
            self.committed = true;
            return Ok(Displaced(Some(self.tmp.clone())));
        }
        self.rename()?;
        Ok(Displaced(None))
    }

    fn rename(mut self) -> io::Result<()> {
        std::fs::rename(&self.tmp, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The file a commit swapped out of the target's place, now at the temporary name; removed when
/// dropped.
#[derive(Debug, Default)]
#[must_use = "dropping it removes the previous output at once; keep it until that may take time"]
pub struct Displaced(Option<PathBuf>);

impl Drop for Displaced {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Swaps `from` and `to` when `to` is a regular file and the platform can (true); false when
/// there is nothing to swap with or no way to, and a plain rename should do.
#[cfg(target_os = "linux")]
fn exchange(from: &Path, to: &Path) -> io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    // A directory in the target's place is for the plain rename to refuse, as before.
    match std::fs::symlink_metadata(to) {
        Ok(meta) if meta.is_file() => {}
        _ => return Ok(false),
    }
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: two NUL-terminated paths that live across the call.
    let swapped = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if swapped == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        // No such call or file system support; the target gone since: rename.
        Some(libc::EINVAL | libc::ENOSYS | libc::ENOENT) => Ok(false),
        _ => Err(error),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<bool> {
    Ok(false)
}

/// Writes all of `bytes` at `offset` of `file`, leaving its position alone: threads write
/// pieces of one file side by side.
pub fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    return std::os::unix::fs::FileExt::write_all_at(file, bytes, offset);
    #[cfg(windows)]
    {
        let (mut bytes, mut offset) = (bytes, offset);
        while !bytes.is_empty() {
            match std::os::windows::fs::FileExt::seek_write(file, bytes, offset)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => (bytes, offset) = (&bytes[n..], offset + n as u64),
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically (see the module documentation). The error is the I/O
/// error alone: callers name `path` in their own error type.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let staged = Staged::new(path)?;
    staged.write(bytes)?;
    staged.commit()
}

/// The first of `inputs` that is the same file as `output` (see [`FileId`]), if any. A tool
/// refuses to write over its own input: the rename would replace the input even though the user
/// asked for a new file.
pub fn output_is_input<'a>(output: &Path, inputs: &[&'a Path]) -> Option<&'a Path> {
    let out = FileId::at(output)?;
    inputs.iter().copied().find(|i| FileId::at(i) == Some(out))
}

/// What a tool says when its output would replace one of its inputs (see [`output_is_input`]):
/// one wording for every tool.
pub fn refusal_to_overwrite(
    output: impl std::fmt::Display,
    input: impl std::fmt::Display,
) -> String {
    format!("output {output} is the input {input}: refusing to overwrite an input")
}

/// A file's device and inode: the same file whatever path names it (`./a.efi`, `a.efi`, a hard
/// link). `None` where the platform has no such numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId(u64, u64);

impl FileId {
    #[cfg(unix)]
    pub fn of(meta: &std::fs::Metadata) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        Some(FileId(meta.dev(), meta.ino()))
    }

    #[cfg(not(unix))]
    pub fn of(_: &std::fs::Metadata) -> Option<FileId> {
        None
    }

    /// The file at `path`, if there is one.
    pub fn at(path: &Path) -> Option<FileId> {
        FileId::of(&std::fs::metadata(path).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.efi");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn dropped_stage_leaves_nothing_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.efi");
        std::fs::write(&p, b"old").unwrap();
        let staged = Staged::new(&p).unwrap();
        staged.write(b"new, but refused").unwrap();
        drop(staged);
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert!(leftovers(dir.path()).is_empty());
    }

    /// An unsynced commit over an existing file swaps it out (on Linux file systems that can):
    /// the target is the new file at once, the old one waits at the temporary name until the
    /// displaced handle is dropped. Hard links to the old file keep its contents, as a rename
    /// over it would leave them.
    #[test]
    fn unsynced_commit_over_a_file_displaces_it_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.efi");
        std::fs::write(&p, b"old").unwrap();
        let link = dir.path().join("old-link");
        std::fs::hard_link(&p, &link).unwrap();
        let staged = Staged::new(&p).unwrap();
        staged.write(b"new").unwrap();
        let displaced = staged.commit_unsynced().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        let waiting = leftovers(dir.path());
        if cfg!(target_os = "linux") {
            assert_eq!(waiting.len(), 1, "{waiting:?}");
            assert_eq!(std::fs::read(dir.path().join(&waiting[0])).unwrap(), b"old");
        }
        drop(displaced);
        assert!(leftovers(dir.path()).is_empty());
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(std::fs::read(&link).unwrap(), b"old");

        // Nothing to displace: a plain rename.
        let fresh = dir.path().join("fresh.efi");
        let staged = Staged::new(&fresh).unwrap();
        staged.write(b"first").unwrap();
        drop(staged.commit_unsynced().unwrap());
        assert_eq!(std::fs::read(&fresh).unwrap(), b"first");
        assert!(leftovers(dir.path()).is_empty());
    }

    /// A directory in the output's place is not swapped with the file: the rename refuses, and
    /// the directory and nothing else stays.
    #[test]
    fn unsynced_commit_over_a_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.efi");
        std::fs::create_dir(&p).unwrap();
        let staged = Staged::new(&p).unwrap();
        staged.write(b"new").unwrap();
        assert!(staged.commit_unsynced().is_err());
        assert!(p.is_dir());
        assert!(leftovers(dir.path()).is_empty());
    }

    /// A preallocated stage has its length and blocks at once; pieces written into it in any
    /// order make the same file as without.
    #[cfg(target_os = "linux")]
    #[test]
    fn preallocated_pieces_make_the_same_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.efi");
        let staged = Staged::new(&p).unwrap();
        assert!(staged.preallocate(3 * 4096));
        let meta = staged.file().metadata().unwrap();
        assert_eq!(meta.len(), 3 * 4096);
        assert!(
            meta.blocks() >= 3 * 8,
            "{} blocks of 512 bytes",
            meta.blocks()
        );
        let bytes: Vec<u8> = (0..3 * 4096u32).map(|i| (i * 7 % 251) as u8).collect();
        for piece in [2, 0, 1] {
            let at = piece * 4096;
            write_at(staged.file(), &bytes[at..at + 4096], at as u64).unwrap();
        }
        drop(staged.commit_unsynced().unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), bytes);
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_atomic(&dir.path().join("no/such/dir/out.efi"), b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn output_equal_to_an_input_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.o");
        std::fs::write(&a, b"x").unwrap();
        let dotted = dir.path().join(".").join("a.o");
        let b = dir.path().join("b.o");
        std::fs::write(&b, b"y").unwrap();
        assert_eq!(output_is_input(&dotted, &[&b, &a]), Some(a.as_path()));
        assert_eq!(output_is_input(&dir.path().join("new.efi"), &[&a]), None);
    }
}
