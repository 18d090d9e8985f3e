//! Exact numeric functions with Presto's result types: `round` and `truncate` keep decimals
//! decimal (rounding half away from zero), and decimal division has Presto's scale.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::{i256, DataType, Decimal128Type, Float64Type};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use sdds_feeds::catalog::{DECIMAL_PRECISION, DECIMAL_SCALE};

use crate::error::FunctionError;
use crate::functions::args::{integers, is_text, parse_texts, run, OnError};

/// The largest decimal precision.
const MAX_PRECISION: u8 = 38;

fn pow10(exp: u32) -> i128 {
    10i128.pow(exp)
}

/// Rounds an unscaled decimal at `scale` to `digits` fractional digits, half away from zero
/// (`truncate`: toward zero), keeping the scale.
pub fn round_unscaled(value: i128, scale: i8, digits: i64, truncate: bool) -> Option<i128> {
    let drop = i64::from(scale) - digits;
    if drop <= 0 {
        return Some(value);
    }
    if drop > 38 {
        return Some(0);
    }
    drop_digits(value, drop as u32, truncate).checked_mul(pow10(drop as u32))
}

/// An unscaled decimal with its last `drop` (at most 38) digits removed: the value at a scale
/// `drop` smaller, rounded half away from zero (`truncate`: toward zero).
pub fn drop_digits(value: i128, drop: u32, truncate: bool) -> i128 {
    let factor = pow10(drop);
    let (q, r) = (value / factor, value % factor);
    if !truncate && r.unsigned_abs() * 2 >= factor.unsigned_abs() {
        q + value.signum()
    } else {
        q
    }
}

/// Text as a decimal at the feed scale (how the typed columns store it).
fn text_to_decimals(array: &ArrayRef, on_error: OnError) -> Result<Decimal128Array> {
    let out = parse_texts(array, on_error, |s| {
        sdds_feeds::value::parse_decimal(s).map_err(|_| FunctionError::InvalidNumber(s.to_string()))
    })?;
    Ok(Decimal128Array::from(out).with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)?)
}

/// `round(x[, d])` or `truncate(x[, d])`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Round {
    signature: Signature,
    truncate: bool,
}

impl Round {
    /// `round` (half away from zero), or `truncate` (toward zero).
    pub fn new(truncate: bool) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            truncate,
        }
    }
}

impl ScalarUDFImpl for Round {
    fn name(&self) -> &str {
        if self.truncate {
            "truncate"
        } else {
            "round"
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let value = match &arg_types.first() {
            Some(t @ (DataType::Decimal128(..) | DataType::Float64 | DataType::Int64)) => {
                (*t).clone()
            }
            Some(DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal256(..)) => {
                DataType::Decimal128(MAX_PRECISION, DECIMAL_SCALE)
            }
            Some(t) if t.is_integer() => DataType::Int64,
            Some(t) if t.is_floating() => DataType::Float64,
            Some(t) if is_text(t) || **t == DataType::Null => (*t).clone(),
            Some(t) => return plan_err!("{} does not take {t}", self.name()),
            None => return plan_err!("{} takes (x[, digits])", self.name()),
        };
        match arg_types.len() {
            1 => Ok(vec![value]),
            2 => Ok(vec![value, DataType::Int64]),
            _ => plan_err!("{} takes (x[, digits])", self.name()),
        }
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let with_digits = arg_types.len() == 2;
        Ok(match &arg_types[0] {
            DataType::Decimal128(p, s) if with_digits => {
                let p = if self.truncate {
                    *p
                } else {
                    (*p + 1).min(MAX_PRECISION)
                };
                DataType::Decimal128(p, *s)
            }
            DataType::Decimal128(p, s) => {
                let whole = (*p as i16 - *s as i16).max(0) as u8;
                let carry = if self.truncate || *s == 0 { 0 } else { 1 };
                DataType::Decimal128((whole + carry).clamp(1, MAX_PRECISION), 0)
            }
            t if is_text(t) => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
            DataType::Null => DataType::Float64,
            other => other.clone(),
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let return_type = args.return_type().clone();
        let truncate = self.truncate;
        run(&args.args, |a| {
            let digits = match a.get(1) {
                Some(d) => integers(d)?,
                None => arrow::array::Int64Array::from(vec![0; a[0].len()]),
            };
            let digit = |i: usize| digits.is_valid(i).then(|| digits.value(i));
            let input = match a[0].data_type() {
                t if is_text(t) => Arc::new(text_to_decimals(&a[0], OnError::Fail)?) as ArrayRef,
                DataType::Null => cast(&a[0], &return_type)?,
                _ => Arc::clone(&a[0]),
            };
            match (input.data_type(), &return_type) {
                (DataType::Decimal128(_, scale), DataType::Decimal128(p, s)) => {
                    let scale = *scale;
                    let values = input.as_primitive::<Decimal128Type>();
                    let mut out = Vec::with_capacity(values.len());
                    for i in 0..values.len() {
                        let (true, Some(d)) = (values.is_valid(i), digit(i)) else {
                            out.push(None);
                            continue;
                        };
                        let rounded = round_unscaled(values.value(i), scale, d, truncate)
                            .ok_or(FunctionError::DecimalOverflow)?;
                        // Rescale to the result's scale (0 when no digits were given).
                        let rescaled = rounded / pow10((scale - *s) as u32);
                        if rescaled.unsigned_abs() >= pow10(u32::from(*p)).unsigned_abs() {
                            return Err(FunctionError::DecimalOverflow.into());
                        }
                        out.push(Some(rescaled));
                    }
                    Ok(
                        Arc::new(Decimal128Array::from(out).with_precision_and_scale(*p, *s)?)
                            as ArrayRef,
                    )
                }
                (DataType::Float64, _) => {
                    let values = input.as_primitive::<Float64Type>();
                    let out: Float64Array = (0..values.len())
                        .map(|i| {
                            let d = digit(i)?;
                            values.is_valid(i).then(|| {
                                let factor = 10f64.powi(d as i32);
                                let scaled = values.value(i) * factor;
                                let r = if truncate {
                                    scaled.trunc()
                                } else {
                                    scaled.round()
                                };
                                r / factor
                            })
                        })
                        .collect();
                    Ok(Arc::new(out) as ArrayRef)
                }
                (t, _) if t.is_integer() => {
                    let values = integers(&input)?;
                    let mut out = Vec::with_capacity(values.len());
                    for i in 0..values.len() {
                        let (true, Some(d)) = (values.is_valid(i), digit(i)) else {
                            out.push(None);
                            continue;
                        };
                        let v = round_unscaled(values.value(i).into(), 0, d, truncate)
                            .and_then(|v| i64::try_from(v).ok())
                            .ok_or(FunctionError::OutOfRange)?;
                        out.push(Some(v));
                    }
                    cast(
                        &(Arc::new(arrow::array::Int64Array::from(out)) as ArrayRef),
                        &return_type,
                    )
                    .map_err(Into::into)
                }
                (other, _) => {
                    datafusion::common::exec_err!("{} does not take {other}", self.name())
                }
            }
        })
    }
}

/// Presto's type of `decimal(p1,s1) / decimal(p2,s2)`: scale max(s1, s2), precision
/// min(38, p1 + s2 + max(0, s2 - s1)).
pub fn division_type(p1: u8, s1: i8, s2: i8) -> DataType {
    let scale = s1.max(s2).max(0);
    let precision = (i16::from(p1) + i16::from(s2.max(0)) + i16::from((s2 - s1).max(0)))
        .clamp(1, i16::from(MAX_PRECISION)) as u8;
    DataType::Decimal128(precision.max(scale as u8).max(1), scale)
}

/// Decimal division with Presto's result type, rounded half away from zero.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DecimalDivide {
    signature: Signature,
    on_error: OnError,
}

impl DecimalDivide {
    /// The function's name, as it appears in plans.
    pub const NAME: &'static str = "presto_decimal_divide";

    /// The function; `on_error` says what division by zero gives.
    pub fn new(on_error: OnError) -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
            on_error,
        }
    }
}

impl ScalarUDFImpl for DecimalDivide {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match (&arg_types[0], &arg_types[1]) {
            (DataType::Decimal128(p1, s1), DataType::Decimal128(_, s2)) => {
                Ok(division_type(*p1, *s1, *s2))
            }
            (a, b) => plan_err!("decimal division of {a} and {b}"),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::Decimal128(p, s) = args.return_type().clone() else {
            return datafusion::common::exec_err!("decimal division without a decimal type");
        };
        run(&args.args, |a| {
            let (DataType::Decimal128(_, s1), DataType::Decimal128(_, s2)) =
                (a[0].data_type(), a[1].data_type())
            else {
                return datafusion::common::exec_err!("decimal division of non-decimals");
            };
            let exp = (i32::from(s) + i32::from(*s2) - i32::from(*s1)) as u32;
            let lhs = a[0].as_primitive::<Decimal128Type>();
            let rhs = a[1].as_primitive::<Decimal128Type>();
            let mut out = Vec::with_capacity(lhs.len());
            for i in 0..lhs.len() {
                if lhs.is_null(i) || rhs.is_null(i) {
                    out.push(None);
                    continue;
                }
                let quotient = divide(lhs.value(i), rhs.value(i), exp, p);
                out.push(self.on_error.apply(quotient)?);
            }
            Ok(Arc::new(Decimal128Array::from(out).with_precision_and_scale(p, s)?) as ArrayRef)
        })
    }
}

/// `lhs * 10^exp / rhs`, rounded half away from zero, checked against `precision` digits.
fn divide(lhs: i128, rhs: i128, exp: u32, precision: u8) -> Result<i128, FunctionError> {
    if rhs == 0 {
        return Err(FunctionError::DivisionByZero);
    }
    let ten = i256::from_i128(10);
    let numerator = i256::from_i128(lhs)
        .checked_mul(ten.checked_pow(exp).ok_or(FunctionError::DecimalOverflow)?)
        .ok_or(FunctionError::DecimalOverflow)?;
    let divisor = i256::from_i128(rhs);
    let quotient = numerator.wrapping_div(divisor);
    let remainder = numerator.wrapping_rem(divisor);
    let twice = remainder.wrapping_abs().wrapping_mul(i256::from_i128(2));
    let quotient = if twice >= divisor.wrapping_abs() {
        let away = if numerator.is_negative() != divisor.is_negative() {
            -1
        } else {
            1
        };
        quotient.wrapping_add(i256::from_i128(away))
    } else {
        quotient
    };
    let value = quotient.to_i128().ok_or(FunctionError::DecimalOverflow)?;
    if value.unsigned_abs() >= pow10(u32::from(precision)).unsigned_abs() {
        return Err(FunctionError::DecimalOverflow);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(round_unscaled(12345, 3, 2, false), Some(12350));
        assert_eq!(round_unscaled(-12345, 3, 2, false), Some(-12350));
        assert_eq!(round_unscaled(-12344, 3, 2, false), Some(-12340));
        assert_eq!(round_unscaled(-12349, 3, 2, true), Some(-12340));
        assert_eq!(round_unscaled(15, 0, -1, false), Some(20));
    }

    #[test]
    fn divides_with_presto_scale() {
        assert_eq!(division_type(38, 6, 6), DataType::Decimal128(38, 6));
        // p1 + s2 + max(0, s2 - s1) = 10 + 4 + 2.
        assert_eq!(division_type(10, 2, 4), DataType::Decimal128(16, 4));
        // 1.000000 / 3.000000 = 0.333333; 2/3 rounds up to 0.666667.
        assert_eq!(divide(1_000_000, 3_000_000, 6, 38), Ok(333_333));
        assert_eq!(divide(-2_000_000, 3_000_000, 6, 38), Ok(-666_667));
        assert_eq!(divide(1, 0, 6, 38), Err(FunctionError::DivisionByZero));
    }
}
