//! `brain-ws-bench`: measures a WebSocket server on loopback (see `--help`).

use std::process::ExitCode;

use brain_ws_bench::options::Options;
use brain_ws_bench::report::{self, Report};
use brain_ws_bench::{procfs, run};
use clap::Parser as _;

fn main() -> ExitCode {
    let opts = Options::parse();
    if !opts.compare.is_empty() {
        return compare(&opts);
    }
    if let Some(path) = &opts.steps {
        return match read_report(path) {
            Ok(r) => {
                if let Some(t) = &r.throughput {
                    print!("{}", report::throughput_table(t));
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                ExitCode::from(2)
            }
        };
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
    if let Some(path) = &opts.json {
        let written = serde_json::to_string_pretty(&report)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(path, json));
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
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

fn read_report(path: &std::path::Path) -> Result<Report, String> {
    std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str::<Report>(&text).map_err(|e| e.to_string()))
}

fn compare(opts: &Options) -> ExitCode {
    let mut reports = Vec::new();
    for path in &opts.compare {
        match read_report(path) {
            Ok(r) => reports.push(r),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    print!("{}", report::compare_table(&reports));
    ExitCode::SUCCESS
}
