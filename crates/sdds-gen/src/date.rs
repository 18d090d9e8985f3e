//! Calendar days and UTC timestamps, with the exact text forms the feeds use.
//!
//! Plain integer day numbers keep the simulation cheap; the conversions are Howard
//! Hinnant's civil-date algorithms.

use std::fmt;

/// Days since 1970-01-01 (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

impl Day {
    pub const fn from_ymd(y: i32, m: u32, d: u32) -> Day {
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let mp = (m as i32 + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Day(era * 146_097 + doe - 719_468)
    }

    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i32::from(m <= 2);
        (y, m, d)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Day> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let y: i32 = text[0..4].parse().ok()?;
        let m: u32 = text[5..7].parse().ok()?;
        let d: u32 = text[8..10].parse().ok()?;
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        Some(Day::from_ymd(y, m, d))
    }

    pub fn plus(self, days: i32) -> Day {
        Day(self.0 + days)
    }

    /// Month number since year 0 (`y * 12 + m - 1`), the unit of partitions.
    pub fn month(self) -> Month {
        let (y, m, _) = self.ymd();
        Month(y * 12 + m as i32 - 1)
    }

    pub fn day_of_month(self) -> u32 {
        self.ymd().2
    }

    /// 0 = Monday .. 6 = Sunday.
    pub fn weekday(self) -> u32 {
        (self.0 + 3).rem_euclid(7) as u32
    }

    /// The same day of month `n` months later, clamped to the month's last day.
    pub fn add_months(self, n: i32) -> Day {
        let (_, _, d) = self.ymd();
        let target = Month(self.month().0 + n);
        let (y, m) = target.ym();
        Day::from_ymd(y, m, d.min(days_in_month(y, m)))
    }

    pub fn at(self, sec: u32) -> Ts {
        Ts::new(self, sec)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// A calendar month as `y * 12 + m - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    pub fn ym(self) -> (i32, u32) {
        (self.0.div_euclid(12), (self.0.rem_euclid(12) + 1) as u32)
    }
    pub fn first(self) -> Day {
        let (y, m) = self.ym();
        Day::from_ymd(y, m, 1)
    }
    pub fn last(self) -> Day {
        Month(self.0 + 1).first().plus(-1)
    }
    pub fn days(self) -> u32 {
        let (y, m) = self.ym();
        days_in_month(y, m)
    }
    pub fn plus(self, n: i32) -> Month {
        Month(self.0 + n)
    }
}

pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// A UTC instant at second precision, optionally with milliseconds (written as `.mmm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts {
    pub day: Day,
    pub sec: u32,
    /// Milliseconds; 0 means the fraction is not written at all.
    pub ms: u16,
}

impl Ts {
    pub fn new(day: Day, sec: u32) -> Ts {
        debug_assert!(sec < 86_400);
        Ts { day, sec, ms: 0 }
    }
    pub fn midnight(day: Day) -> Ts {
        Ts::new(day, 0)
    }
    /// The last second of `day` (inclusive period ends).
    pub fn end_of(day: Day) -> Ts {
        Ts::new(day, 86_399)
    }
    pub fn with_ms(mut self, ms: u16) -> Ts {
        self.ms = ms;
        self
    }
    /// Adds seconds, carrying into following days.
    pub fn plus_secs(self, secs: u32) -> Ts {
        let total = self.sec + secs;
        Ts {
            day: self.day.plus((total / 86_400) as i32),
            sec: total % 86_400,
            ms: self.ms,
        }
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
    pub fn write(self, out: &mut Vec<u8>) {
        let (y, m, d) = self.day.ymd();
        let mut b = [0u8; 24];
        put4(&mut b[0..4], y as u32);
        b[4] = b'-';
        put2(&mut b[5..7], m);
        b[7] = b'-';
        put2(&mut b[8..10], d);
        b[10] = b'T';
        put2(&mut b[11..13], self.sec / 3600);
        b[13] = b':';
        put2(&mut b[14..16], self.sec / 60 % 60);
        b[16] = b':';
        put2(&mut b[17..19], self.sec % 60);
        if self.ms > 0 {
            b[19] = b'.';
            put3(&mut b[20..23], u32::from(self.ms));
            b[23] = b'Z';
            out.extend_from_slice(&b);
        } else {
            b[19] = b'Z';
            out.extend_from_slice(&b[..20]);
        }
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::with_capacity(24);
        self.write(&mut v);
        f.write_str(std::str::from_utf8(&v).map_err(|_| fmt::Error)?)
    }
}

fn put2(b: &mut [u8], v: u32) {
    b[0] = b'0' + (v / 10 % 10) as u8;
    b[1] = b'0' + (v % 10) as u8;
}
fn put3(b: &mut [u8], v: u32) {
    b[0] = b'0' + (v / 100 % 10) as u8;
    put2(&mut b[1..3], v);
}
fn put4(b: &mut [u8], v: u32) {
    put2(&mut b[0..2], v / 100);
    put2(&mut b[2..4], v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    #[test]
    fn civil_dates_match_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for n in (-800_000..3_000_000).step_by(97) {
            let day = Day(n);
            let (y, m, d) = day.ymd();
            let c = epoch + chrono::Duration::days(i64::from(n));
            assert_eq!((y, m, d), (c.year(), c.month(), c.day()), "{n}");
            assert_eq!(Day::from_ymd(y, m, d), day);
        }
    }

    #[test]
    fn text_forms() {
        let d = Day::parse("2026-09-15").unwrap();
        assert_eq!(d.to_string(), "2026-09-15");
        assert_eq!(
            Ts::new(d, 10 * 3600 + 20 * 60 + 30).to_string(),
            "2026-09-15T10:20:30Z"
        );
        assert_eq!(
            Ts::new(d, 37_230).with_ms(743).to_string(),
            "2026-09-15T10:20:30.743Z"
        );
        assert_eq!(Ts::end_of(d).to_string(), "2026-09-15T23:59:59Z");
        assert_eq!(
            Ts::new(d, 86_000).plus_secs(1000).to_string(),
            "2026-09-16T00:10:00Z"
        );
        assert!(Day::parse("2026-02-29").is_none());
        assert!(Day::parse("2026-13-01").is_none());
        assert_eq!(
            Day::parse("2026-01-31").unwrap().add_months(1).to_string(),
            "2026-02-28"
        );
        assert_eq!(Day::parse("2026-11-02").unwrap().weekday(), 0);
        let m = d.month();
        assert_eq!(m.ym(), (2026, 9));
        assert_eq!(m.first().to_string(), "2026-09-01");
        assert_eq!(m.last().to_string(), "2026-09-30");
    }
}
