//! `sdds serve`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use sdds_feeds::Catalog;
use sdds_serve::{ServeOptions, Server, TlsFiles};
use sdds_warehouse::Warehouse;

use crate::cli::ServeArgs;
use crate::commands::query::session_options;
use crate::config::Config;

/// Where the server listens unless told otherwise: PostgreSQL's port, this machine only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5432";

/// The environment variable holding the password (a flag would show in the process list).
const PASSWORD_VAR: &str = "SDDS_SERVE_PASSWORD";

/// Serves the warehouse until interrupted (Ctrl-C or SIGTERM), then exits 0.
pub async fn run(
    config: &Config,
    warehouse: &Warehouse,
    args: ServeArgs,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let file = config.serve.clone().unwrap_or_default();
    let listen = match args.listen.or(file.listen) {
        Some(listen) => listen,
        None => DEFAULT_LISTEN.parse()?,
    };
    let password = match args.password_file.or(file.password_file) {
        Some(path) => Some(read_password(&path)?),
        None => std::env::var(PASSWORD_VAR).ok(),
    };
    anyhow::ensure!(
        password.as_deref() != Some(""),
        "the password is empty: set {PASSWORD_VAR} or --password-file to a non-empty one"
    );
    let tls = match (
        args.tls_cert.or(file.tls_cert),
        args.tls_key.or(file.tls_key),
    ) {
        (Some(certificate), Some(key)) => Some(TlsFiles { certificate, key }),
        (None, None) => None,
        _ => anyhow::bail!("TLS needs both a certificate and a key (tls_cert and tls_key)"),
    };
    let statement_timeout = match (args.statement_timeout, &file.statement_timeout) {
        (Some(timeout), _) => Some(timeout),
        (None, Some(text)) => Some(
            humantime::parse_duration(text)
                .with_context(|| format!("[serve] statement_timeout {text:?}"))?,
        ),
        (None, None) => None,
    };
    let catalog = Catalog::builtin();
    let mut session = session_options(warehouse, &catalog, &args.time).await?;
    session.resources = config.resources(&args.resources)?;
    let pinned = session.versions.is_some();
    let options = ServeOptions {
        listen,
        password,
        tls,
        statement_timeout,
        max_rows: args.max_rows.or(file.max_rows),
    };
    let server = Server::bind(warehouse.clone(), catalog, session, options).await?;
    if !quiet {
        let addr = server.local_addr().unwrap_or(listen);
        eprintln!(
            "serving {} read-only on postgresql://{addr}/sdds ({}, {}{}); Ctrl-C stops",
            warehouse.display_location(),
            if server.asks_password() {
                "password required"
            } else {
                "no password"
            },
            if server.offers_tls() { "TLS" } else { "no TLS" },
            if pinned {
                ", pinned to the chosen sync"
            } else {
                ", new syncs seen as they commit"
            },
        );
    }
    tokio::select! {
        () = server.run() => {}
        () = stopped() => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The first line of `path`.
fn read_password(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the password file {}", path.display()))?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// Resolves on Ctrl-C or SIGTERM (how schedulers and containers stop a service).
async fn stopped() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
