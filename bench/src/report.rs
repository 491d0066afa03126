//! What a bench run found, as JSON and as tables: one run on its own, or
//! several runs side by side with ratios against the first (the floor).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::many_channels::p99_passed_at;
use crate::steady::SteadyReport;

/// Everything one run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// The run's name in tables.
    pub label: String,
    /// The WebSocket URL measured.
    pub url: String,
    /// Connections asked for.
    pub connections: usize,
    /// Approximate delivered frame size.
    pub frame_bytes: usize,
    /// Threads the client runtime used.
    pub client_threads: usize,
    /// The server process measured, when found.
    pub server_pid: Option<u32>,
    /// Connection setup.
    pub connect: ConnectReport,
    /// Memory.
    pub memory: MemoryReport,
    /// Latency mode results.
    pub latency: Option<LatencyReport>,
    /// Throughput mode results.
    pub throughput: Option<ThroughputReport>,
    /// Hold mode results.
    pub hold: Option<HoldReport>,
    /// Steady-stream mode results.
    #[serde(default)]
    pub steady: Option<SteadyReport>,
    /// Deliveries that never arrived, over the whole run.
    pub missing: u64,
    /// Ready connections that ended during the run.
    pub dropped: usize,
    /// The latest client error seen, to say why something failed.
    pub last_error: Option<String>,
}

impl Report {
    /// A run passes when every connection came up, stayed up, and got every delivery.
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.dropped == 0 && self.connect.failed == 0
    }
}

/// Connection setup.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConnectReport {
    /// Connections that finished the handshake (and got `subscribed`).
    pub ready: usize,
    /// Connections that did not.
    pub failed: usize,
    /// Wall time to open all of them.
    pub seconds: f64,
    /// Ready connections per second.
    pub per_second: f64,
    /// Server CPU spent per connection set up.
    pub server_cpu_us_per_connection: Option<f64>,
}

/// Memory, in KiB.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemoryReport {
    /// Server RSS before any bench connection.
    pub server_rss_base_kib: Option<u64>,
    /// Server RSS with every connection open, subscribed and idle.
    pub server_rss_idle_kib: Option<u64>,
    /// Server RSS at the end of the run.
    pub server_rss_after_kib: Option<u64>,
    /// (idle - base) / ready connections.
    pub server_kib_per_idle_connection: Option<f64>,
    /// The bench's own RSS growth per connection (client cost).
    pub client_kib_per_connection: Option<f64>,
}

/// Latency mode: one channel, every client subscribed, timed broadcasts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LatencyReport {
    /// Broadcasts timed.
    pub broadcasts: usize,
    /// Median over broadcasts of the per-broadcast p50, microseconds.
    pub p50_us: u64,
    /// Median over broadcasts of the per-broadcast p99.
    pub p99_us: u64,
    /// Median over broadcasts of the time to the last delivery.
    pub last_us: u64,
    /// p50 over every delivery of every broadcast (not a median of
    /// per-broadcast values): with one subscriber and a steady stream
    /// (`-n 1 --gap 10ms`), the latency of each event.
    #[serde(default)]
    pub all_p50_us: u64,
    /// p99 over every delivery of every broadcast: the tail a steady stream
    /// of small events sees (40 ms here when Nagle's algorithm holds a
    /// small write back until the client's delayed ACK).
    #[serde(default)]
    pub all_p99_us: u64,
    /// Deliveries received in time.
    pub delivered: u64,
    /// Deliveries that did not arrive within --timeout.
    pub missing: u64,
    /// Deliveries that arrived after their broadcast timed out.
    pub late: u64,
    /// Second deliveries of one broadcast to one client.
    pub duplicates: u64,
    /// Server CPU time per delivery over the broadcast phase.
    pub server_cpu_us_per_delivery: Option<f64>,
    /// The bench's own CPU time per delivery (client cost).
    pub client_cpu_us_per_delivery: f64,
    /// CPU seconds per wall second that other processes on the machine used
    /// during the broadcasts: 0 on a quiet machine, up to 2 on a busy one.
    pub other_cores: Option<f64>,
    /// Each broadcast.
    pub runs: Vec<BroadcastRun>,
}

/// One timed broadcast, microseconds from just before the HTTP request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BroadcastRun {
    /// Median delivery.
    pub p50_us: u64,
    /// 99th percentile delivery.
    pub p99_us: u64,
    /// Last delivery.
    pub last_us: u64,
    /// When the HTTP response arrived.
    pub http_us: u64,
    /// Deliveries that arrived in time.
    pub received: usize,
    /// The server's `subscribers` answer.
    pub subscribers: Option<u64>,
}

/// Sustained throughput: many channels, rising publish rate.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ThroughputReport {
    /// Channels the clients were spread over.
    pub channels: usize,
    /// Concurrent publishing HTTP connections.
    pub publishers: usize,
    /// The p99 above which a step counts as degraded.
    pub p99_limit_us: u64,
    /// Each step of the ramp.
    pub steps: Vec<ThroughputStep>,
    /// Best deliveries/s of a step that was not degraded.
    pub sustained_deliveries_per_s: f64,
    /// Best deliveries/s of any step.
    pub peak_deliveries_per_s: f64,
}

/// One step of the throughput ramp.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ThroughputStep {
    /// Publishes per second asked for.
    pub target_rate: f64,
    /// Publishes per second achieved.
    pub publish_rate: f64,
    /// Publishes sent.
    pub published: u64,
    /// Deliveries those publishes should make.
    pub expected: u64,
    /// Deliveries made.
    pub delivered: u64,
    /// expected - delivered (when positive).
    pub missing: u64,
    /// Deliveries per second, from the step's start to its last delivery.
    pub deliveries_per_s: f64,
    /// Delivery latency median, microseconds.
    pub p50_us: u64,
    /// Delivery latency p99.
    pub p99_us: u64,
    /// Server CPU time per delivery in this step.
    pub server_cpu_us_per_delivery: Option<f64>,
    /// Server CPU seconds per wall second during the step (2.0 = both cores).
    pub server_cores: Option<f64>,
    /// The bench's own CPU seconds per wall second (client cost).
    pub client_cores: f64,
    /// CPU seconds per wall second used by every other process on the
    /// machine (neighbours on a shared box) during the step.
    pub other_cores: Option<f64>,
    /// p99 over the limit, deliveries missing, or the publishers could not keep the rate.
    pub degraded: bool,
}

/// Hold mode.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HoldReport {
    /// How long the connections were held.
    pub seconds: f64,
    /// Connections still open at the end.
    pub held: usize,
    /// Connections that ended during the hold.
    pub dropped: usize,
    /// Heartbeat pings the clients answered.
    pub pings_answered: u64,
    /// Deliveries missing from the broadcast sent after the hold.
    pub missing_after: u64,
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// A plain two-column table of one run.
pub fn single_table(r: &Report) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("server".into(), format!("{} ({})", r.label, r.url)),
        (
            "connections ready / failed".into(),
            format!("{} / {}", r.connect.ready, r.connect.failed),
        ),
        (
            "connect rate (conn/s)".into(),
            format!("{:.0}", r.connect.per_second),
        ),
        (
            "server CPU per connect (us)".into(),
            opt(r
                .connect
                .server_cpu_us_per_connection
                .map(|v| format!("{v:.1}"))),
        ),
        (
            "server RSS base / idle / after (KiB)".into(),
            format!(
                "{} / {} / {}",
                opt(r.memory.server_rss_base_kib),
                opt(r.memory.server_rss_idle_kib),
                opt(r.memory.server_rss_after_kib)
            ),
        ),
        (
            "server RSS per idle connection (KiB)".into(),
            opt(r
                .memory
                .server_kib_per_idle_connection
                .map(|v| format!("{v:.2}"))),
        ),
        (
            "client RSS per connection (KiB)".into(),
            opt(r
                .memory
                .client_kib_per_connection
                .map(|v| format!("{v:.2}"))),
        ),
    ];
    if let Some(l) = &r.latency {
        rows.extend([
            ("broadcasts".into(), l.broadcasts.to_string()),
            ("p50 (ms, median)".into(), ms(l.p50_us)),
            ("p99 (ms, median)".into(), ms(l.p99_us)),
            ("time to last delivery (ms, median)".into(), ms(l.last_us)),
            ("p50 over all deliveries (ms)".into(), ms(l.all_p50_us)),
            ("p99 over all deliveries (ms)".into(), ms(l.all_p99_us)),
            (
                "server CPU per delivery (us)".into(),
                opt(l.server_cpu_us_per_delivery.map(|v| format!("{v:.3}"))),
            ),
            (
                "client CPU per delivery (us)".into(),
                format!("{:.3}", l.client_cpu_us_per_delivery),
            ),
            (
                "other processes' cores during broadcasts".into(),
                opt(l.other_cores.map(|v| format!("{v:.2}"))),
            ),
            (
                "delivered / missing / late / dup".into(),
                format!(
                    "{} / {} / {} / {}",
                    l.delivered, l.missing, l.late, l.duplicates
                ),
            ),
        ]);
    }
    if let Some(t) = &r.throughput {
        rows.push((
            "sustained deliveries/s (p99 within limit)".into(),
            format!("{:.0}", t.sustained_deliveries_per_s),
        ));
        rows.push((
            "peak deliveries/s".into(),
            format!("{:.0}", t.peak_deliveries_per_s),
        ));
    }
    if let Some(t) = &r.throughput
        && let Some((rate, deliveries)) = p99_passed_at(t)
    {
        rows.push((
            format!(
                "p99 passed {} ms at (pub/s, deliveries/s)",
                ms(t.p99_limit_us)
            ),
            format!("{rate:.0}, {deliveries:.0}"),
        ));
    }
    if let Some(s) = &r.steady {
        rows.extend([
            (
                "steady events sent (rate achieved/s)".into(),
                format!("{} ({:.1})", s.events, s.achieved_rate),
            ),
            (
                "background events sent (rate achieved/s)".into(),
                format!("{} ({:.1})", s.background_events, s.background_rate),
            ),
            (
                "steady p50 / p99 / p99.9 / max (ms)".into(),
                format!(
                    "{} / {} / {} / {}",
                    ms(s.p50_us),
                    ms(s.p99_us),
                    ms(s.p999_us),
                    ms(s.max_us)
                ),
            ),
            (
                "server CPU per delivery (us)".into(),
                opt(s.server_cpu_us_per_delivery.map(|v| format!("{v:.3}"))),
            ),
            (
                "server / other processes' cores".into(),
                format!(
                    "{} / {}",
                    opt(s.server_cores.map(|v| format!("{v:.2}"))),
                    opt(s.other_cores.map(|v| format!("{v:.2}")))
                ),
            ),
            (
                "delivered / missing".into(),
                format!("{} / {}", s.delivered, s.missing),
            ),
        ]);
    }
    if let Some(h) = &r.hold {
        rows.extend([
            ("held seconds".into(), format!("{:.0}", h.seconds)),
            (
                "held / dropped".into(),
                format!("{} / {}", h.held, h.dropped),
            ),
            ("pings answered".into(), h.pings_answered.to_string()),
            ("missing after hold".into(), h.missing_after.to_string()),
        ]);
    }
    rows.push(("missing deliveries (run)".into(), r.missing.to_string()));
    rows.push(("result".into(), if r.ok() { "ok" } else { "FAILED" }.into()));
    if let Some(e) = &r.last_error {
        rows.push(("last client error".into(), e.clone()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<width$}  {v}");
    }
    out
}

/// The throughput ramp, one line per step.
pub fn throughput_table(t: &ThroughputReport) -> String {
    let mut out = String::from(
        "| target pub/s | achieved pub/s | deliveries/s | p50 ms | p99 ms | server CPU us/delivery | server cores | client cores | other cores | missing | degraded |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for s in &t.steps {
        let _ = writeln!(
            out,
            "| {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {:.2} | {} | {} | {} |",
            s.target_rate,
            s.publish_rate,
            s.deliveries_per_s,
            ms(s.p50_us),
            ms(s.p99_us),
            opt(s.server_cpu_us_per_delivery.map(|v| format!("{v:.3}"))),
            opt(s.server_cores.map(|v| format!("{v:.2}"))),
            s.client_cores,
            opt(s.other_cores.map(|v| format!("{v:.2}"))),
            s.missing,
            s.degraded
        );
    }
    out
}

/// One metric row of the comparison: how to read it from a report, and
/// whether a ratio against the first report means anything.
struct Row {
    name: &'static str,
    value: fn(&Report) -> Option<f64>,
    decimals: usize,
    ratio: bool,
    combine: Combine,
}

/// How repeated runs of one server fold into one cell.
#[derive(Clone, Copy)]
enum Combine {
    /// Measurements: the median run.
    Median,
    /// Losses: the worst run.
    Max,
    /// Connections held: the worst run.
    Min,
}

impl Combine {
    fn fold(self, mut values: Vec<f64>) -> Option<f64> {
        values.sort_by(f64::total_cmp);
        match self {
            Combine::Median => values.get(values.len().checked_sub(1)? / 2).copied(),
            Combine::Max => values.last().copied(),
            Combine::Min => values.first().copied(),
        }
    }
}

const ROWS: &[Row] = &[
    Row {
        name: "connections ready",
        value: |r| Some(r.connect.ready as f64),
        decimals: 0,
        ratio: false,
        combine: Combine::Min,
    },
    Row {
        name: "connect rate (conn/s)",
        value: |r| Some(r.connect.per_second),
        decimals: 0,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "p50 (ms)",
        value: |r| r.latency.as_ref().map(|l| l.p50_us as f64 / 1e3),
        decimals: 2,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "p99 (ms)",
        value: |r| r.latency.as_ref().map(|l| l.p99_us as f64 / 1e3),
        decimals: 2,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "p50 over all deliveries (ms)",
        value: |r| r.latency.as_ref().map(|l| l.all_p50_us as f64 / 1e3),
        decimals: 2,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "p99 over all deliveries (ms)",
        value: |r| r.latency.as_ref().map(|l| l.all_p99_us as f64 / 1e3),
        decimals: 2,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "time to last delivery (ms)",
        value: |r| r.latency.as_ref().map(|l| l.last_us as f64 / 1e3),
        decimals: 2,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "server CPU per delivery (us)",
        value: |r| {
            r.latency
                .as_ref()
                .and_then(|l| l.server_cpu_us_per_delivery)
        },
        decimals: 3,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "client CPU per delivery (us)",
        value: |r| r.latency.as_ref().map(|l| l.client_cpu_us_per_delivery),
        decimals: 3,
        ratio: false,
        combine: Combine::Median,
    },
    Row {
        name: "other processes' cores (noise)",
        value: |r| r.latency.as_ref().and_then(|l| l.other_cores),
        decimals: 2,
        ratio: false,
        combine: Combine::Median,
    },
    Row {
        name: "server RSS per idle conn (KiB)",
        value: |r| r.memory.server_kib_per_idle_connection,
        decimals: 2,
        ratio: false,
        combine: Combine::Median,
    },
    Row {
        name: "sustained deliveries/s",
        value: |r| r.throughput.as_ref().map(|t| t.sustained_deliveries_per_s),
        decimals: 0,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "peak deliveries/s",
        value: |r| r.throughput.as_ref().map(|t| t.peak_deliveries_per_s),
        decimals: 0,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "pub/s where p99 passed the limit",
        value: |r| r.throughput.as_ref().and_then(p99_passed_at).map(|p| p.0),
        decimals: 0,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "steady p50 (ms)",
        value: |r| r.steady.as_ref().map(|s| s.p50_us as f64 / 1e3),
        decimals: 2,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "steady p99 (ms)",
        value: |r| r.steady.as_ref().map(|s| s.p99_us as f64 / 1e3),
        decimals: 2,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "steady p99.9 (ms)",
        value: |r| r.steady.as_ref().map(|s| s.p999_us as f64 / 1e3),
        decimals: 2,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "steady max (ms)",
        value: |r| r.steady.as_ref().map(|s| s.max_us as f64 / 1e3),
        decimals: 2,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "steady server CPU per delivery (us)",
        value: |r| r.steady.as_ref().and_then(|s| s.server_cpu_us_per_delivery),
        decimals: 3,
        ratio: true,
        combine: Combine::Median,
    },
    Row {
        name: "steady other processes' cores (noise)",
        value: |r| r.steady.as_ref().and_then(|s| s.other_cores),
        decimals: 2,
        ratio: false,
        combine: Combine::Median,
    },
    Row {
        name: "held connections",
        value: |r| r.hold.as_ref().map(|h| h.held as f64),
        decimals: 0,
        ratio: false,
        combine: Combine::Min,
    },
    Row {
        name: "dropped connections",
        value: |r| Some(r.dropped as f64),
        decimals: 0,
        ratio: false,
        combine: Combine::Max,
    },
    Row {
        name: "missing deliveries",
        value: |r| Some(r.missing as f64),
        decimals: 0,
        ratio: false,
        combine: Combine::Max,
    },
];

/// A markdown table of several runs side by side; every ratio is against the
/// first column, which run.sh makes the floor. Reports with the same label
/// are repeats of one server: each cell is their median (the worst run for
/// losses and held connections).
pub fn compare_table(reports: &[Report]) -> String {
    let mut groups: Vec<(&str, usize, Vec<&Report>)> = Vec::new();
    for r in reports {
        match groups.iter_mut().find(|(label, _, _)| *label == r.label) {
            Some((_, _, members)) => members.push(r),
            None => groups.push((&r.label, r.connections, vec![r])),
        }
    }
    let mut out = String::from("| metric |");
    for (label, n, members) in &groups {
        if members.len() > 1 {
            let _ = write!(out, " {label} (n={n}, {} runs) |", members.len());
        } else {
            let _ = write!(out, " {label} (n={n}) |");
        }
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(groups.len()));
    out.push('\n');
    for row in ROWS {
        let values: Vec<Option<f64>> = groups
            .iter()
            .map(|(_, _, members)| {
                let found: Vec<f64> = members.iter().filter_map(|r| (row.value)(r)).collect();
                row.combine.fold(found)
            })
            .collect();
        if values.iter().all(Option::is_none) {
            continue;
        }
        let _ = write!(out, "| {} |", row.name);
        let base = values.first().copied().flatten();
        for (i, v) in values.iter().enumerate() {
            let cell = match (v, base) {
                (None, _) => "-".to_owned(),
                (Some(v), Some(b)) if row.ratio && i > 0 && b > 0.0 => {
                    format!("{v:.prec$} ({:.2}x)", v / b, prec = row.decimals)
                }
                (Some(v), _) => format!("{v:.prec$}", prec = row.decimals),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}
