//! Where the warehouse lives: a local directory or an `s3://` prefix, one Delta table per feed.

use std::collections::HashMap;

use deltalake::DeltaTable;
use url::Url;

use crate::error::WarehouseError;

/// The warehouse root.
#[derive(Debug, Clone)]
pub struct Warehouse {
    root: Url,
    storage_options: HashMap<String, String>,
}

impl Warehouse {
    /// Opens (and for a local path, creates) the warehouse at `location`.
    pub fn open(location: &str) -> Result<Warehouse, WarehouseError> {
        let err = |reason: String| WarehouseError::Location {
            location: location.to_string(),
            reason,
        };
        let root = if location.contains("://") {
            let mut url = Url::parse(location).map_err(|e| err(e.to_string()))?;
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            url
        } else {
            std::fs::create_dir_all(location).map_err(|e| err(e.to_string()))?;
            let path = std::fs::canonicalize(location).map_err(|e| err(e.to_string()))?;
            Url::from_directory_path(&path).map_err(|_| err("not an absolute path".into()))?
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
                reason: "not a local path".into(),
            })?;
            if !path.is_dir() {
                if !create {
                    return Ok(DeltaTable::new_in_memory());
                }
                std::fs::create_dir_all(&path).map_err(|e| WarehouseError::Location {
                    location: path.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
        }
        DeltaTable::try_from_url_with_storage_options(url, self.storage_options.clone())
            .await
            .map_err(|e| WarehouseError::delta(table, e))
    }
}
