//! Where the warehouse lives: a local directory or an `s3://` prefix, one Delta table per feed.

use std::collections::HashMap;

use deltalake::DeltaTable;
use url::Url;

use crate::error::{LocationProblem, WarehouseError};

/// The warehouse root.
#[derive(Debug, Clone)]
pub struct Warehouse {
    root: Url,
    storage_options: HashMap<String, String>,
}

impl Warehouse {
    /// Opens (and for a local path, creates) the warehouse at `location`; for `sdds sync`.
    pub fn open(location: &str) -> Result<Warehouse, WarehouseError> {
        Self::at(location, true)
    }

    /// Opens the warehouse at `location` without creating anything; for the read commands,
    /// which must not leave an empty warehouse behind a mistyped path.
    /// [`Warehouse::require_tables`] then tells whether one is there.
    pub fn open_existing(location: &str) -> Result<Warehouse, WarehouseError> {
        Self::at(location, false)
    }

    /// Fails with [`WarehouseError::NoWarehouse`] unless one of `tables` has been synced here.
    pub async fn require_tables<'a>(
        &self,
        tables: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), WarehouseError> {
        let no_warehouse = || WarehouseError::NoWarehouse {
            location: self.display_location(),
        };
        for table in tables {
            match self.open_table(table, false).await {
                Ok(delta) if delta.version().is_some() => return Ok(()),
                // A table whose first sync failed: its outcome is recorded.
                Ok(delta) => {
                    if crate::outcome::LastSync::load(&delta, table)
                        .await?
                        .is_some()
                    {
                        return Ok(());
                    }
                }
                // An S3 prefix without a Delta log is not a table.
                Err(WarehouseError::Delta {
                    source: deltalake::DeltaTableError::NotATable(_),
                    ..
                }) => {}
                Err(other) => return Err(other),
            }
        }
        Err(no_warehouse())
    }

    /// Fails with [`WarehouseError::NotWritable`] unless sync can create files in a local
    /// warehouse's root and in the Delta log of each existing table: checked once up front, so
    /// that a read-only warehouse gives one clear error instead of a failure per file.
    pub fn check_writable<'a>(
        &self,
        tables: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), WarehouseError> {
        let Ok(root) = self.root.to_file_path() else {
            return Ok(());
        };
        if self.root.scheme() != "file" {
            return Ok(());
        }
        let mut dirs = vec![root.clone()];
        for table in tables {
            let log = root.join(table).join("_delta_log");
            if log.is_dir() {
                dirs.push(root.join(table));
                dirs.push(log);
            }
        }
        for dir in dirs {
            let probe = dir.join(format!(".sdds-write-check-{}", std::process::id()));
            let written = std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe));
            if let Err(source) = written {
                return Err(WarehouseError::NotWritable {
                    path: dir.display().to_string(),
                    source,
                });
            }
        }
        Ok(())
    }

    /// The location as a person wrote it: a local path, or the URL.
    pub fn display_location(&self) -> String {
        match self.root.to_file_path() {
            Ok(path) if self.root.scheme() == "file" => {
                path.display().to_string().trim_end_matches('/').to_string()
            }
            _ => self.root.to_string(),
        }
    }

    fn at(location: &str, create: bool) -> Result<Warehouse, WarehouseError> {
        let err = |problem: LocationProblem| WarehouseError::Location {
            location: location.to_string(),
            problem,
        };
        let root = if location.contains("://") {
            let mut url = Url::parse(location).map_err(|e| err(e.into()))?;
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            url
        } else {
            if create {
                std::fs::create_dir_all(location).map_err(|e| err(e.into()))?;
            } else if !std::path::Path::new(location).is_dir() {
                return Err(WarehouseError::NoWarehouse {
                    location: location.to_string(),
                });
            }
            let path = std::fs::canonicalize(location).map_err(|e| err(e.into()))?;
            Url::from_directory_path(&path).map_err(|_| err(LocationProblem::NotAbsolute))?
        };
        Ok(Warehouse {
            root,
            storage_options: HashMap::new(),
        })
    }

    /// Sets object-store options (credentials, endpoint) for an `s3://` warehouse.
    pub fn with_storage_options(mut self, options: HashMap<String, String>) -> Warehouse {
        self.storage_options = options;
        self
    }

    /// The root URL.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// Object-store options.
    pub fn storage_options(&self) -> &HashMap<String, String> {
        &self.storage_options
    }

    /// The URL of a table.
    // Table names are the catalog's (letters, digits, `_`): joining one to a URL cannot fail.
    #[allow(clippy::expect_used)]
    pub fn table_url(&self, table: &str) -> Url {
        self.root
            .join(&format!("{table}/"))
            .expect("table names are URL-safe")
    }

    /// Opens a table at its latest version; `create` makes a local table's directory first.
    ///
    /// The result has no version when the table does not exist yet.
    pub async fn open_table(
        &self,
        table: &str,
        create: bool,
    ) -> Result<DeltaTable, WarehouseError> {
        let url = self.table_url(table);
        if url.scheme() == "file" {
            let path = url.to_file_path().map_err(|_| WarehouseError::Location {
                location: url.to_string(),
                problem: LocationProblem::NotLocal,
            })?;
            if !path.is_dir() {
                if !create {
                    return Ok(DeltaTable::new_in_memory());
                }
                std::fs::create_dir_all(&path).map_err(|e| WarehouseError::Location {
                    location: path.display().to_string(),
                    problem: e.into(),
                })?;
            }
        }
        DeltaTable::try_from_url_with_storage_options(url, self.storage_options.clone())
            .await
            .map_err(|e| WarehouseError::delta(table, e))
    }

    /// The newest committed version of `table`, found by listing its log (no state is loaded,
    /// so a server can ask often); `None` while the table does not exist.
    pub async fn latest_version(&self, table: &str) -> Result<Option<u64>, WarehouseError> {
        let url = self.table_url(table);
        if url.scheme() == "file" {
            let exists = url
                .to_file_path()
                .is_ok_and(|path| path.join("_delta_log").is_dir());
            if !exists {
                return Ok(None);
            }
        }
        let delta = deltalake::DeltaTableBuilder::from_url(url)
            .and_then(|builder| {
                builder
                    .with_storage_options(self.storage_options.clone())
                    .build()
            })
            .map_err(|e| WarehouseError::delta(table, e))?;
        let log = delta.log_store();
        if !log
            .is_delta_table_location()
            .await
            .map_err(|e| WarehouseError::delta(table, e))?
        {
            return Ok(None);
        }
        let version = delta
            .get_latest_version()
            .await
            .map_err(|e| WarehouseError::delta(table, e))?;
        Ok(Some(version))
    }
}
