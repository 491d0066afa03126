//! `bench-axum`: the minimal axum baseline server (see `brain_ws_bench::axum_baseline`).

use std::process::ExitCode;

use brain_ws_bench::{axum_baseline, procfs};
use clap::Parser as _;

/// A minimal axum broadcast server with default WebSocket settings.
#[derive(clap::Parser)]
#[command(name = "bench-axum")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8002")]
    bind: std::net::SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = procfs::raise_nofile_limit() {
        eprintln!("warning: could not raise the open-file limit: {e}");
    }
    let listener = match tokio::net::TcpListener::bind(args.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot bind {}: {e}", args.bind);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => eprintln!("listening on {addr}"),
        Err(e) => eprintln!("listening ({e})"),
    }
    match axum::serve(listener, axum_baseline::router()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
