//! The `brain-ws-conformance` binary: exit codes, `--list`, and the JUnit and
//! JSON reports.

use std::process::Output;

use brain_ws_conformance::Report;

use crate::stub::{Defects, Options, Stub};

async fn cli(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_brain-ws-conformance"))
        .args(args)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn list_names_every_scenario_and_exits_zero() {
    let out = cli(&["--list"]).await;
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let expected: Vec<&str> = brain_ws_conformance::catalogue()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(expected.len(), 63);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_exits_one_and_is_reported_in_junit() {
    let stub = Stub::start(Options {
        defects: Defects {
            close_on_bad_json: true,
            ..Defects::default()
        },
        auth: false,
    })
    .await;
    let url = stub.ws_url();
    let out = cli(&["--url", &url, "--filter", "errors", "--format", "junit"]).await;
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains(
            "<testsuites name=\"brain-ws-conformance\" tests=\"14\" failures=\"1\" skipped=\"0\""
        ),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(
        xml.contains("<testcase classname=\"errors\" name=\"errors.invalid_json\""),
        "{xml}"
    );
    assert!(xml.contains("&lt;close code 1003 bad json&gt;"), "{xml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_exits_zero_and_the_json_report_reads_back() {
    let stub = Stub::start(Options::default()).await;
    let url = stub.ws_url();
    let out = cli(&[
        "--url",
        &url,
        "--filter",
        "connect,subscribe",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0));
    let report: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report.passed_ids(),
        [
            "connect.welcome",
            "connect.channel_endpoint",
            "connect.channel_invalid",
            "subscribe.confirm",
            "subscribe.idempotent",
        ]
    );
    assert_eq!(report.server.unwrap().name, "stub 0.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_report_ends_with_the_counts_line() {
    let stub = Stub::start(Options {
        defects: Defects {
            no_heartbeat_timeout: true,
            ..Defects::default()
        },
        auth: false,
    })
    .await;
    let url = stub.ws_url();
    let out = cli(&["--url", &url, "--filter", "heartbeat,history"]).await;
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().last(),
        Some("1 passed, 1 failed, 4 skipped"),
        "{text}"
    );
    assert!(text.contains("  ✔ heartbeat.cadence: "), "{text}");
    assert!(text.contains("  ✖ heartbeat.timeout: "), "{text}");
    assert!(text.contains("A: still open after 4s"), "{text}");
}

#[tokio::test]
async fn an_unreachable_server_fails_instead_of_hanging() {
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let out = cli(&["--url", &url, "--filter", "connect.welcome"]).await;
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("server info unavailable"), "{text}");
    assert!(text.contains("✖ connect.welcome"), "{text}");
}
