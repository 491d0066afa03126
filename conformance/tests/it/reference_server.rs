//! The whole suite against the reference server (`brain-ws-server`), with a
//! short heartbeat, an API key, a token table, client publish and presence on, so
//! every scenario but the multi-node one and `auth.required` runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_ws_conformance::{Config, run};
use brain_ws_server::{Server, StaticTokens};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_passes_every_scenario() {
    let config = brain_ws_server::Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        heartbeat_interval: Duration::from_secs(1),
        heartbeat_timeout: Duration::from_secs(1),
        api_keys: vec!["conformance-api-key-0123456789".into()],
        client_publish_channels: vec!["chat:*".parse().unwrap()],
        presence_channels: vec!["presence:*".parse().unwrap()],
        authenticator: Some(Arc::new(
            StaticTokens::new().with("conformance-token", "alice"),
        )),
        ..brain_ws_server::Config::default()
    };
    let server = Server::start(config).await.unwrap();

    let mut suite = Config::new(format!("ws://{}", server.local_addr()));
    suite.token = Some("conformance-token".into());
    suite.api_key = Some("conformance-api-key-0123456789".into());
    let started = Instant::now();
    let report = run(suite).await;
    let took = started.elapsed();
    println!("{}", report.to_text());

    assert_eq!(report.failed_ids(), Vec::<&str>::new());
    // Auth is `optional` (a token table, no JWT key to sign an expired
    // token with: conformance/ci.sh runs that one), and there is one node.
    assert_eq!(
        report.skipped_ids(),
        [
            "auth.required",
            "auth.expired_token",
            "multi_node.stats_nodes"
        ]
    );
    assert_eq!(
        report.passed_ids().len(),
        brain_ws_conformance::catalogue().len() - 3
    );
    // Far below the one-minute budget even on a loaded machine.
    assert!(took < Duration::from_secs(60), "the suite took {took:?}");
    server.shutdown().await;
}

/// `auth.expired_token` against the reference server with a real HS256
/// key: it passes with the default leeway (30 s), and fails, naming the
/// status, when the server's leeway (two hours) lets a token that expired
/// an hour ago through: the scenario can tell the two apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_expired_token_fails_on_a_server_that_accepts_an_expired_token() {
    let secret = "conformance-test-secret-0123456789abcdef";
    for (leeway, passes) in [(None, true), (Some(Duration::from_secs(7200)), false)] {
        let mut jwt = brain_ws_server::JwtAuthenticator::hs256(secret.as_bytes()).unwrap();
        if let Some(leeway) = leeway {
            jwt = jwt.with_leeway(leeway);
        }
        let config = brain_ws_server::Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            authenticator: Some(Arc::new(jwt)),
            ..brain_ws_server::Config::default()
        };
        let server = Server::start(config).await.unwrap();
        let mut suite = Config::new(format!("ws://{}", server.local_addr()));
        suite.jwt_secret = Some(secret.into());
        suite.filter = vec!["auth.expired_token".into()];
        let report = run(suite).await;
        let result = report.result("auth.expired_token").expect("selected");
        if passes {
            assert_eq!(
                report.passed_ids(),
                ["auth.expired_token"],
                "{}",
                report.to_text()
            );
        } else {
            assert_eq!(
                report.failed_ids(),
                ["auth.expired_token"],
                "{}",
                report.to_text()
            );
            let brain_ws_conformance::Verdict::Fail { reason } = &result.verdict else {
                panic!("{:?}", result.verdict);
            };
            assert!(
                reason.contains("was accepted; it must be refused with 401 before the upgrade"),
                "{reason}"
            );
        }
        server.shutdown().await;
    }
}
