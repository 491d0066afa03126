//! `brain-ws-bench`: measures a WebSocket server on loopback (see `--help`).

use std::process::ExitCode;

use brain_ws_bench::options::Options;
use brain_ws_bench::report::{self, Report};
use brain_ws_bench::{cluster, procfs, run};
use clap::Parser as _;

fn main() -> ExitCode {
    let opts = Options::parse();
    if !opts.compare.is_empty() {
        return compare(&opts);
    }
    if !opts.cluster_compare.is_empty() {
        return cluster_compare(&opts);
    }
    match procfs::raise_nofile_limit() {
        Ok(limit) if (limit as usize) < opts.connections + 64 => eprintln!(
            "warning: open-file limit {limit} is below {} connections",
            opts.connections
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: could not raise the open-file limit: {e}"),
    }
    let runtime = if opts.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.client_threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the client runtime: {e}");
            return ExitCode::from(2);
        }
    };
    if !opts.nodes.is_empty() {
        let result = runtime.block_on(cluster::run(&opts));
        runtime.shutdown_background();
        return cluster_report(&opts, result);
    }
    let result = runtime.block_on(run::run(&opts));
    // Dropping thousands of client tasks and sockets is not part of the run.
    runtime.shutdown_background();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report::single_table(&report));
    if let Some(t) = &report.throughput {
        print!("{}", report::throughput_table(t));
    }
    if let Err(code) = write_json(opts.json.as_deref(), &report) {
        return code;
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "FAILED: {} deliveries missing, {} connections dropped, {} never connected",
            report.missing, report.dropped, report.connect.failed
        );
        ExitCode::FAILURE
    }
}

fn compare(opts: &Options) -> ExitCode {
    match read_reports::<Report>(&opts.compare) {
        Ok(reports) => print!("{}", report::compare_table(&reports)),
        Err(code) => return code,
    }
    ExitCode::SUCCESS
}

/// Writes `report` as JSON to `path`, if given.
fn write_json(
    path: Option<&std::path::Path>,
    report: &impl serde::Serialize,
) -> Result<(), ExitCode> {
    let Some(path) = path else { return Ok(()) };
    serde_json::to_string_pretty(report)
        .map_err(std::io::Error::other)
        .and_then(|json| std::fs::write(path, json))
        .map_err(|e| {
            eprintln!("error: cannot write {}: {e}", path.display());
            ExitCode::from(2)
        })
}

/// Reads JSON reports written with `--json`.
fn read_reports<T: serde::de::DeserializeOwned>(
    paths: &[std::path::PathBuf],
) -> Result<Vec<T>, ExitCode> {
    paths
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_str::<T>(&text).map_err(|e| e.to_string()))
                .map_err(|e| {
                    eprintln!("error: {}: {e}", path.display());
                    ExitCode::from(2)
                })
        })
        .collect()
}

fn cluster_report(
    opts: &Options,
    result: Result<cluster::ClusterReport, run::BenchError>,
) -> ExitCode {
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", cluster::table(&report));
    if let Err(code) = write_json(opts.json.as_deref(), &report) {
        return code;
    }
    if report.failed_connections > 0 {
        eprintln!(
            "FAILED: {} subscribers never connected or dropped",
            report.failed_connections
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn cluster_compare(opts: &Options) -> ExitCode {
    match read_reports::<cluster::ClusterReport>(&opts.cluster_compare) {
        Ok(reports) => print!("{}", cluster::compare_table(&reports)),
        Err(code) => return code,
    }
    ExitCode::SUCCESS
}
