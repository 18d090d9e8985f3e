//! Parsing of CSV text into typed values, exactly and without floating point.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::catalog::{DECIMAL_PRECISION, DECIMAL_SCALE};

/// Parses an ISO 8601 instant into microseconds since the epoch (UTC).
///
/// Accepts `YYYY-MM-DDTHH:MM:SS` with optional fractional seconds (up to microseconds,
/// further digits only if zero), an optional `Z` or `±HH:MM` offset (none means UTC),
/// a space instead of `T`, and a bare date (midnight UTC).
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Some(micros) = parse_iso_fast(text.as_bytes()) {
        return Ok(micros);
    }
    let invalid =
        || format!("invalid timestamp {text:?} (expected ISO 8601 like 2024-01-31T23:59:59Z)");
    check_sub_micro_digits(text).map_err(|_| {
        format!("timestamp {text:?} has sub-microsecond precision, which cannot be stored exactly")
    })?;
    let normalized = text.replacen(' ', "T", 1);
    if let Ok(dt) = DateTime::parse_from_rfc3339(&normalized) {
        return Ok(dt.timestamp_micros());
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(naive.and_utc().timestamp_micros());
    }
    if let Ok(date) = NaiveDate::parse_from_str(&normalized, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .ok_or_else(invalid)?
            .and_utc()
            .timestamp_micros());
    }
    Err(invalid())
}

/// The common shapes, `YYYY-MM-DDTHH:MM:SS[.f{1,6}][Z|±HH:MM]` (`T` or a space), read
/// without allocating; `None` for anything else, which the general parser then takes.
fn parse_iso_fast(b: &[u8]) -> Option<i64> {
    fn digits(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    }
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let Some((b'.', fraction)) = rest.split_first() {
        let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 || len > 6 {
            return None;
        }
        micros = i64::from(digits(&fraction[..len])?) * 10i64.pow(6 - len as u32);
        rest = &fraction[len..];
    }
    let offset_seconds = match rest {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let seconds = i64::from(digits(&[*h1, *h2])? * 3600 + digits(&[*m1, *m2])? * 60);
            if *sign == b'+' {
                seconds
            } else {
                -seconds
            }
        }
        _ => return None,
    };
    let seconds = date
        .and_hms_opt(hour, minute, second)?
        .and_utc()
        .timestamp()
        - offset_seconds;
    Some(seconds * 1_000_000 + micros)
}

/// Rejects fractional seconds with non-zero digits past the sixth.
fn check_sub_micro_digits(text: &str) -> Result<(), ()> {
    let Some(dot) = text.find('.') else {
        return Ok(());
    };
    let digits: &str = &text[dot + 1..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if digits[..end].bytes().skip(6).any(|b| b != b'0') {
        return Err(());
    }
    Ok(())
}

/// Parses a plain decimal (`-7.35`, `100`, `+0.2`) into a Decimal128 at [`DECIMAL_SCALE`].
///
/// Fails rather than rounds: more fractional digits than the scale (unless they are zeros)
/// or more than [`DECIMAL_PRECISION`] significant digits are errors.
pub fn parse_decimal(text: &str) -> Result<i128, String> {
    let text = text.trim();
    let invalid = || format!("invalid decimal {text:?}");
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = match unsigned.split_once('.') {
        Some((i, f)) => (i, f),
        None => (unsigned, ""),
    };
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let scale = DECIMAL_SCALE as usize;
    let (kept, dropped) = frac_part.split_at(frac_part.len().min(scale));
    if dropped.bytes().any(|b| b != b'0') {
        return Err(format!(
            "decimal {text:?} has more than {scale} fractional digits"
        ));
    }
    let int_digits = int_part.trim_start_matches('0');
    if int_digits.len() > (DECIMAL_PRECISION as usize - scale) {
        return Err(format!("decimal {text:?} is out of range"));
    }
    let mut value: i128 = 0;
    for b in int_digits.bytes().chain(kept.bytes()) {
        value = value * 10 + i128::from(b - b'0');
    }
    value *= 10i128.pow((scale - kept.len()) as u32);
    Ok(if negative { -value } else { value })
}

/// Parses a whole number.
pub fn parse_integer(text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| format!("invalid integer {text:?}"))
}

/// Parses true/false, t/f, yes/no or 1/0.
pub fn parse_boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "0" => Ok(false),
        _ => Err(format!("invalid boolean {text:?}")),
    }
}

/// Left-pads an all-digit value with zeros to `width` (an account number stripped by a spreadsheet).
pub fn zero_pad(text: &str, width: usize) -> String {
    if !text.is_empty() && text.len() < width && text.bytes().all(|b| b.is_ascii_digit()) {
        format!("{text:0>width$}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_accepted_form() {
        let base = parse_timestamp("2018-12-12T02:00:00Z").unwrap();
        assert_eq!(base, 1_544_580_000_000_000);
        assert_eq!(parse_timestamp("2018-12-12T02:00:00+00:00").unwrap(), base);
        assert_eq!(parse_timestamp("2018-12-12T03:00:00+01:00").unwrap(), base);
        assert_eq!(parse_timestamp("2018-12-12T02:00:00").unwrap(), base);
        assert_eq!(parse_timestamp("2018-12-12 02:00:00").unwrap(), base);
        assert_eq!(
            parse_timestamp("2018-12-12T02:00:00.743Z").unwrap(),
            base + 743_000
        );
        assert_eq!(
            parse_timestamp("2018-12-12T02:00:00.000001Z").unwrap(),
            base + 1
        );
        assert_eq!(
            parse_timestamp("2018-12-12T02:00:00.123456000Z").unwrap(),
            base + 123_456
        );
        assert_eq!(
            parse_timestamp("2018-12-12").unwrap(),
            base - 2 * 3_600_000_000
        );
        assert_eq!(
            parse_timestamp("9999-01-01T00:00:00Z").unwrap(),
            253_370_764_800_000_000
        );
        assert!(parse_timestamp("2018-12-12T02:00:00.1234567Z").is_err());
        assert!(parse_timestamp("12/12/2018").is_err());
        assert!(parse_timestamp("2018-13-12T02:00:00Z").is_err());
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("-7.35").unwrap(), -73_500_000_000);
        assert_eq!(parse_decimal("100").unwrap(), 1_000_000_000_000);
        assert_eq!(parse_decimal("+0.2").unwrap(), 2_000_000_000);
        assert_eq!(parse_decimal(".5").unwrap(), 5_000_000_000);
        assert_eq!(parse_decimal("0.0000000001").unwrap(), 1);
        assert_eq!(parse_decimal("1.50000000000000").unwrap(), 15_000_000_000);
        assert_eq!(
            parse_decimal("9999999999999999999999999999.9999999999").unwrap(),
            99_999_999_999_999_999_999_999_999_999_999_999_999
        );
        for bad in [
            "",
            "-",
            "1.2.3",
            "1e5",
            "12,50",
            "abc",
            "0.00000000001",
            "10000000000000000000000000000",
        ] {
            assert!(parse_decimal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn account_numbers_keep_their_zeros() {
        assert_eq!(zero_pad("123456789", 12), "000123456789");
        assert_eq!(zero_pad("000123456789", 12), "000123456789");
        assert_eq!(zero_pad("AWS", 12), "AWS");
        assert_eq!(zero_pad("", 12), "");
    }
}
