//! The bench's command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Measures a BRAiN WebSocket server (or a baseline) on loopback: broadcast
/// fan-out latency, server CPU per delivery, memory per connection,
/// connection setup rate, sustained throughput, and long holds.
#[derive(Debug, Clone, Parser)]
#[command(name = "brain-ws-bench", version)]
pub struct Options {
    /// WebSocket base URL of the server; must be on loopback. `wss://`
    /// connects with TLS (see --ca-file).
    #[arg(long, default_value = "ws://127.0.0.1:8000")]
    pub url: String,
    /// HTTP base URL for `POST /api/ws/broadcast` (default: the same host and port as --url).
    #[arg(long)]
    pub http: Option<String>,
    /// CA certificate (PEM) that signs the server's certificate, for `wss://` / `https://`.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// TEST SET-UPS ONLY: accept any server certificate on `wss://` / `https://`.
    #[arg(long)]
    pub dangerous_accept_invalid_certificates: bool,
    /// Client connections to open.
    #[arg(short = 'n', long, default_value_t = 1000)]
    pub connections: usize,
    /// Broadcasts to time in latency mode (the report gives their medians).
    #[arg(long, default_value_t = 20)]
    pub broadcasts: usize,
    /// Channel every client subscribes to in latency and hold modes.
    #[arg(long, default_value = "bench")]
    pub channel: String,
    /// Approximate size of each delivered frame, header included.
    #[arg(long, default_value_t = 150)]
    pub frame_bytes: usize,
    /// The server's process id (default: found from the port in /proc).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Name of this run in tables (default: the URL).
    #[arg(long)]
    pub label: Option<String>,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Handshakes in flight at once while connecting. Keep it below the
    /// server's listen backlog (128 for tokio/mio listeners): an overflowing
    /// accept queue drops SYNs, and each drop costs a one-second retransmit.
    #[arg(long, default_value_t = 100)]
    pub connect_concurrency: usize,
    /// Threads of the client runtime (1 = tokio current-thread).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// How long one broadcast may take to reach every client before the rest count as missing.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Pause between timed broadcasts.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "100ms")]
    pub gap: Duration,
    /// Quiet time after connecting, before reading the idle RSS.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pub settle: Duration,
    /// Count a connection ready right after the 101, without waiting for `subscribed`.
    #[arg(long)]
    pub no_wait_subscribed: bool,
    /// Sustained-throughput mode: clients spread over --channels, rising publish rate.
    #[arg(long, conflicts_with = "hold")]
    pub throughput: bool,
    /// Channels in throughput mode (`{channel}-{i}`).
    #[arg(long, default_value_t = 100)]
    pub channels: usize,
    /// First publish rate of throughput mode, publishes per second.
    #[arg(long, default_value_t = 200.0)]
    pub start_rate: f64,
    /// Each throughput step multiplies the rate by this.
    #[arg(long, default_value_t = 1.5)]
    pub rate_factor: f64,
    /// Duration of each throughput step.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
    pub step: Duration,
    /// Most throughput steps.
    #[arg(long, default_value_t = 15)]
    pub max_steps: usize,
    /// A throughput step whose delivery p99 exceeds this is degraded; two in a row end the ramp.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "50ms")]
    pub p99_limit: Duration,
    /// Concurrent HTTP connections publishing in throughput mode.
    #[arg(long, default_value_t = 4)]
    pub publishers: usize,
    /// Hold mode: keep the connections open this long (answering heartbeats), then count drops.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub hold: Option<Duration>,
    /// Cluster mode (`cluster.rs`): WebSocket base URLs of the nodes sharing
    /// one Redis (comma-separated); subscribers are spread over them and
    /// --channels, --publishers publish on each node, at a rising rate.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["throughput", "hold"])]
    pub nodes: Vec<String>,
    /// Cluster mode: the Redis the nodes share (`127.0.0.1:PORT`), read with
    /// `INFO cpu` and `INFO commandstats` around each step.
    #[arg(long)]
    pub redis: Option<String>,
    /// Cluster mode: the nodes keep history on the channels (for the report;
    /// the nodes' own flags decide).
    #[arg(long)]
    pub history: bool,
    /// Print a side-by-side table of these cluster-mode JSON reports (one row
    /// per configuration, ratio of the last label to the first) and exit.
    #[arg(long, num_args = 1.., conflicts_with_all = ["throughput", "hold", "compare"])]
    pub cluster_compare: Vec<PathBuf>,
    /// Print a side-by-side table of these JSON reports (ratios against the first) and exit.
    #[arg(long, num_args = 1.., conflicts_with_all = ["throughput", "hold"])]
    pub compare: Vec<PathBuf>,
}
