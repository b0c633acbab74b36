//! The heap of a link: one reservation of address space on transparent huge pages, handed out by
//! bumping a pointer, with freed blocks filed by size for reuse and nothing returned to the
//! kernel before exit.
//!
//! A link is a short process that allocates a hundred MiB from several threads and exits, and in
//! a VM it pays more for the page faults of fresh memory (one per 4 KiB, microseconds each) than
//! for most of its own work. glibc's `malloc` puts its heaps on huge pages only when told to by
//! the environment at startup (`glibc.malloc.hugetlb=1`), and glibc 2.36 then compares the
//! kernel's THP mode with a buffer it never terminates: the tunable took effect in about two runs
//! of three, and the same link took 50-60 ms or 70-90 ms depending on that. This heap asks for
//! huge pages itself (`MADV_HUGEPAGE` on the whole reservation), every time, and the process no
//! longer re-executes itself to set glibc's tunables.
//!
//! Each thread bumps through a chunk of its own, without synchronisation; a block freed at the
//! top of its chunk is taken back, one growing there grows in place (a `Vec` being filled), and
//! other freed blocks go on the freeing thread's list for their size class, to be handed out
//! again. Large blocks come from the reservation's tail, grow in place at its end, and when freed
//! go on one shared list. The tail was never written, so large zeroed blocks cost no writes.
//! Before [`Heap::reserve`], or when the reservation is exhausted or cannot be made, blocks come
//! from the system allocator, and go back to it. [`crate::process`] reserves as a link starts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What each thread takes from the reservation to bump through on its own.
const CHUNK: usize = 2 << 20;
/// Blocks from this size on come from the reservation's tail: a chunk never strands more than
/// this much at its end (3 %).
const LARGE: usize = 64 << 10;
/// Transparent huge pages are 2 MiB wherever pectl runs with them; the reservation starts on one.
const HUGE_PAGE: usize = 2 << 20;
/// Size classes of small blocks: 16-byte steps up to 256 bytes, then eight per power of two up
/// to [`LARGE`]. A small block is its class's size, so a freed block fits every later request
/// of its class, at the cost of rounding (6 % on average).
const CLASSES: usize = 16 + 8 * 8;

pub struct Heap {
    /// The reservation is `start..end`; both 0 until [`Heap::reserve`].
    start: AtomicUsize,
    end: AtomicUsize,
    /// The reservation's first byte never handed out.
    next: AtomicUsize,
    /// Freed large blocks, each holding the next one's address and its own size in its first
    /// two words.
    large_free: Mutex<usize>,
}

/// A thread's own part of every heap: its chunk and its lists of freed small blocks (each
/// holding the next one's address in its first word). Any heap's blocks may sit here (tests make
/// several heaps); each heap takes only its own.
struct Local {
    /// The chunk's next free byte and its end; (0, 0) before the thread's first chunk.
    chunk: Cell<(usize, usize)>,
    free: [Cell<usize>; CLASSES],
}

thread_local! {
    static LOCAL: Local = const {
        Local { chunk: Cell::new((0, 0)), free: [const { Cell::new(0) }; CLASSES] }
    };
}

/// The bytes of class `c`'s blocks.
fn class_size(c: usize) -> usize {
    if c < 16 {
        (c + 1) * 16
    } else {
        let (power, eighth) = (8 + (c - 16) / 8, (c - 16) % 8 + 1);
        (1 << power) + eighth * (1 << (power - 3))
    }
}

/// The smallest class whose blocks hold `size` bytes (`1..LARGE`).
fn class_of(size: usize) -> usize {
    if size <= 256 {
        return size.div_ceil(16) - 1;
    }
    let power = (size - 1).ilog2() as usize;
    let eighth = (size - (1 << power)).div_ceil(1 << (power - 3));
    16 + (power - 8) * 8 + eighth - 1
}

/// The bytes a block for `size` takes: its class's, or its own when large.
fn block_size(size: usize) -> usize {
    if size < LARGE {
        class_size(class_of(size))
    } else {
        size
    }
}

impl Heap {
    pub const fn new() -> Self {
        Heap {
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            large_free: Mutex::new(0),
        }
    }

    /// Reserves `len` bytes of address space and serves every later allocation from it. False,
    /// and the system allocator goes on serving, where the kernel refuses the reservation (a
    /// strict overcommit policy, an address-space limit). A second call changes nothing.
    pub fn reserve(&self, len: usize) -> bool {
        if self.end.load(Ordering::Acquire) != 0 {
            return true;
        }
        let Ok(map) = memmap2::MmapOptions::new()
            .len(len + HUGE_PAGE)
            .no_reserve_swap()
            .map_anon()
        else {
            return false;
        };
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::HugePage);
        let start = (map.as_ptr() as usize).next_multiple_of(HUGE_PAGE);
        // Blocks handed out live as long as the process.
        std::mem::forget(map);
        self.next.store(start, Ordering::Release);
        self.start.store(start, Ordering::Release);
        self.end.store(start + len, Ordering::Release);
        true
    }

    fn contains(&self, p: usize) -> bool {
        let start = self.start.load(Ordering::Acquire);
        p.wrapping_sub(start) < self.end.load(Ordering::Acquire).wrapping_sub(start)
    }

    /// `size` bytes at `align` from the reservation's tail: memory nobody has written.
    fn take_fresh(&self, size: usize, align: usize) -> Option<usize> {
        let end = self.end.load(Ordering::Acquire);
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            let at = next.checked_next_multiple_of(align)?;
            let after = at.checked_add(size).filter(|&a| a <= end)?;
            match self
                .next
                .compare_exchange_weak(next, after, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(at),
                Err(seen) => next = seen,
            }
        }
    }

    /// A freed large block for `size` bytes at `align`: the smallest that holds it, and not more
    /// than twice its size (the rest is lost until exit).
    fn take_freed_large(&self, size: usize, align: usize) -> Option<usize> {
        let mut head = self.large_free.lock().unwrap_or_else(|e| e.into_inner());
        let (mut best, mut best_size, mut best_link) = (0, usize::MAX, std::ptr::null_mut());
        let mut link: *mut usize = &mut *head;
        // SAFETY: every block on the list is a freed large block of this heap, which nobody
        // else uses; its first two words are the list's.
        unsafe {
            while *link != 0 {
                let block = *link as *mut usize;
                let block_size = *block.add(1);
                if (size..=2 * size).contains(&block_size)
                    && block_size < best_size
                    && (block as usize).is_multiple_of(align)
                {
                    (best, best_size, best_link) = (block as usize, block_size, link);
                }
                link = block;
            }
            if best != 0 {
                *best_link = *(best as *const usize);
            }
        }
        (best != 0).then_some(best)
    }

    /// A block for `layout` from the reservation, and whether it may hold old bytes.
    fn take(&self, layout: Layout) -> Option<(usize, bool)> {
        if self.end.load(Ordering::Acquire) == 0 {
            return None;
        }
        let (size, align) = (layout.size(), layout.align());
        if size >= LARGE {
            if let Some(at) = self.take_freed_large(size, align) {
                return Some((at, true));
            }
            return self.take_fresh(size, align).map(|at| (at, false));
        }
        let size = block_size(size);
        LOCAL.with(|local| {
            let list = &local.free[class_of(size)];
            let head = list.get();
            if self.contains(head) && head.is_multiple_of(align) {
                // SAFETY: a freed block's first word links to the next one.
                list.set(unsafe { *(head as *const usize) });
                return Some((head, true));
            }
            let (mut cur, lim) = local.chunk.get();
            if self.contains(cur) {
                cur = cur.next_multiple_of(align);
                if cur + size <= lim {
                    local.chunk.set((cur + size, lim));
                    return Some((cur, true));
                }
            }
            let chunk = self.take_fresh(CHUNK, align.max(16))?;
            local.chunk.set((chunk + size, chunk + CHUNK));
            Some((chunk, true))
        })
    }
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.take(layout) {
            Some((at, _)) => at as *mut u8,
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.take(layout) {
            Some((at, used)) => {
                let p = at as *mut u8;
                if used {
                    unsafe { p.write_bytes(0, layout.size()) };
                }
                p
            }
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let (p, size) = (ptr as usize, block_size(layout.size()));
        if !self.contains(p) {
            return unsafe { System.dealloc(ptr, layout) };
        }
        let taken_back = LOCAL.with(|local| {
            let (cur, lim) = local.chunk.get();
            if p + size == cur {
                local.chunk.set((p, lim));
                return true;
            }
            if size < LARGE {
                let list = &local.free[class_of(size)];
                // SAFETY: the block is ours again, and holds a word.
                unsafe { (ptr as *mut usize).write(list.get()) };
                list.set(p);
                return true;
            }
            false
        });
        if !taken_back {
            let mut head = self.large_free.lock().unwrap_or_else(|e| e.into_inner());
            // SAFETY: the block is ours again, and large enough for two words.
            unsafe { (ptr as *mut [usize; 2]).write_unaligned([*head, size]) };
            *head = p;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = ptr as usize;
        if !self.contains(p) {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let (old, new) = (block_size(layout.size()), block_size(new_size));
        let at_chunk_top = LOCAL.with(|local| {
            let (cur, lim) = local.chunk.get();
            let fits = cur == p + old && p + new <= lim;
            if fits {
                local.chunk.set((p + new, lim));
            }
            fits
        });
        if at_chunk_top || new <= old {
            return ptr;
        }
        if old >= LARGE
            && p + new <= self.end.load(Ordering::Acquire)
            && self
                .next
                .compare_exchange(p + old, p + new, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return ptr;
        }
        // SAFETY: `GlobalAlloc::realloc`'s contract makes this a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            unsafe {
                moved.copy_from_nonoverlapping(ptr, layout.size());
                self.dealloc(ptr, layout);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A heap of its own over `len` bytes, kept for the test process's lifetime.
    fn heap(len: usize) -> &'static Heap {
        let heap = Box::leak(Box::new(Heap::new()));
        assert!(heap.reserve(len));
        heap
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn every_small_size_has_the_least_class_that_holds_it() {
        for c in 1..CLASSES {
            assert!(class_size(c) > class_size(c - 1), "class {c}");
            assert_eq!(class_of(class_size(c)), c);
        }
        assert_eq!(class_size(CLASSES - 1), LARGE);
        for size in 1..LARGE {
            let c = class_of(size);
            assert!(class_size(c) >= size, "{size} in class {c}");
            assert!(
                c == 0 || class_size(c - 1) < size,
                "{size}: class {c} is not the least"
            );
            assert!(
                class_size(c) - size < 16 || class_size(c) - size <= size / 8,
                "{size}"
            );
        }
    }

    #[test]
    fn blocks_are_aligned_apart_and_inside_the_reservation() {
        let h = heap(64 << 20);
        let mut blocks = Vec::new();
        for (i, (size, align)) in [
            (1, 1),
            (24, 8),
            (100, 64),
            (4096, 4096),
            (70_000, 16),
            (3, 2),
        ]
        .into_iter()
        .cycle()
        .take(60)
        .enumerate()
        {
            let p = unsafe { h.alloc(layout(size, align)) };
            assert!(h.contains(p as usize) && (p as usize).is_multiple_of(align));
            unsafe { p.write_bytes(i as u8, size) };
            blocks.push((p, size, i as u8));
        }
        for (p, size, fill) in blocks {
            let bytes = unsafe { std::slice::from_raw_parts(p, size) };
            assert!(bytes.iter().all(|&b| b == fill), "a block was overwritten");
        }
    }

    #[test]
    fn freed_blocks_are_handed_out_again() {
        let h = heap(64 << 20);
        let (small, large) = (layout(200, 8), layout(100_000, 8));
        unsafe {
            let a = h.alloc(small);
            let _keep = h.alloc(small);
            h.dealloc(a, small);
            assert_eq!(h.alloc(layout(193, 8)), a, "same class");
            // The top of the chunk is taken back whatever the size asked next.
            let top = h.alloc(layout(40, 8));
            h.dealloc(top, layout(40, 8));
            assert_eq!(h.alloc(layout(8, 8)), top);
            let b = h.alloc(large);
            let _after = h.alloc(large);
            h.dealloc(b, large);
            assert_eq!(
                h.alloc(layout(80_000, 8)),
                b,
                "a smaller block, within half of it"
            );
            let c = h.alloc(large);
            h.dealloc(c, large);
            assert_ne!(
                h.alloc(layout(30_000_000, 8)),
                c,
                "not for a block 300 times larger"
            );
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_even_where_a_block_was_freed() {
        let h = heap(64 << 20);
        for size in [48, 100_000] {
            let l = layout(size, 8);
            unsafe {
                let a = h.alloc(l);
                let _keep = h.alloc(l);
                a.write_bytes(0xa5, size);
                h.dealloc(a, l);
                let z = h.alloc_zeroed(l);
                assert_eq!(z, a, "{size}: the freed block is reused");
                assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
            }
        }
    }

    #[test]
    fn a_block_grows_in_place_at_the_top_and_moves_with_its_bytes_elsewhere() {
        let h = heap(64 << 20);
        unsafe {
            let a = h.alloc(layout(100, 8));
            a.write_bytes(7, 100);
            assert_eq!(h.realloc(a, layout(100, 8), 1000), a, "top of the chunk");
            let _b = h.alloc(layout(16, 8));
            let moved = h.realloc(a, layout(1000, 8), 2000);
            assert_ne!(moved, a);
            assert!(std::slice::from_raw_parts(moved, 100)
                .iter()
                .all(|&b| b == 7));
            let big = h.alloc(layout(200_000, 8));
            assert_eq!(
                h.realloc(big, layout(200_000, 8), 4 << 20),
                big,
                "end of the tail"
            );
            assert_eq!(
                h.realloc(big, layout(4 << 20, 8), 100),
                big,
                "shrinks in place"
            );
        }
    }

    #[test]
    fn the_system_allocator_serves_before_the_reservation_and_beyond_it() {
        let h = Box::leak(Box::new(Heap::new()));
        let l = layout(100_000, 8);
        unsafe {
            let early = h.alloc(l);
            assert!(!early.is_null() && !h.contains(early as usize));
            assert!(h.reserve(4 << 20));
            let inside = h.alloc(layout(3 << 20, 8));
            assert!(h.contains(inside as usize));
            let beyond = h.alloc(layout(2 << 20, 8));
            assert!(!beyond.is_null() && !h.contains(beyond as usize));
            // Each goes back where it came from; a block from before grows where it is.
            let grown = h.realloc(early, l, 300_000);
            assert!(!h.contains(grown as usize));
            h.dealloc(grown, layout(300_000, 8));
            h.dealloc(beyond, layout(2 << 20, 8));
        }
    }

    #[test]
    fn threads_get_blocks_apart() {
        let h = heap(256 << 20);
        let blocks: Vec<Vec<(usize, usize)>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|t| {
                    s.spawn(move || {
                        (0..2000)
                            .map(|i| {
                                let size = [24, 300, 5000, 70_000][(i + t) % 4];
                                let p = unsafe { h.alloc(layout(size, 8)) };
                                // Every other block freed again, on this thread's lists.
                                if i % 2 == 1 {
                                    unsafe { h.dealloc(p, layout(size, 8)) };
                                }
                                (p as usize, size)
                            })
                            .collect()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut kept: Vec<(usize, usize)> = blocks
            .iter()
            .flat_map(|b| b.iter().step_by(2).copied())
            .collect();
        kept.sort_unstable();
        for pair in kept.windows(2) {
            assert!(
                pair[0].0 + pair[0].1 <= pair[1].0,
                "blocks overlap: {pair:?}"
            );
        }
    }
}
