//! Errors of the SQL layer.

/// What can go wrong while opening a session or running SQL.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// DataFusion refused the query.
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// A table could not be opened.
    #[error(transparent)]
    Warehouse(#[from] sdds_warehouse::WarehouseError),
    /// Delta Lake refused an operation.
    #[error("{table}: {source}")]
    Delta {
        /// Table name.
        table: String,
        /// The Delta error.
        #[source]
        source: deltalake::DeltaTableError,
    },
}
