//! Right joins that pass their probe rows through instead of copying them.
//!
//! A `LEFT JOIN` onto a lookup runs in DataFusion as a right hash join that builds on the
//! lookup and gathers every output column, the probe side's included, row by row (`take`). AWS's
//! reports look up accounts, addresses, agreements and invoice lists for every billing event and
//! line item: each of those joins copies some 100 columns of wide rows to add two or three, and
//! at 10 M billing events three of them alone copied 47 GB. Where the lookup's keys are unique,
//! each probe row comes out once and in place, so [`LookupJoinExec`] keeps the probe batch's
//! columns as they are and gathers only the lookup's. A probe row with several matches gets all
//! of them, as before; only then are that batch's probe columns gathered.
//!
//! It runs a right join on equality keys (the plan DataFusion gives a `LEFT JOIN` whose lookup
//! side it builds on), with its filter if it has one (AWS's lookups of the account or agreement
//! version valid at an invoice's date), holding its build side in the memory pool as the hash
//! join does.

use std::cmp::Ordering;
use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::array::{
    make_comparator, Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt32Array,
};
use arrow::compute::{concat_batches, take, SortOptions};
use arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::hash_utils::{create_hashes_with_hasher, QualityRandomState};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{
    internal_err, DataFusionError, HashMap, JoinSide, JoinType, NullEquality, Result,
};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExprRef;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::utils::JoinFilter;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, RecordOutput,
};
use datafusion::physical_plan::spill::get_record_batch_memory_size;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt, TryStreamExt};

use super::narrow_window::batch_of;

/// Replaces each right hash join on equality keys that compares them as `=` does by a
/// [`LookupJoinExec`].
#[derive(Debug, Default)]
pub struct LookUpInPlace;

impl PhysicalOptimizerRule for LookUpInPlace {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            if !in_place(join)? {
                return Ok(Transformed::no(node));
            }
            let join = join.builder().build()?;
            Ok(Transformed::yes(
                Arc::new(LookupJoinExec::new(join)) as Arc<dyn ExecutionPlan>
            ))
        })
        .data()
    }

    fn name(&self) -> &str {
        "look_up_in_place"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether [`LookupJoinExec`] can run `join`: a right join on keys it can compare, with no
/// limit and no dynamic filter it feeds to its probe side.
fn in_place(join: &HashJoinExec) -> Result<bool> {
    if *join.join_type() != JoinType::Right
        || join.null_aware
        || join.null_equality() != NullEquality::NullEqualsNothing
        || join.fetch().is_some()
        || !join.dynamic_expressions_produced().is_empty()
        || join.on().is_empty()
    {
        return Ok(false);
    }
    let left = join.left().schema();
    let right = join.right().schema();
    for (l, r) in join.on() {
        let (l, r) = (l.data_type(&left)?, r.data_type(&right)?);
        let (l, r) = (
            arrow::array::new_empty_array(&l),
            arrow::array::new_empty_array(&r),
        );
        if make_comparator(l.as_ref(), r.as_ref(), SortOptions::default()).is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A right hash join run keeping each probe batch's columns in place.
#[derive(Debug)]
pub struct LookupJoinExec {
    join: Arc<HashJoinExec>,
    /// `join`, for the plan around it.
    inner: Arc<dyn ExecutionPlan>,
    /// The build side shared by all partitions when `inner` collects it once, until each
    /// partition has taken it (then it lives as long as their streams), and how many have.
    collected: Mutex<(Option<SharedBuild>, usize)>,
    metrics: ExecutionPlanMetricsSet,
}

type SharedBuild =
    Shared<BoxFuture<'static, std::result::Result<Arc<Build>, Arc<DataFusionError>>>>;

impl LookupJoinExec {
    fn new(join: HashJoinExec) -> Self {
        let join = Arc::new(join);
        LookupJoinExec {
            inner: Arc::clone(&join) as Arc<dyn ExecutionPlan>,
            join,
            collected: Mutex::new((None, 0)),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// The build side for `partition`: its own in a partitioned join, else the one collected
    /// once for all.
    fn build(&self, partition: usize, context: &Arc<TaskContext>) -> Result<SharedBuild> {
        let join = &self.join;
        let collect_once = *join.partition_mode() == PartitionMode::CollectLeft;
        let execute = |input_partition| -> Result<SharedBuild> {
            let input = join.left().execute(input_partition, Arc::clone(context))?;
            let keys = join.on().iter().map(|(l, _)| Arc::clone(l)).collect();
            let reservation = MemoryConsumer::new(format!("LookupJoinExec[{partition}]"))
                .register(context.memory_pool());
            Ok(Build::collect(input, keys, reservation)
                .map(|b| b.map(Arc::new).map_err(Arc::new))
                .boxed()
                .shared())
        };
        if !collect_once {
            return execute(partition);
        }
        let mut collected = crate::lock(&self.collected);
        let (shared, taken) = &mut *collected;
        let build = match shared {
            Some(build) => build.clone(),
            None => shared.insert(execute(0)?).clone(),
        };
        *taken += 1;
        if *taken == self.properties().partitioning.partition_count() {
            *collected = (None, 0);
        }
        Ok(build)
    }
}

impl DisplayAs for LookupJoinExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "LookupJoinExec: ")?;
        self.join.fmt_as(t, f)
    }
}

impl ExecutionPlan for LookupJoinExec {
    fn name(&self) -> &str {
        "LookupJoinExec"
    }

    forward_to_inner!();

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let join = self.join.builder().with_new_children(children)?.build()?;
        Ok(Arc::new(LookupJoinExec::new(join)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let join = &self.join;
        let build = self.build(partition, &context)?;
        let probe = join.right().execute(partition, Arc::clone(&context))?;
        let probe_keys: Vec<PhysicalExprRef> =
            join.on().iter().map(|(_, r)| Arc::clone(r)).collect();
        let joined = Joined {
            schema: join.schema(),
            left_width: join.left().schema().fields().len(),
            projection: join
                .projection
                .as_ref()
                .map(|p| p.iter().copied().collect())
                .unwrap_or_else(|| (0..join.join_schema().fields().len()).collect()),
            filter: join.filter().cloned(),
        };
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let gathered =
            MetricBuilder::new(&self.metrics).counter("probe_batches_gathered", partition);
        let schema = join.schema();
        let stream = futures::stream::once(async move {
            let build = build.await.map_err(DataFusionError::Shared)?;
            Ok::<_, DataFusionError>(probe.map(move |batch| {
                let batch = batch?;
                let timer = metrics.elapsed_compute().timer();
                let (out, in_place) = joined.probe(&build, &probe_keys, &batch)?;
                if !in_place {
                    gathered.add(1);
                }
                timer.done();
                Ok(out.record_output(&metrics))
            }))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// Hashes join keys alike on both sides.
const KEY_HASH: QualityRandomState = QualityRandomState::with_seed(0x100c);

/// Marks the end of a chain of build rows.
const NO_ROW: u32 = u32::MAX;

/// The build side in one batch, its keys, and a chain of its rows per hash of the keys.
struct Build {
    batch: RecordBatch,
    keys: Vec<ArrayRef>,
    /// The last row of each hash's chain (keyed by the whole hash: every row on a chain has it).
    heads: HashMap<u64, u32>,
    /// The row before each row in its chain.
    next: Vec<u32>,
    _reservation: MemoryReservation,
}

impl Build {
    async fn collect(
        input: SendableRecordBatchStream,
        key_exprs: Vec<PhysicalExprRef>,
        reservation: MemoryReservation,
    ) -> Result<Build> {
        let schema = input.schema();
        // Counted by the rows they hold: an aggregate emits its groups as slices of one batch,
        // each of which would otherwise count the whole.
        let batches: Vec<RecordBatch> = input
            .and_then(|b| {
                let grown = sliced_size(&b).and_then(|size| reservation.try_grow(size));
                futures::future::ready(grown.map(|()| b))
            })
            .try_collect()
            .await?;
        let batch = concat_batches(&schema, &batches)?;
        drop(batches);
        reservation.try_resize(get_record_batch_memory_size(&batch))?;
        let keys: Vec<ArrayRef> = key_exprs
            .iter()
            .map(|k| k.evaluate(&batch)?.into_array(batch.num_rows()))
            .collect::<Result<_>>()?;
        let mut hashes = vec![0; batch.num_rows()];
        create_hashes_with_hasher(&keys, &KEY_HASH, &mut hashes)?;
        let mut heads: HashMap<u64, u32> = HashMap::with_capacity(batch.num_rows());
        let mut next = vec![NO_ROW; batch.num_rows()];
        for (row, &hash) in hashes.iter().enumerate() {
            if keys.iter().any(|k| k.is_null(row)) {
                continue;
            }
            let row = u32::try_from(row).map_err(|_| {
                DataFusionError::ResourcesExhausted("a lookup over 4 G rows".into())
            })?;
            next[row as usize] = heads.insert(hash, row).unwrap_or(NO_ROW);
        }
        reservation.try_grow(
            heads.capacity() * (size_of::<u64>() + size_of::<u32>() + 1)
                + next.len() * size_of::<u32>(),
        )?;
        Ok(Build {
            batch,
            keys,
            heads,
            next,
            _reservation: reservation,
        })
    }
}

/// The bytes of the rows `batch` holds, not of the whole buffers it may be a slice of.
fn sliced_size(batch: &RecordBatch) -> Result<usize> {
    let mut size = 0;
    for column in batch.columns() {
        size += column.to_data().get_slice_memory_size()?;
    }
    Ok(size)
}

/// How joined rows are laid out: the join's schema (after its projection), the build side's
/// width, which of the build's then the probe's columns the output takes, and the join's
/// filter.
struct Joined {
    schema: SchemaRef,
    left_width: usize,
    projection: Vec<usize>,
    filter: Option<JoinFilter>,
}

impl Joined {
    /// The joined rows of one probe batch, and whether its columns went through in place.
    fn probe(
        &self,
        build: &Build,
        key_exprs: &[PhysicalExprRef],
        batch: &RecordBatch,
    ) -> Result<(RecordBatch, bool)> {
        let (probe_rows, build_rows) = self.matches(build, key_exprs, batch)?;
        // Each probe row, in order, with its matches or with none.
        let rows = batch.num_rows();
        let mut out_build: Vec<Option<u32>> = Vec::with_capacity(rows);
        let mut out_probe: Vec<u32> = Vec::with_capacity(rows);
        let mut next = 0;
        for row in 0..rows as u32 {
            let before = out_build.len();
            while next < probe_rows.len() && probe_rows.value(next) == row {
                out_build.push(Some(build_rows.value(next)));
                next += 1;
            }
            if out_build.len() == before {
                out_build.push(None);
            }
            out_probe.extend(std::iter::repeat_n(row, out_build.len() - before));
        }
        let in_place = out_build.len() == rows;
        let out_build = UInt32Array::from(out_build);
        let out_probe = UInt32Array::from(out_probe);
        let columns = self
            .projection
            .iter()
            .map(|&c| match c.checked_sub(self.left_width) {
                None => Ok(take(build.batch.column(c), &out_build, None)?),
                Some(p) if in_place => Ok(Arc::clone(batch.column(p))),
                Some(p) => Ok(take(batch.column(p), &out_probe, None)?),
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let out = batch_of(&self.schema, columns, out_build.len())?;
        Ok((out, in_place))
    }

    /// The (probe row, build row) pairs whose keys are equal and that pass the filter, in the
    /// order of the probe rows.
    fn matches(
        &self,
        build: &Build,
        key_exprs: &[PhysicalExprRef],
        batch: &RecordBatch,
    ) -> Result<(UInt32Array, UInt32Array)> {
        let rows = batch.num_rows();
        let keys: Vec<ArrayRef> = key_exprs
            .iter()
            .map(|k| k.evaluate(batch)?.into_array(rows))
            .collect::<Result<_>>()?;
        let mut hashes = vec![0; rows];
        create_hashes_with_hasher(&keys, &KEY_HASH, &mut hashes)?;
        let equal = build
            .keys
            .iter()
            .zip(&keys)
            .map(|(b, p)| make_comparator(b.as_ref(), p.as_ref(), SortOptions::default()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut probe_rows: Vec<u32> = Vec::with_capacity(rows);
        let mut build_rows: Vec<u32> = Vec::with_capacity(rows);
        for (row, &hash) in hashes.iter().enumerate() {
            if keys.iter().any(|k| k.is_null(row)) {
                continue;
            }
            let mut at = build.heads.get(&hash).copied().unwrap_or(NO_ROW);
            while at != NO_ROW {
                let b = at as usize;
                if equal.iter().all(|eq| eq(b, row) == Ordering::Equal) {
                    probe_rows.push(row as u32);
                    build_rows.push(at);
                }
                at = build.next[b];
            }
        }
        let (probe_rows, build_rows) =
            (UInt32Array::from(probe_rows), UInt32Array::from(build_rows));
        let Some(filter) = &self.filter else {
            return Ok((probe_rows, build_rows));
        };
        let columns = filter
            .column_indices()
            .iter()
            .map(|c| match c.side {
                JoinSide::Left => Ok(take(build.batch.column(c.index), &build_rows, None)?),
                JoinSide::Right => Ok(take(batch.column(c.index), &probe_rows, None)?),
                JoinSide::None => internal_err!("a join filter reads a column of neither side"),
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let pairs = batch_of(filter.schema(), columns, probe_rows.len())?;
        let passed = filter
            .expression()
            .evaluate(&pairs)?
            .into_array(pairs.num_rows())?;
        let passed = passed.as_boolean();
        Ok((passing(&probe_rows, passed)?, passing(&build_rows, passed)?))
    }
}

/// `values` where `passed` is true (not false or NULL).
fn passing(values: &UInt32Array, passed: &BooleanArray) -> Result<UInt32Array> {
    Ok(arrow::compute::filter(values, passed)?
        .as_primitive()
        .clone())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::execution::session_state::SessionStateBuilder;
    use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
    use datafusion::physical_plan::{collect, ExecutionPlan};
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::{LookUpInPlace, LookupJoinExec};
    use crate::physical::narrow_window::tests::{context, sorted_rows};

    /// The joins of `plan` this rule ran, with how many probe batches each gathered.
    fn gathered(plan: &Arc<dyn ExecutionPlan>, found: &mut Vec<usize>) {
        if plan.downcast_ref::<LookupJoinExec>().is_some() {
            let metrics = plan.metrics().unwrap();
            found.push(
                metrics
                    .sum_by_name("probe_batches_gathered")
                    .map_or(0, |m| m.as_usize()),
            );
        }
        for child in plan.children() {
            gathered(child, found);
        }
    }

    async fn run(ctx: &SessionContext, sql: &str) -> Vec<usize> {
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        collect(Arc::clone(&plan), ctx.task_ctx()).await.unwrap();
        let mut found = Vec::new();
        gathered(&plan, &mut found);
        found
    }

    #[tokio::test]
    async fn lookups_give_the_hash_joins_rows_keeping_probe_columns_in_place() {
        // (query, whether each probe row has at most one match)
        let cases = [
            // Unique text keys; NULL keys on both sides never match.
            (
                "SELECT t.*, l.n FROM (SELECT k, count(*) AS n FROM t GROUP BY k) l \
                 RIGHT JOIN t ON l.k = t.k",
                true,
            ),
            // Unique numeric keys, only some columns kept.
            (
                "SELECT t.w2, l.top FROM (SELECT o, max(v) AS top FROM t GROUP BY o) l \
                 RIGHT JOIN t ON l.o = t.o",
                true,
            ),
            // Two keys, several matches per probe row.
            (
                "SELECT t.*, l.w3 FROM \
                 (SELECT k, o % 3 AS m, max(w3) AS w3 FROM t GROUP BY k, o % 3, v % 2) l \
                 RIGHT JOIN t ON l.k = t.k AND l.m = t.o % 3",
                false,
            ),
            // A filter on both sides' columns beyond the keys: rows whose matches all fail it
            // come out once, without a match.
            (
                "SELECT t.*, l.lo, l.hi FROM \
                 (SELECT k, v % 3 AS m, min(o) AS lo, max(o) AS hi FROM t GROUP BY k, v % 3) l \
                 RIGHT JOIN t ON l.k = t.k AND t.o >= l.lo AND t.o < l.hi",
                false,
            ),
            // A filter on the probe side's columns only.
            (
                "SELECT t.*, l.n FROM (SELECT k, count(*) AS n FROM t GROUP BY k) l \
                 RIGHT JOIN t ON l.k = t.k AND t.v IS NOT NULL",
                true,
            ),
        ];
        for partitioned in [false, true] {
            let plain = context(vec![]);
            let lookup = context(vec![Arc::new(LookUpInPlace)]);
            if partitioned {
                for ctx in [&plain, &lookup] {
                    for option in [
                        "hash_join_single_partition_threshold",
                        "hash_join_single_partition_threshold_rows",
                    ] {
                        ctx.sql(&format!("SET datafusion.optimizer.{option} = 0"))
                            .await
                            .unwrap();
                    }
                }
            }
            for (sql, unique) in cases {
                let (expected, _) = sorted_rows(&plain, sql).await;
                let (rows, plan) = sorted_rows(&lookup, sql).await;
                assert!(plan.contains("LookupJoinExec"), "{sql}\n{plan}");
                assert_eq!(
                    plan.contains("mode=Partitioned"),
                    partitioned,
                    "{sql}\n{plan}"
                );
                assert_eq!(rows, expected, "{sql}\n{plan}");
                assert!(rows.len() >= 40, "{sql}");
                let gathered = run(&lookup, sql).await;
                assert_eq!(gathered.len(), 1, "{sql}\n{plan}");
                assert_eq!(gathered[0] == 0, unique, "{sql}: {gathered:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_build_side_of_slices_counts_the_rows_it_holds() {
        // An aggregate emits its 50 000 groups as slices of 64 rows of one batch: counted whole,
        // each slice would take the 8 MiB pool many times over.
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(GreedyMemoryPool::new(8 << 20)))
            .build_arc()
            .unwrap();
        let mut rules = PhysicalOptimizer::new().rules;
        rules.push(Arc::new(LookUpInPlace));
        let state = SessionStateBuilder::new()
            .with_config(
                SessionConfig::new()
                    .with_target_partitions(1)
                    .with_batch_size(64),
            )
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rules(rules)
            .build();
        let ctx = SessionContext::new_with_state(state);
        let sql = "SELECT count(*) AS rows, count(l.n) AS matched, sum(l.n) AS total \
                   FROM (SELECT value % 50000 AS k, count(*) AS n \
                         FROM generate_series(1, 100000) GROUP BY value % 50000) l \
                   RIGHT JOIN (SELECT value, value * 2 AS twice \
                               FROM generate_series(1, 120000)) t ON l.k = t.value";
        let (rows, plan) = sorted_rows(&ctx, sql).await;
        assert!(plan.contains("LookupJoinExec"), "{plan}");
        // Keys 1..=49 999 match two rows each; 0 matches no probe value.
        assert!(
            rows.iter()
                .any(|r| r.contains("| 120000 | 49999   | 99998 |")),
            "{rows:?}"
        );
    }

    #[tokio::test]
    async fn joins_it_cannot_run_keep_their_plan() {
        let lookup = context(vec![Arc::new(LookUpInPlace)]);
        for sql in [
            // An inner join.
            "SELECT t.k, l.n FROM (SELECT k, count(*) AS n FROM t GROUP BY k) l \
             JOIN t ON l.k = t.k",
            // A join comparing NULL keys as equal.
            "SELECT t.*, l.n FROM (SELECT k, count(*) AS n FROM t GROUP BY k) l \
             RIGHT JOIN t ON l.k IS NOT DISTINCT FROM t.k",
        ] {
            let (_, plan) = sorted_rows(&lookup, sql).await;
            assert!(plan.contains("HashJoinExec"), "{sql}\n{plan}");
            assert!(!plan.contains("LookupJoinExec"), "{sql}\n{plan}");
        }
    }
}
