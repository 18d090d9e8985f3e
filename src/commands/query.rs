//! `sdds query`.

use std::process::ExitCode;

use anyhow::Context;
use datafusion::sql::parser::DFParser;
use sdds_feeds::Catalog;
use sdds_sql::{open_session, SessionOptions};
use sdds_warehouse::Warehouse;

use crate::cli::QueryArgs;
use crate::print::write_batches;

/// Runs each statement of the SQL and prints its result.
pub async fn run(warehouse: &str, args: QueryArgs) -> anyhow::Result<ExitCode> {
    let sql = match (&args.sql, &args.file) {
        (_, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (Some(sql), None) => sql.clone(),
        (None, None) => anyhow::bail!("give SQL or --file"),
    };
    let warehouse = Warehouse::open(warehouse)?;
    let ctx = open_session(&warehouse, &Catalog::builtin(), &SessionOptions::default()).await?;
    let statements = DFParser::parse_sql(&sql).context("SQL syntax")?;
    if statements.is_empty() {
        anyhow::bail!("no SQL statement given");
    }
    let mut stdout = std::io::stdout().lock();
    for statement in statements {
        let plan = ctx.state().statement_to_plan(statement).await?;
        let batches = ctx.execute_logical_plan(plan).await?.collect().await?;
        write_batches(&mut stdout, &batches, args.format)?;
    }
    Ok(ExitCode::SUCCESS)
}
