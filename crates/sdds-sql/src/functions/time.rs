//! Parsing and presenting timestamps: `from_iso8601_timestamp`, `from_iso8601_date`,
//! `at_timezone` and the text form of `cast(timestamp AS varchar)`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::functions::args::{self, constant_text, instants, run, OnError, UTC};
use crate::functions::zone::{is_utc, Zone};

/// The type of a timestamp in `zone` (microseconds, like the feed columns).
pub fn timestamp_type(zone: Option<Arc<str>>) -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, zone)
}

/// `from_iso8601_timestamp(text)`: ISO 8601 text to a UTC timestamp; a timestamp is returned
/// as it is, a date becomes its midnight. An empty string is NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FromIso8601Timestamp {
    signature: Signature,
    on_error: OnError,
}

impl FromIso8601Timestamp {
    /// The function; `on_error` says what bad text gives.
    pub fn new(on_error: OnError) -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
            on_error,
        }
    }
}

impl ScalarUDFImpl for FromIso8601Timestamp {
    fn name(&self) -> &str {
        "from_iso8601_timestamp"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let zone = args::zone_of(&arg_types[0]).unwrap_or_else(|| UTC.into());
        Ok(timestamp_type(Some(zone)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = match args.return_type() {
            DataType::Timestamp(_, zone) => zone.clone(),
            _ => Some(UTC.into()),
        };
        run(&args.args, |a| {
            let values = instants(&a[0], self.on_error)?.values;
            Ok(Arc::new(values.with_timezone_opt(zone)) as ArrayRef)
        })
    }
}

/// `from_iso8601_date(text)`: ISO 8601 date text (or a timestamp's UTC date) to a date.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FromIso8601Date {
    signature: Signature,
    on_error: OnError,
}

impl FromIso8601Date {
    /// The function; `on_error` says what bad text gives.
    pub fn new(on_error: OnError) -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
            on_error,
        }
    }
}

impl ScalarUDFImpl for FromIso8601Date {
    fn name(&self) -> &str {
        "from_iso8601_date"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        run(&args.args, |a| {
            Ok(Arc::new(args::dates(&a[0], self.on_error)?) as ArrayRef)
        })
    }
}

/// `at_timezone(timestamp, zone)`: the same instant, shown in another zone.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AtTimezone {
    signature: Signature,
}

impl Default for AtTimezone {
    fn default() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AtTimezone {
    fn name(&self) -> &str {
        "at_timezone"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(timestamp_type(Some(UTC.into())))
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let Some(zone) = constant_text(args.scalar_arguments.get(1).copied().flatten()) else {
            return exec_err!("at_timezone: the zone must be a constant text, like 'CET'");
        };
        Zone::new(Some(&zone))?;
        let zone = if is_utc(&zone) { UTC.to_string() } else { zone };
        Ok(Arc::new(Field::new(
            self.name(),
            timestamp_type(Some(zone.into())),
            true,
        )))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = match args.return_type() {
            DataType::Timestamp(_, zone) => zone.clone(),
            _ => None,
        };
        run(&args.args[..1], |a| {
            let values = instants(&a[0], OnError::Fail)?.values;
            Ok(Arc::new(values.with_timezone_opt(zone)) as ArrayRef)
        })
    }
}

/// Athena's text form of a timestamp, used for `cast(timestamp AS varchar)`:
/// `2026-09-15 10:20:30.743 UTC` (milliseconds, or microseconds when present; the zone only
/// for a timestamp with time zone).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimestampText {
    signature: Signature,
}

impl TimestampText {
    /// The function's name, as it appears in plans.
    pub const NAME: &'static str = "presto_timestamp_text";
}

impl Default for TimestampText {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for TimestampText {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        run(&args.args, |a| {
            let zone_name = args::zone_of(a[0].data_type());
            let zone = Zone::new(zone_name.as_deref())?;
            let suffix = match zone_name.as_deref() {
                None => String::new(),
                Some(z) if is_utc(z) => " UTC".to_string(),
                Some(z) => format!(" {z}"),
            };
            let values = instants(&a[0], OnError::Fail)?.values;
            let mut out = Vec::with_capacity(values.len());
            for micros in values.iter() {
                out.push(match micros {
                    None => None,
                    Some(m) => Some(format!("{}{suffix}", timestamp_text(zone.local(m)?))),
                });
            }
            Ok(Arc::new(StringArray::from(out)) as ArrayRef)
        })
    }
}

/// `YYYY-MM-DD HH:MM:SS.fff`, with six fractional digits when the microseconds are not zero.
pub fn timestamp_text(local: chrono::NaiveDateTime) -> String {
    if local
        .and_utc()
        .timestamp_subsec_micros()
        .is_multiple_of(1000)
    {
        local.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}
