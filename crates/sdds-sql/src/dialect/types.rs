//! SQL types as Athena means them: `TIMESTAMP` at the feeds' microsecond precision (so
//! `timestamp '2999-01-01 00:00:00'` fits), `TIMESTAMP WITH TIME ZONE` in UTC.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::Result;
use datafusion::logical_expr::planner::TypePlanner;
use datafusion::sql::sqlparser::ast::{DataType as SqlType, TimezoneInfo};

use crate::functions::args::UTC;

/// Plans `TIMESTAMP [WITH TIME ZONE]` as microsecond timestamps.
#[derive(Debug, Default)]
pub struct PrestoTypes;

impl TypePlanner for PrestoTypes {
    fn plan_type_field(&self, sql_type: &SqlType) -> Result<Option<FieldRef>> {
        let SqlType::Timestamp(_, zone) = sql_type else {
            return Ok(None);
        };
        let zone = match zone {
            TimezoneInfo::WithTimeZone | TimezoneInfo::Tz => Some(UTC.into()),
            TimezoneInfo::None | TimezoneInfo::WithoutTimeZone => None,
        };
        let data_type = DataType::Timestamp(TimeUnit::Microsecond, zone);
        Ok(Some(Arc::new(Field::new("", data_type, true))))
    }
}
