//! Writes the hub's changes to the store on a thread of its own.
//!
//! A broadcast to 10,000 devices changes tens of thousands of delivery
//! records within a second; encoding and committing them must not hold up
//! the next round of device reports. The hub task hands over the records a
//! round changed as they are ([`Changes`]); this thread encodes and commits
//! them in the order they were handed over. Changes that queued up while the
//! previous write ran are applied together in one transaction, and a record
//! that changed several times in the meantime is encoded and written once,
//! in its last state. The thread runs at a lower scheduling priority: when
//! the CPU is short, device traffic goes first and the writer catches up
//! after.
//!
//! Priority is not enough while the broker delivers a large broadcast: at
//! 10,000 devices the writer spent about 140 ms of CPU encoding the round's
//! 20,000 records inside the half second the broker needs, in the same
//! process (`hub-bench emergency`: trigger-to-audio p99 702 → 651 ms
//! without it, the means of 15 interleaved pairs of runs; single runs vary
//! by more). Such a round's deliveries and device logs are held ([`Changes::then_held`]) until the broker is
//! expected to have delivered it, and written then with whatever came
//! meanwhile, in order; anything owing a reply that comes after them ends
//! the hold. What the round owes a person (the programme, the audit entry)
//! is written at once, before them: the two touch different records. A hub
//! that dies within that second or two has the programme but has not stored
//! that those commands were sent; it sends them again after the devices'
//! hellos, as for any change not yet written.
//!
//! A person's change (an approval, say) comes with records staged by the
//! API (its audit entry) and a reply: its scheduling, its records and the
//! programme are written in one transaction, and the reply goes out only
//! once the store has flushed it to disk.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use hub_core::{AiringKey, Bulletin, BulletinId, CoreError, Delivery, DeviceId};
use hub_store::{
    delivery_key, Batch, DeviceHistory, PlayReceipt, Presence, Record, Store, StoreError,
};
use tokio::sync::oneshot;

/// Told `Ok` once a change is durable; dropped if it could not be written.
pub type DurableReply = oneshot::Sender<Result<(), CoreError>>;

/// Queued changes are merged up to about this many per transaction.
const MAX_MERGED_CHANGES: usize = 50_000;

/// Records a round changed, in order, not yet encoded. Each kind of change
/// comes as a whole list, which is moved here as it is, not copied.
#[derive(Default)]
pub struct Changes {
    lists: Vec<List>,
    len: usize,
    /// Records already encoded, written after the lists' in the same
    /// transaction (later changes to the same key win).
    staged: Batch,
    /// Replies owed once these changes are on disk.
    durable: Vec<DurableReply>,
    /// Not written before this, unless a reply is owed first.
    not_before: Option<Instant>,
    /// Changes queued after these, with a hold of their own.
    then: Option<Box<Changes>>,
}

enum List {
    Bulletins(Vec<Bulletin>),
    Deliveries(Vec<Delivery>),
    /// The deliveries of these airings on these devices are forgotten.
    Removed(Vec<(DeviceId, AiringKey)>),
    Histories(Vec<DeviceHistory>),
    /// Proof-of-play receipts as devices sent them (append-only).
    Receipts(Vec<PlayReceipt>),
    /// Devices coming online or going offline (append-only).
    Presence(Vec<Presence>),
}

impl Changes {
    pub fn put_bulletins(&mut self, bulletins: Vec<Bulletin>) {
        self.add(bulletins.len(), List::Bulletins(bulletins));
    }

    pub fn put_deliveries(&mut self, deliveries: Vec<Delivery>) {
        self.add(deliveries.len(), List::Deliveries(deliveries));
    }

    pub fn remove_deliveries(&mut self, airings: Vec<(DeviceId, AiringKey)>) {
        self.add(airings.len(), List::Removed(airings));
    }

    pub fn put_histories(&mut self, histories: Vec<DeviceHistory>) {
        self.add(histories.len(), List::Histories(histories));
    }

    pub fn put_receipts(&mut self, receipts: Vec<PlayReceipt>) {
        self.add(receipts.len(), List::Receipts(receipts));
    }

    pub fn put_presence(&mut self, presence: Vec<Presence>) {
        self.add(presence.len(), List::Presence(presence));
    }

    /// Adds records encoded elsewhere, written in the same transaction.
    pub fn stage(&mut self, batch: Batch) {
        self.len += batch.len();
        self.staged.append(batch);
    }

    /// `reply` is told once these changes are flushed to disk.
    pub fn reply_when_durable(&mut self, reply: DurableReply) {
        self.durable.push(reply);
    }

    /// Queues `later` after these changes, held until `at`: it is written
    /// then with the changes queued after it, or as soon as one of them owes
    /// a reply, a transaction's worth has gathered, or the writer is told to
    /// finish. Replies these changes owe are not held.
    pub fn then_held(&mut self, mut later: Changes, at: Instant) {
        later.not_before = Some(at);
        self.then = Some(Box::new(later));
    }

    fn add(&mut self, len: usize, list: List) {
        if len > 0 {
            self.len += len;
            self.lists.push(list);
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0 && self.durable.is_empty()
    }

    /// Adds `later`'s changes after these.
    pub fn append(&mut self, mut later: Changes) {
        self.len += later.len;
        self.lists.append(&mut later.lists);
        self.staged.append(later.staged);
        self.durable.append(&mut later.durable);
        self.not_before = self.not_before.max(later.not_before);
    }

    /// A batch with the last change to each record, in order; the earlier
    /// ones are not even encoded. Staged records follow, so a person's
    /// change (the programme as it stands) has the last word.
    fn take_batch(&mut self) -> Result<Batch, StoreError> {
        let mut seen = HashSet::with_capacity(self.len);
        let mut last: Vec<Write> = self
            .lists
            .iter()
            .rev()
            .flat_map(|list| list.writes().rev())
            .filter(|write| seen.insert(write.target()))
            .collect();
        last.reverse();
        let mut batch = Batch::new();
        for write in last {
            write.add_to(&mut batch)?;
        }
        batch.append(std::mem::take(&mut self.staged));
        Ok(batch)
    }
}

impl List {
    /// Its changes, one record each.
    fn writes(&self) -> Box<dyn DoubleEndedIterator<Item = Write<'_>> + '_> {
        match self {
            Self::Bulletins(bulletins) => Box::new(bulletins.iter().map(Write::Bulletin)),
            Self::Deliveries(deliveries) => Box::new(deliveries.iter().map(Write::Delivery)),
            Self::Removed(airings) => Box::new(
                airings
                    .iter()
                    .map(|(device, airing)| Write::Removed(device, airing)),
            ),
            Self::Histories(histories) => Box::new(histories.iter().map(Write::History)),
            Self::Receipts(receipts) => Box::new(receipts.iter().map(Write::Receipt)),
            Self::Presence(presence) => Box::new(presence.iter().map(Write::Presence)),
        }
    }
}

/// The change to one record.
enum Write<'a> {
    Bulletin(&'a Bulletin),
    Delivery(&'a Delivery),
    Removed(&'a DeviceId, &'a AiringKey),
    History(&'a DeviceHistory),
    Receipt(&'a PlayReceipt),
    Presence(&'a Presence),
}

/// The record a change is to.
#[derive(PartialEq, Eq, Hash)]
enum Target<'a> {
    Bulletin(&'a BulletinId),
    Delivery(&'a DeviceId, &'a AiringKey),
    History(&'a DeviceId),
    /// An entry of an append-only log, by its tree and key.
    Logged(&'static str, Vec<u8>),
}

impl<'a> Write<'a> {
    fn target(&self) -> Target<'a> {
        match *self {
            Self::Bulletin(bulletin) => Target::Bulletin(&bulletin.id),
            Self::Delivery(delivery) => Target::Delivery(&delivery.device, &delivery.airing),
            Self::Removed(device, airing) => Target::Delivery(device, airing),
            Self::History(history) => Target::History(&history.device),
            Self::Receipt(receipt) => Target::Logged(PlayReceipt::TREE, receipt.key()),
            Self::Presence(presence) => Target::Logged(Presence::TREE, presence.key()),
        }
    }

    fn add_to(&self, batch: &mut Batch) -> Result<(), StoreError> {
        match *self {
            Self::Bulletin(bulletin) => batch.put(bulletin)?,
            Self::Delivery(delivery) => batch.put(delivery)?,
            Self::Removed(device, airing) => {
                batch.remove::<Delivery>(&delivery_key(device, airing))
            }
            Self::History(history) => batch.put(history)?,
            Self::Receipt(receipt) => batch.put(receipt)?,
            Self::Presence(presence) => batch.put(presence)?,
        };
        Ok(())
    }
}

pub struct StoreWriter {
    queue: Option<mpsc::Sender<Changes>>,
    thread: Option<JoinHandle<()>>,
    failures: Arc<AtomicU64>,
}

impl StoreWriter {
    pub fn start(store: Store) -> Self {
        let (queue, received) = mpsc::channel::<Changes>();
        let failures = Arc::new(AtomicU64::new(0));
        let failed = failures.clone();
        let thread = thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                lower_priority();
                // Held changes that must not delay a reply owed before them.
                let mut held: Option<Changes> = None;
                while let Some(mut changes) = held.take().or_else(|| received.recv().ok()) {
                    while changes.len() < MAX_MERGED_CHANGES {
                        match received.try_recv() {
                            Ok(later)
                                if later.not_before.is_some() && !changes.durable.is_empty() =>
                            {
                                held = Some(later);
                                break;
                            }
                            Ok(later) => changes.append(later),
                            Err(_) => break,
                        }
                    }
                    wait_out_hold(&received, &mut changes);
                    let mut written = changes.take_batch().and_then(|batch| store.apply(batch));
                    if written.is_ok() && !changes.durable.is_empty() {
                        written = store.flush();
                    }
                    match written {
                        Ok(()) => {
                            for reply in changes.durable {
                                let _ = reply.send(Ok(()));
                            }
                        }
                        // The replies are dropped unanswered: whoever waits
                        // learns the change may not be stored.
                        Err(error) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(%error, "writing hub state to the store failed");
                        }
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

    /// Queues `changes`, then what they hold back; empty ones are skipped.
    pub fn write(&self, mut changes: Changes) {
        let then = changes.then.take();
        for changes in std::iter::once(changes).chain(then.map(|later| *later)) {
            if changes.is_empty() {
                continue;
            }
            if let Some(queue) = &self.queue {
                // The thread only ends after the queue is closed, in `finish`.
                let _ = queue.send(changes);
            }
        }
    }

    /// Batches that could not be written so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Writes everything queued, flushes, and stops the thread; returns how
    /// many batches could not be written in all.
    pub fn finish(mut self) -> u64 {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.failures()
    }
}

/// Waits until `changes` may be written: their hold is over, a reply is
/// owed, a transaction's worth has gathered, or the queue is closed (the
/// hub stops). What arrives meanwhile joins them.
fn wait_out_hold(received: &mpsc::Receiver<Changes>, changes: &mut Changes) {
    while let Some(until) = changes.not_before {
        if !changes.durable.is_empty() || changes.len() >= MAX_MERGED_CHANGES {
            return;
        }
        let Some(left) = until.checked_duration_since(Instant::now()) else {
            return;
        };
        match received.recv_timeout(left) {
            Ok(later) => changes.append(later),
            Err(_) => return,
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
    use std::time::Duration;

    use hub_core::{DeliveryState, Language};

    use super::*;

    fn delivery(bulletin: &str, state: DeliveryState) -> Delivery {
        Delivery {
            device: DeviceId::parse("24611-LS-01").unwrap(),
            airing: AiringKey {
                bulletin: BulletinId::parse(bulletin).unwrap(),
                occurrence: 0,
                language: Language::vietnamese(),
            },
            state,
            seq: Some(5),
            at: "2026-11-23T10:40:00Z".parse().unwrap(),
            reason: None,
        }
    }

    fn stored(store: &Store, delivery: &Delivery) -> Option<Delivery> {
        store
            .get::<Delivery>(&delivery_key(&delivery.device, &delivery.airing))
            .unwrap()
    }

    /// A writer on a store of its own, in a directory kept while it lives.
    fn started() -> (tempfile::TempDir, Store, StoreWriter) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writer = StoreWriter::start(store.clone());
        (dir, store, writer)
    }

    #[test]
    fn queued_changes_are_written_in_order_by_finish() {
        let (_dir, store, writer) = started();
        let (sent, acknowledged) = (
            delivery("lu", DeliveryState::Sent),
            delivery("lu", DeliveryState::Acknowledged),
        );
        let withdrawn = delivery("tin", DeliveryState::Queued);
        let mut first = Changes::default();
        first.put_deliveries(vec![sent, withdrawn.clone()]);
        writer.write(first);
        let mut second = Changes::default();
        second.put_deliveries(vec![acknowledged.clone()]);
        second.remove_deliveries(vec![(withdrawn.device.clone(), withdrawn.airing.clone())]);
        writer.write(second);
        writer.write(Changes::default());
        assert_eq!(writer.failures(), 0);
        writer.finish();
        assert_eq!(
            stored(&store, &acknowledged),
            Some(acknowledged),
            "the later change wins"
        );
        assert_eq!(stored(&store, &withdrawn), None, "removed after it was put");
    }

    #[test]
    fn staged_records_are_written_with_the_changes_and_answered_once_durable() {
        let (_dir, store, writer) = started();
        let planned = delivery("lu", DeliveryState::Queued);
        let mut staged = Batch::new();
        // The staged record has the last word over the round's own change.
        let sent = delivery("lu", DeliveryState::Sent);
        staged.put(&sent).unwrap();
        let mut changes = Changes::default();
        changes.put_deliveries(vec![planned]);
        changes.stage(staged);
        let (reply, answer) = oneshot::channel();
        changes.reply_when_durable(reply);
        writer.write(changes);
        assert_eq!(answer.blocking_recv().unwrap(), Ok(()));
        // Answered only after the write: the record is there already.
        assert_eq!(stored(&store, &sent), Some(sent));
        writer.finish();
    }

    /// Changes whose records are `deliveries`, owing `reply` if given.
    fn changes_of(deliveries: Vec<Delivery>, reply: Option<DurableReply>) -> Changes {
        let mut changes = Changes::default();
        changes.put_deliveries(deliveries);
        if let Some(reply) = reply {
            changes.reply_when_durable(reply);
        }
        changes
    }

    fn wait_until_stored(store: &Store, delivery: &Delivery) -> Option<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while stored(store, delivery).is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        stored(store, delivery)
    }

    #[test]
    fn held_changes_wait_for_their_time_but_never_hold_up_a_reply() {
        let (_dir, store, writer) = started();

        // A person's emergency: its own records are answered at once, the
        // round's deliveries follow when their hold ends.
        let (programme, sent) = (
            delivery("lu", DeliveryState::Queued),
            delivery("tin", DeliveryState::Sent),
        );
        let (reply, answer) = oneshot::channel();
        let mut round = changes_of(vec![programme.clone()], Some(reply));
        let until = Instant::now() + Duration::from_secs(2);
        round.then_held(changes_of(vec![sent.clone()], None), until);
        writer.write(round);
        assert_eq!(answer.blocking_recv().unwrap(), Ok(()));
        let early = stored(&store, &sent);
        assert!(Instant::now() < until, "the reply waited for the hold");
        assert_eq!(early, None, "held until its time");
        assert_eq!(stored(&store, &programme), Some(programme));
        assert_eq!(
            wait_until_stored(&store, &sent),
            Some(sent),
            "written after it"
        );

        // A reply owed after held changes ends the hold; what came between
        // is written in order (the later state wins).
        let long = Instant::now() + Duration::from_secs(3_600);
        let (sent, started) = (
            delivery("ve", DeliveryState::Sent),
            delivery("ve", DeliveryState::Started),
        );
        let mut round = Changes::default();
        round.then_held(changes_of(vec![sent], None), long);
        writer.write(round);
        writer.write(changes_of(vec![started.clone()], None));
        let (reply, answer) = oneshot::channel();
        writer.write(changes_of(Vec::new(), Some(reply)));
        assert_eq!(answer.blocking_recv().unwrap(), Ok(()));
        assert_eq!(stored(&store, &started), Some(started));

        // The hub stopping writes what is held.
        let last = delivery("bao", DeliveryState::Sent);
        let mut round = Changes::default();
        round.then_held(changes_of(vec![last.clone()], None), long);
        writer.write(round);
        writer.finish();
        assert_eq!(
            stored(&store, &last),
            Some(last),
            "written when the hub stops"
        );
    }

    #[test]
    fn only_the_last_change_to_a_record_is_encoded() {
        let mut changes = Changes::default();
        changes.put_deliveries(vec![
            delivery("lu", DeliveryState::Queued),
            delivery("lu", DeliveryState::Sent),
        ]);
        changes.put_deliveries(vec![delivery("tin", DeliveryState::Sent)]);
        assert_eq!(changes.len(), 3);
        assert_eq!(changes.take_batch().unwrap().len(), 2);
    }
}
