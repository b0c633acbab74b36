//! Output-side I/O: a sparse-aware region copy using `copy_file_range`, a hashing reader, and a
//! terminal progress line.
//!
//! Nothing here loads a whole input into memory: data moves in kernel (`copy_file_range`) or
//! through one 1 MiB buffer, so memory stays flat whatever the payload size.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

const BUF: usize = 1 << 20;

/// Copy `len` bytes of `src` (from offset 0) to `dst` at `dst_off`.
///
/// Holes in `src` (SEEK_HOLE) are skipped: the output was pre-sized with `set_len`, so they read
/// back as zeros and the image stays sparse where the payload is. Data extents go through
/// `copy_file_range` (in-kernel, reflink where the filesystem can), falling back to a buffered
/// copy across filesystems or where the syscall is unavailable.
pub fn copy_sparse(
    src: &File,
    src_path: &Path,
    len: u64,
    dst: &File,
    dst_path: &Path,
    dst_off: u64,
    progress: &mut Progress,
) -> Result {
    let check_size = || -> Result {
        let now = src
            .metadata()
            .map_err(|e| Error::io("stat", src_path, e))?
            .len();
        if now != len {
            return Err(Error::ChangedDuringBuild {
                path: src_path.into(),
                expected: len,
                found: now,
            });
        }
        Ok(())
    };
    check_size()?;
    let mut off = 0u64;
    let mut kernel_copy = true;
    while off < len {
        let (data, hole) = match next_data(src, off, len) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(Error::io("read", src_path, e)),
        };
        progress.advance(data - off);
        let mut pos = data;
        while pos < hole {
            // 64 MiB steps: big enough for the kernel, small enough for a live progress line.
            let want = (hole - pos).min(64 << 20) as usize;
            let n = if kernel_copy {
                match copy_file_range(src, pos, dst, dst_off + pos, want) {
                    Ok(n) => n,
                    Err(e) if falls_back(&e) => {
                        kernel_copy = false;
                        continue;
                    }
                    Err(e) => return Err(Error::io("copy into the image", src_path, e)),
                }
            } else {
                buffered_copy(src, src_path, pos, dst, dst_path, dst_off + pos, want)?
            };
            if n == 0 {
                // EOF before `len`: the file shrank under us.
                check_size()?;
                return Err(Error::ChangedDuringBuild {
                    path: src_path.into(),
                    expected: len,
                    found: pos,
                });
            }
            pos += n as u64;
            progress.advance(n as u64);
        }
        off = hole;
    }
    progress.advance(len - off.min(len));
    check_size()
}

/// Next `[data, hole)` extent at or after `off`, clamped to `len`; `None` if only holes remain.
fn next_data(f: &File, off: u64, len: u64) -> io::Result<Option<(u64, u64)>> {
    let fd = f.as_raw_fd();
    // SAFETY: lseek on a valid fd owned by `f`; no memory is passed.
    let data = unsafe { libc::lseek(fd, off as libc::off_t, libc::SEEK_DATA) };
    if data < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENXIO) => Ok(None),
            // Filesystem without SEEK_DATA: treat everything as data.
            Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => Ok(Some((off, len))),
            _ => Err(e),
        };
    }
    let data = (data as u64).min(len);
    if data >= len {
        return Ok(None);
    }
    // SAFETY: as above.
    let hole = unsafe { libc::lseek(fd, data as libc::off_t, libc::SEEK_HOLE) };
    let hole = if hole < 0 {
        len
    } else {
        (hole as u64).min(len)
    };
    Ok(Some((data, hole)))
}

fn copy_file_range(
    src: &File,
    src_off: u64,
    dst: &File,
    dst_off: u64,
    n: usize,
) -> io::Result<usize> {
    let mut so = src_off as libc::loff_t;
    let mut d = dst_off as libc::loff_t;
    // SAFETY: both fds are valid for the call; the offset pointers point at live locals.
    let r =
        unsafe { libc::copy_file_range(src.as_raw_fd(), &mut so, dst.as_raw_fd(), &mut d, n, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

fn falls_back(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EXDEV) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)
    )
}

fn buffered_copy(
    src: &File,
    src_path: &Path,
    src_off: u64,
    dst: &File,
    dst_path: &Path,
    dst_off: u64,
    want: usize,
) -> Result<usize> {
    thread_local!(static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; BUF]));
    BUFFER.with(|b| {
        let mut b = b.borrow_mut();
        let n = want.min(BUF);
        let got = src
            .read_at(&mut b[..n], src_off)
            .map_err(|e| Error::io("read", src_path, e))?;
        dst.write_all_at(&b[..got], dst_off)
            .map_err(|e| Error::io("write", dst_path, e))?;
        Ok(got)
    })
}

/// Adapter that feeds everything read through a hasher (for the GUID seed).
pub struct HashingReader<'h, R> {
    pub inner: R,
    pub hasher: &'h mut sha2::Sha256,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A one-line progress display on stderr, only when stderr is a terminal and the job is big
/// enough to be worth watching.
pub struct Progress {
    enabled: bool,
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    pub fn new(label: &str, total: u64, allowed: bool) -> Progress {
        let now = Instant::now();
        Progress {
            enabled: allowed && total >= 64 << 20 && io::stderr().is_terminal(),
            label: label.into(),
            total,
            done: 0,
            started: now,
            last: now,
        }
    }

    pub fn advance(&mut self, n: u64) {
        self.done = (self.done + n).min(self.total);
        if self.enabled && self.last.elapsed() >= Duration::from_millis(200) {
            self.last = Instant::now();
            self.draw();
        }
    }

    fn draw(&self) {
        const W: usize = 30;
        let frac = if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        };
        let filled = (frac * W as f64) as usize;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let _ = write!(
            io::stderr(),
            "\r{} [{}{}] {:3.0}% {:.1}/{:.1} MiB {:.0} MiB/s",
            self.label,
            "#".repeat(filled),
            " ".repeat(W - filled),
            frac * 100.0,
            self.done as f64 / 1048576.0,
            self.total as f64 / 1048576.0,
            self.done as f64 / 1048576.0 / secs
        );
    }

    pub fn finish(&mut self) {
        if self.enabled {
            self.done = self.total;
            self.draw();
            let _ = writeln!(io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_copy_keeps_bytes_and_holes() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("src");
        let dp = dir.path().join("dst");
        let src = File::create(&sp).unwrap();
        let len = 8u64 << 20;
        src.set_len(len).unwrap();
        src.write_all_at(b"head", 0).unwrap();
        src.write_all_at(b"middle", 3 << 20).unwrap();
        src.write_all_at(b"tail", len - 4).unwrap();
        let src = File::open(&sp).unwrap();
        let dst = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&dp)
            .unwrap();
        dst.set_len(len + 4096).unwrap();
        let mut p = Progress::new("t", len, false);
        copy_sparse(&src, &sp, len, &dst, &dp, 4096, &mut p).unwrap();
        assert_eq!(p.done, len);
        let out = std::fs::read(&dp).unwrap();
        let inp = std::fs::read(&sp).unwrap();
        assert_eq!(&out[4096..], &inp[..]);
        assert!(out[..4096].iter().all(|&b| b == 0));
    }

    #[test]
    fn sparse_copy_detects_size_change() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("src");
        std::fs::write(&sp, b"abc").unwrap();
        let src = File::open(&sp).unwrap();
        let dst = tempfile::tempfile().unwrap();
        let mut p = Progress::new("t", 10, false);
        let e = copy_sparse(&src, &sp, 10, &dst, Path::new("dst"), 0, &mut p).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("src: changed size while the image was written (10 bytes, now 3)"),
            "{e}"
        );
    }
}
