//! Deterministic generator of AWS Marketplace SDDS feed buckets at any scale.
//!
//! [`generate`] writes the twelve feeds for a window of months (plus the backfill partition);
//! [`append_day`] appends one more day to such a bucket. The same flags always give the same
//! bytes, and appending day `E+1` to a bucket generated through `E` gives exactly the files
//! a fresh run through `E+1` writes (see [`engine`] for why that holds).
//!
//! How the pieces fit:
//! - [`world`]: scale from the flags, the fixed cast (seller, resellers, products, standard
//!   offers) and the stream of deals, enumerated per absolute day;
//! - [`deals`] / [`agreements`] / [`accounts`] / [`catalog`]: each deal's whole plan (accounts,
//!   offer, agreement versions and terms, invoice schedule), a pure function of its hash;
//! - [`billing`]: invoices and their consequences (collection, disbursement runs, refunds,
//!   forgiveness) through a day-keyed queue; [`usage`]: daily metered usage;
//! - [`engine`]: the day loop; [`out`] / [`row`] / [`feeds`]: files, CSV dialect, headers;
//! - [`rng`]: SplitMix64 hashing and the low-discrepancy [`rng::Strata`] that keep row
//!   counts on target.

pub mod accounts;
pub mod agreements;
pub mod billing;
pub mod catalog;
pub mod date;
pub mod deals;
pub mod engine;
pub mod feeds;
pub mod ids;
pub mod out;
pub mod rng;
pub mod row;
pub mod text;
pub mod usage;
pub mod world;

use std::path::Path;

use date::{Day, Month};
pub use feeds::Feed;
pub use out::FeedStats;

/// First day of the backfill era (spec §1.1: history before 2020-05 sits in `year=2010/month=01`).
pub const BF_START: Day = Day::from_ymd(2019, 1, 1);
/// Last day delivered in the backfill partition.
pub const BF_END: Day = Day::from_ymd(2020, 4, 30);
/// First day delivered in a monthly partition.
pub const LIVE_START: Day = Day::from_ymd(2020, 5, 1);
/// AWS EMEA SARL (broker AWS_EUROPE) sells from this day.
pub const EMEA_START: Day = Day::from_ymd(2022, 1, 1);
/// COLLECTED billing events exist from this day.
pub const COLLECTED_START: Day = Day::from_ymd(2024, 1, 1);
/// buyer_invoice_id and friends are filled on invoices from this day.
pub const BUYER_FIELDS_START: Day = Day::from_ymd(2025, 1, 1);
/// The daily usage feed starts with usage of this day.
pub const USAGE_FEED_START: Day = Day::from_ymd(2023, 1, 1);
/// The `catalog` column value.
pub const CATALOG: &str = "AWSMarketplace";

/// Errors of the library; the binary prints them as one line.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("--billing-events must be between 1000 and 100000000 (got {0})")]
    BillingEvents(u64),
    #[error("--months must be between 1 and 120 (got {0})")]
    Months(u32),
    #[error("invalid --end {0:?}: expected a date YYYY-MM-DD")]
    EndFormat(String),
    #[error("--end {end} with --months {months} starts the window in {start}, before the first monthly partition (2020-05); use a later --end or fewer months")]
    WindowTooEarly { end: Day, months: u32, start: Day },
    #[error("--end must be before 2100-01-01 (got {0})")]
    EndTooLate(Day),
    #[error(
        "{0} already holds generated feeds; use an empty directory, or --append-day to extend it"
    )]
    NotEmpty(String),
    #[error("{0} does not hold a bucket generated through --end {1} ({2} is missing)")]
    NothingToAppend(String, Day, String),
    #[error("I/O error: {0}")]
    Io(String),
}

/// The AWS legal entity that facilitates a sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Broker {
    AwsInc,
    AwsEurope,
}

impl Broker {
    pub fn code(self) -> &'static str {
        match self {
            Broker::AwsInc => "AWS_INC",
            Broker::AwsEurope => "AWS_EUROPE",
        }
    }
}

/// Pricing and disbursement currencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cur {
    Usd,
    Eur,
    Gbp,
}

impl Cur {
    pub fn code(self) -> &'static str {
        match self {
            Cur::Usd => "USD",
            Cur::Eur => "EUR",
            Cur::Gbp => "GBP",
        }
    }
    /// Units of this currency per US dollar (1e-4), for list prices.
    pub fn per_usd_e4(self) -> i64 {
        match self {
            Cur::Usd => 10_000,
            Cur::Eur => 9_200,
            Cur::Gbp => 7_900,
        }
    }
}

/// The generator's flags.
#[derive(Clone, Debug)]
pub struct Params {
    pub seed: u64,
    pub billing_events: u64,
    pub months: u32,
    pub end: Day,
}

impl Params {
    /// Checks the flags and parses `--end`.
    pub fn new(seed: u64, billing_events: u64, months: u32, end: &str) -> Result<Params, GenError> {
        if !(1_000..=100_000_000).contains(&billing_events) {
            return Err(GenError::BillingEvents(billing_events));
        }
        if !(1..=120).contains(&months) {
            return Err(GenError::Months(months));
        }
        let end = Day::parse(end).ok_or_else(|| GenError::EndFormat(end.to_string()))?;
        if end >= Day::from_ymd(2100, 1, 1) {
            return Err(GenError::EndTooLate(end));
        }
        let p = Params {
            seed,
            billing_events,
            months,
            end,
        };
        if p.window_start() < LIVE_START {
            return Err(GenError::WindowTooEarly {
                end,
                months,
                start: p.window_start(),
            });
        }
        Ok(p)
    }

    /// First day of the first window month.
    pub fn window_start(&self) -> Day {
        Month(self.end.month().0 - self.months as i32 + 1).first()
    }
}

/// What a run wrote, per feed.
pub struct Summary {
    pub stats: Vec<(Feed, FeedStats)>,
    /// The last delivery day now in the bucket.
    pub end: Day,
}

/// Writes a fresh bucket into `dir` for the flags.
pub fn generate(p: &Params, dir: &Path) -> Result<Summary, GenError> {
    for feed in Feed::ALL {
        if dir.join(feed.name()).exists() {
            return Err(GenError::NotEmpty(dir.display().to_string()));
        }
    }
    let span = engine::Span {
        write: vec![(BF_START, BF_END), (p.window_start(), p.end)],
        block: p.months as i32,
    };
    run(p, dir, false, span, p.end)
}

/// Appends the rows of day `end + 1` to a bucket generated through `end`.
pub fn append_day(p: &Params, dir: &Path) -> Result<Summary, GenError> {
    let (y, m) = p.end.month().ym();
    let probe = dir
        .join(Feed::BillingEvent.name())
        .join(format!("year={y:04}/month={m:02}"))
        .join("data.csv");
    if !probe.exists() {
        return Err(GenError::NothingToAppend(
            dir.display().to_string(),
            p.end,
            probe.display().to_string(),
        ));
    }
    let next = p.end.plus(1);
    let span = engine::Span {
        write: vec![(next, next)],
        block: p.months as i32,
    };
    run(p, dir, true, span, next)
}

fn run(
    p: &Params,
    dir: &Path,
    append: bool,
    span: engine::Span,
    end: Day,
) -> Result<Summary, GenError> {
    std::fs::create_dir_all(dir).map_err(|e| GenError::Io(format!("{}: {e}", dir.display())))?;
    let world = world::World::new(p.seed, world::Scale::new(p.billing_events, p.months));
    let out = out::Output::new(dir, append);
    let out = engine::Engine::new(&world, out, span).run()?;
    Ok(Summary {
        stats: Feed::ALL
            .iter()
            .map(|&f| (f, out.stats[f.index()]))
            .collect(),
        end,
    })
}
