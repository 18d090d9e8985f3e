//! `sdds report`: the named reports of queries/, to stdout, a file or S3.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Days, NaiveDate, Utc};
use datafusion::execution::SendableRecordBatchStream;
use sdds_export::{quicksight_manifest, ExportError, Format, ResultWriter, S3Destination};
use sdds_sql::{Report, ReportCatalog, ReportParams};
use sdds_warehouse::Warehouse;

use crate::aws::Aws;
use crate::cli::{Format as CliFormat, ReportArgs};
use crate::commands::query::{instant, refuse_binary_on_terminal, QuerySession};
use crate::config::Config;

include!(concat!(env!("OUT_DIR"), "/reports.rs"));

/// The reports compiled into the binary, from queries/.
pub fn catalog() -> anyhow::Result<ReportCatalog> {
    Ok(ReportCatalog::parse(REPORTS.iter().copied())?)
}

/// `sdds report list`: every report with its description and parameters.
pub fn list(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let catalog = catalog()?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let reports: Vec<_> = catalog
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "description": r.description,
                    "parameters": r.params.iter().map(|p| serde_json::json!({"name": p.name, "meaning": p.meaning})).collect::<Vec<_>>(),
                    "columns": r.columns.iter().map(|(c, m)| serde_json::json!({"name": c, "meaning": m})).collect::<Vec<_>>(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&reports)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    for report in catalog.iter() {
        writeln!(out, "{}\n    {}", report.name, report.description)?;
        for p in &report.params {
            writeln!(out, "    --{:<9} {}", p.name, p.meaning)?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Every report also takes --today, --version/--at, --format, --out, --bom and --quicksight-manifest."
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `sdds report <name>`.
pub async fn run(
    config: &Config,
    aws: &Aws,
    warehouse: &Warehouse,
    args: ReportArgs,
) -> anyhow::Result<ExitCode> {
    let reports = catalog()?;
    let report = reports.get(&args.name)?;
    let statement = bound_statement(report, &params(&args)?)?;
    let defaults = config.report.clone().unwrap_or_default();
    let format = output_format(&args, defaults.format)?;
    let bom = args.bom || defaults.bom.unwrap_or(false);
    let destination = Destination::new(args.out.as_deref(), format, args.quicksight_manifest)?;

    let session = QuerySession::open(config, warehouse, &args.time, &args.resources).await?;
    let stream = session.stream(statement).await?;
    let rows = destination
        .write(stream, format, bom)
        .await
        .map_err(|e| session.explain(e.into()))
        .with_context(|| format!("report {}", report.name))?;
    destination.publish(aws, format, report, rows).await?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the report's SQL with its parameters bound (`--sql`); needs no warehouse.
pub fn print_sql(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let reports = catalog()?;
    let report = reports.get(&args.name)?;
    println!("{}", bound_statement(report, &params(args)?)?);
    Ok(ExitCode::SUCCESS)
}

/// `report`'s statement with `params` checked against its declared parameters and bound.
pub fn bound_statement(
    report: &Report,
    params: &ReportParams,
) -> anyhow::Result<datafusion::sql::parser::Statement> {
    params.check(report)?;
    let mut statement = report.statement()?;
    params.bind(&report.name, &mut statement)?;
    Ok(statement)
}

/// A partial file in `dir`, renamed into place once complete (so a reader never sees half an
/// export). Created like any file (rw-r--r-- less the umask), not owner-only as temporary
/// files are, so an export in a shared folder can be read.
pub fn staged_file(dir: &std::path::Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".sdds-partial-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(dir)
}

/// The report parameters from the flags: a day starts at midnight UTC, and `--to` includes its
/// whole day.
fn params(args: &ReportArgs) -> anyhow::Result<ReportParams> {
    let from = args
        .from
        .as_deref()
        .map(|text| bound("from", text, false))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|text| bound("to", text, true))
        .transpose()?;
    if let (Some(from), Some(to)) = (from, to) {
        anyhow::ensure!(from < to, "--from must be before --to");
    }
    Ok(ReportParams {
        from,
        to,
        broker: args.broker.clone(),
        currency: args.currency.clone(),
    })
}

/// A day (`YYYY-MM-DD`: its midnight, or the next day's for an end bound) or an instant.
fn bound(flag: &str, text: &str, end: bool) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(day) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let day = if end {
            day.checked_add_days(Days::new(1))
                .with_context(|| format!("--{flag}: {text} is out of range"))?
        } else {
            day
        };
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    instant(flag, text)
}

/// `--format`, else what `--out`'s extension says, else sdds.toml's `[report] format`, else a
/// table for a terminal and CSV for a pipe or file.
fn output_format(args: &ReportArgs, default: Option<CliFormat>) -> anyhow::Result<Format> {
    let from_extension = args.out.as_deref().and_then(Format::from_extension);
    let format = match (args.format, from_extension, default, args.out.as_deref()) {
        (Some(format), _, _, _) => format.into(),
        (None, Some(format), _, _) => format,
        (None, None, Some(format), _) => format.into(),
        (None, None, None, Some(_)) => Format::Csv,
        (None, None, None, None) if std::io::stdout().is_terminal() => Format::Table,
        (None, None, None, None) => Format::Csv,
    };
    if args.out.is_none() {
        refuse_binary_on_terminal(format, "give --out FILE or redirect stdout")?;
    }
    Ok(format)
}

/// Where a report goes.
enum Destination {
    Stdout,
    /// A local file, written next to it first and renamed when complete.
    File {
        path: PathBuf,
        partial: tempfile::NamedTempFile,
    },
    /// An S3 object, written to a local temporary file and uploaded when complete.
    S3 {
        object: S3Destination,
        staged: tempfile::NamedTempFile,
        manifest: bool,
    },
}

impl Destination {
    fn new(out: Option<&str>, format: Format, manifest: bool) -> anyhow::Result<Destination> {
        let Some(out) = out else {
            anyhow::ensure!(
                !manifest,
                "--quicksight-manifest needs --out s3://bucket/key: QuickSight reads the export and its manifest from S3"
            );
            return Ok(Destination::Stdout);
        };
        if out.starts_with("s3://") {
            let object = S3Destination::parse(out)?;
            if manifest {
                // Refused before the report runs, not after.
                quicksight_manifest(out, format)?;
            }
            let staged = tempfile::NamedTempFile::new()
                .context("cannot create a temporary file for the upload")?;
            return Ok(Destination::S3 {
                object,
                staged,
                manifest,
            });
        }
        anyhow::ensure!(
            !manifest,
            "--quicksight-manifest needs --out s3://bucket/key: QuickSight reads the export and its manifest from S3"
        );
        let path = PathBuf::from(out);
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let partial =
            staged_file(&dir).with_context(|| format!("cannot write in {}", dir.display()))?;
        Ok(Destination::File { path, partial })
    }

    /// Writes the results; returns the number of rows.
    async fn write(
        &self,
        stream: SendableRecordBatchStream,
        format: Format,
        bom: bool,
    ) -> Result<u64, ExportError> {
        match self {
            Destination::Stdout => write_one(std::io::stdout(), stream, format, bom).await,
            Destination::File { partial: file, .. } | Destination::S3 { staged: file, .. } => {
                let out = std::io::BufWriter::new(file.as_file().try_clone()?);
                write_one(out, stream, format, bom).await
            }
        }
    }

    /// Moves the finished file into place, or uploads it (and its manifest).
    async fn publish(
        self,
        aws: &Aws,
        format: Format,
        report: &Report,
        rows: u64,
    ) -> anyhow::Result<()> {
        let written = match self {
            Destination::Stdout => return Ok(()),
            Destination::File { path, partial } => {
                partial
                    .persist(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                path.display().to_string()
            }
            Destination::S3 {
                object,
                staged,
                manifest,
            } => {
                let (config, options) = aws.sdk().await;
                object
                    .upload(staged.path(), config, options, content_type(format))
                    .await?;
                if manifest {
                    let text = quicksight_manifest(&object.url(), format)?;
                    let mut file = tempfile::NamedTempFile::new()?;
                    file.write_all(text.as_bytes())?;
                    object
                        .manifest()
                        .upload(file.path(), config, options, "application/json")
                        .await?;
                }
                object.url()
            }
        };
        if std::io::stderr().is_terminal() {
            eprintln!("{}: {rows} rows written to {written}", report.name);
        }
        Ok(())
    }
}

/// Writes one result to `out` as a whole document.
async fn write_one<W: Write + Send>(
    out: W,
    stream: SendableRecordBatchStream,
    format: Format,
    bom: bool,
) -> Result<u64, ExportError> {
    let mut writer = ResultWriter::new(out, format, 1, bom)?;
    let rows = writer.write(stream).await?;
    writer.finish()?;
    Ok(rows)
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Json => "application/json",
        Format::Parquet => "application/vnd.apache.parquet",
        Format::Table => "text/plain; charset=utf-8",
    }
}
