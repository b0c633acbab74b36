//! What a link does to the process around it when pectl is a program of its own, rather than a
//! library inside another one (the tests): it takes over the allocator ([`crate::heap`]), and it
//! exits early the way mold does.
//!
//! Tearing a large link down costs the kernel 4-6 ms of a 1000-object link's ~70 (unmapping a
//! thousand inputs, giving a hundred MiB back), and whoever runs the linker waits for it. So the
//! link runs in a forked child: the process the caller started waits only until the child says
//! the output is in place, and exits then with success; the child's own exit (and the removal
//! of a previous output it swapped out) happens after. A child that fails says nothing, prints
//! its error and exits: the waiting process exits with the child's status (or dies of the
//! child's signal). Until it has said the output is in place, the child dies with the waiting
//! process, so stopping pectl stops the link. `PECTL_NO_FORK` keeps the link in the
//! process the caller started, which is what to measure its memory and CPU time by (a detached
//! child's are nobody's).

use std::sync::OnceLock;

use crate::heap::Heap;
use crate::Error;

/// Address space a link may fill before blocks come from the system allocator again: reserving
/// costs no memory, pages are made as they are first touched.
const LINK_RESERVATION: usize = 16 << 30;

/// The process's global allocator, set when pectl is its own program.
static OWN_HEAP: OnceLock<&'static Heap> = OnceLock::new();

/// Says that this process is pectl's own and `heap` its global allocator: links may take it over
/// and run in a child.
pub fn own(heap: &'static Heap) {
    let _ = OWN_HEAP.set(heap);
}

/// Runs a link command: in a child that tells this process when the output is in place, when
/// pectl is its own program; here and as it is otherwise.
pub(crate) fn link<T>(run: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let Some(heap) = OWN_HEAP.get() else {
        return run();
    };
    let done = match std::env::var_os("PECTL_NO_FORK") {
        None => detach(),
        Some(_) => None,
    };
    // Heap profilers (valgrind's dhat and massif, heaptrack) see only `malloc`.
    if std::env::var_os("PECTL_SYSTEM_ALLOCATOR").is_none() {
        heap.reserve(LINK_RESERVATION);
    }
    let result = run();
    if let (Ok(_), Some(done)) = (&result, done) {
        done.say();
    }
    result
}

/// The child's end of the pipe on which it says that the link is done.
#[cfg(target_os = "linux")]
struct Done(libc::c_int);

/// Elsewhere links run in the process the caller started.
#[cfg(not(target_os = "linux"))]
enum Done {}

#[cfg(not(target_os = "linux"))]
impl Done {
    fn say(self) {}
}

#[cfg(not(target_os = "linux"))]
fn detach() -> Option<Done> {
    None
}

#[cfg(target_os = "linux")]
impl Done {
    /// Lets the waiting process exit with success, and lets go of the caller's stdout and stderr
    /// (whoever reads them until their end stops waiting too): nothing is printed after this.
    fn say(self) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // SAFETY: plain calls on this process's own state and file descriptors.
        unsafe {
            // The waiting process exits now: the child stays to finish (removing a previous
            // output the link swapped out) rather than die with it.
            libc::prctl(libc::PR_SET_PDEATHSIG, 0);
            let _ = libc::write(self.0, [1u8].as_ptr().cast(), 1);
            libc::close(self.0);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if null >= 0 {
                libc::dup2(null, 1);
                libc::dup2(null, 2);
                libc::close(null);
            }
        }
    }
}

/// Forks: the child returns with the end of the pipe it will speak on; this process waits and
/// exits. Without a fork (the kernel refused one) the link goes on here.
#[cfg(target_os = "linux")]
fn detach() -> Option<Done> {
    let mut ends = [0; 2];
    // SAFETY: `pipe2` fills the two descriptors; `fork` happens before the link starts any thread.
    unsafe {
        if libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return None;
        }
        let waiting = libc::getpid();
        match libc::fork() {
            -1 => {
                libc::close(ends[0]);
                libc::close(ends[1]);
                None
            }
            0 => {
                libc::close(ends[0]);
                // Whoever stops pectl (a build's timeout, a signal to its pid) stops the link
                // too, until the child has said it is done (`Done::say`).
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != waiting {
                    libc::_exit(1);
                }
                Some(Done(ends[1]))
            }
            child => {
                libc::close(ends[1]);
                wait_for(child, ends[0])
            }
        }
    }
}

/// The waiting process: exits as soon as the child says the output is in place, or as the child
/// did. Never returns.
#[cfg(target_os = "linux")]
unsafe fn wait_for(child: libc::pid_t, said: libc::c_int) -> ! {
    let mut byte = 0u8;
    loop {
        match unsafe { libc::read(said, (&raw mut byte).cast(), 1) } {
            1 => unsafe { libc::_exit(0) },
            -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
    let mut status = 0;
    while unsafe { libc::waitpid(child, &mut status, 0) } == -1
        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
    {}
    unsafe {
        if libc::WIFSIGNALED(status) {
            let signal = libc::WTERMSIG(status);
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
            libc::_exit(128 + signal);
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}
