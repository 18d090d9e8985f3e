//! `substr`/`substring` with Presto's positions: 1-based, negative counts from the end.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::functions::args::{integers, run, strings};

/// Presto's substring of `text` from `start` (1-based; negative: from the end; 0 or beyond
/// the end: empty) for `length` characters (to the end when absent).
pub fn substring(text: &str, start: i64, length: Option<i64>) -> String {
    let chars = text.chars().count() as i64;
    let begin = match start {
        0 => return String::new(),
        s if s < 0 => chars + s,
        s => s - 1,
    };
    if begin < 0 || begin >= chars {
        return String::new();
    }
    let take = match length {
        Some(l) if l <= 0 => return String::new(),
        Some(l) => l.min(chars - begin),
        None => chars - begin,
    };
    text.chars()
        .skip(begin as usize)
        .take(take as usize)
        .collect()
}

/// `substr(text, start[, length])`, also `substring(...)` and `SUBSTRING(text FROM s FOR l)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Substr {
    signature: Signature,
    aliases: Vec<String>,
}

impl Default for Substr {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["substring".to_string()],
        }
    }
}

impl ScalarUDFImpl for Substr {
    fn name(&self) -> &str {
        "substr"
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 => Ok(vec![DataType::Utf8, DataType::Int64]),
            3 => Ok(vec![DataType::Utf8, DataType::Int64, DataType::Int64]),
            _ => plan_err!("substr takes (text, start[, length])"),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        run(&args.args, |a| {
            let texts = strings(&a[0])?;
            let starts = integers(&a[1])?;
            let lengths = a.get(2).map(integers).transpose()?;
            let out: StringArray = (0..texts.len())
                .map(|i| {
                    let length = match &lengths {
                        Some(l) if l.is_null(i) => return None,
                        Some(l) => Some(l.value(i)),
                        None => None,
                    };
                    (texts.is_valid(i) && starts.is_valid(i))
                        .then(|| substring(texts.value(i), starts.value(i), length))
                })
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        })
    }
}
