//! Report results (Arrow batches) as the dashboard's typed rows.

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use arrow::record_batch::RecordBatch;

use crate::{DashboardError, Money};

/// The rows of one report's result, read column by name.
pub struct Rows<'a> {
    report: &'a str,
    batches: &'a [RecordBatch],
}

/// One row of a [`Rows`].
pub struct Row<'a> {
    report: &'a str,
    batch: &'a RecordBatch,
    index: usize,
}

impl<'a> Rows<'a> {
    /// The result of `report`.
    pub fn new(report: &'a str, batches: &'a [RecordBatch]) -> Rows<'a> {
        Rows { report, batches }
    }

    /// Every row, in order.
    pub fn iter(&self) -> impl Iterator<Item = Row<'a>> + 'a {
        let report = self.report;
        self.batches.iter().flat_map(move |batch| {
            (0..batch.num_rows()).map(move |index| Row {
                report,
                batch,
                index,
            })
        })
    }
}

impl Row<'_> {
    fn column(&self, name: &str) -> Result<&dyn Array, DashboardError> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| DashboardError::MissingColumn {
                report: self.report.to_string(),
                column: name.to_string(),
            })
    }

    fn wrong_type(&self, name: &str, expected: &'static str) -> DashboardError {
        DashboardError::ColumnType {
            report: self.report.to_string(),
            column: name.to_string(),
            expected,
        }
    }

    /// The value as text (dates and timestamps in ISO 8601); empty when NULL.
    pub fn text(&self, name: &str) -> Result<String, DashboardError> {
        let column = self.column(name)?;
        if column.is_null(self.index) {
            return Ok(String::new());
        }
        let one = column.slice(self.index, 1);
        let text = cast(&one, &DataType::Utf8).map_err(|_| self.wrong_type(name, "text"))?;
        Ok(text.as_string::<i32>().value(0).to_string())
    }

    /// The day of a date or timestamp column (`2026-09-15`); empty when NULL.
    pub fn day(&self, name: &str) -> Result<String, DashboardError> {
        Ok(self.text(name)?.chars().take(10).collect())
    }

    /// An exact amount; NULL is zero.
    pub fn money(&self, name: &str) -> Result<Money, DashboardError> {
        let column = self.column(name)?;
        let DataType::Decimal128(_, scale) = column.data_type() else {
            return Err(self.wrong_type(name, "decimal"));
        };
        if column.is_null(self.index) {
            return Ok(Money::default());
        }
        let units = column.as_primitive::<Decimal128Type>().value(self.index);
        Ok(Money::new(units, u32::try_from(*scale).unwrap_or(0)))
    }

    /// A whole number; `None` when NULL.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, DashboardError> {
        let column = self.column(name)?;
        if column.is_null(self.index) {
            return Ok(None);
        }
        let one = column.slice(self.index, 1);
        let wide = cast(&one, &DataType::Int64).map_err(|_| self.wrong_type(name, "integer"))?;
        Ok(Some(wide.as_primitive::<Int64Type>().value(0)))
    }
}
