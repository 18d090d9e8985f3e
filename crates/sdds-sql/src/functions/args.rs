//! Argument handling shared by the functions: text or typed input, scalar or column.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Date32Array, StringArray, TimestampMicrosecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;

use crate::error::FunctionError;

/// The zone AWS feeds are in, and the one text input is read in.
pub const UTC: &str = "UTC";

/// Whether bad input is an error or NULL (inside `try(...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnError {
    /// Fail the query with a clear message.
    #[default]
    Fail,
    /// Yield NULL for that row.
    Null,
}

impl OnError {
    /// Applies the policy to one conversion.
    pub fn apply<T>(self, value: Result<T, FunctionError>) -> Result<Option<T>> {
        match (value, self) {
            (Ok(v), _) => Ok(Some(v)),
            (Err(_), OnError::Null) => Ok(None),
            (Err(e), OnError::Fail) => Err(e.into()),
        }
    }
}

/// Evaluates `f` over the arguments as arrays; all-scalar input gives a scalar result.
pub fn run(
    args: &[ColumnarValue],
    f: impl FnOnce(&[ArrayRef]) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let out = f(&arrays)?;
    if all_scalar && !args.is_empty() {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

/// True for the string types.
pub fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// The argument as UTF-8 strings.
pub fn strings(array: &ArrayRef) -> Result<StringArray> {
    Ok(cast(array, &DataType::Utf8)?.as_string::<i32>().clone())
}

/// Parses each text value of the argument: NULL and empty text give NULL, bad text fails or
/// gives NULL as `on_error` says.
pub fn parse_texts<T>(
    array: &ArrayRef,
    on_error: OnError,
    parse: impl Fn(&str) -> Result<T, FunctionError>,
) -> Result<Vec<Option<T>>> {
    strings(array)?
        .iter()
        .map(|value| match value {
            None | Some("") => Ok(None),
            Some(s) => on_error.apply(parse(s)),
        })
        .collect()
}

/// The argument as integers.
pub fn integers(array: &ArrayRef) -> Result<arrow::array::Int64Array> {
    Ok(cast(array, &DataType::Int64)?
        .as_primitive::<arrow::datatypes::Int64Type>()
        .clone())
}

/// The value of a constant text argument (a unit, a format, a zone), if it is one.
pub fn constant_text(value: Option<&ScalarValue>) -> Option<String> {
    match value? {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => s.clone(),
        _ => None,
    }
}

/// Parses timestamp text: ISO 8601 (`T` or space, optional fraction, `Z`/offset/none = UTC,
/// bare date) and the `... UTC` form that `cast(timestamp as varchar)` produces.
pub fn parse_instant(text: &str) -> Result<i64, FunctionError> {
    let trimmed = text.trim();
    let trimmed = trimmed.strip_suffix(" UTC").unwrap_or(trimmed);
    sdds_feeds::value::parse_timestamp(trimmed).map_err(|_| FunctionError::InvalidTimestamp {
        text: text.to_string(),
    })
}

/// Parses date text (`YYYY-MM-DD`, or a timestamp whose date part is taken).
pub fn parse_date(text: &str) -> Result<NaiveDate, FunctionError> {
    let trimmed = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        return Ok(date);
    }
    let micros = parse_instant(trimmed).map_err(|_| FunctionError::InvalidDate {
        text: text.to_string(),
    })?;
    Ok(micros_to_datetime(micros)?.date_naive())
}

/// A UTC date-time from microseconds.
pub fn micros_to_datetime(micros: i64) -> Result<DateTime<Utc>, FunctionError> {
    DateTime::from_timestamp_micros(micros).ok_or(FunctionError::OutOfRange)
}

/// Days since the epoch of a date.
pub fn date_to_days(date: NaiveDate) -> i32 {
    (date - DateTime::UNIX_EPOCH.date_naive()).num_days() as i32
}

/// The date `days` after the epoch.
pub fn days_to_date(days: i32) -> Result<NaiveDate, FunctionError> {
    DateTime::UNIX_EPOCH
        .date_naive()
        .checked_add_signed(chrono::Duration::days(days.into()))
        .ok_or(FunctionError::OutOfRange)
}

/// A timestamp-like argument as instants (µs since the epoch, UTC) and the zone it carries.
pub struct Instants {
    /// The instants; NULL where the input was NULL, empty or (with [`OnError::Null`]) bad.
    pub values: TimestampMicrosecondArray,
    /// The zone of a typed timestamp (`None`: no zone); text is read as UTC.
    pub zone: Option<Arc<str>>,
}

/// The zone a timestamp-like argument type yields: text is UTC, dates have none.
pub fn zone_of(data_type: &DataType) -> Option<Arc<str>> {
    match data_type {
        DataType::Timestamp(_, zone) => zone.clone(),
        t if is_text(t) => Some(UTC.into()),
        _ => None,
    }
}

/// Converts text, dates or timestamps of any unit into instants.
pub fn instants(array: &ArrayRef, on_error: OnError) -> Result<Instants> {
    let zone = zone_of(array.data_type());
    let values = match array.data_type() {
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
            let naive = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            naive.as_primitive().clone()
        }
        DataType::Null => TimestampMicrosecondArray::new_null(array.len()),
        t if is_text(t) => {
            TimestampMicrosecondArray::from(parse_texts(array, on_error, parse_instant)?)
        }
        other => return Err(FunctionError::NotATimestamp(other.to_string()).into()),
    };
    Ok(Instants { values, zone })
}

/// Converts text, dates or timestamps into dates (the UTC date of an instant).
pub fn dates(array: &ArrayRef, on_error: OnError) -> Result<Date32Array> {
    match array.data_type() {
        t if is_text(t) => {
            let days = parse_texts(array, on_error, |s| parse_date(s).map(date_to_days))?;
            Ok(Date32Array::from(days))
        }
        DataType::Date32 => Ok(array.as_primitive().clone()),
        _ => {
            let instants = instants(array, on_error)?;
            let days: Date32Array = instants
                .values
                .unary(|micros| micros.div_euclid(86_400_000_000) as i32);
            Ok(days)
        }
    }
}

/// Converts instants back into an array of the given zone.
pub fn timestamp_array(values: Vec<Option<i64>>, zone: Option<Arc<str>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(zone))
}

/// Whether a grouped aggregate's `FILTER (WHERE …)` lets `row` through (no filter lets all).
pub fn filter_passes(opt_filter: Option<&arrow::array::BooleanArray>, row: usize) -> bool {
    opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}
