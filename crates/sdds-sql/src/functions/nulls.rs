//! NULL handling as Athena's:
//! - `coalesce` and `nullif` that also take text next to a typed value, as Athena SQL written
//!   for all-text tables does (`coalesce(payment_due_date, '')`, `nullif(amount, '')`): the
//!   text is cast to the typed value's type, and `''` becomes NULL (see `dialect::coerced`);
//! - `greatest`, `least` and `concat`, which are NULL when any argument is NULL (DataFusion's
//!   skip NULL arguments).

use std::sync::Arc;

use arrow::array::{make_array, Array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::functions::args::is_text;

/// DataFusion's `coalesce` or `nullif`, with text arguments cast to the typed one.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TextTolerant {
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

impl TextTolerant {
    /// `coalesce(x, ...)`.
    pub fn coalesce() -> Self {
        Self::new(datafusion::functions::core::coalesce())
    }

    /// `nullif(x, y)`.
    pub fn nullif() -> Self {
        Self::new(datafusion::functions::core::nullif())
    }

    fn new(inner: Arc<ScalarUDF>) -> Self {
        Self {
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn inner(&self) -> &dyn ScalarUDFImpl {
        self.inner.inner().as_ref()
    }
}

/// The one non-text type among `types` when the others are text or NULL (and one is text).
pub fn typed_among_text(types: &[DataType]) -> Option<DataType> {
    if !types.iter().any(is_text) {
        return None;
    }
    let mut typed = types
        .iter()
        .filter(|t| !is_text(t) && **t != DataType::Null);
    let first = typed.next()?;
    typed.all(|t| t == first).then(|| first.clone())
}

impl ScalarUDFImpl for TextTolerant {
    fn name(&self) -> &str {
        self.inner().name()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if let Some(typed) = typed_among_text(arg_types) {
            return Ok(vec![typed; arg_types.len()]);
        }
        let fields: Vec<FieldRef> = arg_types
            .iter()
            .map(|t| Arc::new(Field::new("", t.clone(), true)))
            .collect();
        Ok(fields_with_udf(&fields, self.inner.as_ref())?
            .iter()
            .map(|f| f.data_type().clone())
            .collect())
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner().return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner().return_field_from_args(args)
    }
    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.inner().simplify(args, info)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.inner().invoke_with_args(args)
    }
    fn conditional_arguments<'a>(
        &self,
        args: &'a [Expr],
    ) -> Option<(Vec<&'a Expr>, Vec<&'a Expr>)> {
        self.inner().conditional_arguments(args)
    }
    fn short_circuits(&self) -> bool {
        self.inner().short_circuits()
    }
}

/// DataFusion's `greatest`, `least` or `concat`, NULL wherever an argument is NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NullIfAnyNull {
    inner: Arc<ScalarUDF>,
}

impl NullIfAnyNull {
    /// `greatest(...)`.
    pub fn greatest() -> Self {
        Self {
            inner: datafusion::functions::core::greatest(),
        }
    }

    /// `least(...)`.
    pub fn least() -> Self {
        Self {
            inner: datafusion::functions::core::least(),
        }
    }

    /// `concat(...)`.
    pub fn concat() -> Self {
        Self {
            inner: datafusion::functions::string::concat(),
        }
    }

    fn inner(&self) -> &dyn ScalarUDFImpl {
        self.inner.inner().as_ref()
    }
}

impl ScalarUDFImpl for NullIfAnyNull {
    fn name(&self) -> &str {
        self.inner().name()
    }
    fn signature(&self) -> &Signature {
        self.inner().signature()
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner().coerce_types(arg_types)
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner().return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner().return_field_from_args(args)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let return_type = args.return_field.data_type().clone();
        let rows = args.number_rows;
        let mut nulls: Option<NullBuffer> = None;
        for arg in &args.args {
            match arg {
                ColumnarValue::Scalar(s) if s.is_null() => {
                    return Ok(ColumnarValue::Scalar(ScalarValue::try_from(&return_type)?));
                }
                ColumnarValue::Scalar(_) => {}
                ColumnarValue::Array(a) => {
                    nulls = NullBuffer::union(nulls.as_ref(), a.logical_nulls().as_ref())
                }
            }
        }
        let result = self.inner().invoke_with_args(args)?;
        let Some(nulls) = nulls else {
            return Ok(result);
        };
        let array = result.into_array(rows)?;
        let combined = NullBuffer::union(Some(&nulls), array.logical_nulls().as_ref());
        let data = array.to_data().into_builder().nulls(combined).build()?;
        Ok(ColumnarValue::Array(make_array(data)))
    }
}
