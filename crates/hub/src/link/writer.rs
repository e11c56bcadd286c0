//! Writes the hub's changes to the store on a thread of its own.
//!
//! A broadcast to 10,000 devices changes tens of thousands of delivery
//! records within a second; encoding and committing them must not hold up
//! the next round of device reports. Batches are applied in the order they
//! were handed over; those that queued up while the previous write ran are
//! applied together in one transaction, so a delivery that moved twice in
//! the meantime is written once. The thread runs at a lower scheduling
//! priority: when the CPU is short, device traffic goes first and the
//! writer catches up after.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use hub_store::{Batch, Store};

/// Queued batches are merged up to about this many changes per transaction.
const MAX_MERGED_CHANGES: usize = 50_000;

pub struct StoreWriter {
    queue: Option<mpsc::Sender<Batch>>,
    thread: Option<JoinHandle<()>>,
    failures: Arc<AtomicU64>,
}

impl StoreWriter {
    pub fn start(store: Store) -> Self {
        let (queue, batches) = mpsc::channel::<Batch>();
        let failures = Arc::new(AtomicU64::new(0));
        let failed = failures.clone();
        let thread = thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                lower_priority();
                while let Ok(mut batch) = batches.recv() {
                    while batch.len() < MAX_MERGED_CHANGES {
                        match batches.try_recv() {
                            Ok(later) => batch.append(later),
                            Err(_) => break,
                        }
                    }
                    if let Err(error) = store.apply(batch) {
                        failed.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(%error, "writing hub state to the store failed");
                    }
                }
                if let Err(error) = store.flush() {
                    tracing::error!(%error, "flushing the store failed");
                }
            })
            .expect("spawning the store writer");
        Self {
            queue: Some(queue),
            thread: Some(thread),
            failures,
        }
    }

    /// Queues `batch`; empty batches are skipped.
    pub fn write(&self, batch: Batch) {
        if batch.is_empty() {
            return;
        }
        if let Some(queue) = &self.queue {
            // The thread only ends after the queue is closed, in `finish`.
            let _ = queue.send(batch);
        }
    }

    /// Batches that could not be written so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Writes everything queued, flushes, and stops the thread.
    pub fn finish(mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Gives the calling thread (on Linux a thread has its own nice value) a
/// lower priority; elsewhere, or if refused, it keeps the normal one.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        /// Nice value of the writer (0 is normal, 19 the lowest priority).
        const WRITER_NICENESS: libc::c_int = 10;
        // SAFETY: plain system calls on the calling thread's own id.
        let refused = unsafe {
            let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, thread, WRITER_NICENESS) != 0
        };
        if refused {
            tracing::debug!("the store writer keeps the normal priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_batches_are_written_in_order_by_finish() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writer = StoreWriter::start(store.clone());
        for seq in [5, 9] {
            let mut batch = Batch::new();
            batch
                .put(&hub_store::HubIdentity {
                    signing_key: "k".into(),
                    seq_reserved: seq,
                })
                .unwrap();
            writer.write(batch);
        }
        writer.write(Batch::new());
        assert_eq!(writer.failures(), 0);
        writer.finish();
        let stored = store
            .get::<hub_store::HubIdentity>(hub_store::HubIdentity::KEY)
            .unwrap()
            .unwrap();
        assert_eq!(stored.seq_reserved, 9, "the later batch wins");
    }
}
