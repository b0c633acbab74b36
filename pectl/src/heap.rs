//! The heap of a link: one reservation of address space, handed out by bumping a pointer, with
//! freed blocks filed by size for reuse and nothing returned to the kernel before exit.
//!
//! A link is a short process that allocates a hundred MiB from several threads and exits, and in
//! a VM it pays more for fresh memory than for most of its own work. The reservation is on 4 KiB
//! pages, no longer on transparent huge pages: a huge page is zeroed in one fault at memory speed
//! only when the kernel has a free one that the host still backs. After an idle pause it has
//! not, and each cost a compaction or the host's rebuilding of it 4 KiB at a time: the
//! 1000-object COFF link after a 4 s pause took 330-500 ms on huge pages, 80-150 on small ones.
//! Run right after the reference linker, as the bench runs it, the two were within the VM's
//! noise; only the smallest link (the Rust one, a 14 MiB heap) lost, 10.1 → 11.6 ms. This heap
//! was written for huge pages (glibc's `malloc` took them in only some runs: its THP check in
//! glibc 2.36 reads an unterminated buffer); on small pages it still beats glibc's: the COFF
//! link after a pause 77-147 ms against 89-107, and in the bench's order (15 runs each right
//! after lld-link's, rotated) 59.8 ms against 67.7.
//!
//! Each thread bumps through a chunk of its own, without synchronisation; a block freed at the
//! top of its chunk is taken back, one growing there grows in place (a `Vec` being filled), and
//! other freed blocks go on the freeing thread's list for their size class, to be handed out
//! again. Large blocks come from the reservation's tail, grow in place at its end, and when freed
//! go on one shared list in address order, joined with free neighbours and split when reused. The
//! tail was never written, so large zeroed blocks cost no writes.
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
    /// Bit `c` set: `free[c]` may hold a block.
    filled: Cell<u128>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            chunk: Cell::new((0, 0)),
            free: [const { Cell::new(0) }; CLASSES],
            filled: Cell::new(0),
        }
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

/// The bytes a block for `size` takes: its class's, or its own rounded to 16 when large. Every
/// block starts 16-aligned, so a freed one holds the free lists' words where they can be read.
fn block_size(size: usize) -> usize {
    if size < LARGE {
        class_size(class_of(size))
    } else {
        size.next_multiple_of(16)
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
            .len(len)
            .no_reserve_swap()
            .map_anon()
        else {
            return false;
        };
        let start = map.as_ptr() as usize;
        // Blocks handed out live as long as the process.
        std::mem::forget(map);
        self.next.store(start, Ordering::Release);
        self.start.store(start, Ordering::Release);
        self.end.store(start + len, Ordering::Release);
        true
    }

    fn contains(&self, p: usize) -> bool {
        // `end` is stored last: once it is seen, so is `start`.
        let end = self.end.load(Ordering::Acquire);
        let start = self.start.load(Ordering::Relaxed);
        end != 0 && p.wrapping_sub(start) < end - start
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

    /// A freed large block for `size` bytes at `align`: the smallest that holds it, its tail
    /// filed again when that is large itself (ICF's per-round tables come back at other sizes).
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
                if (size..best_size).contains(&block_size) && (block as usize).is_multiple_of(align)
                {
                    (best, best_size, best_link) = (block as usize, block_size, link);
                }
                link = block;
            }
            if best == 0 {
                return None;
            }
            // The tail takes the block's place in the list, which stays in address order.
            let after = *(best as *const usize);
            let used = block_size(size);
            *best_link = if best_size >= used + LARGE {
                *((best + used) as *mut [usize; 2]) = [after, best_size - used];
                best + used
            } else {
                after
            };
        }
        Some(best)
    }

    /// A block for `layout` from the reservation, and whether it may hold old bytes.
    fn take(&self, layout: Layout) -> Option<(usize, bool)> {
        if self.end.load(Ordering::Acquire) == 0 {
            return None;
        }
        let (size, align) = (block_size(layout.size()), layout.align().max(16));
        if size >= LARGE {
            if let Some(at) = self.take_freed_large(size, align) {
                return Some((at, true));
            }
            return self.take_fresh(size, align).map(|at| (at, false));
        }
        LOCAL.with(|local| {
            // A freed block of the size's class or of one of the next eight (up to twice the
            // size): reused memory costs no page fault, fresh memory does.
            let class = class_of(size);
            let near = (local.filled.get() >> class) & 0x1ff;
            if near != 0 {
                let class = class + near.trailing_zeros() as usize;
                let list = &local.free[class];
                let head = list.get();
                if self.contains(head) && head.is_multiple_of(align) {
                    // SAFETY: a freed block's first word links to the next one.
                    let next = unsafe { *(head as *const usize) };
                    list.set(next);
                    if next == 0 {
                        local.filled.set(local.filled.get() & !(1 << class));
                    }
                    return Some((head, true));
                }
            }
            let (mut cur, lim) = local.chunk.get();
            if self.contains(cur) {
                cur = cur.next_multiple_of(align);
                if cur + size <= lim {
                    local.chunk.set((cur + size, lim));
                    return Some((cur, true));
                }
            }
            let chunk = self.take_fresh(CHUNK, align)?;
            local.chunk.set((chunk + size, chunk + CHUNK));
            Some((chunk, true))
        })
    }
}

/// Puts the free large block `at..at + size` on the address-ordered list whose first block is
/// `head`, joined with the free blocks just before and after it: blocks freed side by side (a
/// round's tables) come back as one.
///
/// # Safety
/// The block is free, this heap's, and at least [`LARGE`] bytes; so is every block on the list,
/// its first two words the next block's address and its own size.
unsafe fn file_large(head: &mut usize, at: usize, size: usize) {
    let (mut link, mut before): (*mut usize, usize) = (head, 0);
    unsafe {
        while *link != 0 && *link < at {
            before = *link;
            link = before as *mut usize;
        }
        let (mut size, mut after) = (size, *link);
        if after == at + size {
            let [next, next_size] = *(after as *const [usize; 2]);
            (size, after) = (size + next_size, next);
        }
        let before = before as *mut [usize; 2];
        if !before.is_null() && before as usize + (*before)[1] == at {
            *before = [after, (*before)[1] + size];
        } else {
            *(at as *mut [usize; 2]) = [after, size];
            *link = at;
        }
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
                let class = class_of(size);
                let list = &local.free[class];
                // SAFETY: the block is ours again, and holds a word.
                unsafe { (ptr as *mut usize).write(list.get()) };
                list.set(p);
                local.filled.set(local.filled.get() | 1 << class);
                return true;
            }
            false
        });
        if !taken_back {
            let mut head = self.large_free.lock().unwrap_or_else(|e| e.into_inner());
            // SAFETY: the block is ours again.
            unsafe { file_large(&mut head, p, size) };
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
        let small = layout(200, 8);
        unsafe {
            let a = h.alloc(small);
            let _keep = h.alloc(small);
            h.dealloc(a, small);
            assert_eq!(h.alloc(layout(193, 8)), a, "same class");
            let b = h.alloc(layout(150, 8));
            let _keep = h.alloc(small);
            h.dealloc(b, layout(150, 8));
            assert_eq!(h.alloc(layout(80, 8)), b, "a class up to twice the size");
            let c = h.alloc(layout(300, 8));
            let _keep = h.alloc(small);
            h.dealloc(c, layout(300, 8));
            assert_ne!(
                h.alloc(layout(100, 8)),
                c,
                "not a block three times the size"
            );
            // The top of the chunk is taken back whatever the size asked next.
            let top = h.alloc(layout(40, 8));
            h.dealloc(top, layout(40, 8));
            assert_eq!(h.alloc(layout(8, 8)), top);

            let large = layout(300_000, 8);
            let d = h.alloc(large);
            let _keep = h.alloc(large);
            h.dealloc(d, large);
            assert_ne!(h.alloc(layout(400_000, 8)), d, "too small for it");
            assert_eq!(h.alloc(layout(100_000, 8)), d, "the least that holds it");
            let tail = d.add(100_000);
            assert_eq!(h.alloc(layout(150_000, 8)), tail, "its tail, filed again");
        }
    }

    #[test]
    fn large_blocks_freed_side_by_side_come_back_as_one() {
        let h = heap(64 << 20);
        let l = layout(100_000, 8);
        unsafe {
            let [a, b, c] = [(); 3].map(|_| h.alloc(l));
            let _keep = h.alloc(l);
            assert_eq!((b.offset_from(a), c.offset_from(b)), (100_000, 100_000));
            h.dealloc(a, l);
            h.dealloc(c, l);
            h.dealloc(b, l);
            assert_eq!(h.alloc(layout(300_000, 8)), a, "a, b and c joined");
            // A block of an odd size is handed out and taken back whole, and nothing past it.
            let odd = layout(100_001, 1);
            let d = h.alloc(odd);
            let _keep = h.alloc(odd);
            h.dealloc(d, odd);
            assert_eq!(h.alloc(odd), d);
            let e = h.alloc(l);
            assert!(
                e as usize >= d as usize + 2 * 100_001,
                "{e:?} inside {d:?}'s neighbours"
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
