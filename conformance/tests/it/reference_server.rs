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
    // Auth is `optional` (a token table), and there is one node.
    assert_eq!(
        report.skipped_ids(),
        ["auth.required", "multi_node.stats_nodes"]
    );
    assert_eq!(
        report.passed_ids().len(),
        brain_ws_conformance::catalogue().len() - 2
    );
    // Far below the one-minute budget even on a loaded machine.
    assert!(took < Duration::from_secs(60), "the suite took {took:?}");
    server.shutdown().await;
}
