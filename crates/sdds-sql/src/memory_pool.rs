//! The session's memory pool: DataFusion's, with a cap on what one sort's merge may hold.

use std::fmt;
use std::sync::Arc;

use datafusion::common::{resources_datafusion_err, Result};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

/// The consumer name of a DataFusion sort's merge phase (`ExternalSorterMerge[partition]`).
const SORT_MERGE: &str = "ExternalSorterMerge";

/// A pool in which no sort's merge holds more than a share of the limit.
///
/// Once a sort has spilled, DataFusion merges its sorted files with a reservation that grows
/// by a batch per file, for as many files as the pool grants, and cannot spill. At 10 M
/// billing events the two partitions of one sort in AWS's billed-revenue report held 2.6 of
/// the 3 GiB this way and the next operator could not get 10 MB. Refused beyond its share, a
/// merge reads fewer files at a time (DataFusion then merges in several passes).
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
        if wanted > self.merge_cap && reservation.consumer().name().starts_with(SORT_MERGE) {
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

    use super::MergeCappedPool;

    #[test]
    fn only_a_sort_merge_is_held_to_its_share() {
        let pool: Arc<dyn MemoryPool> = Arc::new(MergeCappedPool::new(
            Arc::new(FairSpillPool::new(1000)),
            100,
        ));
        let merge = MemoryConsumer::new("ExternalSorterMerge[1]").register(&pool);
        merge.try_grow(60).unwrap();
        let refused = merge.try_grow(60).unwrap_err().to_string();
        assert!(refused.contains("at most 100 bytes"), "{refused}");
        assert_eq!(merge.size(), 60);
        merge.try_grow(40).unwrap();
        // Any other consumer, spillable or not, gets what the pool has.
        let join = MemoryConsumer::new("HashJoinInput[0]").register(&pool);
        join.try_grow(800).unwrap();
        assert_eq!(pool.reserved(), 900);
        let full = join.try_grow(200).unwrap_err().to_string();
        assert!(!full.contains("at most"), "{full}");
    }
}
