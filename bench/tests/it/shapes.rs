//! The issue-17 shapes end to end: the steady stream against the floor, and
//! subscriptions by message (the many-channels shape) against a server that
//! subscribes with messages.

use brain_ws_bench::many_channels::p99_passed_at;
use brain_ws_bench::run::run;

use crate::runs::opts;
use crate::servers::start_floor;
use crate::subscribing::start_subscribing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_stream_times_every_delivery_of_the_timed_events() {
    let args = [
        "--steady",
        "-n",
        "20",
        "--background-connections",
        "5",
        "--rate",
        "20",
        "--background-rate",
        "50",
        "--duration",
        "500ms",
    ];
    let report = run(&opts(start_floor(1), &args)).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.connect.ready, 25);
    let s = report.steady.unwrap();
    // 0, 50, ..., 450 ms: ten timed events, 25 background ones.
    assert_eq!((s.events, s.background_events), (10, 25));
    assert_eq!((s.expected, s.delivered, s.missing), (200, 200, 0));
    assert!(s.p50_us <= s.p99_us && s.p99_us <= s.p999_us, "{s:?}");
    // Quantiles are bucket lower bounds; the maximum is exact.
    assert!(s.p999_us <= s.max_us && s.max_us > 0, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_channels_ramp_expects_each_channels_subscribers() {
    let addr = start_subscribing().await;
    let args = [
        "--throughput",
        "-n",
        "12",
        "--subscriptions",
        "3",
        "--channels",
        "6",
        "--start-rate",
        "60",
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
    assert_eq!(report.connect.ready, 12);
    let t = report.throughput.unwrap();
    assert_eq!(t.steps.len(), 2);
    for s in &t.steps {
        // 12 clients x 3 subscriptions over 6 channels: 6 per channel.
        assert!(s.published > 0);
        assert_eq!(s.expected, s.published * 6);
        assert_eq!((s.delivered, s.missing), (s.expected, 0));
    }
    assert_eq!(p99_passed_at(&t), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_mode_with_subscriptions_broadcasts_on_the_first() {
    let addr = start_subscribing().await;
    let args = [
        "-n",
        "10",
        "--broadcasts",
        "3",
        "--subscriptions",
        "4",
        "--channels",
        "5",
    ];
    let report = run(&opts(addr, &args)).await.unwrap();
    assert!(report.ok(), "{report:?}");
    let l = report.latency.unwrap();
    // Each client is on `bench` once, whatever its three other channels.
    assert_eq!((l.delivered, l.duplicates, l.missing), (30, 0, 0));
}
