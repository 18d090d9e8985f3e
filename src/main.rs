//! `sdds`: AWS Marketplace seller data feeds, warehoused in Delta Lake and queryable with SQL.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod aws;
mod cli;
mod commands;
mod config;
mod sample;

use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command, LogFormat};

/// Query operators allocate and free many short-lived buffers from several threads; mimalloc
/// handles that pattern far better than the system allocator (as datafusion-cli does). Built
/// with `no_thp`: with transparent huge pages, each page mimalloc returns to the system and
/// takes back is zeroed 2 MiB at a time, a quarter of a large sort's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status when some tables failed to sync (the others were synced).
const EXIT_PARTIAL: u8 = 3;

/// Exit status of a sync that stored everything else but set rows aside in the quarantine table.
const EXIT_QUARANTINED: u8 = 4;

/// Exit status of `status --max-age` when the newest data is older than allowed.
const EXIT_STALE: u8 = 5;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_logging(
        if cli.quiet { None } else { Some(cli.verbose) },
        cli.log_format,
    );
    quiet_caught_upload_panics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log_format = cli.log_format;
    match runtime.block_on(run(cli, matches)) {
        Ok(code) => code,
        // A reader that went away (`sdds status | head -1`) ends the command quietly.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            match log_format {
                LogFormat::Json => tracing::error!("{}", one_line(&e)),
                LogFormat::Text => eprintln!("error: {}", one_line(&e)),
            }
            ExitCode::FAILURE
        }
    }
}

/// object_store's `BufWriter::abort` panics by design once an upload has begun shutting down;
/// delta-rs calls it after a failed upload (a full disk, say) inside `catch_unwind`, so the
/// failure is reported as an error, but the default hook would still print the caught panic.
/// That one is logged at debug level; every other panic is printed as before.
fn quiet_caught_upload_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let from_abort = info.location().is_some_and(|l| {
            l.file().contains("object_store") && l.file().ends_with("buffered.rs")
        }) && info.payload().downcast_ref::<&str>() == Some(&"Already shut down");
        if from_abort {
            tracing::debug!("a failed upload could not be aborted: {info}");
        } else {
            default(info);
        }
    }));
}

/// Diagnostics go to stderr: our warnings by default; `-v` adds our progress and the libraries'
/// warnings, `-vv` details, `-vvv` everything; `SDDS_LOG` takes a filter instead.
fn init_logging(verbose: Option<u8>, format: LogFormat) {
    let (ours, others) = match verbose {
        None => ("error", "off"),
        Some(0) => ("warn", "off"),
        Some(1) => ("info", "warn"),
        Some(2) => ("debug", "info"),
        Some(_) => ("trace", "trace"),
    };
    // The Delta kernel logs every failed call at ERROR level, opening a table that does not
    // exist yet included (each first sync), while delta-rs returns the same error to us: its
    // events only show with `-vvv`, the rest of a failure is ours to report.
    let kernel = if others == "trace" { "trace" } else { "off" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SDDS_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{others},buoyant_kernel={kernel},sdds={ours},sdds_sql={ours},sdds_warehouse={ours},sdds_source={ours},sdds_feeds={ours}"
        ))
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

/// Whether writing to stdout failed because its reader closed the pipe.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// An error and its causes on one line, without repeating a cause its parent already says.
pub(crate) fn one_line(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text.replace('\n', " ")
}

async fn run(cli: Cli, matches: ArgMatches) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Completions(args) => return commands::docs::completions(args.shell),
        Command::Man => return commands::docs::man(),
        Command::Init(args) => {
            return commands::config::init(cli.config.as_deref(), args, cli.quiet)
        }
        _ => {}
    }
    if let Command::Report(args) = &cli.command {
        if args.name == "list" {
            return commands::report::list(args);
        }
        if args.sql {
            return commands::report::print_sql(args);
        }
    }
    let config = config::Config::load(cli.config.as_deref())?;
    if let Command::Config(args) = &cli.command {
        return commands::config::show(&config, &matches, args);
    }
    let aws = aws::Aws::new(&cli.aws, &config, cli.quiet);
    if let Command::Validate(args) = cli.command {
        return commands::validate::run(&config, &aws, args).await;
    }
    let creates = matches!(cli.command, Command::Sync(_));
    let warehouse = aws
        .open_warehouse(&config.warehouse(cli.warehouse.as_deref()), creates)
        .await?;
    if !creates {
        let catalog = sdds_feeds::Catalog::builtin();
        warehouse
            .require_tables(catalog.feeds().iter().map(|feed| feed.name.as_str()))
            .await?;
    }
    match cli.command {
        Command::Sync(args) => {
            commands::sync::run(&config, &aws, &warehouse, args, cli.quiet).await
        }
        Command::Query(args) => commands::query::run(&config, &warehouse, args).await,
        Command::Shell(args) => commands::shell::run(&config, &warehouse, args).await,
        Command::Serve(args) => commands::serve::run(&config, &warehouse, args, cli.quiet).await,
        Command::Status(args) => commands::status::run(&warehouse, args).await,
        Command::History(args) => commands::history::run(&warehouse, args).await,
        Command::Report(args) if args.name == commands::dashboard::NAME => {
            commands::dashboard::run(&config, &aws, &warehouse, args).await
        }
        Command::Report(args) => commands::report::run(&config, &aws, &warehouse, args).await,
        Command::Optimize(args) => commands::maintain::optimize(&warehouse, args, cli.quiet).await,
        Command::Vacuum(args) => commands::maintain::vacuum(&warehouse, args, cli.quiet).await,
        Command::Validate(args) => commands::validate::run(&config, &aws, args).await,
        Command::Completions(_) | Command::Man | Command::Init(_) | Command::Config(_) => {
            Ok(ExitCode::SUCCESS)
        }
    }
}
