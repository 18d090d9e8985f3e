//! `sdds`: AWS Marketplace seller data feeds, warehoused in Delta Lake and queryable with SQL.

mod aws;
mod cli;
mod commands;
mod config;
mod print;
mod sample;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit status when some tables failed to sync (the others were synced).
const EXIT_PARTIAL: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, without repeating a cause its parent already says.
fn one_line(error: &anyhow::Error) -> String {
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

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = config::Config::load(cli.config.as_deref())?;
    let aws = aws::Aws::new(&cli.aws, &config);
    let warehouse = aws
        .open_warehouse(&config.warehouse(cli.warehouse.as_deref()))
        .await?;
    match cli.command {
        Command::Sync(args) => commands::sync::run(&config, &aws, &warehouse, args).await,
        Command::Query(args) => commands::query::run(&warehouse, args).await,
        Command::Status(args) => commands::status::run(&warehouse, args).await,
        Command::History(args) => commands::history::run(&warehouse, args).await,
    }
}
