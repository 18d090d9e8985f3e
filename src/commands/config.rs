//! `sdds init` and `sdds config`: a starting sdds.toml, and the settings in force with where
//! each comes from.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory};
use serde::Serialize;

use crate::cli::{Cli, ConfigArgs, InitArgs};
use crate::config::{Config, CONFIG_FILE, DEFAULT_WAREHOUSE};

/// The commented file `sdds init` writes; `{source}` is its one filled-in line.
const TEMPLATE: &str = r#"# sdds configuration. Flags and environment variables override these settings;
# `sdds config` shows the ones in force and where each comes from.

# Where the feeds are: s3://bucket[/prefix] (the bucket SDDS delivers to), a folder laid out
# like it, or "sample" for the bundled sample feeds. Env: SDDS_SOURCE; flag: --source.
{source}

# Where the Delta tables go: a directory or s3://bucket/prefix. Env: SDDS_WAREHOUSE.
# warehouse = "warehouse"

# Memory SQL may use before spilling to disk (default: a quarter of the machine's memory, at
# most 3 GiB), and where it spills (default: the system's temporary directory).
# memory_limit = "3GiB"
# spill_dir = "/var/tmp/sdds"

[aws]
# Credentials come from the standard chain (environment, this profile, SSO, web identity,
# container or instance role); never write keys here.
# profile = "marketplace-reader"
# region = "us-east-1"
# endpoint_url = "http://localhost:9000"   # an S3-compatible store
# path_style = false
# max_attempts = 8

[report]
# Output format when neither --format nor --out's extension says: table, csv, json, parquet.
# format = "csv"
# Start CSV with a byte order mark, for Excel.
# bom = false

[serve]
# `sdds serve`: where to listen (beyond loopback a password is required), the file whose first
# line is the password (or env SDDS_SERVE_PASSWORD; never write it here), TLS, and limits.
# listen = "127.0.0.1:5432"
# password_file = "/run/secrets/sdds-serve-password"
# tls_cert = "/etc/sdds/server.crt"
# tls_key = "/etc/sdds/server.key"
# statement_timeout = "10m"
# max_rows = 1000000
"#;

/// Writes the commented configuration file.
pub fn init(path: Option<&Path>, args: &InitArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let path = path.unwrap_or(Path::new(CONFIG_FILE));
    anyhow::ensure!(
        args.force || !path.exists(),
        "{} exists; --force replaces it",
        path.display()
    );
    let source = match &args.source {
        Some(source) => format!("source = {}", toml::Value::from(source.as_str())),
        None => "# source = \"s3://my-bucket/sdds\"".to_string(),
    };
    let text = TEMPLATE.replace("{source}", &source);
    toml::from_str::<Config>(&text).context("the template is not a valid configuration")?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    if !quiet {
        eprintln!(
            "wrote {}; `sdds config` shows the settings in force",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One setting in force.
#[derive(Debug, Serialize)]
struct Setting {
    name: &'static str,
    value: String,
    from: String,
}

/// Prints each setting, its value and where it comes from.
pub fn show(config: &Config, matches: &ArgMatches, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(config, matches);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&settings)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = settings.iter().map(|s| s.value.len()).max().unwrap_or(0);
    for s in &settings {
        writeln!(out, "{:<20} {:<width$}  {}", s.name, s.value, s.from)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The settings in force: a flag, then its environment variable, then the file, then the
/// default.
fn settings(config: &Config, matches: &ArgMatches) -> Vec<Setting> {
    let env = |name: &str| std::env::var(name).ok();
    let file = || match &config.path {
        Some(path) => format!("file {}", path.display()),
        None => "file".to_string(),
    };
    // A global flag's value and whether the command line or its variable gave it.
    // Global flags given after the subcommand are in its matches.
    let matches = match matches.subcommand() {
        Some((_, sub)) => sub,
        None => matches,
    };
    let cli = Cli::command();
    let given = |id: &str| -> Option<(String, String)> {
        let value = matches.get_raw(id)?.next()?.to_string_lossy().into_owned();
        let arg = cli.get_arguments().find(|a| a.get_id() == id)?;
        match matches.value_source(id)? {
            ValueSource::CommandLine => Some((value, format!("flag --{}", arg.get_long()?))),
            ValueSource::EnvVariable => {
                Some((value, format!("env {}", arg.get_env()?.to_string_lossy())))
            }
            _ => None,
        }
    };
    let pick = |name: &'static str,
                flag: Option<(String, String)>,
                var: Option<&str>,
                in_file: Option<String>,
                default: &str| {
        let (value, from) = flag
            .or_else(|| var.and_then(|v| env(v).map(|value| (value, format!("env {v}")))))
            .or_else(|| in_file.map(|value| (value, file())))
            .unwrap_or_else(|| (default.to_string(), "default".to_string()));
        Setting { name, value, from }
    };
    let aws = config.aws.clone().unwrap_or_default();
    let report = config.report.clone().unwrap_or_default();
    let serve = config.serve.clone().unwrap_or_default();
    let serve_password = {
        let password_file = env("SDDS_SERVE_PASSWORD_FILE")
            .map(|path| (path, "env SDDS_SERVE_PASSWORD_FILE".to_string()))
            .or_else(|| {
                serve
                    .password_file
                    .as_ref()
                    .map(|p| (p.display().to_string(), file()))
            });
        let (value, from) = match password_file {
            Some((path, from)) => (format!("read from {path} (not shown)"), from),
            None if env("SDDS_SERVE_PASSWORD").is_some() => (
                "set (not shown)".to_string(),
                "env SDDS_SERVE_PASSWORD".to_string(),
            ),
            None => (
                "none: no login, loopback only".to_string(),
                "default".to_string(),
            ),
        };
        Setting {
            name: "serve.password",
            value,
            from,
        }
    };
    let config_file = match (given("config"), &config.path) {
        (Some((value, from)), _) => (value, from),
        (None, Some(path)) => (
            path.display().to_string(),
            "found in the working directory".into(),
        ),
        (None, None) => (
            "none".into(),
            format!("no {CONFIG_FILE} in the working directory"),
        ),
    };
    let credentials = if env("AWS_ACCESS_KEY_ID").is_some() {
        ("environment (AWS_ACCESS_KEY_ID; not shown)", "env")
    } else {
        (
            "the standard chain: profile, SSO, web identity, container or instance role",
            "default",
        )
    };
    let spill_dir = std::env::temp_dir().display().to_string();
    let memory = sdds_sql::Resources::default().memory_limit();
    vec![
        Setting {
            name: "config",
            value: config_file.0,
            from: config_file.1,
        },
        pick(
            "source",
            None,
            Some("SDDS_SOURCE"),
            config.source.clone(),
            crate::sample::NAME,
        ),
        pick(
            "warehouse",
            given("warehouse"),
            None,
            config.warehouse.clone(),
            DEFAULT_WAREHOUSE,
        ),
        pick(
            "memory_limit",
            None,
            Some("SDDS_MEMORY_LIMIT"),
            config.memory_limit.clone(),
            &format!("{} MiB", memory >> 20),
        ),
        pick(
            "spill_dir",
            None,
            Some("SDDS_SPILL_DIR"),
            config.spill_dir.as_ref().map(|p| p.display().to_string()),
            &spill_dir,
        ),
        pick(
            "aws.profile",
            given("profile"),
            Some("AWS_PROFILE"),
            aws.profile,
            "default",
        ),
        pick(
            "aws.region",
            given("region"),
            Some("AWS_REGION"),
            aws.region,
            "the profile's, else us-east-1",
        ),
        pick(
            "aws.endpoint_url",
            given("endpoint_url"),
            None,
            aws.endpoint_url,
            "AWS S3",
        ),
        pick(
            "aws.path_style",
            given("path_style"),
            None,
            aws.path_style.map(|b| b.to_string()),
            "false",
        ),
        pick(
            "aws.max_attempts",
            given("max_attempts"),
            None,
            aws.max_attempts.map(|n| n.to_string()),
            &sdds_source::S3Options::default().max_attempts.to_string(),
        ),
        Setting {
            name: "aws.credentials",
            value: credentials.0.to_string(),
            from: credentials.1.to_string(),
        },
        pick(
            "report.format",
            None,
            None,
            report.format.map(|f| format!("{f:?}").to_lowercase()),
            "from --out's extension, else table on a terminal and csv otherwise",
        ),
        pick(
            "report.bom",
            None,
            None,
            report.bom.map(|b| b.to_string()),
            "false",
        ),
        pick(
            "serve.listen",
            None,
            Some("SDDS_SERVE_LISTEN"),
            serve.listen.map(|a| a.to_string()),
            crate::commands::serve::DEFAULT_LISTEN,
        ),
        serve_password,
        pick(
            "serve.tls_cert",
            None,
            Some("SDDS_SERVE_TLS_CERT"),
            serve.tls_cert.as_ref().map(|p| p.display().to_string()),
            "none: no TLS",
        ),
        pick(
            "serve.statement_timeout",
            None,
            Some("SDDS_SERVE_STATEMENT_TIMEOUT"),
            serve.statement_timeout.clone(),
            "none",
        ),
        pick(
            "serve.max_rows",
            None,
            Some("SDDS_SERVE_MAX_ROWS"),
            serve.max_rows.map(|n| n.to_string()),
            "none",
        ),
    ]
}
