//! The text of one value, as the text formats print it.

use arrow::array::Array;
use arrow::buffer::NullBuffer;
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::ExportError;

/// A decimal's text at its natural scale: trailing zeros dropped down to two decimals
/// (`3153.0000000000` → `3153.00`, `0.004000` → `0.004`, `-12.5` → `-12.50`). Integers
/// (`12`) are left as they are.
pub fn natural_scale(text: &str) -> String {
    let Some((int, frac)) = text.split_once('.') else {
        return text.to_string();
    };
    let kept = frac.trim_end_matches('0');
    let mut out = String::with_capacity(int.len() + 1 + kept.len().max(2));
    out.push_str(int);
    out.push('.');
    out.push_str(kept);
    for _ in kept.len()..2 {
        out.push('0');
    }
    out
}

/// How JSON writes a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonKind {
    /// A JSON number: integers.
    Number,
    /// A JSON number, or null when not finite.
    Float,
    /// true / false.
    Bool,
    /// A string: text, decimals, dates, timestamps and anything else.
    String,
}

/// One column of a batch, ready to print value by value.
pub(crate) struct Column<'a> {
    formatter: ArrayFormatter<'a>,
    /// Logical nulls: a NULL literal's column (type Null) has no validity buffer of its own.
    nulls: Option<NullBuffer>,
    decimal: bool,
    pub(crate) json: JsonKind,
}

impl<'a> Column<'a> {
    pub(crate) fn new(
        array: &'a dyn Array,
        options: &'a FormatOptions<'a>,
    ) -> Result<Column<'a>, ExportError> {
        let data_type = array.data_type();
        let json = match data_type {
            integer if integer.is_integer() => JsonKind::Number,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => JsonKind::Float,
            DataType::Boolean => JsonKind::Bool,
            _ => JsonKind::String,
        };
        Ok(Column {
            formatter: ArrayFormatter::try_new(array, options)?,
            nulls: array.logical_nulls(),
            decimal: matches!(
                data_type,
                DataType::Decimal32(..)
                    | DataType::Decimal64(..)
                    | DataType::Decimal128(..)
                    | DataType::Decimal256(..)
            ),
            json,
        })
    }

    /// The value's text, or `None` for NULL.
    pub(crate) fn text(&self, row: usize) -> Option<String> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(row)) {
            return None;
        }
        let text = self.formatter.value(row).to_string();
        Some(if self.decimal {
            natural_scale(&text)
        } else {
            text
        })
    }
}

#[cfg(test)]
mod tests {
    use super::natural_scale;

    #[test]
    fn money_prints_at_its_natural_scale() {
        assert_eq!(natural_scale("3153.0000000000"), "3153.00");
        assert_eq!(natural_scale("0.004000"), "0.004");
        assert_eq!(natural_scale("-12.5"), "-12.50");
        assert_eq!(natural_scale("-0.123456"), "-0.123456");
        assert_eq!(natural_scale("12"), "12");
        assert_eq!(
            natural_scale("12345678901234567890123.450000"),
            "12345678901234567890123.45"
        );
    }
}
