//! `try(expr)`: NULL instead of an error. The dialect rewrites what is inside into its
//! error-free forms (see `dialect::rewrite`); this function then just passes the value on.

use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// `try(expr)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Try {
    signature: Signature,
}

impl Try {
    /// The function's name.
    pub const NAME: &'static str = "try";
}

impl Default for Try {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Try {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }
    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(args.args.remove(0))
    }
}
