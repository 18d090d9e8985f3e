//! The session clients query, re-opened when a sync has committed since it was opened.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::{DfSessionService, QueryHook};
use sdds_feeds::Catalog;
use sdds_sql::SessionOptions;
use sdds_warehouse::{quarantine, Warehouse};

use crate::error::ServeError;
use crate::hooks::{AthenaQueries, ReadOnly};
use crate::query::Limits;

/// How long a look at the warehouse's tables stays good: a sync is visible to queries that
/// start at most this long after it committed, and a busy server lists the tables' logs at most
/// this often.
const RECHECK: Duration = Duration::from_secs(1);

/// Each table's newest Delta version (`None`: not created yet).
type Versions = BTreeMap<String, Option<u64>>;

/// One opened session and the versions it shows.
pub(crate) struct Snapshot {
    pub(crate) service: Arc<DfSessionService>,
    pub(crate) ctx: Arc<SessionContext>,
    versions: Versions,
}

/// The warehouse as served.
pub(crate) struct Served {
    warehouse: Warehouse,
    catalog: Catalog,
    options: SessionOptions,
    pub(crate) limits: Limits,
    current: RwLock<Arc<Snapshot>>,
    /// When the tables were last looked at; held while looking, so one request looks for all.
    looked: tokio::sync::Mutex<Instant>,
}

impl Served {
    /// Opens the warehouse's session (pinned when `options` pins versions).
    pub(crate) async fn open(
        warehouse: Warehouse,
        catalog: Catalog,
        options: SessionOptions,
        limits: Limits,
    ) -> Result<Served, ServeError> {
        let versions = match options.versions {
            Some(_) => Versions::new(),
            None => latest_versions(&warehouse, &catalog).await?,
        };
        let snapshot = open_snapshot(&warehouse, &catalog, &options, limits, versions).await?;
        Ok(Served {
            warehouse,
            catalog,
            options,
            limits,
            current: RwLock::new(Arc::new(snapshot)),
            looked: tokio::sync::Mutex::new(Instant::now()),
        })
    }

    /// The snapshot last opened, without looking for newer syncs.
    pub(crate) fn latest(&self) -> Arc<Snapshot> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&current)
    }

    /// The snapshot a query starting now runs on: re-opened first if a sync has committed.
    /// If the warehouse cannot be looked at, queries keep the snapshot they had.
    pub(crate) async fn current(&self) -> Arc<Snapshot> {
        if self.options.versions.is_some() {
            return self.latest();
        }
        let mut looked = self.looked.lock().await;
        if looked.elapsed() >= RECHECK {
            if let Err(error) = self.reopen_if_synced().await {
                tracing::warn!(%error, "cannot look for new syncs; serving the tables as they were");
            }
            *looked = Instant::now();
        }
        self.latest()
    }

    async fn reopen_if_synced(&self) -> Result<(), ServeError> {
        let versions = latest_versions(&self.warehouse, &self.catalog).await?;
        if versions == self.latest().versions {
            return Ok(());
        }
        let snapshot = open_snapshot(
            &self.warehouse,
            &self.catalog,
            &self.options,
            self.limits,
            versions,
        )
        .await?;
        tracing::info!("a sync committed: new queries see its data");
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
        Ok(())
    }
}

/// Every table's newest version, listed from the tables' logs.
async fn latest_versions(warehouse: &Warehouse, catalog: &Catalog) -> Result<Versions, ServeError> {
    let names = catalog
        .feeds()
        .iter()
        .map(|feed| feed.name.to_string())
        .chain([quarantine::TABLE.to_string()]);
    let versions = futures::future::try_join_all(names.map(|name| async move {
        let version = warehouse.latest_version(&name).await?;
        Ok::<_, ServeError>((name, version))
    }))
    .await?;
    Ok(versions.into_iter().collect())
}

/// The session `sdds query` opens, with PostgreSQL's catalog added for clients' introspection.
async fn open_snapshot(
    warehouse: &Warehouse,
    catalog: &Catalog,
    options: &SessionOptions,
    limits: Limits,
    versions: Versions,
) -> Result<Snapshot, ServeError> {
    let ctx = sdds_sql::open_session(warehouse, catalog, options).await?;
    setup_pg_catalog(&ctx, sdds_sql::CATALOG, EmptyContextProvider).map_err(ServeError::Catalog)?;
    ctx.register_udf(version_function());
    // The read-only rule first, then datafusion-postgres's own statements (SET/SHOW,
    // transactions, cursors), then queries planned as `sdds query` plans them.
    let hooks: Vec<Arc<dyn QueryHook>> = vec![
        Arc::new(ReadOnly {
            root: warehouse.root().clone(),
            memory_limit: limits.memory_limit,
        }),
        Arc::new(SetShowHook),
        Arc::new(TransactionStatementHook),
        Arc::new(CursorStatementHook),
        Arc::new(AthenaQueries { limits }),
    ];
    let ctx = Arc::new(ctx);
    Ok(Snapshot {
        service: Arc::new(DfSessionService::new_with_hooks(Arc::clone(&ctx), hooks)),
        ctx,
        versions,
    })
}

/// `version()` as PostgreSQL words it: clients (SQLAlchemy, hence Superset; Npgsql, hence
/// Power BI) read the server's version from it with a pattern like `PostgreSQL (\d+)\.(\d+)`.
fn version_function() -> ScalarUDF {
    let text = format!(
        "PostgreSQL {POSTGRES_VERSION} (sdds {}, Apache DataFusion {})",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    );
    create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(text.clone()))))),
    )
}

/// The PostgreSQL whose protocol and catalog the server follows (pgwire's).
const POSTGRES_VERSION: &str = "16.6";
