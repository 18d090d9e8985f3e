//! `sdds serve`: the warehouse's read-only SQL session over the PostgreSQL wire protocol, so
//! Tableau, Power BI, Metabase, Superset and psql read it live instead of re-uploading exports.
//!
//! Built on datafusion-postgres (the protocol through pgwire, `pg_catalog` for clients'
//! introspection, Arrow to PostgreSQL types: decimals as exact `numeric`, timestamps as
//! `timestamptz`). What this crate adds is what `sdds query` promises: the same session (feed
//! tables, views, Athena functions, legacy names, time travel), the same read-only rule, the
//! same planning of queries; and what a shared server needs: logins, TLS, limits per
//! statement, and new syncs seen without a restart.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
mod hooks;
mod login;
mod query;
mod served;
mod service;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use datafusion_postgres::pgwire;
use pgwire::api::ConnectionManager;
use sdds_feeds::Catalog;
use sdds_sql::SessionOptions;
use sdds_warehouse::Warehouse;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use error::{ServeError, TlsProblem};
pub use tls::TlsFiles;

use crate::login::{Login, Secret};
use crate::query::Limits;
use crate::served::Served;
use crate::service::{Connection, Queries};

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen. Beyond loopback a password is required.
    pub listen: SocketAddr,
    /// The password every client logs in with (any user name); `None`: no login asked.
    pub password: Option<String>,
    /// Serve TLS with this certificate and key (clients may still connect without TLS).
    pub tls: Option<TlsFiles>,
    /// Longest a statement may run; `None`: no limit.
    pub statement_timeout: Option<Duration>,
    /// Most rows a result may have; `None`: no limit.
    pub max_rows: Option<u64>,
}

/// A server bound to its address, its session open.
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    certificate: Option<Vec<u8>>,
    secret: Option<Secret>,
    queries: Arc<Queries>,
    connections: Arc<ConnectionManager>,
}

impl Server {
    /// Checks the options, opens the session and binds: whatever can go wrong at the start
    /// goes wrong here, before a client is told the server is up.
    pub async fn bind(
        warehouse: Warehouse,
        catalog: Catalog,
        session: SessionOptions,
        options: ServeOptions,
    ) -> Result<Server, ServeError> {
        let addr = options.listen;
        if options.password.is_none() && !addr.ip().is_loopback() {
            return Err(ServeError::OpenToNetwork { addr });
        }
        let (tls, certificate) = match &options.tls {
            Some(files) => {
                let (acceptor, pem) = files.acceptor()?;
                (Some(acceptor), Some(pem))
            }
            None => (None, None),
        };
        let limits = Limits {
            statement_timeout: options.statement_timeout,
            max_rows: options.max_rows,
            memory_limit: session.resources.memory_limit(),
        };
        let served = Served::open(warehouse, catalog, session, limits).await?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Server {
            listener,
            tls,
            certificate,
            secret: options.password.as_deref().map(Secret::new),
            queries: Arc::new(Queries {
                served: Arc::new(served),
            }),
            connections: Arc::new(ConnectionManager::new()),
        })
    }

    /// The address bound (with the port the system chose for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Whether logins need the password.
    pub fn asks_password(&self) -> bool {
        self.secret.is_some()
    }

    /// Whether TLS is offered.
    pub fn offers_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until the process ends. Each connection runs on its own task: a slow or vanished
    /// client holds only its own query (whose stream is dropped with it).
    pub async fn run(self) {
        loop {
            let (socket, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let login = match Login::new(
                self.secret.as_ref(),
                self.certificate.as_deref(),
                &self.connections,
            ) {
                Ok(login) => login,
                Err(error) => {
                    tracing::warn!(%error, %peer, "cannot set up the login");
                    continue;
                }
            };
            let connection = Connection {
                login: Arc::new(login),
                queries: Arc::clone(&self.queries),
                connections: Arc::clone(&self.connections),
            };
            let tls = self.tls.clone();
            tokio::spawn(async move {
                tracing::debug!(%peer, "connected");
                if let Err(error) = pgwire::tokio::process_socket(socket, tls, connection).await {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
            });
        }
    }
}
