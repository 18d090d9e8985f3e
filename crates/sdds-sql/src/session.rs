//! Builds the DataFusion session: configuration, tables and views.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use sdds_feeds::Catalog;
use sdds_warehouse::Warehouse;

use crate::dialect;
use crate::error::SqlError;
use crate::legacy::{legacy_view_sql, LEGACY_TABLES};
use crate::views::{self, TimeFilter};

/// How to open a session.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Open each table at this Delta version instead of the latest (`None` in the map: the
    /// table did not exist yet, so it is empty). Tables missing from the map are at their latest.
    pub versions: Option<HashMap<String, Option<u64>>>,
    /// Business/system-time restriction of the views.
    pub time: TimeFilter,
    /// The day `current_date` is (and `now()` its midnight UTC); `None`: the real clock.
    pub today: Option<NaiveDate>,
}

/// Opens a session speaking Athena's dialect, with every feed table of the warehouse, its
/// views and the legacy table names registered.
pub async fn open_session(
    warehouse: &Warehouse,
    catalog: &Catalog,
    options: &SessionOptions,
) -> Result<SessionContext, SqlError> {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("sdds", "default");
    let ctx = dialect::session_context(config, options.today)?;
    for feed in catalog.feeds() {
        let delta_error = |source| SqlError::Delta {
            table: feed.name.clone(),
            source,
        };
        let mut table = warehouse.open_table(&feed.name, false).await?;
        let pinned = options
            .versions
            .as_ref()
            .and_then(|v| v.get(&feed.name).copied());
        let exists = match pinned {
            Some(Some(version)) if table.version().is_some() => {
                table.load_version(version).await.map_err(delta_error)?;
                true
            }
            Some(_) => false,
            None => table.version().is_some(),
        };
        if exists {
            table
                .update_datafusion_session(&ctx.state())
                .map_err(delta_error)?;
            ctx.register_table(feed.name.as_str(), table.table_provider().await?)?;
        } else {
            let empty = MemTable::try_new(feed.table_schema(), vec![vec![]])?;
            ctx.register_table(feed.name.as_str(), Arc::new(empty))?;
        }
    }
    for feed in catalog.feeds() {
        let current = views::current_view_sql(feed, &options.time);
        create_view(&ctx, &views::current_view_name(feed), &current).await?;
        if let Some(name) = views::history_view_name(feed) {
            create_view(&ctx, &name, &views::history_view_sql(feed, &options.time)).await?;
        }
    }
    for legacy in LEGACY_TABLES {
        if let Some(feed) = catalog.feed(legacy.feed) {
            create_view(&ctx, legacy.name, &legacy_view_sql(legacy, feed)).await?;
        }
    }
    Ok(ctx)
}

async fn create_view(ctx: &SessionContext, name: &str, query: &str) -> Result<(), SqlError> {
    ctx.sql(&format!("CREATE VIEW {name} AS {query}"))
        .await?
        .collect()
        .await?;
    Ok(())
}
