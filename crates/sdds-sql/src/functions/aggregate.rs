//! Aggregates: `max_by(x, y[, n])`, `min_by(x, y[, n])`, and `avg` keeping a decimal's
//! scale (`listagg` is in [`super::listagg`]).

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::functions_aggregate::average::Avg;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use datafusion::physical_expr::expressions::Literal;

use crate::functions::numeric::drop_digits;

/// `max_by(x, y)` / `min_by(x, y)`: the `x` of the row with the greatest (least) `y`;
/// rows whose `y` is NULL are ignored. With a third argument `n`: an array of the `x` of the
/// `n` rows with the greatest (least) `y`, in that order.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ValueBy {
    signature: Signature,
    max: bool,
}

impl ValueBy {
    /// `max_by` when `max`, else `min_by`.
    pub fn new(max: bool) -> Self {
        Self {
            signature: Signature::one_of(
                vec![
                    datafusion::logical_expr::TypeSignature::Any(2),
                    datafusion::logical_expr::TypeSignature::Any(3),
                ],
                Volatility::Immutable,
            ),
            max,
        }
    }

    fn wanted(&self) -> Ordering {
        if self.max {
            Ordering::Greater
        } else {
            Ordering::Less
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
        Ok(match arg_types.len() {
            3 => DataType::new_list(arg_types[0].clone(), true),
            _ => arg_types[0].clone(),
        })
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let listed = args.input_fields.len() == 3;
        Ok(args
            .input_fields
            .iter()
            .zip(["value", "key"])
            .map(|(field, part)| {
                let data_type = match listed {
                    true => DataType::new_list(field.data_type().clone(), true),
                    false => field.data_type().clone(),
                };
                Arc::new(Field::new(
                    format_state_name(args.name, part),
                    data_type,
                    true,
                ))
            })
            .collect())
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let value_type = args.expr_fields[0].data_type().clone();
        let key_type = args.expr_fields[1].data_type().clone();
        if args.exprs.len() == 3 {
            let n = match args.exprs[2].downcast_ref::<Literal>().map(|l| l.value()) {
                Some(ScalarValue::Int64(Some(n))) if *n >= 0 => *n as usize,
                Some(ScalarValue::Int32(Some(n))) if *n >= 0 => *n as usize,
                _ => {
                    return plan_err!(
                        "{}: the third argument must be a non-negative integer constant",
                        self.name()
                    )
                }
            };
            return Ok(Box::new(ValuesByAccumulator {
                n,
                wanted: self.wanted(),
                pairs: Vec::new(),
                value_type,
                key_type,
            }));
        }
        Ok(Box::new(ValueByAccumulator {
            value: ScalarValue::try_from(&value_type)?,
            key: ScalarValue::try_from(&key_type)?,
            wanted: self.wanted(),
        }))
    }
}

/// The `n` (key, value) pairs with the wanted keys, for the three-argument form.
#[derive(Debug)]
struct ValuesByAccumulator {
    n: usize,
    wanted: Ordering,
    pairs: Vec<(ScalarValue, ScalarValue)>,
    value_type: DataType,
    key_type: DataType,
}

impl ValuesByAccumulator {
    fn push(&mut self, key: ScalarValue, value: ScalarValue) {
        self.pairs.push((key, value));
        if self.pairs.len() > 2 * self.n.max(16) {
            self.keep_best();
        }
    }

    fn keep_best(&mut self) {
        let wanted = self.wanted;
        self.pairs.sort_by(|a, b| {
            let order = a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal);
            if wanted == Ordering::Greater {
                order.reverse()
            } else {
                order
            }
        });
        self.pairs.truncate(self.n);
    }

    fn list(values: Vec<ScalarValue>, data_type: &DataType) -> ScalarValue {
        ScalarValue::List(ScalarValue::new_list_nullable(&values, data_type))
    }
}

impl Accumulator for ValuesByAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (value, key) = (&values[0], &values[1]);
        for row in 0..key.len() {
            if key.is_valid(row) {
                self.push(
                    ScalarValue::try_from_array(key, row)?,
                    ScalarValue::try_from_array(value, row)?,
                );
            }
        }
        Ok(())
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.keep_best();
        let values = self.pairs.iter().map(|(_, v)| v.clone()).collect();
        Ok(Self::list(values, &self.value_type))
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .pairs
                .iter()
                .map(|(k, v)| k.size() + v.size())
                .sum::<usize>()
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.keep_best();
        let (keys, values): (Vec<_>, Vec<_>) = self.pairs.iter().cloned().unzip();
        Ok(vec![
            Self::list(values, &self.value_type),
            Self::list(keys, &self.key_type),
        ])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (values, keys) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..keys.len() {
            if keys.is_null(row) {
                continue;
            }
            let (row_values, row_keys) = (values.value(row), keys.value(row));
            if row_values.len() != row_keys.len() {
                return exec_err!("max_by/min_by: inconsistent state");
            }
            for i in 0..row_keys.len() {
                self.push(
                    ScalarValue::try_from_array(&row_keys, i)?,
                    ScalarValue::try_from_array(&row_values, i)?,
                );
            }
        }
        Ok(())
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

/// `avg(x)`: DataFusion's average, except that a decimal keeps its type, as in Presto
/// (`avg(DECIMAL(p, s))` is `DECIMAL(p, s)`, rounded half away from zero).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DecimalAvg {
    inner: Avg,
}

impl Default for DecimalAvg {
    fn default() -> Self {
        Self { inner: Avg::new() }
    }
}

impl AggregateUDFImpl for DecimalAvg {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Decimal128(p, s)] => Ok(DataType::Decimal128(*p, *s)),
            _ => self.inner.return_type(arg_types),
        }
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let DataType::Decimal128(precision, scale) = *args.expr_fields[0].data_type() else {
            return self.inner.accumulator(args);
        };
        // DataFusion's own accumulator, asked for its wider result type, then rescaled.
        let wide = self
            .inner
            .return_type(&[DataType::Decimal128(precision, scale)])?;
        let inner = self.inner.accumulator(AccumulatorArgs {
            return_field: Arc::new(Field::new(args.name, wide, true)),
            ..args
        })?;
        Ok(Box::new(RescaledAccumulator {
            inner,
            precision,
            scale,
        }))
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        false
    }
}

/// Rounds an accumulator's decimal result to a smaller scale, half away from zero.
#[derive(Debug)]
struct RescaledAccumulator {
    inner: Box<dyn Accumulator>,
    precision: u8,
    scale: i8,
}

impl Accumulator for RescaledAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(values)
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        let value = match self.inner.evaluate()? {
            ScalarValue::Decimal128(Some(v), _, wide) => {
                Some(drop_digits(v, (wide - self.scale).max(0) as u32, false))
            }
            _ => None,
        };
        Ok(ScalarValue::Decimal128(value, self.precision, self.scale))
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
