//! A fixed "today": `now()`, `current_timestamp` and `current_date` at midnight UTC of a chosen
//! day, so a report filtering on the last 90 days gives the same answer every time.

use arrow::datatypes::DataType;
use chrono::NaiveDate;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::functions::args::{date_to_days, UTC};
use crate::functions::time::timestamp_type;

/// `now()`, `current_timestamp` (UTC) and `localtimestamp`, fixed at an instant.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FixedNow {
    signature: Signature,
    micros: i64,
    local: bool,
    aliases: Vec<String>,
}

impl FixedNow {
    /// `now`/`current_timestamp`, or `localtimestamp` when `local`, at midnight UTC of `today`.
    pub fn new(today: NaiveDate, local: bool) -> Self {
        let micros = today
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_micros();
        let aliases = if local {
            vec![]
        } else {
            vec!["current_timestamp".to_string()]
        };
        Self {
            signature: Signature::nullary(Volatility::Stable),
            micros,
            local,
            aliases,
        }
    }

    fn value(&self) -> ScalarValue {
        let zone = (!self.local).then(|| UTC.into());
        ScalarValue::TimestampMicrosecond(Some(self.micros), zone)
    }
}

impl ScalarUDFImpl for FixedNow {
    fn name(&self) -> &str {
        if self.local {
            "localtimestamp"
        } else {
            "now"
        }
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(timestamp_type((!self.local).then(|| UTC.into())))
    }
    fn simplify(&self, _args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        Ok(ExprSimplifyResult::Simplified(Expr::Literal(
            self.value(),
            None,
        )))
    }
    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value()))
    }
}

/// `current_date`, fixed at a day.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FixedDate {
    signature: Signature,
    days: i32,
    aliases: Vec<String>,
}

impl FixedDate {
    /// `current_date` returning `today`.
    pub fn new(today: NaiveDate) -> Self {
        Self {
            signature: Signature::nullary(Volatility::Stable),
            days: date_to_days(today),
            aliases: vec!["today".to_string()],
        }
    }
}

impl ScalarUDFImpl for FixedDate {
    fn name(&self) -> &str {
        "current_date"
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }
    fn simplify(&self, _args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        Ok(ExprSimplifyResult::Simplified(Expr::Literal(
            ScalarValue::Date32(Some(self.days)),
            None,
        )))
    }
    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Date32(Some(self.days))))
    }
}
