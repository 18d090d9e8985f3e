//! `sdds shell`: an interactive SQL prompt over the same read-only session as `sdds query`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use datafusion::prelude::SessionContext;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Context, Editor, Helper, Highlighter, Hinter, Validator};
use sdds_warehouse::Warehouse;

use crate::cli::ShellArgs;
use crate::commands::query::{checked_statements, QuerySession};
use crate::config::Config;

const HELP: &str = "Statements end with `;` and may span lines. Commands:
  \\d          tables and views
  \\d NAME     the columns of a table or view
  \\timing     print how long each statement took (toggle)
  \\format F   table, csv or json
  \\q          quit (or Ctrl-D); Ctrl-C drops the statement being typed";

/// Reads statements until end of input; an error is printed and the shell goes on.
pub async fn run(
    config: &Config,
    warehouse: &Warehouse,
    args: ShellArgs,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.format != crate::cli::Format::Parquet,
        "--format parquet writes binary data: use sdds query with stdout redirected"
    );
    let session = QuerySession::open(config, warehouse, &args.time, &args.resources).await?;
    let mut editor: Editor<SqlHelper, DefaultHistory> = Editor::new()?;
    editor.set_helper(Some(SqlHelper {
        words: words(session.context()).await?,
    }));
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    eprintln!(
        "sdds shell over {}: \\? for help, \\q to quit",
        warehouse.display_location()
    );
    let mut state = ShellState {
        timing: false,
        format: args.format.into(),
    };
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "sdds> "
        } else {
            "  ... "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        if pending.is_empty() && line.trim_start().starts_with('\\') {
            let _ = editor.add_history_entry(line.trim());
            match meta_command(&session, &mut state, line.trim()).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => eprintln!("error: {}", crate::one_line(&e)),
            }
            continue;
        }
        pending.push_str(&line);
        pending.push('\n');
        if !line.trim_end().ends_with(';') {
            continue;
        }
        let sql = std::mem::take(&mut pending);
        let _ = editor.add_history_entry(sql.trim());
        let started = Instant::now();
        let ran = match checked_statements(&sql, warehouse) {
            Ok(statements) => session.print(statements, state.format).await,
            Err(e) => Err(e),
        };
        if let Err(e) = ran {
            eprintln!("error: {}", crate::one_line(&e));
        }
        if state.timing {
            eprintln!("time: {:.3} s", started.elapsed().as_secs_f64());
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(ExitCode::SUCCESS)
}

struct ShellState {
    timing: bool,
    format: sdds_export::Format,
}

/// Runs a backslash command; true to quit.
async fn meta_command(
    session: &QuerySession,
    state: &mut ShellState,
    line: &str,
) -> anyhow::Result<bool> {
    let mut parts = line.split_whitespace();
    let command = parts.next().unwrap_or_default();
    let argument = parts.next();
    let mut out = std::io::stdout().lock();
    match (command, argument) {
        ("\\q" | "\\quit", _) => return Ok(true),
        ("\\?" | "\\h" | "\\help", _) => writeln!(out, "{HELP}")?,
        ("\\timing", _) => {
            state.timing = !state.timing;
            writeln!(out, "timing {}", if state.timing { "on" } else { "off" })?;
        }
        ("\\format", Some(format)) => {
            state.format = match format {
                "table" => sdds_export::Format::Table,
                "csv" => sdds_export::Format::Csv,
                "json" => sdds_export::Format::Json,
                other => anyhow::bail!("\\format {other}: expected table, csv or json"),
            }
        }
        ("\\d", None) => {
            for (name, kind) in relations(session.context()).await? {
                writeln!(out, "{name:<40} {kind}")?;
            }
        }
        ("\\d", Some(name)) => {
            let table = session
                .context()
                .table_provider(name)
                .await
                .map_err(|_| anyhow::anyhow!("no table or view {name} (\\d lists them)"))?;
            for field in table.schema().fields() {
                let null = if field.is_nullable() { "" } else { " not null" };
                writeln!(out, "{:<40} {}{null}", field.name(), field.data_type())?;
            }
        }
        _ => anyhow::bail!("unknown command {line} (\\? lists them)"),
    }
    Ok(false)
}

/// Every table and view of the session's schema, with its kind.
async fn relations(ctx: &SessionContext) -> anyhow::Result<Vec<(String, &'static str)>> {
    let Some(schema) = ctx.catalog("sdds").and_then(|c| c.schema("default")) else {
        return Ok(Vec::new());
    };
    let mut names = schema.table_names();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let kind = match schema.table(&name).await?.map(|t| t.table_type()) {
            Some(datafusion::datasource::TableType::View) => "view",
            _ => "table",
        };
        out.push((name, kind));
    }
    Ok(out)
}

/// Names to complete: tables, views and their columns.
async fn words(ctx: &SessionContext) -> anyhow::Result<Vec<String>> {
    let mut words = BTreeSet::new();
    for (name, _) in relations(ctx).await? {
        if let Ok(table) = ctx.table_provider(name.as_str()).await {
            words.extend(table.schema().fields().iter().map(|f| f.name().clone()));
        }
        words.insert(name);
    }
    Ok(words.into_iter().collect())
}

/// `$XDG_STATE_HOME/sdds/history`, else `~/.local/state/sdds/history`.
fn history_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    let dir = base.join("sdds");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

/// Tab completion of table, view and column names.
#[derive(Helper, Hinter, Highlighter, Validator)]
struct SqlHelper {
    words: Vec<String>,
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let prefix = line[start..pos].to_lowercase();
        if prefix.is_empty() {
            return Ok((start, Vec::new()));
        }
        let matches = self
            .words
            .iter()
            .filter(|w| w.to_lowercase().starts_with(&prefix))
            .map(|w| Pair {
                display: w.clone(),
                replacement: w.clone(),
            })
            .collect();
        Ok((start, matches))
    }
}
