//! The session's memory pool: DataFusion's fair spill pool, with a floor under an idle
//! spilling operator and a cap on what one sort's merge may hold.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::common::{resources_datafusion_err, Result};
use datafusion::execution::memory_pool::{
    human_readable_size, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

/// DataFusion's `FairSpillPool`, except that a spilling consumer holding nothing may take what
/// it asks for from the pool's free memory, beyond its share.
///
/// A consumer that can spill gets at most its share: the memory not held by consumers that
/// cannot spill, divided by how many spilling consumers are registered, busy or idle. AWS's
/// billed-revenue report at 10 M billing events registers dozens of them (most are
/// repartitions holding nothing), and a share of 46 MB is less than one batch of its
/// 150-column line items: a sort that had spilled everything failed with more than a gigabyte
/// of the pool free. A consumer with nothing left to spill can only wait for memory it cannot
/// get, so it may have free memory instead; once it holds some, its share applies again.
#[derive(Debug)]
pub struct SharePool {
    pool_size: usize,
    state: Mutex<ShareState>,
}

#[derive(Debug, Default)]
struct ShareState {
    /// Spilling consumers registered.
    num_spill: usize,
    /// Bytes held by spilling consumers.
    spillable: usize,
    /// Bytes held by the others.
    unspillable: usize,
}

impl ShareState {
    /// The bytes held by consumers like `reservation`'s (spilling or not).
    fn held_by_kind(&mut self, reservation: &MemoryReservation) -> &mut usize {
        match reservation.consumer().can_spill() {
            true => &mut self.spillable,
            false => &mut self.unspillable,
        }
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

    fn state(&self) -> MutexGuard<'_, ShareState> {
        // The state is three counters, consistent after every update even if a holder panicked.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
            self.state().num_spill += 1;
        }
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            let mut state = self.state();
            state.num_spill = state.num_spill.saturating_sub(1);
        }
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        *self.state().held_by_kind(reservation) += additional;
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        let mut state = self.state();
        let held = state.held_by_kind(reservation);
        *held = held.saturating_sub(shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let mut state = self.state();
        let free = self
            .pool_size
            .saturating_sub(state.unspillable + state.spillable);
        // What this reservation may still take.
        let available = if reservation.consumer().can_spill() {
            let share = self
                .pool_size
                .saturating_sub(state.unspillable)
                .checked_div(state.num_spill)
                .unwrap_or(self.pool_size);
            match reservation.size() {
                0 => share.max(free),
                held => share.saturating_sub(held),
            }
        } else {
            free
        };
        if additional > available {
            return Err(resources_datafusion_err!(
                "Failed to allocate additional {} for {} with {} already allocated for this \
                 reservation - {} remain available for the total memory pool",
                human_readable_size(additional),
                reservation.consumer().name(),
                human_readable_size(reservation.size()),
                human_readable_size(available)
            ));
        }
        *state.held_by_kind(reservation) += additional;
        Ok(())
    }

    fn reserved(&self) -> usize {
        let state = self.state();
        state.spillable + state.unspillable
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.pool_size)
    }
}

/// The consumer name of a DataFusion sort's merge phase (`ExternalSorterMerge[partition]`).
const SORT_MERGE: &str = "ExternalSorterMerge";

/// A pool in which no sort's merge holds more than a share of the limit.
///
/// Once a sort has spilled, DataFusion merges its sorted files with a reservation that grows
/// by a batch per file, for as many files as the pool grants, and cannot spill. At 10 M
/// billing events the two partitions of one sort in AWS's billed-revenue report held 2.6 of
/// the 3 GiB this way and the next operator could not get 10 MB. Refused beyond its share
/// when the pool runs low, a merge reads fewer files at a time (DataFusion then merges in
/// several passes).
#[derive(Debug)]
pub struct MergeCappedPool {
    inner: Arc<dyn MemoryPool>,
    merge_cap: usize,
}

impl MergeCappedPool {
    /// `inner` with each sort merge held to `merge_cap` bytes.
    pub fn new(inner: Arc<dyn MemoryPool>, merge_cap: usize) -> Self {
        Self { inner, merge_cap }
    }
}

impl fmt::Display for MergeCappedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (a sort's merge at most {} bytes)",
            self.inner, self.merge_cap
        )
    }
}

impl MemoryPool for MergeCappedPool {
    fn name(&self) -> &str {
        "merge_capped"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer)
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional)
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink)
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let wanted = reservation.size().saturating_add(additional);
        // Beyond its cap a merge may still grow while a quarter of the pool stays free after
        // it: a sort that merges while little else runs need not merge in several passes.
        // (Checked in that order: the pool's total is looked up only for a merge past its cap.)
        let runs_low = || {
            let limit = match self.inner.memory_limit() {
                MemoryLimit::Finite(limit) => limit,
                _ => usize::MAX,
            };
            let free_after = limit.saturating_sub(self.inner.reserved().saturating_add(additional));
            free_after < limit / 4
        };
        if wanted > self.merge_cap
            && reservation.consumer().name().starts_with(SORT_MERGE)
            && runs_low()
        {
            return Err(resources_datafusion_err!(
                "Failed to allocate additional {additional} bytes for {}: a sort's merge may \
                 hold at most {} bytes",
                reservation.consumer().name(),
                self.merge_cap
            ));
        }
        self.inner.try_grow(reservation, additional)
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
    fn a_spilling_consumer_holding_nothing_may_take_free_memory_beyond_its_share() {
        let pool: Arc<dyn MemoryPool> = Arc::new(SharePool::new(1000));
        let join = MemoryConsumer::new("HashJoinInput").register(&pool);
        join.try_grow(200).unwrap();
        // Four spilling consumers share the other 800 bytes: 200 each.
        let spilling: Vec<_> = (0..4)
            .map(|i| {
                MemoryConsumer::new(format!("ExternalSorter[{i}]"))
                    .with_can_spill(true)
                    .register(&pool)
            })
            .collect();
        spilling[0].try_grow(150).unwrap();
        let refused = spilling[0].try_grow(100).unwrap_err().to_string();
        assert!(refused.contains("50.0 B remain available"), "{refused}");
        // An idle one may take more than its share while the pool has it free ...
        spilling[1].try_grow(500).unwrap();
        assert_eq!(pool.reserved(), 850);
        // ... and otherwise its share, as in DataFusion's pool; holding some, no more.
        assert!(spilling[2].try_grow(201).is_err());
        spilling[2].try_grow(200).unwrap();
        assert!(spilling[2].try_grow(1).is_err());
        assert!(spilling[1].try_grow(1).is_err());
        // What cannot spill gets what is free.
        spilling[1].shrink(500);
        assert!(join.try_grow(451).is_err());
        join.try_grow(450).unwrap();
        assert_eq!(pool.reserved(), 1000);
    }

    #[test]
    fn a_sort_merge_is_held_to_its_share_when_the_pool_runs_low() {
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
        // Any other consumer, spillable or not, gets what the pool has.
        join.try_grow(300).unwrap();
        assert_eq!(pool.reserved(), 1000);
        let full = join.try_grow(1).unwrap_err().to_string();
        assert!(!full.contains("at most"), "{full}");
    }
}
