//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Warehouse AWS Marketplace seller data feeds in Delta Lake and query them with SQL.
#[derive(Debug, Parser)]
#[command(name = "sdds", version, about, long_about = None)]
pub struct Cli {
    /// Warehouse location: a directory or s3://bucket/prefix [default: ./warehouse]
    #[arg(long, short = 'w', global = true, env = "SDDS_WAREHOUSE")]
    pub warehouse: Option<String>,

    /// Configuration file [default: ./sdds.toml if present]
    #[arg(long, global = true, env = "SDDS_CONFIG")]
    pub config: Option<PathBuf>,

    /// More diagnostics on stderr (-v: info, -vv: debug, -vvv: trace); SDDS_LOG takes a
    /// filter like `sdds_sql=debug`
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print nothing on success: no summaries, progress or warnings, only errors
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Diagnostics on stderr as text, or as one JSON object per line for log shippers
    /// (errors included)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SDDS_LOG_FORMAT")]
    pub log_format: LogFormat,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Access to S3, for an `s3://` source or warehouse. Credentials come from the standard AWS
/// chain: environment, shared profile, SSO, web identity, container or instance role.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "AWS")]
pub struct AwsArgs {
    /// Named profile from ~/.aws/config [default: $AWS_PROFILE or `default`]
    #[arg(long, global = true)]
    pub profile: Option<String>,

    /// Region of the buckets [default: $AWS_REGION, the profile's, or us-east-1]
    #[arg(long, global = true)]
    pub region: Option<String>,

    /// Endpoint of an S3-compatible store, e.g. http://localhost:9000
    #[arg(long, global = true, value_name = "URL", env = "SDDS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// Path-style addressing (endpoint/bucket/key), for S3-compatible stores
    #[arg(long, global = true)]
    pub path_style: bool,

    /// Attempts per S3 request before giving up (retries back off exponentially, with jitter)
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: Option<u32>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load new feed data from the source into the warehouse (idempotent, incremental)
    Sync(SyncArgs),
    /// Check every feed file of the source against the schemas, writing nothing: what a sync
    /// would set aside, per file (exit 4 when anything would be)
    Validate(ValidateArgs),
    /// Run SQL over the warehouse
    Query(QueryArgs),
    /// An interactive SQL prompt: line editing, history, tab completion, \d, \timing
    Shell(ShellArgs),
    /// Serve the warehouse read-only over the PostgreSQL wire protocol, for Tableau, Power BI,
    /// Metabase, Superset and psql (password: $SDDS_SERVE_PASSWORD or --password-file)
    Serve(ServeArgs),
    /// Show rows, Delta version and last sync of every table
    Status(StatusArgs),
    /// List the syncs that changed the warehouse (numbers for `query --version`)
    History(HistoryArgs),
    /// Run a named report (`sdds report list` shows them) to CSV, Parquet, JSON or a table,
    /// on stdout, in a file or on S3; `sdds report dashboard` draws them as one HTML page
    Report(ReportArgs),
    /// Print a shell completion script, e.g. `sdds completions bash > /etc/bash_completion.d/sdds`
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `sdds man > /usr/local/share/man/man1/sdds.1`
    Man,
    /// Merge each source object's small data files into one (one commit per table, data
    /// unchanged; incremental sync goes on as before)
    Optimize(OptimizeArgs),
    /// Delete data files no longer referenced once older than --retain (time travel reaches
    /// back that far)
    Vacuum(VacuumArgs),
    /// Write a commented sdds.toml (or the --config path) to start from
    Init(InitArgs),
    /// Print the settings in force and where each comes from (flag, environment, file,
    /// default); never a secret
    Config(ConfigArgs),
}

/// Arguments of `sdds sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Source: s3://bucket[/prefix], a directory laid out like the bucket, or `sample` for the
    /// bundled sample feeds [default: sample]
    #[arg(long, short = 's', env = "SDDS_SOURCE")]
    pub source: Option<String>,

    /// Print the run summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sdds validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Source: s3://bucket[/prefix], a directory laid out like the bucket, or `sample` for the
    /// bundled sample feeds [default: sample]
    #[arg(long, short = 's', env = "SDDS_SOURCE")]
    pub source: Option<String>,

    /// Print the findings as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// How diagnostics are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines
    Text,
    /// One JSON object per line
    Json,
}

/// Output formats of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Aligned text table
    Table,
    /// CSV (RFC 4180) with a header line; money at its natural scale
    Csv,
    /// JSON array of objects, every column present, decimals as strings
    Json,
    /// Parquet with typed columns (decimal money, UTC timestamps); not to a terminal
    Parquet,
}

impl From<Format> for sdds_export::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Table => sdds_export::Format::Table,
            Format::Csv => sdds_export::Format::Csv,
            Format::Json => sdds_export::Format::Json,
            Format::Parquet => sdds_export::Format::Parquet,
        }
    }
}

/// Arguments of `sdds report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report to run, `list` to list them with their parameters, or `dashboard` for one
    /// self-contained HTML page of charts and tables drawn from the reports (--out x.html)
    pub name: String,

    /// First day (YYYY-MM-DD, or an instant) of the report's date column [default: the
    /// report's, mostly AWS's trailing 90 days: after today − 90 days]
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,

    /// Last day included (YYYY-MM-DD; an instant is an exclusive bound) [default: none]
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,

    /// Only this seller of record (broker_id), e.g. AWS_EUROPE
    #[arg(long, value_name = "ID")]
    pub broker: Option<String>,

    /// Only this currency, e.g. EUR
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,

    /// Output format [default: from --out's extension; else a table on a terminal, CSV
    /// otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Write to this file or s3://bucket/key instead of stdout (replaced whole, never left
    /// half written)
    #[arg(long, short = 'o', value_name = "PATH|S3_URL")]
    pub out: Option<String>,

    /// Start CSV with a UTF-8 byte order mark, for Excel
    #[arg(long)]
    pub bom: bool,

    /// Also write the manifest QuickSight's S3 data source reads, next to the --out s3:// file
    /// (`x.csv` → `x.manifest.json`)
    #[arg(long)]
    pub quicksight_manifest: bool,

    /// With `list`: print as JSON
    #[arg(long)]
    pub json: bool,

    /// Print the report's SQL with the parameters bound instead of running it, e.g. as a BI
    /// tool's custom SQL over `sdds serve`
    #[arg(long, conflicts_with_all = ["out", "format", "quicksight_manifest"])]
    pub sql: bool,

    #[command(flatten)]
    pub time: TimeArgs,

    #[command(flatten)]
    pub resources: ResourceArgs,
}

/// Arguments of `sdds query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// SQL to run (one or more statements separated by `;`); read from stdin when neither
    /// this nor --file is given and stdin is not a terminal
    #[arg(conflicts_with = "file")]
    pub sql: Option<String>,

    /// Read the SQL from a file (`-` for stdin)
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    #[command(flatten)]
    pub time: TimeArgs,

    #[command(flatten)]
    pub resources: ResourceArgs,
}

/// Arguments of `sdds shell`.
#[derive(Debug, Args)]
pub struct ShellArgs {
    /// Output format of results (`\format` changes it)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    #[command(flatten)]
    pub time: TimeArgs,

    #[command(flatten)]
    pub resources: ResourceArgs,
}

/// Arguments of `sdds serve`. The password is never a flag: it would show in the process list.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; beyond loopback a password is required [default: 127.0.0.1:5432]
    #[arg(long, value_name = "ADDR:PORT", env = "SDDS_SERVE_LISTEN")]
    pub listen: Option<std::net::SocketAddr>,

    /// Read the login password from this file's first line [default: $SDDS_SERVE_PASSWORD;
    /// with neither, no login is asked and only loopback is served]
    #[arg(long, value_name = "FILE", env = "SDDS_SERVE_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,

    /// PEM certificate chain for TLS (with --tls-key)
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        env = "SDDS_SERVE_TLS_CERT"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for TLS (with --tls-cert)
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        env = "SDDS_SERVE_TLS_KEY"
    )]
    pub tls_key: Option<PathBuf>,

    /// Longest a statement may run, e.g. 10m; a client's `SET statement_timeout` may shorten
    /// it [default: no limit]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, env = "SDDS_SERVE_STATEMENT_TIMEOUT")]
    pub statement_timeout: Option<std::time::Duration>,

    /// Most rows one result may have; a larger result ends with an error [default: no limit]
    #[arg(long, value_name = "N", env = "SDDS_SERVE_MAX_ROWS")]
    pub max_rows: Option<u64>,

    #[command(flatten)]
    pub time: TimeArgs,

    #[command(flatten)]
    pub resources: ResourceArgs,
}

/// Memory and disk for running SQL.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Resources")]
pub struct ResourceArgs {
    /// Memory the query may use, e.g. 4GiB or 512M; beyond it, work spills to disk
    /// [default: a quarter of the machine's (or container's) memory, at most 3 GiB]
    #[arg(long, value_name = "SIZE", env = "SDDS_MEMORY_LIMIT", value_parser = crate::config::parse_size)]
    pub memory_limit: Option<usize>,

    /// Directory for spill files [default: the system's temporary directory]
    #[arg(long, value_name = "DIR", env = "SDDS_SPILL_DIR")]
    pub spill_dir: Option<PathBuf>,
}

/// Time travel, in warehouse time (syncs) and business time (the feeds' history columns).
#[derive(Debug, Args, Default)]
pub struct TimeArgs {
    /// Open every table as it was right after sync N (see `sdds history`)
    #[arg(long, value_name = "N", conflicts_with = "at")]
    pub version: Option<usize>,

    /// Open every table as it was at this instant (ISO 8601, e.g. 2026-10-01T00:00:00Z)
    #[arg(long, value_name = "TIMESTAMP")]
    pub at: Option<String>,

    /// Evaluate the *_current views as of this valid time (valid_from <= it)
    #[arg(long, value_name = "TIMESTAMP")]
    pub as_of: Option<String>,

    /// Only use rows recorded (inserted and updated) by this system time, in every view
    #[arg(long, value_name = "TIMESTAMP", alias = "system-time")]
    pub known_at: Option<String>,

    /// The day current_date returns (now() and current_timestamp: its midnight UTC), so
    /// "last 90 days" queries are reproducible [default: the real clock]
    #[arg(long, value_name = "YYYY-MM-DD", env = "SDDS_TODAY")]
    pub today: Option<String>,
}

/// Arguments of `sdds history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this table
    pub table: Option<String>,

    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sdds status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,

    /// Exit 5 when the newest data in the warehouse came with a sync longer ago than this,
    /// e.g. 36h or 2days (for a scheduler's freshness alert)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_age: Option<std::time::Duration>,
}

/// Arguments of `sdds optimize`.
#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// Print the result as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sdds vacuum`.
#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// Keep unreferenced files younger than this, e.g. 7d or 168h (at least 1h)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "7d")]
    pub retain: std::time::Duration,

    /// Count what would be deleted, deleting nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Allow --retain below 1h: only when no sync can be running, since a running sync's
    /// uncommitted files would be deleted
    #[arg(long)]
    pub unchecked_retention: bool,

    /// Print the result as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sdds init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Source to write into the file, e.g. s3://my-bucket/sdds [default: left commented out]
    #[arg(long, short = 's')]
    pub source: Option<String>,

    /// Replace an existing file
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `sdds config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sdds completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
