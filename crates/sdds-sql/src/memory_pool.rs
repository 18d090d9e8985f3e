//! The session's memory pool: DataFusion's fair spill pool, shared among the operators that
//! hold memory, and a cap on what one merge of spilled files may hold.

use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::common::{resources_datafusion_err, Result};
use datafusion::execution::memory_pool::{
    human_readable_size, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

use crate::lock;

/// The limit of `pool` in bytes; `None` when it has none (or does not say), and nothing need
/// be held back for a share of it.
pub(crate) fn finite_limit(pool: &dyn MemoryPool) -> Option<usize> {
    match pool.memory_limit() {
        MemoryLimit::Finite(limit) => Some(limit),
        MemoryLimit::Infinite | MemoryLimit::Unknown => None,
    }
}

/// DataFusion's `FairSpillPool`, with the share counted among the spilling consumers that hold
/// memory rather than among all registered.
///
/// A consumer that can spill may always grow to its fair share: the memory not held by
/// consumers that cannot spill, divided by how many spilling consumers are registered, busy or
/// idle. AWS's billed-revenue report registers 77 of them at once (most are aggregates and
/// repartitions of small lookups holding little or nothing), so a share is about 40 MB of
/// 3 GiB and a sort of 150-column rows spills after every batch: at 10 M billing events one
/// sort wrote 964 files. Beyond its fair share a consumer may therefore take free memory up
/// to an equal part of what the consumers holding memory (itself included) may share; one
/// holding nothing may take what is free. Those above their part spill at their next request,
/// which makes room for a newcomer; what a newcomer is always owed stays its fair share (the
/// total may then pass the limit for a while, as in DataFusion's pool when consumers register
/// after others took their share).
#[derive(Debug)]
pub struct SharePool {
    pool_size: usize,
    state: Mutex<ShareState>,
}

#[derive(Debug, Default)]
struct ShareState {
    /// Spilling consumers registered.
    num_spill: usize,
    /// Bytes held by each spilling consumer holding any, by consumer id.
    held: HashMap<usize, usize>,
    /// Bytes held by spilling consumers.
    spillable: usize,
    /// Bytes held by the others.
    unspillable: usize,
}

impl ShareState {
    fn add(&mut self, consumer: &MemoryConsumer, bytes: usize) {
        if consumer.can_spill() {
            self.spillable += bytes;
            *self.held.entry(consumer.id()).or_default() += bytes;
        } else {
            self.unspillable += bytes;
        }
    }

    fn remove(&mut self, consumer: &MemoryConsumer, bytes: usize) {
        if !consumer.can_spill() {
            self.unspillable = self.unspillable.saturating_sub(bytes);
            return;
        }
        self.spillable = self.spillable.saturating_sub(bytes);
        if let Entry::Occupied(mut held) = self.held.entry(consumer.id()) {
            *held.get_mut() = held.get().saturating_sub(bytes);
            if *held.get() == 0 {
                held.remove();
            }
        }
    }

    /// Bytes no consumer holds in a pool of `pool_size`.
    fn free(&self, pool_size: usize) -> usize {
        pool_size.saturating_sub(self.unspillable + self.spillable)
    }

    /// Bytes `consumer` may still take in a pool of `pool_size`.
    fn available(&self, consumer: &MemoryConsumer, pool_size: usize) -> usize {
        let free = self.free(pool_size);
        if !consumer.can_spill() {
            return free;
        }
        let shared = pool_size.saturating_sub(self.unspillable);
        let fair_share = shared.checked_div(self.num_spill).unwrap_or(shared);
        let held = self.held.get(&consumer.id()).copied().unwrap_or(0);
        let part = match held {
            0 => usize::MAX,
            _ => shared / self.held.len().max(1),
        };
        fair_share.max(part.min(held + free)).saturating_sub(held)
    }
}

impl SharePool {
    /// A pool of `pool_size` bytes.
    pub fn new(pool_size: usize) -> Self {
        Self {
            pool_size,
            state: Mutex::new(ShareState::default()),
        }
    }
}

impl fmt::Display for SharePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fair(pool_size: {})",
            human_readable_size(self.pool_size)
        )
    }
}

impl MemoryPool for SharePool {
    fn name(&self) -> &str {
        "fair"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            lock(&self.state).num_spill += 1;
        }
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            let mut state = lock(&self.state);
            state.num_spill = state.num_spill.saturating_sub(1);
            if let Some(held) = state.held.remove(&consumer.id()) {
                state.spillable = state.spillable.saturating_sub(held);
            }
        }
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        lock(&self.state).add(reservation.consumer(), additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        lock(&self.state).remove(reservation.consumer(), shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let mut state = lock(&self.state);
        let consumer = reservation.consumer();
        let available = state.available(consumer, self.pool_size);
        if additional > available {
            return Err(resources_datafusion_err!(
                "Failed to allocate additional {} for {} with {} already allocated for this \
                 reservation - {} remain available for the total memory pool",
                human_readable_size(additional),
                consumer.name(),
                human_readable_size(reservation.size()),
                human_readable_size(available)
            ));
        }
        state.add(consumer, additional);
        Ok(())
    }

    fn reserved(&self) -> usize {
        let state = lock(&self.state);
        state.spillable + state.unspillable
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.pool_size)
    }
}

/// Names of the DataFusion consumers that merge spilled files: a sort's merge phase
/// (`ExternalSorterMerge[partition]`), and the grouped aggregates that, once spilled, merge
/// their sorted runs under the same consumer they hashed with.
const MERGING: [&str; 3] = [SORT_MERGE, AGGREGATES_MERGING[0], AGGREGATES_MERGING[1]];

/// The aggregates among [`MERGING`], which merge under the consumer they hashed with.
const AGGREGATES_MERGING: [&str; 2] = ["FinalHashAggregateStream", "SingleHashAggregateStream"];

/// A reservation of an aggregate merging its runs may take free memory up to this fraction of
/// the merge cap whatever its consumer's share.
const STREAM_SHARE_OF_CAP: usize = 8;

/// A pool in which no merge of spilled files holds more than a share of the limit.
///
/// Once a sort or an aggregate has spilled, DataFusion merges its sorted files with a
/// reservation that grows by a batch per file, for as many files as the pool grants, and
/// cannot spill. At 10 M billing events the two partitions of one sort in AWS's billed-revenue
/// report held 2.6 of the 3 GiB this way and the next operator could not get 10 MB; in its
/// collections report one partition of the final GROUP BY over 270 columns (33 MB batches)
/// merged with 440 MB and the other could not get the two batches it needs to start. Refused
/// beyond its share when the pool runs low, a merge reads fewer files at a time (DataFusion
/// then merges in several passes); an aggregate still hashing spills instead.
///
/// A sort also merges the batches it holds, before it spills them and when it never spilled,
/// under the same consumer: as the merge takes each sorted batch, the sort's own reservation
/// gives it back and the merge's grows by as much. That merge cannot be done in parts and
/// holds nothing new, so what its sort gave back since the merge began holding (its credit)
/// is granted past the share.
#[derive(Debug)]
pub struct MergeCappedPool {
    inner: Arc<dyn MemoryPool>,
    merge_cap: usize,
    sorts: Mutex<Sorts>,
}

/// Each sort's two consumers: the one holding its batches and the one merging them.
#[derive(Debug, Default)]
struct Sorts {
    /// For each batch consumer, by id, its sort's merge consumer.
    merge_of: HashMap<usize, usize>,
    /// For each merge consumer, by id: the bytes it holds and its credit.
    merges: HashMap<usize, MergeHeld>,
}

#[derive(Debug, Default)]
struct MergeHeld {
    held: usize,
    credit: usize,
}

/// Name of the consumer whose reservation holds a sort's batches (`ExternalSorter[partition]`).
const SORTER: &str = "ExternalSorter[";

/// Name of the consumer merging a sort's batches or spilled files (`ExternalSorterMerge[p]`).
const SORT_MERGE: &str = "ExternalSorterMerge";

thread_local! {
    /// The batch consumer of a sort registered last on this thread: DataFusion registers a
    /// sort's merge consumer right after it, on the same thread.
    static LAST_SORTER: Cell<Option<usize>> = const { Cell::new(None) };
}

impl MergeCappedPool {
    /// `inner` with each merge of spilled files held to `merge_cap` bytes.
    pub fn new(inner: Arc<dyn MemoryPool>, merge_cap: usize) -> Self {
        Self {
            inner,
            merge_cap,
            sorts: Mutex::new(Sorts::default()),
        }
    }

    /// Counts `bytes` taken (`grown`) or given back by `consumer` when it is a sort's: what a
    /// sort gives back is its merge's credit; what a merge holds tells when it starts.
    fn count(&self, consumer: &MemoryConsumer, bytes: usize, grown: bool) {
        let name = consumer.name();
        if name.starts_with(SORTER) {
            if grown {
                return;
            }
            let mut sorts = lock(&self.sorts);
            if let Some(merge) = sorts.merge_of.get(&consumer.id()).copied() {
                if let Some(merge) = sorts.merges.get_mut(&merge) {
                    merge.credit = merge.credit.saturating_add(bytes);
                }
            }
        } else if name.starts_with(SORT_MERGE) {
            let mut sorts = lock(&self.sorts);
            let Some(merge) = sorts.merges.get_mut(&consumer.id()) else {
                return;
            };
            if grown && merge.held == 0 {
                // A merge starting: what its sort gave back before is not its batches.
                merge.credit = 0;
            }
            merge.held = match grown {
                true => merge.held.saturating_add(bytes),
                false => merge.held.saturating_sub(bytes),
            };
        }
    }

    /// The pool's limit in bytes.
    fn limit(&self) -> usize {
        finite_limit(self.inner.as_ref()).unwrap_or(usize::MAX)
    }

    /// `try_grow` with merges held to their cap and aggregates' run streams let through.
    fn try_grow_capped(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let wanted = reservation.size().saturating_add(additional);
        // Beyond its cap a merge may still grow while a quarter of the pool stays free after
        // it: a sort that merges while little else runs need not merge in several passes.
        // (Checked in that order: the pool's total is looked up only for a merge past its cap.)
        let runs_low = || {
            let limit = self.limit();
            let free_after = limit.saturating_sub(self.inner.reserved().saturating_add(additional));
            free_after < limit / 4
        };
        if wanted > self.merge_cap
            && MERGING
                .iter()
                .any(|name| reservation.consumer().name().starts_with(name))
            && runs_low()
            && !self.take_credit(reservation.consumer(), additional)
        {
            return Err(resources_datafusion_err!(
                "Failed to allocate additional {additional} bytes for {}: a merge of spilled \
                 files may hold at most {} bytes",
                reservation.consumer().name(),
                self.merge_cap
            ));
        }
        let refused = match self.inner.try_grow(reservation, additional) {
            Ok(()) => return Ok(()),
            Err(refused) => refused,
        };
        // An aggregate merging its spilled runs reads them under the consumer it hashed with,
        // whose share its hash table may have used up; the few batches a run's stream needs
        // next come from free memory, as what cannot spill does. (A hash table this small
        // that the pool refuses would spill only a few batches.)
        if wanted <= self.merge_cap / STREAM_SHARE_OF_CAP
            && AGGREGATES_MERGING
                .iter()
                .any(|name| reservation.consumer().name().starts_with(name))
            && self.inner.reserved().saturating_add(additional) <= self.limit()
        {
            self.inner.grow(reservation, additional);
            return Ok(());
        }
        Err(refused)
    }

    /// Takes `bytes` of `merge`'s credit, if it has that much.
    fn take_credit(&self, merge: &MemoryConsumer, bytes: usize) -> bool {
        let mut sorts = lock(&self.sorts);
        match sorts.merges.get_mut(&merge.id()) {
            Some(held) if held.credit >= bytes => {
                held.credit -= bytes;
                true
            }
            _ => false,
        }
    }
}

impl fmt::Display for MergeCappedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (a merge of spilled files at most {} bytes)",
            self.inner, self.merge_cap
        )
    }
}

impl MemoryPool for MergeCappedPool {
    fn name(&self) -> &str {
        "merge_capped"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        if consumer.name().starts_with(SORTER) {
            LAST_SORTER.set(Some(consumer.id()));
        } else if consumer.name().starts_with(SORT_MERGE) {
            if let Some(sorter) = LAST_SORTER.take() {
                let mut sorts = lock(&self.sorts);
                sorts.merge_of.insert(sorter, consumer.id());
                sorts.merges.insert(consumer.id(), MergeHeld::default());
            }
        }
        self.inner.register(consumer)
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        if consumer.name().starts_with(SORTER) || consumer.name().starts_with(SORT_MERGE) {
            let mut sorts = lock(&self.sorts);
            sorts.merge_of.remove(&consumer.id());
            sorts.merges.remove(&consumer.id());
        }
        self.inner.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.count(reservation.consumer(), additional, true);
        self.inner.grow(reservation, additional)
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.count(reservation.consumer(), shrink, false);
        self.inner.shrink(reservation, shrink)
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        self.try_grow_capped(reservation, additional)?;
        self.count(reservation.consumer(), additional, true);
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::execution::memory_pool::{FairSpillPool, MemoryConsumer, MemoryPool};

    use super::{MergeCappedPool, SharePool};

    #[test]
    fn spilling_consumers_share_the_pool_among_those_holding_memory() {
        let pool: Arc<dyn MemoryPool> = Arc::new(SharePool::new(1000));
        let join = MemoryConsumer::new("HashJoinInput").register(&pool);
        join.try_grow(200).unwrap();
        // Four spilling consumers: a fair share of the other 800 bytes is 200.
        let spilling: Vec<_> = (0..4)
            .map(|i| {
                MemoryConsumer::new(format!("ExternalSorter[{i}]"))
                    .with_can_spill(true)
                    .register(&pool)
            })
            .collect();
        // Alone in holding memory, one may take all 800, in steps ...
        spilling[0].try_grow(150).unwrap();
        spilling[0].try_grow(250).unwrap();
        // ... and one holding nothing what is free.
        assert!(spilling[1].try_grow(401).is_err());
        spilling[1].try_grow(300).unwrap();
        // Two hold memory: each may grow to half of 800 while it is free.
        let refused = spilling[0].try_grow(1).unwrap_err().to_string();
        assert!(refused.contains("0.0 B remain available"), "{refused}");
        spilling[1].try_grow(100).unwrap();
        assert_eq!(pool.reserved(), 1000);
        // A newcomer still gets its fair share, as in DataFusion's pool ...
        spilling[2].try_grow(200).unwrap();
        assert!(spilling[2].try_grow(1).is_err());
        // ... and makes the others' part a third: they spill before growing again.
        spilling[0].shrink(300);
        assert!(spilling[0].try_grow(170).is_err());
        spilling[0].try_grow(100).unwrap();
        // What cannot spill gets what is free; memory given back is free again.
        assert!(join.try_grow(1).is_err());
        spilling[1].free();
        spilling[2].free();
        assert!(join.try_grow(601).is_err());
        join.try_grow(600).unwrap();
        assert_eq!(pool.reserved(), 1000);
    }

    #[test]
    fn a_merge_of_spilled_files_is_held_to_its_share_when_the_pool_runs_low() {
        let pool: Arc<dyn MemoryPool> = Arc::new(MergeCappedPool::new(
            Arc::new(FairSpillPool::new(1000)),
            100,
        ));
        let merge = MemoryConsumer::new("ExternalSorterMerge[1]").register(&pool);
        merge.try_grow(60).unwrap();
        // Beyond its share while the pool is mostly free ...
        merge.try_grow(60).unwrap();
        let join = MemoryConsumer::new("HashJoinInput[0]").register(&pool);
        join.try_grow(600).unwrap();
        // ... but not when that would leave less than a quarter of it free.
        let refused = merge.try_grow(40).unwrap_err().to_string();
        assert!(refused.contains("at most 100 bytes"), "{refused}");
        assert_eq!(merge.size(), 120);
        merge.shrink(40);
        merge.try_grow(20).unwrap();
        // An aggregate merging its spills is held the same way.
        let aggregate = MemoryConsumer::new("FinalHashAggregateStream[0]").register(&pool);
        let refused = aggregate.try_grow(101).unwrap_err().to_string();
        assert!(refused.contains("at most 100 bytes"), "{refused}");
        aggregate.try_grow(100).unwrap();
        aggregate.free();
        // Any other consumer, spillable or not, gets what the pool has.
        join.try_grow(300).unwrap();
        assert_eq!(pool.reserved(), 1000);
        let full = join.try_grow(1).unwrap_err().to_string();
        assert!(!full.contains("at most"), "{full}");
    }

    #[test]
    fn a_sort_merging_the_batches_it_holds_is_not_held_to_the_merge_share() {
        let pool: Arc<dyn MemoryPool> = Arc::new(MergeCappedPool::new(
            Arc::new(FairSpillPool::new(1000)),
            100,
        ));
        // Registered as DataFusion's sort registers them: its batches, then its merge.
        let batches = MemoryConsumer::new("ExternalSorter[0]")
            .with_can_spill(true)
            .register(&pool);
        let merge = MemoryConsumer::new("ExternalSorterMerge[0]").register(&pool);
        let join = MemoryConsumer::new("HashJoinInput[0]").register(&pool);
        batches.try_grow(300).unwrap();
        join.try_grow(500).unwrap();
        // Merging the batches it holds, each taken from the sort's reservation as the merge
        // takes it on, past the merge's share while the pool runs low ...
        for _ in 0..3 {
            let batch = batches.split(100);
            drop(batch);
            merge.try_grow(100).unwrap();
        }
        // ... but nothing beyond what the sort gave back.
        let refused = merge.try_grow(1).unwrap_err().to_string();
        assert!(refused.contains("at most 100 bytes"), "{refused}");
        merge.free();
        // Once its batches are spilled (given back before this merge of its files began),
        // the merge gets no more than its share.
        batches.try_grow(200).unwrap();
        batches.free();
        merge.try_grow(100).unwrap();
        join.try_grow(200).unwrap();
        let refused = merge.try_grow(1).unwrap_err().to_string();
        assert!(refused.contains("at most 100 bytes"), "{refused}");
    }
}
