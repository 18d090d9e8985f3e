//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Warehouse AWS Marketplace seller data feeds in Delta Lake and query them with SQL.
#[derive(Debug, Parser)]
#[command(name = "sdds", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Warehouse location: a directory or s3://bucket/prefix [default: ./warehouse]
    #[arg(long, short = 'w', global = true, env = "SDDS_WAREHOUSE")]
    pub warehouse: Option<String>,

    /// Configuration file [default: ./sdds.toml if present]
    #[arg(long, global = true, env = "SDDS_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load new feed data from the source into the warehouse (idempotent, incremental)
    Sync(SyncArgs),
    /// Run SQL over the warehouse
    Query(QueryArgs),
    /// Show rows, Delta version and last sync of every table
    Status(StatusArgs),
}

/// Arguments of `sdds sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Source: a directory laid out like the bucket, or `sample` for the bundled sample feeds
    /// [default: sample]
    #[arg(long, short = 's', env = "SDDS_SOURCE")]
    pub source: Option<String>,

    /// Print the run summary as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// Print nothing on success
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Output formats of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text table
    Table,
    /// CSV with a header line
    Csv,
    /// JSON array of objects
    Json,
}

/// Arguments of `sdds query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// SQL to run (one or more statements separated by `;`)
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub sql: Option<String>,

    /// Read the SQL from a file
    #[arg(long, short = 'f')]
    pub file: Option<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Arguments of `sdds status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}
