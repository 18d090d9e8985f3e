//! `format_datetime(x, pattern)` and `parse_datetime(text, pattern)` with Joda-Time patterns
//! (`yyyy-MM-dd HH:mm:ss`), as in Presto/Athena.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::DataType;
use chrono::format::{parse, Parsed, StrftimeItems};
use chrono::NaiveDateTime;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::FunctionError;
use crate::functions::args::{self, instants, run, strings, OnError, UTC};
use crate::functions::zone::Zone;

/// A Joda-Time pattern in chrono's strftime syntax, for formatting (`parsing == false`: Joda
/// pads only to the letter count) or for parsing (chrono accepts either width there).
pub fn joda_to_strftime(pattern: &str, parsing: bool) -> Result<String, FunctionError> {
    let unsupported = |c: char| FunctionError::UnsupportedSpecifier(c, pattern.to_string());
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal text; '' is a quote.
            let mut j = i + 1;
            if chars.get(j) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            while j < chars.len() {
                if chars[j] == '\'' {
                    if chars.get(j + 1) == Some(&'\'') {
                        out.push('\'');
                        j += 2;
                        continue;
                    }
                    break;
                }
                push_literal(&mut out, chars[j]);
                j += 1;
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut out, c);
            i += 1;
            continue;
        }
        let mut count = 1;
        while chars.get(i + count) == Some(&c) {
            count += 1;
        }
        i += count;
        let padded = |wide: &'static str, narrow: &'static str| {
            if count >= 2 || parsing {
                wide
            } else {
                narrow
            }
        };
        let spec = match c {
            'y' | 'Y' | 'u' => match count {
                2 => "%y",
                _ => "%Y",
            },
            'x' => match count {
                2 => "%g",
                _ => "%G",
            },
            'w' => padded("%V", "%-V"),
            'e' => "%u",
            'E' => match count {
                1..=3 => "%a",
                _ => "%A",
            },
            'D' => match (count, parsing) {
                (3.., _) | (_, true) => "%j",
                _ => "%-j",
            },
            'M' => match count {
                1 => padded("%m", "%-m"),
                2 => "%m",
                3 => "%b",
                _ => "%B",
            },
            'd' => padded("%d", "%-d"),
            'a' => "%p",
            'h' => padded("%I", "%-I"),
            'H' => padded("%H", "%-H"),
            'm' => padded("%M", "%-M"),
            's' => padded("%S", "%-S"),
            'S' => match count {
                3 => "%3f",
                6 => "%6f",
                9 => "%9f",
                _ => return Err(unsupported(c)),
            },
            'Z' => match count {
                1 => "%z",
                _ => "%:z",
            },
            'z' => "%Z",
            _ => return Err(unsupported(c)),
        };
        out.push_str(spec);
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// Reads `text` with a strftime pattern; fields the pattern lacks take Joda's defaults
/// (1970-01-01 00:00:00), and an offset in the text moves the result to UTC.
fn parse_strftime(text: &str, strftime: &str, pattern: &str) -> Result<i64, FunctionError> {
    let mismatch = |reason: String| FunctionError::FormatMismatch {
        text: text.to_string(),
        format: pattern.to_string(),
        reason,
    };
    let mut parsed = Parsed::new();
    parse(&mut parsed, text, StrftimeItems::new(strftime)).map_err(|e| mismatch(e.to_string()))?;
    if parsed.year().is_none() && parsed.year_div_100().is_none() && parsed.isoyear().is_none() {
        let _ = parsed.set_year(1970);
    }
    if parsed.month().is_none() && parsed.ordinal().is_none() && parsed.isoweek().is_none() {
        let _ = parsed.set_month(1);
    }
    if parsed.day().is_none() && parsed.ordinal().is_none() && parsed.isoweek().is_none() {
        let _ = parsed.set_day(1);
    }
    if parsed.hour_div_12().is_none() {
        let _ = parsed.set_ampm(false);
    }
    if parsed.hour_mod_12().is_none() {
        let _ = parsed.set_hour12(12);
    }
    if parsed.minute().is_none() {
        let _ = parsed.set_minute(0);
    }
    let date = parsed
        .to_naive_date()
        .map_err(|e| mismatch(e.to_string()))?;
    let time = parsed
        .to_naive_time()
        .map_err(|e| mismatch(e.to_string()))?;
    let local = NaiveDateTime::new(date, time).and_utc().timestamp_micros();
    let offset = parsed.offset().unwrap_or(0);
    Ok(local - i64::from(offset) * 1_000_000)
}

/// `format_datetime(x, pattern)`: a timestamp, date or timestamp text formatted with a
/// Joda-Time pattern, in the timestamp's zone.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FormatDatetime {
    signature: Signature,
}

impl Default for FormatDatetime {
    fn default() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FormatDatetime {
    fn name(&self) -> &str {
        "format_datetime"
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
            let values = instants(&a[0], OnError::Fail)?.values;
            let patterns = strings(&a[1])?;
            let mut out = Vec::with_capacity(values.len());
            for i in 0..values.len() {
                if values.is_null(i) || patterns.is_null(i) {
                    out.push(None);
                    continue;
                }
                let strftime = joda_to_strftime(patterns.value(i), false)?;
                let micros = values.value(i);
                let local = zone.local(micros)?;
                let offset = (local.and_utc().timestamp_micros() - micros) / 1_000_000;
                let fixed = chrono::FixedOffset::east_opt(offset as i32)
                    .ok_or(FunctionError::OutOfRange)?;
                let shown = local
                    .and_local_timezone(fixed)
                    .single()
                    .ok_or(FunctionError::OutOfRange)?;
                let name = zone_name.as_deref().unwrap_or(UTC);
                // chrono prints a fixed offset for %Z; Joda prints the zone's name.
                let text = shown
                    .format(&strftime.replace("%Z", &name.replace('%', "%%")))
                    .to_string();
                out.push(Some(text));
            }
            Ok(Arc::new(StringArray::from(out)) as ArrayRef)
        })
    }
}

/// `parse_datetime(text, pattern)`: text read with a Joda-Time pattern, as a timestamp with
/// time zone (UTC). Text that does not match is an error (NULL inside `try`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ParseDatetime {
    signature: Signature,
    on_error: OnError,
}

impl ParseDatetime {
    /// The function; `on_error` says what text that does not match gives.
    pub fn new(on_error: OnError) -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
            on_error,
        }
    }
}

impl ScalarUDFImpl for ParseDatetime {
    fn name(&self) -> &str {
        "parse_datetime"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(crate::functions::time::timestamp_type(Some(UTC.into())))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        run(&args.args, |a| {
            let texts = strings(&a[0])?;
            let patterns = strings(&a[1])?;
            let mut out = Vec::with_capacity(texts.len());
            for i in 0..texts.len() {
                if texts.is_null(i) || patterns.is_null(i) {
                    out.push(None);
                    continue;
                }
                let pattern = patterns.value(i);
                let parsed = joda_to_strftime(pattern, true)
                    .and_then(|strftime| parse_strftime(texts.value(i), &strftime, pattern));
                out.push(self.on_error.apply(parsed)?);
            }
            Ok(args::timestamp_array(out, Some(UTC.into())))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joda_patterns_translate() {
        assert_eq!(
            joda_to_strftime("yyyy-MM-dd HH:mm:ss.SSS", false).unwrap(),
            "%Y-%m-%d %H:%M:%S.%3f"
        );
        assert_eq!(
            joda_to_strftime("d MMM yy h a", false).unwrap(),
            "%-d %b %y %-I %p"
        );
        assert_eq!(
            joda_to_strftime("d MMM yy h a", true).unwrap(),
            "%d %b %y %I %p"
        );
        assert_eq!(
            joda_to_strftime("yyyy'T''s'' 100%'", false).unwrap(),
            "%YT's' 100%%"
        );
        assert!(joda_to_strftime("G yyyy", false).is_err());
    }

    #[test]
    fn parsing_fills_joda_defaults_and_applies_offsets() {
        let day = |s: &str, p: &str| parse_strftime(s, &joda_to_strftime(p, true).unwrap(), p);
        assert_eq!(
            day("2026-09-15", "yyyy-MM-dd").unwrap(),
            1_789_430_400_000_000
        );
        assert_eq!(
            day("2026-09-15 10:20", "yyyy-MM-dd HH:mm").unwrap(),
            1_789_430_400_000_000 + (10 * 3600 + 20 * 60) * 1_000_000
        );
        assert_eq!(
            day("2026-09-15 12:20 +02:00", "yyyy-MM-dd HH:mm ZZ").unwrap(),
            1_789_430_400_000_000 + (10 * 3600 + 20 * 60) * 1_000_000
        );
        assert!(day("15/09/2026", "yyyy-MM-dd").is_err());
    }
}
