//! `date_add(unit, n, x)`, `date_diff(unit, a, b)` and `date_trunc(unit, x)` with Presto's
//! units and semantics, over the whole range of the feeds' timestamps (up to year 9999).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Date32Array, Int64Array};
use arrow::datatypes::DataType;
use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, Timelike};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::FunctionError;
use crate::functions::args::{
    self, date_to_days, days_to_date, instants, integers, is_text, run, strings, OnError, UTC,
};
use crate::functions::time::timestamp_type;
use crate::functions::zone::Zone;

/// A unit of `date_add`/`date_diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Fixed length, in microseconds.
    Fixed(i64),
    /// Calendar days (in the value's zone).
    Days(i64),
    /// Calendar months.
    Months(i64),
}

impl Unit {
    /// Parses a unit name, case-insensitively (`'day'`, `'DAY'`, `'Day'`).
    pub fn parse(name: &str) -> Result<Unit, FunctionError> {
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "millisecond" => Unit::Fixed(1_000),
            "second" => Unit::Fixed(1_000_000),
            "minute" => Unit::Fixed(60_000_000),
            "hour" => Unit::Fixed(3_600_000_000),
            "day" => Unit::Days(1),
            "week" => Unit::Days(7),
            "month" => Unit::Months(1),
            "quarter" => Unit::Months(3),
            "year" => Unit::Months(12),
            _ => return Err(FunctionError::UnknownUnit(name.to_string())),
        })
    }
}

/// `local` plus `n` months; the day is clamped to the month's end (Jan 31 + 1 month = Feb 28).
fn add_months(local: NaiveDateTime, n: i64) -> Result<NaiveDateTime, FunctionError> {
    let months =
        Months::new(u32::try_from(n.unsigned_abs()).map_err(|_| FunctionError::OutOfRange)?);
    if n >= 0 {
        local.checked_add_months(months)
    } else {
        local.checked_sub_months(months)
    }
    .ok_or(FunctionError::OutOfRange)
}

/// `local` moved by `n` units.
fn shift(local: NaiveDateTime, unit: Unit, n: i64) -> Result<NaiveDateTime, FunctionError> {
    let steps = |per: i64| n.checked_mul(per).ok_or(FunctionError::OutOfRange);
    match unit {
        Unit::Fixed(micros) => local
            .checked_add_signed(chrono::Duration::microseconds(steps(micros)?))
            .ok_or(FunctionError::OutOfRange),
        Unit::Days(days) => local
            .checked_add_signed(chrono::Duration::days(steps(days)?))
            .ok_or(FunctionError::OutOfRange),
        Unit::Months(months) => add_months(local, steps(months)?),
    }
}

/// Whole units elapsed from `a` to `b` (negative when `b` is earlier), truncated like Presto.
fn elapsed(a: NaiveDateTime, b: NaiveDateTime, unit: Unit) -> Result<i64, FunctionError> {
    match unit {
        Unit::Fixed(micros) => {
            let span = (b - a)
                .num_microseconds()
                .ok_or(FunctionError::OutOfRange)?;
            Ok(span / micros)
        }
        Unit::Days(days) => {
            let span = (b - a)
                .num_microseconds()
                .ok_or(FunctionError::OutOfRange)?;
            Ok(span / (days * 86_400_000_000))
        }
        Unit::Months(per) => {
            let mut months =
                i64::from(b.year() - a.year()) * 12 + i64::from(b.month()) - i64::from(a.month());
            if months > 0 && add_months(a, months)? > b {
                months -= 1;
            } else if months < 0 && add_months(a, months)? < b {
                months += 1;
            }
            Ok(months / per)
        }
    }
}

/// The unit of each row, from the first argument.
fn units(array: &ArrayRef) -> Result<Vec<Option<Unit>>> {
    strings(array)?
        .iter()
        .map(|u| u.map(Unit::parse).transpose().map_err(Into::into))
        .collect()
}

/// `date_add(unit, n, x)`: a timestamp (or date) `n` units later. Text is read as a UTC
/// timestamp; a date stays a date and takes only day, week, month, quarter and year.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateAdd {
    signature: Signature,
    on_error: OnError,
}

impl DateAdd {
    /// The function; `on_error` says what bad text gives.
    pub fn new(on_error: OnError) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            on_error,
        }
    }
}

impl ScalarUDFImpl for DateAdd {
    fn name(&self) -> &str {
        "date_add"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3 {
            return datafusion::common::plan_err!("date_add takes (unit, n, timestamp)");
        }
        Ok(vec![DataType::Utf8, DataType::Int64, arg_types[2].clone()])
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match &arg_types[2] {
            DataType::Date32 | DataType::Date64 => DataType::Date32,
            DataType::Timestamp(_, zone) => timestamp_type(zone.clone()),
            _ => timestamp_type(Some(UTC.into())),
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        run(&args.args, |a| {
            let units = units(&a[0])?;
            let counts = integers(&a[1])?;
            if matches!(a[2].data_type(), DataType::Date32 | DataType::Date64) {
                let days = args::dates(&a[2], self.on_error)?;
                let mut out = Vec::with_capacity(days.len());
                for (i, unit) in units.iter().enumerate() {
                    let (Some(unit), true, true) = (*unit, counts.is_valid(i), days.is_valid(i))
                    else {
                        out.push(None);
                        continue;
                    };
                    if matches!(unit, Unit::Fixed(_)) {
                        return Err(FunctionError::UnitNotForDate(
                            strings(&a[0])?.value(i).to_string(),
                        )
                        .into());
                    }
                    let date = days_to_date(days.value(i))?.and_time(chrono::NaiveTime::MIN);
                    let moved = self.on_error.apply(shift(date, unit, counts.value(i)))?;
                    out.push(moved.map(|d| date_to_days(d.date())));
                }
                return Ok(Arc::new(Date32Array::from(out)) as ArrayRef);
            }
            let zone_name = match a[2].data_type() {
                t if is_text(t) => Some(UTC.into()),
                t => args::zone_of(t),
            };
            let zone = Zone::new(zone_name.as_deref())?;
            let values = instants(&a[2], self.on_error)?.values;
            let mut out = Vec::with_capacity(values.len());
            for (i, unit) in units.iter().enumerate() {
                let (Some(unit), true, true) = (*unit, counts.is_valid(i), values.is_valid(i))
                else {
                    out.push(None);
                    continue;
                };
                let moved = zone
                    .local(values.value(i))
                    .and_then(|local| shift(local, unit, counts.value(i)))
                    .and_then(|local| zone.instant(local));
                out.push(self.on_error.apply(moved)?);
            }
            Ok(args::timestamp_array(out, zone_name))
        })
    }
}

/// `date_diff(unit, a, b)`: the whole units elapsed from `a` to `b`, as a BIGINT.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateDiff {
    signature: Signature,
    on_error: OnError,
}

impl DateDiff {
    /// The function; `on_error` says what bad text gives.
    pub fn new(on_error: OnError) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            on_error,
        }
    }
}

impl ScalarUDFImpl for DateDiff {
    fn name(&self) -> &str {
        "date_diff"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3 {
            return datafusion::common::plan_err!("date_diff takes (unit, a, b)");
        }
        Ok(vec![
            DataType::Utf8,
            arg_types[1].clone(),
            arg_types[2].clone(),
        ])
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        run(&args.args, |a| {
            let units = units(&a[0])?;
            let zone_name = args::zone_of(a[1].data_type()).or(args::zone_of(a[2].data_type()));
            let zone = Zone::new(zone_name.as_deref())?;
            let from = instants(&a[1], self.on_error)?.values;
            let to = instants(&a[2], self.on_error)?.values;
            let mut out = Vec::with_capacity(from.len());
            for (i, unit) in units.iter().enumerate() {
                let (Some(unit), true, true) = (*unit, from.is_valid(i), to.is_valid(i)) else {
                    out.push(None);
                    continue;
                };
                let diff = zone
                    .local(from.value(i))
                    .and_then(|a| zone.local(to.value(i)).and_then(|b| elapsed(a, b, unit)));
                out.push(self.on_error.apply(diff)?);
            }
            Ok(Arc::new(Int64Array::from(out)) as ArrayRef)
        })
    }
}

/// `local` truncated to the start of its `unit` (weeks start on Monday).
fn truncate(local: NaiveDateTime, unit: &str) -> Result<NaiveDateTime, FunctionError> {
    let date = local.date();
    let start_of = |d: Option<NaiveDate>| {
        d.and_then(|d| d.and_hms_opt(0, 0, 0))
            .ok_or(FunctionError::OutOfRange)
    };
    let floor = |micros: i64| {
        let t = local.and_utc().timestamp_micros();
        DateTime::from_timestamp_micros(t - t.rem_euclid(micros))
            .map(|d| d.naive_utc())
            .ok_or(FunctionError::OutOfRange)
    };
    match unit.trim().to_ascii_lowercase().as_str() {
        "millisecond" => floor(1_000),
        "second" => floor(1_000_000),
        "minute" => Ok(local
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .ok_or(FunctionError::OutOfRange)?),
        "hour" => start_of(Some(date)).map(|d| d + chrono::Duration::hours(local.hour().into())),
        "day" => start_of(Some(date)),
        "week" => start_of(Some(
            date - chrono::Duration::days(date.weekday().num_days_from_monday().into()),
        )),
        "month" => start_of(date.with_day(1)),
        "quarter" => start_of(NaiveDate::from_ymd_opt(
            date.year(),
            (date.month0() / 3) * 3 + 1,
            1,
        )),
        "year" => start_of(NaiveDate::from_ymd_opt(date.year(), 1, 1)),
        _ => Err(FunctionError::UnknownUnit(unit.to_string())),
    }
}

/// `date_trunc(unit, x)`: a timestamp (in its zone) or date cut down to the start of its
/// second, minute, hour, day, week, month, quarter or year. Text is read as a UTC timestamp.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateTrunc {
    signature: Signature,
}

impl Default for DateTrunc {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateTrunc {
    fn name(&self) -> &str {
        "date_trunc"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return datafusion::common::plan_err!("date_trunc takes (unit, timestamp)");
        }
        Ok(vec![DataType::Utf8, arg_types[1].clone()])
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        DateAdd::new(OnError::Fail).return_type(&[
            DataType::Utf8,
            DataType::Int64,
            arg_types[1].clone(),
        ])
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        run(&args.args, |a| {
            let units = strings(&a[0])?;
            let is_date = matches!(a[1].data_type(), DataType::Date32 | DataType::Date64);
            let zone_name = match a[1].data_type() {
                t if is_text(t) => Some(UTC.into()),
                t => args::zone_of(t),
            };
            let zone = Zone::new(zone_name.as_deref())?;
            let values = instants(&a[1], OnError::Fail)?.values;
            let mut out = Vec::with_capacity(values.len());
            for i in 0..values.len() {
                if units.is_null(i) || values.is_null(i) {
                    out.push(None);
                    continue;
                }
                let local = truncate(zone.local(values.value(i))?, units.value(i))?;
                out.push(Some(zone.instant(local)?));
            }
            if is_date {
                let days: Date32Array = out
                    .iter()
                    .map(|m| m.map(|m| m.div_euclid(86_400_000_000) as i32))
                    .collect();
                return Ok(Arc::new(days) as ArrayRef);
            }
            Ok(args::timestamp_array(out, zone_name))
        })
    }
}
