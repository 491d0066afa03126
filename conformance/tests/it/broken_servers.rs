//! The suite must be able to fail: run the whole suite against stubs with
//! one defect each and assert exactly which scenarios fail.

use brain_ws_conformance::{Config, Feature, Report, run};

use crate::stub::{Defects, Options, Stub};

async fn run_against(options: Options, configure: impl FnOnce(&mut Config)) -> Report {
    let stub = Stub::start(options).await;
    let mut config = Config::new(stub.ws_url());
    configure(&mut config);
    run(config).await
}

async fn failures_with(defects: Defects) -> Vec<String> {
    let report = run_against(
        Options {
            defects,
            auth: false,
        },
        |_| {},
    )
    .await;
    println!("{}", report.to_text());
    report.failed_ids().into_iter().map(str::to_owned).collect()
}

/// Scenarios a server without optional features, queried without token or
/// API key, cannot run.
const SKIPPED_WITHOUT_FEATURES: &[&str] = &[
    "user.send",
    "auth.empty_carrier",
    "history.recovery",
    "history.epoch_mismatch",
    "history.stream_restart",
    "presence.join_leave",
    "presence.reads",
    "history.read",
    "rewind.replay",
    "rewind.refused",
    "frames.batched",
    "auth.invalid_token",
    "auth.required",
    "auth.user_id",
    "auth.expired_token",
    "auth.admin_api_key",
    "publish.delivered",
    "multi_node.stats_nodes",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_stub_passes_every_core_scenario() {
    let report = run_against(Options::default(), |_| {}).await;
    assert!(report.is_success(), "{}", report.to_text());
    assert_eq!(report.skipped_ids(), SKIPPED_WITHOUT_FEATURES);
    assert_eq!(
        report.passed_ids().len() + SKIPPED_WITHOUT_FEATURES.len(),
        brain_ws_conformance::catalogue().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_subscribe_confirmations_fail_every_scenario_that_subscribes() {
    let failed = failures_with(Defects {
        no_subscribe_confirm: true,
        ..Defects::default()
    })
    .await;
    assert_eq!(
        failed,
        [
            "connect.channel_endpoint",
            "subscribe.confirm",
            "subscribe.idempotent",
            "unsubscribe.confirm",
            "broadcast.exact_subscribers",
            "broadcast.default_type",
            "broadcast.all",
            "http.stats",
            "http.channel",
            "stats.cleanup",
            "limits.subscriptions",
            "order.single_channel",
            "fanout.concurrent",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_times_out_silent_clients_fails_heartbeat_timeout() {
    let failed = failures_with(Defects {
        no_heartbeat_timeout: true,
        ..Defects::default()
    })
    .await;
    assert_eq!(failed, ["heartbeat.timeout"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_faster_than_announced_fail_heartbeat_cadence() {
    let failed = failures_with(Defects {
        fast_pings: true,
        ..Defects::default()
    })
    .await;
    assert_eq!(failed, ["heartbeat.cadence"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_closes_on_bad_json_fails_invalid_json() {
    let failed = failures_with(Defects {
        close_on_bad_json: true,
        ..Defects::default()
    })
    .await;
    assert_eq!(failed, ["errors.invalid_json"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_without_channel_fail_every_channel_delivery() {
    let failed = failures_with(Defects {
        envelope_without_channel: true,
        ..Defects::default()
    })
    .await;
    assert_eq!(
        failed,
        [
            "connect.channel_endpoint",
            "subscribe.idempotent",
            "broadcast.exact_subscribers",
            "broadcast.default_type",
            "order.single_channel",
            "fanout.concurrent",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_that_breaks_its_schema_fails_the_scenarios_that_receive_it() {
    let report = run_against(
        Options {
            defects: Defects {
                unsubscribed_without_timestamp: true,
                ..Defects::default()
            },
            auth: false,
        },
        |_| {},
    )
    .await;
    assert_eq!(
        report.failed_ids(),
        [
            "unsubscribe.confirm",
            "http.channel",
            "limits.subscriptions"
        ],
        "{}",
        report.to_text()
    );
    let result = report.result("unsubscribe.confirm").unwrap();
    assert_eq!(
        result.verdict,
        brain_ws_conformance::Verdict::Fail {
            reason: r#"A: the server sent a frame that does not match server-message.json: as Unsubscribed: "timestamp" is a required property"#.into()
        }
    );
    let last = result.evidence.as_ref().unwrap().frames.last().unwrap();
    assert_eq!(last.direction, brain_ws_conformance::Direction::Received);
    assert!(
        last.text
            .starts_with(r#"{"channel":"conformance.unsubscribe."#)
            && last.text.ends_with(r#"","type":"unsubscribed"}"#),
        "{}",
        last.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_carry_the_frames_as_evidence() {
    let report = run_against(
        Options {
            defects: Defects {
                close_on_bad_json: true,
                ..Defects::default()
            },
            auth: false,
        },
        |c| c.filter = vec!["errors.invalid_json".into()],
    )
    .await;
    let result = report.result("errors.invalid_json").unwrap();
    let brain_ws_conformance::Verdict::Fail { reason } = &result.verdict else {
        panic!("expected a failure: {result:?}");
    };
    assert_eq!(
        reason,
        "A: connection closed (code 1003) while waiting for error invalid_json"
    );
    let frames: Vec<(&str, brain_ws_conformance::Direction, &str)> = result
        .evidence
        .as_ref()
        .unwrap()
        .frames
        .iter()
        .map(|f| (f.conn.as_str(), f.direction, f.text.as_str()))
        .filter(|(_, d, _)| *d != brain_ws_conformance::Direction::Received)
        .collect();
    use brain_ws_conformance::Direction::{Note, Sent};
    assert_eq!(frames[1], ("A", Sent, "{\"type\": \"subscribe\", "));
    assert_eq!(frames[0].1, Note);
    let received = &result.evidence.as_ref().unwrap().frames;
    assert_eq!(received.last().unwrap().text, "<close code 1003 bad json>");
    assert_eq!(result.section, "docs/protocol.md#error-codes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_scenarios_run_when_the_server_verifies_tokens() {
    let report = run_against(
        Options {
            defects: Defects::default(),
            auth: true,
        },
        |c| {
            c.token = Some("valid:alice".into());
            c.filter = vec!["auth".into(), "user".into(), "connect".into()];
        },
    )
    .await;
    assert!(report.is_success(), "{}", report.to_text());
    assert_eq!(
        report.passed_ids(),
        [
            "connect.welcome",
            "connect.channel_endpoint",
            "connect.channel_invalid",
            "user.send",
            "user.send_unknown",
            "auth.empty_carrier",
            "auth.invalid_token",
            "auth.user_id",
        ]
    );
    // The stub's auth mode is optional, its tokens are not JWTs (no
    // --jwt-secret), and no API key was given.
    assert_eq!(
        report.skipped_ids(),
        ["auth.required", "auth.expired_token", "auth.admin_api_key"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_feature_runs_and_fails_on_a_server_without_it() {
    let report = run_against(Options::default(), |c| {
        c.filter = vec!["history.recovery".into()];
        c.force = vec![Feature::History];
    })
    .await;
    assert_eq!(report.failed_ids(), ["history.recovery"]);
    let result = report.result("history.recovery").unwrap();
    assert!(
        matches!(&result.verdict, brain_ws_conformance::Verdict::Fail { reason } if reason.contains("carries no epoch")),
        "{result:?}"
    );
}
