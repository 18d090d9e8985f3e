//! Local time in a timestamp's zone, so day and month arithmetic follows the calendar there.

use arrow::array::timezone::Tz;
use chrono::{NaiveDateTime, TimeZone, Utc};

use crate::error::FunctionError;
use crate::functions::args::micros_to_datetime;

/// A time zone named by a timestamp type (`None` and `UTC` are UTC).
#[derive(Debug, Clone, Copy)]
pub struct Zone(Option<Tz>);

impl Zone {
    /// Resolves a zone name; `None` means a timestamp without zone, read as UTC.
    pub fn new(name: Option<&str>) -> Result<Zone, FunctionError> {
        match name {
            None => Ok(Zone(None)),
            Some(n) if is_utc(n) => Ok(Zone(None)),
            Some(n) => n
                .parse::<Tz>()
                .map(|tz| Zone(Some(tz)))
                .map_err(|_| FunctionError::UnknownZone(n.to_string())),
        }
    }

    /// The wall-clock time of an instant.
    pub fn local(self, micros: i64) -> Result<NaiveDateTime, FunctionError> {
        let utc = micros_to_datetime(micros)?;
        Ok(match self.0 {
            None => utc.naive_utc(),
            Some(tz) => utc.with_timezone(&tz).naive_local(),
        })
    }

    /// The instant of a wall-clock time (the earlier one when the clock goes back).
    pub fn instant(self, local: NaiveDateTime) -> Result<i64, FunctionError> {
        match self.0 {
            None => Ok(local.and_utc().timestamp_micros()),
            Some(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    // A wall-clock time skipped by a DST change: an hour later exists.
                    tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc).timestamp_micros())
                .ok_or(FunctionError::OutOfRange),
        }
    }
}

/// True for the names of UTC.
pub fn is_utc(name: &str) -> bool {
    matches!(
        name,
        "UTC" | "utc" | "Z" | "+00:00" | "+00" | "Etc/UTC" | "GMT"
    )
}
