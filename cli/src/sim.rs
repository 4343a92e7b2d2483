//! `rustydb sim`: runs a scenario for one seed or a sweep, one
//! machine-readable line per seed and a summary line; exits non-zero if any
//! seed failed. Wall-clock time is measured here, outside the simulation, and
//! never feeds it.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rustydb_sim::{FaultCounts, Scenario, SeedReport, run_seed};

/// Prints a line to stdout, ignoring a closed pipe (`rustydb sim … | head`):
/// the verdict is the exit status, not the output.
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

#[derive(Args)]
pub struct SimArgs {
    /// Scenario file (TOML), e.g. scenarios/smoke.toml.
    #[arg(long)]
    scenario: String,
    /// Run one seed.
    #[arg(long, conflicts_with = "seeds", required_unless_present = "seeds")]
    seed: Option<u64>,
    /// Run an inclusive range of seeds, `A..B` (also `A..=B`).
    #[arg(long)]
    seeds: Option<String>,
    /// Print every drawn option, then every trace event.
    #[arg(long)]
    verbose: bool,
}

/// Parses `A..B` or `A..=B` as an inclusive range.
fn parse_seed_range(text: &str) -> Result<(u64, u64), String> {
    let (start, end) = text.split_once("..").ok_or_else(|| format!("--seeds {text:?}: expected A..B"))?;
    let end = end.strip_prefix('=').unwrap_or(end);
    let parse =
        |part: &str| part.trim().parse::<u64>().map_err(|_| format!("--seeds {text:?}: {part:?} is not a seed"));
    let (start, end) = (parse(start)?, parse(end)?);
    if start > end {
        return Err(format!("--seeds {text:?}: the range is empty"));
    }
    Ok((start, end))
}

pub fn run(args: &SimArgs) -> ExitCode {
    let scenario = match Scenario::load(&args.scenario) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let (first, last) = match (&args.seeds, args.seed) {
        (Some(range), _) => match parse_seed_range(range) {
            Ok(range) => range,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        },
        (None, Some(seed)) => (seed, seed),
        (None, None) => unreachable!("clap requires --seed or --seeds"),
    };
    sweep(args, &scenario, first, last)
}

fn sweep(args: &SimArgs, scenario: &Scenario, first: u64, last: u64) -> ExitCode {
    let bar = if first == last { ProgressBar::hidden() } else { ProgressBar::new(last - first + 1) };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {msg}").unwrap_or(ProgressStyle::default_bar()),
    );
    let mut totals = FaultCounts::default();
    let mut counters: std::collections::BTreeMap<&'static str, u64> = std::collections::BTreeMap::new();
    let (mut failed, mut sim_millis) = (0u64, 0u64);
    let sweep_start = Instant::now();
    for seed in first..=last {
        let started = Instant::now();
        let report = run_seed(scenario, seed, args.verbose);
        let wall_millis = started.elapsed().as_millis();
        totals.merge(&report.faults);
        for (name, count) in &report.counters {
            *counters.entry(name).or_default() += count;
        }
        sim_millis += report.sim_millis;
        if !report.ok() {
            failed += 1;
            bar.set_message(format!("{failed} failed"));
        }
        bar.suspend(|| print_report(args, &report, wall_millis));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let wall_millis = sweep_start.elapsed().as_millis().max(1);
    // The workload's own counts (commits, deadlocks…) close the summary line.
    let workload: String = counters.iter().map(|(name, count)| format!(" {name}={count}")).collect();
    out!(
        "summary seeds={} failed={failed} faults={} sim_ms={sim_millis} wall_ms={wall_millis} compression={:.0} {totals}{workload}",
        last - first + 1,
        totals.total(),
        sim_millis as f64 / wall_millis as f64,
    );
    let missing = totals.missing();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|kind| kind.name()).collect();
        out!("note: fault kinds never injected in this sweep: {}", names.join(" "));
    }
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn print_report(args: &SimArgs, report: &SeedReport, wall_millis: u128) {
    out!(
        "seed={} result={} trace={:016x} sim_ms={} wall_ms={wall_millis} faults={} {} progress={}",
        report.seed,
        if report.ok() { "ok" } else { "FAIL" },
        report.trace_digest,
        report.sim_millis,
        report.faults.total(),
        report.faults,
        report.progress,
    );
    let Some(failure) = &report.failure else { return };
    out!("  violation: {failure}");
    if !args.verbose {
        out!("  last trace events:");
        for line in &report.trace_tail {
            out!("    {line}");
        }
    }
    out!("  replay: rustydb sim --scenario {} --seed {} --verbose", args.scenario, report.seed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_are_inclusive() {
        assert_eq!(parse_seed_range("1..200"), Ok((1, 200)));
        assert_eq!(parse_seed_range("3..=4"), Ok((3, 4)));
        assert!(parse_seed_range("5..1").is_err());
        assert!(parse_seed_range("x..1").is_err());
    }
}
