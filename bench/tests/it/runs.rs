//! Whole bench runs against real servers on loopback.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use brain_ws_bench::options::Options;
use brain_ws_bench::run::{loopback_addr, run};
use clap::Parser as _;

use crate::servers::{Script, start_axum, start_floor, start_scripted};

/// Options for a short run against `addr`, plus `extra` arguments.
pub(crate) fn opts(addr: SocketAddr, extra: &[&str]) -> Options {
    let url = format!("ws://{addr}");
    let mut args = vec![
        "brain-ws-bench",
        "--url",
        &url,
        "--settle",
        "50ms",
        "--gap",
        "10ms",
    ];
    args.extend_from_slice(extra);
    Options::parse_from(args)
}

async fn assert_latency_run_is_complete(addr: SocketAddr, n: usize) {
    let n_arg = n.to_string();
    let report = run(&opts(addr, &["-n", &n_arg, "--broadcasts", "3"]))
        .await
        .unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.connect.ready, n);
    assert_eq!(report.server_pid, Some(std::process::id()));
    let latency = report.latency.unwrap();
    assert_eq!(latency.delivered, 3 * n as u64);
    assert_eq!(
        (latency.missing, latency.late, latency.duplicates),
        (0, 0, 0)
    );
    assert_eq!(latency.runs.len(), 3);
    for r in &latency.runs {
        assert_eq!(r.received, n);
        assert_eq!(r.subscribers, Some(n as u64));
        assert!(r.p50_us <= r.p99_us && r.p99_us <= r.last_us, "{r:?}");
        assert!(r.last_us > 0);
    }
    assert!(latency.server_cpu_us_per_delivery.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_receives_every_broadcast() {
    assert_latency_run_is_complete(start_floor(1), 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_with_parallel_writers_receives_every_broadcast() {
    // Above the floor's threshold for splitting the write loop.
    assert_latency_run_is_complete(start_floor(2), 600).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_baseline_receives_every_broadcast() {
    assert_latency_run_is_complete(start_axum().await, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_ramp_accounts_for_every_delivery() {
    let addr = start_floor(1);
    let args = [
        "--throughput",
        "-n",
        "40",
        "--channels",
        "4",
        "--start-rate",
        "50",
        "--max-steps",
        "2",
        "--step",
        "300ms",
        "--p99-limit",
        "5s",
        "--publishers",
        "2",
    ];
    let report = run(&opts(addr, &args)).await.unwrap();
    assert!(report.ok(), "{report:?}");
    let t = report.throughput.unwrap();
    assert_eq!((t.channels, t.publishers), (4, 2));
    assert_eq!(t.steps.len(), 2);
    for s in &t.steps {
        assert!(s.published > 0);
        assert_eq!(s.expected, s.published * 10);
        assert_eq!(s.delivered, s.expected);
        assert_eq!(s.missing, 0);
        assert!(!s.degraded, "{s:?}");
    }
    assert_eq!(t.steps[1].target_rate, 75.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_answers_json_and_websocket_pings() {
    let server = start_scripted(Script::default()).await;
    let report = run(&opts(server.addr, &["-n", "20", "--hold", "1s"]))
        .await
        .unwrap();
    assert!(report.ok(), "{report:?}");
    let hold = report.hold.unwrap();
    assert_eq!((hold.held, hold.dropped, hold.missing_after), (20, 0, 0));
    assert_eq!(hold.pings_answered, 20);
    assert_eq!(server.json_pongs.load(Ordering::SeqCst), 20);
    assert_eq!(server.ws_pongs.load(Ordering::SeqCst), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_closes_is_reported_dropped() {
    let script = Script {
        close_first_after: Some(Duration::from_millis(200)),
        ..Script::default()
    };
    let server = start_scripted(script).await;
    let report = run(&opts(
        server.addr,
        &["-n", "5", "--hold", "1s", "--timeout", "500ms"],
    ))
    .await
    .unwrap();
    assert!(!report.ok());
    let hold = report.hold.unwrap();
    assert_eq!((hold.held, hold.dropped, hold.missing_after), (4, 1, 1));
    assert_eq!(report.dropped, 1);
    assert_eq!(
        report.last_error.as_deref(),
        Some("closed by server (code Some(4000))")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_deliveries_are_counted() {
    let script = Script {
        starve_first: true,
        ..Script::default()
    };
    let server = start_scripted(script).await;
    let args = ["-n", "10", "--broadcasts", "2", "--timeout", "500ms"];
    let report = run(&opts(server.addr, &args)).await.unwrap();
    assert!(!report.ok());
    assert_eq!(report.missing, 2);
    let latency = report.latency.unwrap();
    assert_eq!(latency.delivered, 18);
    assert!(latency.runs.iter().all(|r| r.received == 9));
}

fn bench_binary(addr: SocketAddr, json: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_brain-ws-bench"))
        .args([
            "--url",
            &format!("ws://{addr}"),
            "-n",
            "10",
            "--broadcasts",
            "3",
        ])
        .args(["--timeout", "500ms", "--settle", "10ms", "--json"])
        .arg(json)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_non_zero_only_when_deliveries_are_missing() {
    let dir = std::env::temp_dir().join(format!("brain-ws-bench-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let floor = start_floor(1);
    let json = dir.join("floor.json");
    let ok = tokio::task::spawn_blocking(move || bench_binary(floor, &json))
        .await
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("floor.json")).unwrap()).unwrap();
    assert_eq!(written["latency"]["delivered"], 30);
    assert_eq!(written["missing"], 0);

    let script = Script {
        starve_first: true,
        ..Script::default()
    };
    let lossy = start_scripted(script).await.addr;
    let json = dir.join("lossy.json");
    let failed = tokio::task::spawn_blocking(move || bench_binary(lossy, &json))
        .await
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("FAILED: 3 deliveries missing"));
}

#[test]
fn only_loopback_targets_are_accepted() {
    assert_eq!(
        loopback_addr("ws://127.0.0.1:8000/ws").unwrap(),
        "127.0.0.1:8000".parse().unwrap()
    );
    assert_eq!(
        loopback_addr("http://localhost:9").unwrap(),
        "127.0.0.1:9".parse().unwrap()
    );
    assert!(loopback_addr("ws://10.0.0.1:8000").is_err());
    assert!(loopback_addr("ws://example.com:80").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_ramp_ends_at_the_second_degraded_step() {
    let addr = start_floor(1);
    let args = [
        "--throughput",
        "-n",
        "20",
        "--channels",
        "2",
        "--start-rate",
        "50",
        "--max-steps",
        "5",
        "--step",
        "200ms",
        "--p99-limit",
        "1us",
    ];
    let report = run(&opts(addr, &args)).await.unwrap();
    // Degraded is not lossy: every delivery still arrived.
    assert!(report.ok(), "{report:?}");
    let t = report.throughput.unwrap();
    assert_eq!(t.steps.len(), 2);
    assert!(t.steps.iter().all(|s| s.degraded && s.missing == 0));
    assert_eq!(t.sustained_deliveries_per_s, 0.0);
    assert!(t.peak_deliveries_per_s > 0.0);
}
