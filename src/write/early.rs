//! Writeback started while the staging tree is filled.
//!
//! The new tree must be on disk before the swap (one `syncfs`, see
//! `stage`). Left alone, the kernel starts writing a fresh tree back only
//! when its dirty data ages (30 s) or grows past a share of memory, so the
//! final `syncfs` found the whole tree dirty and waited for all of it: on
//! this project's ext4 disk, 0.6–1.3 s of a 10k build, spent after the
//! writing threads were done. While a large tree is filled, a helper
//! thread now flushes the filesystem each time another [`Early::chunk`] of
//! file bytes has been written, so the disk works while the tree is still
//! being built and the final `syncfs` waits only for the last part.
//!
//! No guarantee moves: these flushes only start writing earlier (no
//! mutation of the tree, so they are not crash points of `Ops`), the final
//! `syncfs` still flushes everything before the swap, and an error one of
//! them reports fails the write as the final one would (it must: `syncfs`
//! reports a writeback error once per open file, and the final flush opens
//! its own).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// File bytes written between two early flushes: enough that a flush's
/// fixed cost (a cache flush of the device) stays small beside the data,
/// small enough that the final flush has little left (a 10k tree is about
/// 80 MB of files).
pub(super) const CHUNK: u64 = 8 << 20;

/// What the filling threads and the flusher share.
pub(super) struct Early {
    chunk: u64,
    /// Tests only: a filling thread that made a chunk pending waits until
    /// the flusher has taken it, so that every chunk is flushed early.
    lockstep: bool,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Bytes written since the flusher last took a chunk.
    pending: u64,
    /// The filling is over (or the flusher has stopped): no more flushes.
    done: bool,
}

impl Early {
    pub fn new(chunk: u64, lockstep: bool) -> Self {
        Early {
            chunk: chunk.max(1),
            lockstep,
            state: Mutex::default(),
            wake: Condvar::new(),
        }
    }

    /// Whether a tree with `bytes` of new files is worth a flusher: at
    /// least two chunks, so that one can be written back early.
    pub fn worth_it(chunk: u64, bytes: u64) -> bool {
        bytes >= chunk.saturating_mul(2)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts `bytes` of file contents just written, and wakes the flusher
    /// once a chunk is pending.
    pub fn wrote(&self, bytes: u64) {
        let mut state = self.lock();
        state.pending = state.pending.saturating_add(bytes);
        if state.pending < self.chunk {
            return;
        }
        self.wake.notify_all();
        while self.lockstep && state.pending >= self.chunk && !state.done {
            state = self.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The flusher's wait: `true` when a chunk is pending (it is taken:
    /// flush now), `false` once the filling is over.
    pub fn next(&self) -> bool {
        let mut state = self.lock();
        loop {
            if state.done {
                return false;
            }
            if state.pending >= self.chunk {
                state.pending = 0;
                self.wake.notify_all();
                return true;
            }
            state = self.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Ends the flushes (called when the filling is over, and by a flusher
    /// that stops on an error, so that no filling thread waits for it).
    pub fn finish(&self) {
        self.lock().done = true;
        self.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_flush_is_due_each_time_a_chunk_is_written_and_never_after_the_end() {
        let early = Early::new(100, false);
        early.wrote(60);
        early.wrote(40);
        // A chunk is pending: the flusher takes it without waiting.
        assert!(early.next());
        early.wrote(99);
        // Less than a chunk: the flusher waits, here until the end.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                early.finish();
            });
            assert!(!early.next());
        });
        // After the end, even a pending chunk is left to the final flush.
        early.wrote(500);
        assert!(!early.next());
        assert!(Early::worth_it(CHUNK, 2 * CHUNK) && !Early::worth_it(CHUNK, 2 * CHUNK - 1));
    }

    #[test]
    fn in_lockstep_a_writer_waits_until_its_chunk_is_taken() {
        let early = Early::new(10, true);
        let taken = std::thread::scope(|scope| {
            let flusher = scope.spawn(|| {
                let mut taken = 0;
                while early.next() {
                    taken += 1;
                }
                taken
            });
            for _ in 0..5 {
                early.wrote(10);
            }
            early.finish();
            flusher.join().expect("flusher")
        });
        assert_eq!(taken, 5);
    }
}
