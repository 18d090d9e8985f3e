//! The Presto/Athena function pack, as DataFusion UDFs and UDAFs. Every function takes the
//! typed columns and also their original CSV text. `docs/presto-functions.md` lists them.

pub mod aggregate;
pub mod args;
pub mod calendar;
pub mod clock;
pub mod control;
pub mod count_distinct;
pub mod format;
pub mod joda;
pub mod listagg;
pub mod nulls;
pub mod numeric;
pub mod text;
pub mod time;
pub mod zone;

use chrono::NaiveDate;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

use args::OnError;

/// The functions whose bad input is an error, built with the given policy.
fn fallible(on_error: OnError) -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(time::FromIso8601Timestamp::new(on_error)),
        ScalarUDF::from(time::FromIso8601Date::new(on_error)),
        ScalarUDF::from(calendar::DateAdd::new(on_error)),
        ScalarUDF::from(calendar::DateDiff::new(on_error)),
        ScalarUDF::from(format::DateFormat::new(on_error)),
        ScalarUDF::from(format::DateParse::new(on_error)),
        ScalarUDF::from(joda::ParseDatetime::new(on_error)),
        ScalarUDF::from(numeric::DecimalDivide::new(on_error)),
    ]
}

/// The scalar functions; with `today`, `now()`/`current_date` are fixed to it.
pub fn scalar_functions(today: Option<NaiveDate>) -> Vec<ScalarUDF> {
    let mut functions = fallible(OnError::Fail);
    functions.extend([
        ScalarUDF::from(time::AtTimezone::default()),
        ScalarUDF::from(time::TimestampText::default()),
        ScalarUDF::from(joda::FormatDatetime::default()),
        ScalarUDF::from(text::Substr::default()),
        ScalarUDF::from(nulls::TextTolerant::coalesce()),
        ScalarUDF::from(nulls::TextTolerant::nullif()),
        ScalarUDF::from(nulls::NullIfAnyNull::greatest()),
        ScalarUDF::from(nulls::NullIfAnyNull::least()),
        ScalarUDF::from(nulls::NullIfAnyNull::concat()),
        ScalarUDF::from(calendar::DateTrunc::default()),
        ScalarUDF::from(numeric::Round::new(false)),
        ScalarUDF::from(numeric::Round::new(true)),
        ScalarUDF::from(control::Try::default()),
    ]);
    if let Some(day) = today {
        functions.extend([
            ScalarUDF::from(clock::FixedNow::new(day, false)),
            ScalarUDF::from(clock::FixedNow::new(day, true)),
            ScalarUDF::from(clock::FixedDate::new(day)),
        ]);
    }
    functions
}

/// The form of a function that yields NULL instead of failing (inside `try`), if it has one.
pub fn lenient(name: &str) -> Option<ScalarUDF> {
    fallible(OnError::Null)
        .into_iter()
        .find(|f| f.name() == name)
}

/// The aggregate functions.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::from(listagg::ListAgg::default()),
        AggregateUDF::from(aggregate::ValueBy::new(true)),
        AggregateUDF::from(aggregate::ValueBy::new(false)),
        AggregateUDF::from(aggregate::DecimalAvg::default()),
        AggregateUDF::from(count_distinct::Count::default()),
    ]
}
