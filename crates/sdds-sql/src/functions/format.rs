//! `date_format(x, format)` and `date_parse(text, format)` with MySQL-style `%` specifiers,
//! as in Presto/Athena.

use std::fmt::Write;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::DataType;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::FunctionError;
use crate::functions::args::{self, instants, run, strings, OnError};
use crate::functions::time::timestamp_type;
use crate::functions::zone::Zone;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Formats a wall-clock time with a MySQL-style format.
pub fn format_mysql(t: NaiveDateTime, format: &str) -> Result<String, FunctionError> {
    let mut out = String::new();
    let mut chars = format.chars();
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            out.push('%');
            break;
        };
        let month = MONTHS[t.month0() as usize];
        let weekday = WEEKDAYS[t.weekday().num_days_from_monday() as usize];
        let _ = match spec {
            'a' => write!(out, "{}", &weekday[..3]),
            'b' => write!(out, "{}", &month[..3]),
            'c' => write!(out, "{}", t.month()),
            'D' => write!(out, "{}{}", t.day(), ordinal_suffix(t.day())),
            'd' => write!(out, "{:02}", t.day()),
            'e' => write!(out, "{}", t.day()),
            'f' => write!(out, "{:06}", t.nanosecond() / 1000),
            'H' => write!(out, "{:02}", t.hour()),
            'h' | 'I' => write!(out, "{hour12:02}"),
            'i' => write!(out, "{:02}", t.minute()),
            'j' => write!(out, "{:03}", t.ordinal()),
            'k' => write!(out, "{}", t.hour()),
            'l' => write!(out, "{hour12}"),
            'M' => write!(out, "{month}"),
            'm' => write!(out, "{:02}", t.month()),
            'p' => write!(out, "{}", if t.hour() < 12 { "AM" } else { "PM" }),
            'r' => write!(
                out,
                "{hour12:02}:{:02}:{:02} {}",
                t.minute(),
                t.second(),
                if t.hour() < 12 { "AM" } else { "PM" }
            ),
            'S' | 's' => write!(out, "{:02}", t.second()),
            'T' => write!(out, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
            'v' => write!(out, "{:02}", t.iso_week().week()),
            'W' => write!(out, "{weekday}"),
            'x' => write!(out, "{:04}", t.iso_week().year()),
            'Y' => write!(out, "{:04}", t.year()),
            'y' => write!(out, "{:02}", t.year().rem_euclid(100)),
            '%' => write!(out, "%"),
            'U' | 'u' | 'V' | 'w' | 'X' => {
                return Err(FunctionError::UnsupportedSpecifier(
                    spec,
                    format.to_string(),
                ))
            }
            other => write!(out, "{other}"),
        };
    }
    Ok(out)
}

fn ordinal_suffix(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// The fields read by [`parse_mysql`].
#[derive(Debug, Default)]
struct Fields {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: u32,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: u32,
    second: u32,
    micros: u32,
}

/// Reads a wall-clock time written in a MySQL-style format; missing fields default to
/// 1970-01-01 00:00:00 as in Presto.
pub fn parse_mysql(text: &str, format: &str) -> Result<NaiveDateTime, FunctionError> {
    let mismatch = |reason: &str| FunctionError::FormatMismatch {
        text: text.to_string(),
        format: format.to_string(),
        reason: reason.to_string(),
    };
    let mut input = text;
    let mut fields = Fields::default();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            input = input
                .strip_prefix(c)
                .ok_or_else(|| mismatch(&format!("expected {c:?}")))?;
            continue;
        }
        let spec = chars.next().unwrap_or('%');
        match spec {
            'Y' => fields.year = Some(take_number(&mut input, spec, &mismatch, 4)? as i32),
            'y' => {
                // MySQL's rule: 70-99 are 1970-1999, 00-69 are 2000-2069.
                let yy = take_number(&mut input, spec, &mismatch, 2)? as i32;
                fields.year = Some(if yy < 70 { 2000 + yy } else { 1900 + yy });
            }
            'm' | 'c' => fields.month = Some(take_number(&mut input, spec, &mismatch, 2)?),
            'd' | 'e' => fields.day = Some(take_number(&mut input, spec, &mismatch, 2)?),
            'H' | 'k' => fields.hour = take_number(&mut input, spec, &mismatch, 2)?,
            'h' | 'I' | 'l' => fields.hour12 = Some(take_number(&mut input, spec, &mismatch, 2)?),
            'i' => fields.minute = take_number(&mut input, spec, &mismatch, 2)?,
            'S' | 's' => fields.second = take_number(&mut input, spec, &mismatch, 2)?,
            'j' => fields.day_of_year = Some(take_number(&mut input, spec, &mismatch, 3)?),
            'f' => {
                let len = input.bytes().take(9).take_while(u8::is_ascii_digit).count();
                if len == 0 {
                    return Err(mismatch("expected digits for %f"));
                }
                let (digits, rest) = input.split_at(len);
                input = rest;
                let padded = format!("{digits:0<6}");
                fields.micros = padded[..6].parse().map_err(|_| mismatch("bad fraction"))?;
            }
            'p' => {
                let upper = input.get(..2).map(str::to_ascii_uppercase);
                fields.pm = match upper.as_deref() {
                    Some("AM") => Some(false),
                    Some("PM") => Some(true),
                    _ => return Err(mismatch("expected AM or PM")),
                };
                input = &input[2..];
            }
            'b' | 'M' => {
                let found = MONTHS.iter().enumerate().find_map(|(i, name)| {
                    let candidates = if spec == 'b' { &name[..3] } else { name };
                    input
                        .get(..candidates.len())
                        .filter(|p| p.eq_ignore_ascii_case(candidates))
                        .map(|p| (i, p.len()))
                });
                let (i, len) = found.ok_or_else(|| mismatch("expected a month name"))?;
                fields.month = Some(i as u32 + 1);
                input = &input[len..];
            }
            'a' | 'W' => {
                let found = WEEKDAYS.iter().find_map(|name| {
                    let candidate = if spec == 'a' { &name[..3] } else { name };
                    input
                        .get(..candidate.len())
                        .filter(|p| p.eq_ignore_ascii_case(candidate))
                        .map(str::len)
                });
                input = &input[found.ok_or_else(|| mismatch("expected a weekday name"))?..];
            }
            'T' => {
                fields.hour = take_number(&mut input, spec, &mismatch, 2)?;
                input = input
                    .strip_prefix(':')
                    .ok_or_else(|| mismatch("expected ':'"))?;
                fields.minute = take_number(&mut input, spec, &mismatch, 2)?;
                input = input
                    .strip_prefix(':')
                    .ok_or_else(|| mismatch("expected ':'"))?;
                fields.second = take_number(&mut input, spec, &mismatch, 2)?;
            }
            '%' => {
                input = input
                    .strip_prefix('%')
                    .ok_or_else(|| mismatch("expected '%'"))?;
            }
            'D' | 'r' | 'U' | 'u' | 'V' | 'v' | 'w' | 'X' | 'x' => {
                return Err(FunctionError::UnsupportedSpecifier(
                    spec,
                    format.to_string(),
                ))
            }
            other => {
                input = input
                    .strip_prefix(other)
                    .ok_or_else(|| mismatch(&format!("expected {other:?}")))?;
            }
        }
    }
    if !input.is_empty() {
        return Err(mismatch(&format!("unexpected trailing text {input:?}")));
    }
    let year = fields.year.unwrap_or(1970);
    let date = match fields.day_of_year {
        Some(ordinal) => NaiveDate::from_yo_opt(year, ordinal),
        None => NaiveDate::from_ymd_opt(year, fields.month.unwrap_or(1), fields.day.unwrap_or(1)),
    }
    .ok_or_else(|| mismatch("no such date"))?;
    let hour = match (fields.hour12, fields.pm) {
        (Some(h), pm) if (1..=12).contains(&h) => h % 12 + if pm == Some(true) { 12 } else { 0 },
        (Some(_), _) => return Err(mismatch("hour out of range")),
        (None, _) => fields.hour,
    };
    date.and_hms_micro_opt(hour, fields.minute, fields.second, fields.micros)
        .ok_or_else(|| mismatch("no such time"))
}

/// Reads up to `max_digits` digits for specifier `spec`.
fn take_number(
    input: &mut &str,
    spec: char,
    mismatch: &dyn Fn(&str) -> FunctionError,
    max_digits: usize,
) -> Result<u32, FunctionError> {
    let len = input
        .bytes()
        .take(max_digits)
        .take_while(u8::is_ascii_digit)
        .count();
    if len == 0 {
        return Err(mismatch(&format!("expected digits for %{spec}")));
    }
    let (digits, rest) = input.split_at(len);
    *input = rest;
    digits.parse().map_err(|_| mismatch("bad number"))
}

/// `date_format(x, format)`: a timestamp, date or timestamp text formatted with MySQL-style
/// specifiers (`%Y-%m-%d %H:%i:%s`), in the timestamp's zone.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateFormat {
    signature: Signature,
    on_error: OnError,
}

impl DateFormat {
    /// The function; `on_error` says what bad text gives.
    pub fn new(on_error: OnError) -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
            on_error,
        }
    }
}

impl ScalarUDFImpl for DateFormat {
    fn name(&self) -> &str {
        "date_format"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        run(&args.args, |a| {
            let zone = Zone::new(args::zone_of(a[0].data_type()).as_deref())?;
            let values = instants(&a[0], self.on_error)?.values;
            let formats = strings(&a[1])?;
            let mut out = Vec::with_capacity(values.len());
            for i in 0..values.len() {
                if values.is_null(i) || formats.is_null(i) {
                    out.push(None);
                    continue;
                }
                let local = zone.local(values.value(i))?;
                out.push(Some(format_mysql(local, formats.value(i))?));
            }
            Ok(Arc::new(StringArray::from(out)) as ArrayRef)
        })
    }
}

/// `date_parse(text, format)`: text read with a MySQL-style format, as a timestamp without
/// zone. Text that does not match is an error (NULL inside `try`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateParse {
    signature: Signature,
    on_error: OnError,
}

impl DateParse {
    /// The function; `on_error` says what text that does not match gives.
    pub fn new(on_error: OnError) -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
            on_error,
        }
    }
}

impl ScalarUDFImpl for DateParse {
    fn name(&self) -> &str {
        "date_parse"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(timestamp_type(None))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        run(&args.args, |a| {
            let formats = strings(&a[1])?;
            let mut out = Vec::with_capacity(a[0].len());
            if args::is_text(a[0].data_type()) || a[0].data_type() == &DataType::Null {
                let texts = strings(&a[0])?;
                for i in 0..texts.len() {
                    if texts.is_null(i) || formats.is_null(i) || texts.value(i).is_empty() {
                        out.push(None);
                        continue;
                    }
                    let parsed = parse_mysql(texts.value(i), formats.value(i));
                    out.push(
                        self.on_error
                            .apply(parsed)?
                            .map(|t| t.and_utc().timestamp_micros()),
                    );
                }
            } else {
                // Already a timestamp: its wall-clock time, as Athena would read its text.
                let zone = Zone::new(args::zone_of(a[0].data_type()).as_deref())?;
                let values = instants(&a[0], self.on_error)?.values;
                for i in 0..values.len() {
                    out.push(match values.is_valid(i) {
                        true => Some(zone.local(values.value(i))?.and_utc().timestamp_micros()),
                        false => None,
                    });
                }
            }
            Ok(args::timestamp_array(out, None))
        })
    }
}
