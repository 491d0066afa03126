//! `bench-delay-proxy`: a TCP proxy adding a fixed delay each way
//! (`brain_ws_bench::delay_proxy`), for `bench/cluster.sh`'s `REDIS_RTT_MS`:
//!
//! ```text
//! bench-delay-proxy --listen 127.0.0.1:19691 --upstream 127.0.0.1:19690 --rtt 1ms
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "bench-delay-proxy", version)]
struct Args {
    /// Where the proxy listens.
    #[arg(long)]
    listen: SocketAddr,
    /// Where it forwards each connection (Redis).
    #[arg(long)]
    upstream: SocketAddr,
    /// Round trip added: half of it each way.
    #[arg(long, value_parser = humantime::parse_duration)]
    rtt: Duration,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!(
        "delay proxy: {} -> {}, {:?} added per round trip",
        args.listen, args.upstream, args.rtt
    );
    brain_ws_bench::delay_proxy::serve(listener, args.upstream, args.rtt / 2).await
}
