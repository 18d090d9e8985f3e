//! `sdds-gen`: writes a deterministic, realistic SDDS bucket (twelve feeds) to a directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use sdds_gen::{append_day, generate, Params};

/// Generates AWS Marketplace Seller Data Delivery Service feeds: the same flags always give
/// the same bytes.
#[derive(Parser, Debug)]
#[command(name = "sdds-gen", version)]
struct Cli {
    /// Bucket directory to write (`<feed>_v1/year=YYYY/month=MM/data.csv`).
    #[arg(long)]
    out: PathBuf,
    /// Seed of all randomness.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Total billingeventfeed_v1 rows over all files (within about 2 %); everything scales with it.
    #[arg(long, default_value_t = 20_000)]
    billing_events: u64,
    /// Monthly partitions to write, ending with the month of --end (plus the backfill partition).
    #[arg(long, default_value_t = 6)]
    months: u32,
    /// Last delivery day (YYYY-MM-DD); reports should use the day after as "today".
    #[arg(long, default_value = "2026-10-31")]
    end: String,
    /// --out already holds the output for these flags: append the rows of the day after --end.
    #[arg(long)]
    append_day: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let params = Params::new(cli.seed, cli.billing_events, cli.months, &cli.end)?;
    let started = Instant::now();
    let summary = if cli.append_day {
        append_day(&params, &cli.out)
    } else {
        generate(&params, &cli.out)
    }
    .with_context(|| format!("generating into {}", cli.out.display()))?;
    let (mut rows, mut bytes) = (0, 0);
    for (feed, s) in &summary.stats {
        eprintln!(
            "{:<24} {:>3} files {:>10} rows {:>14} bytes",
            feed.name(),
            s.files,
            s.rows,
            s.bytes
        );
        rows += s.rows;
        bytes += s.bytes;
    }
    eprintln!(
        "{:<24} {:>3}       {:>10} rows {:>14} bytes in {:.1} s",
        "total",
        "",
        rows,
        bytes,
        started.elapsed().as_secs_f64()
    );
    if cli.append_day {
        println!("{}", summary.end);
    }
    Ok(())
}
