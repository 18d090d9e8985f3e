use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is taken or not ours to bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// Listening beyond this machine with nobody asked for a password.
    #[error(
        "refusing to serve on {addr} without a password: set SDDS_SERVE_PASSWORD or \
         --password-file, or listen on 127.0.0.1"
    )]
    OpenToNetwork {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The TLS certificate or key cannot be used.
    #[error("TLS {what} {}: {problem}", path.display())]
    Tls {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file given.
        path: PathBuf,
        /// What is wrong with it.
        problem: TlsProblem,
    },
    /// The warehouse could not be opened as a session.
    #[error(transparent)]
    Session(Box<sdds_sql::SqlError>),
    /// The warehouse's tables could not be listed.
    #[error(transparent)]
    Warehouse(Box<sdds_warehouse::WarehouseError>),
    /// The PostgreSQL catalog could not be added to the session.
    #[error("cannot set up pg_catalog: {0}")]
    Catalog(#[source] Box<datafusion::error::DataFusionError>),
}

/// What is wrong with a TLS file.
#[derive(Debug, thiserror::Error)]
pub enum TlsProblem {
    /// It cannot be read.
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// It holds no PEM item of the kind needed.
    #[error("no PEM {0} in it")]
    Empty(&'static str),
    /// rustls refused the pair.
    #[error(transparent)]
    Refused(#[from] tokio_rustls::rustls::Error),
}

impl From<sdds_sql::SqlError> for ServeError {
    fn from(error: sdds_sql::SqlError) -> Self {
        ServeError::Session(Box::new(error))
    }
}

impl From<sdds_warehouse::WarehouseError> for ServeError {
    fn from(error: sdds_warehouse::WarehouseError) -> Self {
        ServeError::Warehouse(Box::new(error))
    }
}
