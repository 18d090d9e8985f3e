//! Column statistics of stored rows: exact null counts and HyperLogLog distinct counts.
//!
//! DataFusion estimates a GROUP BY's output and a join's from its inputs' distinct counts;
//! without them its estimates through a chain of CTEs drift far from the truth and joins build
//! on the wrong side. Stored rows pass through once anyway, so their key-like columns (text,
//! integers, timestamps) are sketched on the way in.

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::hash_utils::{create_hashes_with_hasher, HLL_RANDOM_STATE};
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, Result};

/// Register-index bits: 4096 registers, about 1.6 % standard error.
const P: u32 = 12;
const REGISTERS: usize = 1 << P;

/// A HyperLogLog sketch of one column's values.
#[derive(Clone)]
struct Hll {
    registers: Box<[u8; REGISTERS]>,
}

impl Hll {
    fn new() -> Self {
        Hll {
            registers: Box::new([0; REGISTERS]),
        }
    }

    fn add(&mut self, hash: u64) {
        let index = (hash & (REGISTERS as u64 - 1)) as usize;
        let rank = ((hash >> P) | (1 << (64 - P))).trailing_zeros() as u8 + 1;
        let register = &mut self.registers[index];
        *register = (*register).max(rank);
    }

    fn estimate(&self) -> usize {
        let m = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let sum: f64 = self
            .registers
            .iter()
            .map(|r| 2f64.powi(-i32::from(*r)))
            .sum();
        let raw = alpha * m * m / sum;
        let zeros = self.registers.iter().filter(|r| **r == 0).count();
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        estimate.round() as usize
    }
}

/// What is known of each column of stored rows.
pub struct ColumnSketches {
    /// Per column: a sketch when the column is key-like.
    sketches: Vec<Option<Hll>>,
    nulls: Vec<usize>,
    hashes: Vec<u64>,
}

impl ColumnSketches {
    /// Empty sketches for `schema`.
    pub fn new(schema: &SchemaRef) -> Self {
        ColumnSketches {
            sketches: schema
                .fields()
                .iter()
                .map(|f| key_like(f.data_type()).then(Hll::new))
                .collect(),
            nulls: vec![0; schema.fields().len()],
            hashes: Vec::new(),
        }
    }

    /// Adds a batch's values.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        for (i, column) in batch.columns().iter().enumerate() {
            self.nulls[i] += column.null_count();
            if let Some(sketch) = &mut self.sketches[i] {
                add_values(sketch, column, &mut self.hashes)?;
            }
        }
        Ok(())
    }

    /// Adds what `other` (sketches of the same schema, e.g. another partition's) has seen.
    pub fn merge(&mut self, other: &ColumnSketches) {
        for (mine, theirs) in self.sketches.iter_mut().zip(&other.sketches) {
            if let (Some(mine), Some(theirs)) = (mine, theirs) {
                for (m, t) in mine.registers.iter_mut().zip(theirs.registers.iter()) {
                    *m = (*m).max(*t);
                }
            }
        }
        for (mine, theirs) in self.nulls.iter_mut().zip(&other.nulls) {
            *mine += theirs;
        }
    }

    /// The columns' statistics, for `rows` rows.
    pub fn statistics(&self, rows: usize) -> Vec<ColumnStatistics> {
        self.sketches
            .iter()
            .zip(&self.nulls)
            .map(|(sketch, nulls)| ColumnStatistics {
                null_count: Precision::Exact(*nulls),
                distinct_count: match sketch {
                    Some(s) => Precision::Inexact(s.estimate().min(rows)),
                    None => Precision::Absent,
                },
                ..ColumnStatistics::new_unknown()
            })
            .collect()
    }
}

fn add_values(sketch: &mut Hll, column: &ArrayRef, hashes: &mut Vec<u64>) -> Result<()> {
    hashes.clear();
    hashes.resize(column.len(), 0);
    create_hashes_with_hasher([column], &HLL_RANDOM_STATE, hashes)?;
    match column.logical_nulls() {
        None => hashes.iter().for_each(|h| sketch.add(*h)),
        Some(nulls) => hashes
            .iter()
            .enumerate()
            .filter(|(i, _)| nulls.is_valid(*i))
            .for_each(|(_, h)| sketch.add(*h)),
    }
    Ok(())
}

/// Columns worth sketching: those that are grouped and joined on.
fn key_like(data_type: &DataType) -> bool {
    data_type.is_integer()
        || matches!(
            data_type,
            DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Date32
                | DataType::Timestamp(..)
        )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn distinct_counts_are_within_a_few_percent() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("key", DataType::Utf8, true),
        ]));
        let mut sketches = ColumnSketches::new(&schema);
        for chunk in 0..10 {
            let ids = Int64Array::from_iter_values((0..10_000).map(|i| chunk * 10_000 + i));
            let keys = StringArray::from_iter(
                (0..10_000).map(|i| (i % 7 != 0).then(|| format!("k{}", i % 300))),
            );
            let batch =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(keys)]).unwrap();
            sketches.update(&batch).unwrap();
        }
        let stats = sketches.statistics(100_000);
        let ids = *stats[0].distinct_count.get_value().unwrap() as f64;
        assert!((ids - 100_000.0).abs() / 100_000.0 < 0.05, "{ids}");
        let keys = *stats[1].distinct_count.get_value().unwrap();
        assert!((290..=310).contains(&keys), "{keys}");
        assert_eq!(stats[1].null_count, Precision::Exact(10 * 1429));
    }
}
