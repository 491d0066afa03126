//! `bench-floor`: the physical-floor baseline server (see `brain_ws_bench::floor`).

use std::process::ExitCode;

use brain_ws_bench::{floor, procfs};
use clap::Parser as _;

/// The floor: raw sockets, hand-made handshake, one write per subscriber.
#[derive(clap::Parser)]
#[command(name = "bench-floor")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8001")]
    bind: std::net::SocketAddr,
    /// Threads that split a large broadcast's write loop (1 = the plain loop).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = procfs::raise_nofile_limit() {
        eprintln!("warning: could not raise the open-file limit: {e}");
    }
    let listener = match floor::bind(args.bind) {
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
    match floor::serve(listener, args.threads) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
