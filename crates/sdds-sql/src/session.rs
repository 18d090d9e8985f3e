//! Builds the DataFusion session: configuration and table registration.

use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use sdds_feeds::Catalog;
use sdds_warehouse::Warehouse;

use crate::error::SqlError;

/// How to open a session.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {}

/// Opens a session with every feed table of the warehouse registered.
pub async fn open_session(
    warehouse: &Warehouse,
    catalog: &Catalog,
    _options: &SessionOptions,
) -> Result<SessionContext, SqlError> {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("sdds", "default");
    let ctx = SessionContext::new_with_config(config);
    for feed in catalog.feeds() {
        let delta_error = |source| SqlError::Delta {
            table: feed.name.clone(),
            source,
        };
        let table = warehouse.open_table(&feed.name, false).await?;
        if table.version().is_some() {
            table
                .update_datafusion_session(&ctx.state())
                .map_err(delta_error)?;
            let provider = table.table_provider().await?;
            ctx.register_table(feed.name.as_str(), provider)?;
        } else {
            let empty = MemTable::try_new(feed.table_schema(), vec![vec![]])?;
            ctx.register_table(feed.name.as_str(), Arc::new(empty))?;
        }
    }
    Ok(ctx)
}
