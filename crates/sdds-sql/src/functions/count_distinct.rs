//! `count(DISTINCT text)` per group in one hash set for all groups.
//!
//! DataFusion counts distinct text with one accumulator object (and one hash set) per group:
//! counting the currencies of 400 000 line items makes 400 000 hash sets, each holding one
//! three-letter code. [`Count`] is DataFusion's `count` with a grouped accumulator for that
//! case: every text is numbered once, and the set holds (group, number) pairs. (A count of
//! the GROUP BY's own keys is not counted at all: see [`crate::logical`].)

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, ListBuilder, StringBuilder,
};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{HashMap, HashSet, Result, ScalarValue};
use datafusion::functions_aggregate::count::Count as DataFusionCount;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, ReversedUDAF,
    SetMonotonicity, Signature, StatisticsArgs,
};

use super::args::filter_passes;

/// `count`: DataFusion's, with [`TextDistinctCounts`] for `count(DISTINCT <text>)` in a
/// GROUP BY.
#[derive(Debug, PartialEq, Eq, Hash, Default)]
pub struct Count {
    inner: DataFusionCount,
}

/// True for `count(DISTINCT x)` over one `Utf8` argument.
fn distinct_text(args: &AccumulatorArgs) -> bool {
    args.is_distinct
        && args.expr_fields.len() == 1
        && args.expr_fields[0].data_type() == &DataType::Utf8
}

impl AggregateUDFImpl for Count {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }
    fn is_nullable(&self) -> bool {
        self.inner.is_nullable()
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.accumulator(args)
    }
    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        distinct_text(&args) || self.inner.groups_accumulator_supported(args)
    }
    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if distinct_text(&args) {
            return Ok(Box::<TextDistinctCounts>::default());
        }
        self.inner.create_groups_accumulator(args)
    }
    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.create_sliding_accumulator(args)
    }
    fn reverse_expr(&self) -> ReversedUDAF {
        self.inner.reverse_expr()
    }
    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.order_sensitivity()
    }
    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.inner.default_value(data_type)
    }
    fn value_from_stats(&self, statistics_args: &StatisticsArgs) -> Option<ScalarValue> {
        self.inner.value_from_stats(statistics_args)
    }
    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner.set_monotonicity(data_type)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// Distinct texts per group: each text numbered once, the (group, number) pairs seen, and
/// each group's count.
#[derive(Debug, Default)]
pub struct TextDistinctCounts {
    numbers: HashMap<Box<str>, usize>,
    seen: HashSet<(usize, usize)>,
    counts: Vec<i64>,
    text_bytes: usize,
}

impl TextDistinctCounts {
    fn add(&mut self, group: usize, text: &str) {
        let number = match self.numbers.get(text) {
            Some(n) => *n,
            None => {
                let n = self.numbers.len();
                self.numbers.insert(text.into(), n);
                self.text_bytes += text.len();
                n
            }
        };
        if self.seen.insert((group, number)) {
            self.counts[group] += 1;
        }
    }

    /// Removes the pairs of the first `n` groups, handing each to `removed` as (group, text
    /// number), and renumbers the groups left from 0.
    fn remove_groups(&mut self, n: usize, mut removed: impl FnMut(usize, usize)) {
        let mut kept = HashSet::default();
        for (group, number) in self.seen.drain() {
            if group < n {
                removed(group, number);
            } else {
                kept.insert((group - n, number));
            }
        }
        self.seen = kept;
    }
}

impl GroupsAccumulator for TextDistinctCounts {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.counts.resize(total_num_groups, 0);
        let texts = values[0].as_string::<i32>();
        for (row, group) in group_indices.iter().enumerate() {
            if filter_passes(opt_filter, row) && texts.is_valid(row) {
                self.add(*group, texts.value(row));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let counts = emit_to.take_needed(&mut self.counts);
        self.remove_groups(counts.len(), |_, _| {});
        Ok(Arc::new(Int64Array::from(counts)))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let mut groups = vec![Vec::new(); emit_to.take_needed(&mut self.counts).len()];
        self.remove_groups(groups.len(), |group, number| groups[group].push(number));
        let mut texts = vec![""; self.numbers.len()];
        for (text, number) in &self.numbers {
            texts[*number] = text;
        }
        let mut lists = ListBuilder::new(StringBuilder::new())
            .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        for numbers in groups {
            for number in numbers {
                lists.values().append_value(texts[number]);
            }
            lists.append(true);
        }
        Ok(vec![Arc::new(lists.finish())])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.counts.resize(total_num_groups, 0);
        let lists = values[0].as_list::<i32>();
        let texts = lists.values().as_string::<i32>();
        let offsets = lists.offsets();
        for (row, group) in group_indices.iter().enumerate() {
            if !lists.is_valid(row) {
                continue;
            }
            for i in offsets[row] as usize..offsets[row + 1] as usize {
                if texts.is_valid(i) {
                    self.add(*group, texts.value(i));
                }
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let texts = values[0].as_string::<i32>();
        let mut lists = ListBuilder::new(StringBuilder::new())
            .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        for row in 0..texts.len() {
            if filter_passes(opt_filter, row) && texts.is_valid(row) {
                lists.values().append_value(texts.value(row));
            }
            lists.append(true);
        }
        Ok(vec![Arc::new(lists.finish())])
    }

    fn size(&self) -> usize {
        self.numbers.capacity() * (size_of::<Box<str>>() + size_of::<usize>() + 1)
            + self.text_bytes
            + self.seen.capacity() * (size_of::<(usize, usize)>() + 1)
            + self.counts.capacity() * size_of::<i64>()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
    use arrow::datatypes::Int64Type;
    use datafusion::logical_expr::{EmitTo, GroupsAccumulator};

    use super::TextDistinctCounts;

    fn texts(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn counts(array: &ArrayRef) -> Vec<i64> {
        array.as_primitive::<Int64Type>().values().to_vec()
    }

    #[test]
    fn counts_each_groups_distinct_texts_through_partial_states_and_early_emits() {
        // Two partial accumulators, as two partitions of a GROUP BY would have.
        let mut a = TextDistinctCounts::default();
        let values = texts(&[
            Some("EUR"),
            Some("USD"),
            Some("EUR"),
            None,
            Some("GBP"),
            Some("USD"),
        ]);
        let filter = BooleanArray::from(vec![true, true, true, true, false, true]);
        a.update_batch(&[values], &[0, 0, 1, 1, 2, 2], Some(&filter), 3)
            .unwrap();
        let mut b = TextDistinctCounts::default();
        let values = texts(&[Some("USD"), Some("USD"), Some("JPY")]);
        b.update_batch(std::slice::from_ref(&values), &[0, 2, 3], None, 4)
            .unwrap();
        // convert_to_state: one list per row, as when partial aggregation is skipped.
        let converted = b.convert_to_state(&[values], None).unwrap();
        let lengths: Vec<usize> = converted[0].as_list::<i32>().offsets().lengths().collect();
        assert_eq!(lengths, vec![1, 1, 1]);

        let mut merged = TextDistinctCounts::default();
        // Group numbers of the final stage: a's 0, 1, 2 are 0, 1, 2; b's 0, 2, 3 are 0, 2, 3.
        merged
            .merge_batch(&a.state(EmitTo::All).unwrap(), &[0, 1, 2], 3)
            .unwrap();
        let b_state = b.state(EmitTo::First(2)).unwrap();
        assert_eq!(b_state[0].len(), 2);
        merged.merge_batch(&b_state, &[0, 1], 3).unwrap();
        // b's groups 2 and 3 are now its 0 and 1.
        merged
            .merge_batch(&b.state(EmitTo::All).unwrap(), &[2, 3], 4)
            .unwrap();

        // 0: EUR, USD (+ USD); 1: EUR (NULL not counted); 2: USD (GBP filtered out; + USD);
        // 3: JPY.
        let first = merged.evaluate(EmitTo::First(1)).unwrap();
        assert_eq!(counts(&first), vec![2]);
        assert_eq!(
            counts(&merged.evaluate(EmitTo::All).unwrap()),
            vec![1, 1, 1]
        );
        assert!(merged.size() > 0);
    }
}
