//! Aggregates: `listagg(x, sep) WITHIN GROUP (ORDER BY ...)`, `max_by(x, y)`, `min_by(x, y)`.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::functions_aggregate::string_agg::StringAgg;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

/// `listagg(x, separator) WITHIN GROUP (ORDER BY key)`: the non-NULL values joined in order.
///
/// DataFusion passes the WITHIN GROUP key as an extra first argument; the work is done by
/// `string_agg(x, separator ORDER BY key)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListAgg {
    signature: Signature,
    inner: StringAgg,
}

impl Default for ListAgg {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            inner: StringAgg::new(),
        }
    }
}

impl ListAgg {
    /// How many leading arguments are the WITHIN GROUP key (0 or 1).
    fn key_args(arg_count: usize) -> usize {
        arg_count.saturating_sub(2)
    }
}

impl AggregateUDFImpl for ListAgg {
    fn name(&self) -> &str {
        "listagg"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [value, _] => Ok(vec![text(value), DataType::Utf8]),
            [key, value, _] => Ok(vec![key.clone(), text(value), DataType::Utf8]),
            _ => plan_err!("listagg takes (value, separator)"),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn supports_within_group_clause(&self) -> bool {
        true
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let skip = Self::key_args(args.input_fields.len());
        self.inner.state_fields(StateFieldsArgs {
            input_fields: &args.input_fields[skip..],
            ..args
        })
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let skip = Self::key_args(args.exprs.len());
        let inner = self.inner.accumulator(AccumulatorArgs {
            return_field: Arc::new(Field::new(args.name, DataType::LargeUtf8, true)),
            exprs: &args.exprs[skip..],
            expr_fields: &args.expr_fields[skip..],
            ..args
        })?;
        Ok(Box::new(ListAggAccumulator { inner, skip }))
    }
}

/// Text types stay; anything else is cast to text.
fn text(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => data_type.clone(),
        _ => DataType::Utf8,
    }
}

#[derive(Debug)]
struct ListAggAccumulator {
    inner: Box<dyn Accumulator>,
    skip: usize,
}

impl Accumulator for ListAggAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(&values[self.skip..])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(match self.inner.evaluate()? {
            ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) | ScalarValue::Utf8(s) => {
                ScalarValue::Utf8(s)
            }
            other => other.cast_to(&DataType::Utf8)?,
        })
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.inner.size()
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }
}

/// `max_by(x, y)` / `min_by(x, y)`: the `x` of the row with the greatest (least) `y`;
/// rows whose `y` is NULL are ignored.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ValueBy {
    signature: Signature,
    max: bool,
}

impl ValueBy {
    /// `max_by` when `max`, else `min_by`.
    pub fn new(max: bool) -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
            max,
        }
    }
}

impl AggregateUDFImpl for ValueBy {
    fn name(&self) -> &str {
        if self.max {
            "max_by"
        } else {
            "min_by"
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(args
            .input_fields
            .iter()
            .zip(["value", "key"])
            .map(|(field, part)| {
                Arc::new(Field::new(
                    format_state_name(args.name, part),
                    field.data_type().clone(),
                    true,
                ))
            })
            .collect())
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let value_type = args.expr_fields[0].data_type().clone();
        let key_type = args.expr_fields[1].data_type().clone();
        Ok(Box::new(ValueByAccumulator {
            value: ScalarValue::try_from(&value_type)?,
            key: ScalarValue::try_from(&key_type)?,
            wanted: if self.max {
                Ordering::Greater
            } else {
                Ordering::Less
            },
        }))
    }
}

#[derive(Debug)]
struct ValueByAccumulator {
    value: ScalarValue,
    key: ScalarValue,
    wanted: Ordering,
}

impl Accumulator for ValueByAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (value, key) = (&values[0], &values[1]);
        for row in 0..key.len() {
            if key.is_null(row) {
                continue;
            }
            let candidate = ScalarValue::try_from_array(key, row)?;
            if self.key.is_null() || candidate.partial_cmp(&self.key) == Some(self.wanted) {
                self.key = candidate;
                self.value = ScalarValue::try_from_array(value, row)?;
            }
        }
        Ok(())
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size() + self.key.size()
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.value.clone(), self.key.clone()])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }
}
