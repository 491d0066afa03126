//! A broker configuration that can never work fails at start with a clear
//! message (issue 14, item 11); an unreachable Redis does not: it is
//! retried in the background (`/ready` 503 meanwhile). Against a private
//! `redis-server` with a password, and our own HTTP port as a non-Redis peer.

use brain_ws_server::{BrokerConfig, Config, Server};
use serde_json::Value;

use crate::multinode::{PrivateRedis, free_port};
use crate::support::*;

async fn start_with(url: String) -> Result<Server, String> {
    let config = Config {
        bind: "127.0.0.1:0".parse().expect("addr"),
        broker: BrokerConfig::Redis(url),
        redis_prefix: format!("brain-ws-it-cfg-{}", uuid::Uuid::new_v4().simple()),
        ..Config::default()
    };
    Server::start(config).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn permanent_redis_errors_fail_at_start_and_unreachable_redis_is_retried() {
    let redis =
        PrivateRedis::start_with_args(free_port().await, &["--requirepass", "s3cret"]).await;
    let port = redis.port;

    let err = start_with(format!("redis://:s3cret@127.0.0.1:{port}/99"))
        .await
        .err()
        .expect("DB 99 is refused at start");
    assert_eq!(
        err,
        format!(
            "the broker at redis://:***@127.0.0.1:{port}/99 refuses this configuration: \
             Redis server refused to switch database - Server(ResponseError): DB index is out of \
             range (the /N at the end of the URL must be below the server's `databases`, 16 by \
             default)"
        )
    );

    let err = start_with(format!("redis://:wrong@127.0.0.1:{port}/0"))
        .await
        .err()
        .expect("a wrong password is refused at start");
    assert!(
        err.starts_with(&format!(
            "the broker at redis://:***@127.0.0.1:{port}/0 refuses this configuration: "
        )),
        "{err}"
    );
    assert!(
        err.ends_with(
            "(check the user and password in the URL: redis://user:password@host:port/db)"
        ),
        "{err}"
    );
    assert!(!err.contains("wrong"), "the password never appears: {err}");

    // A peer that is not Redis: our own HTTP port.
    let http = start(|_| {}).await;
    let err = start_with(format!("redis://{}/0", http.local_addr()))
        .await
        .err()
        .expect("a non-Redis peer is refused at start");
    assert!(
        err.starts_with(&format!("the broker at redis://{}/0 ", http.local_addr())),
        "{err}"
    );
    assert!(
        err.ends_with("(the peer does not speak the Redis protocol: check the host and port)"),
        "{err}"
    );

    // The right password works.
    let good = start_with(format!("redis://:s3cret@127.0.0.1:{port}/1"))
        .await
        .expect("starts");
    good.shutdown().await;

    // Nothing listening: the server starts and reports not ready.
    let nowhere = free_port().await;
    let server = start_with(format!("redis://127.0.0.1:{nowhere}/0"))
        .await
        .expect("an outage is retried, not fatal");
    let (status, _) = get(&server, "/ready").await;
    assert_eq!(status, 503);
    server.shutdown().await;
    redis.kill().await;
}

#[tokio::test]
async fn the_library_path_probes_the_broker_too() {
    let redis =
        PrivateRedis::start_with_args(free_port().await, &["--requirepass", "s3cret"]).await;
    let port = redis.port;
    let config = Config {
        broker: BrokerConfig::Redis(format!("redis://:s3cret@127.0.0.1:{port}/99")),
        redis_prefix: format!("brain-ws-it-cfg-{}", uuid::Uuid::new_v4().simple()),
        ..Config::default()
    };
    match brain_ws_server::Node::start(config).await {
        Err(err @ brain_ws_server::StartError::Broker { .. }) => assert_eq!(
            err.to_string(),
            format!(
                "the broker at redis://:***@127.0.0.1:{port}/99 refuses this configuration: \
                 Redis server refused to switch database - Server(ResponseError): DB index is \
                 out of range (the /N at the end of the URL must be below the server's \
                 `databases`, 16 by default)"
            )
        ),
        Err(other) => panic!("expected StartError::Broker, got {other:?}"),
        Ok(_) => panic!("Node::start accepted a DB index Redis refuses"),
    }
    redis.kill().await;
}

/// The `cause` label set to 1 in `brain_ws_broker_down`, or `None`.
async fn down_cause(addr: std::net::SocketAddr) -> Option<String> {
    let text = crate::multinode::metrics_text(addr).await;
    let ones: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("brain_ws_broker_down{cause=\""))
        .filter_map(|l| l.strip_suffix("\"} 1"))
        .map(str::to_owned)
        .collect();
    assert!(ones.len() <= 1, "{ones:?}");
    assert_eq!(
        text.matches("brain_ws_broker_down{").count(),
        5,
        "every cause is exported: {text}"
    );
    ones.into_iter().next()
}

/// Redis restarted with a password after the node started: the node keeps
/// retrying (an operator may fix it) but says so out loud and once: one
/// error line naming the cause, `/ready` 503 with the reason,
/// `brain_ws_broker_down{cause="auth"} 1`, publishing 503; when the
/// password is removed again the node comes back by itself.
#[tokio::test]
async fn redis_restarted_with_a_password_is_reported_as_permanent_and_retried() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let port = free_port().await;
    let redis = PrivateRedis::start(port).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_brain-ws-server"))
        .args(["--bind", "127.0.0.1:0", "--log-format", "text"])
        .args(["--broker", &format!("redis://127.0.0.1:{port}/0")])
        .args([
            "--redis-prefix",
            &format!("brain-ws-it-pw-{}", uuid::Uuid::new_v4().simple()),
        ])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary starts");
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    for pipe in [
        Box::new(child.stdout.take().expect("stdout"))
            as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let log = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.lock().unwrap().push(line);
            }
        });
    }
    let lines = |needle: &'static str| {
        let log = log.clone();
        move || {
            log.lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains(needle))
                .count()
        }
    };
    let listening = lines("listening on ");
    crate::multinode::eventually("the server listens", || async { listening() == 1 }).await;
    let addr: std::net::SocketAddr = {
        let log = log.lock().unwrap();
        let line = log.iter().find(|l| l.contains("listening on ")).unwrap();
        let rest = line.split("listening on ").nth(1).unwrap();
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    crate::multinode::wait_ready(addr, 200).await;
    assert_eq!(down_cause(addr).await, None);

    // Redis comes back with a password the node does not have.
    redis.kill().await;
    let redis = PrivateRedis::start_with_args(port, &["--requirepass", "s3cret"]).await;
    let http = reqwest::Client::new();
    crate::multinode::eventually("the node reports the auth cause", || async {
        down_cause(addr).await.as_deref() == Some("auth")
    })
    .await;
    let ready: Value = http
        .get(format!("http://{addr}/ready"))
        .send()
        .await
        .expect("GET /ready")
        .json()
        .await
        .expect("JSON");
    let reason = ready["checks"]["broker"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.starts_with("redis: unavailable (auth: ")
            && reason.contains("NOAUTH")
            && reason.ends_with(')'),
        "{reason}"
    );
    let publish = http
        .post(format!("http://{addr}/api/ws/broadcast"))
        .json(&serde_json::json!({"channel": "plain", "message": {}}))
        .send()
        .await
        .expect("POST");
    assert_eq!(publish.status().as_u16(), 503);
    // About fifteen retries later (200 ms apart), still one error line.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let refusals = lines("redis refuses this node's configuration");
    assert_eq!(refusals(), 1, "{:#?}", log.lock().unwrap());
    assert_eq!(down_cause(addr).await.as_deref(), Some("auth"));

    // The operator removes the password: the node comes back by itself.
    let admin = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{port}/0")).unwrap();
    let mut conn = admin.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("")
        .query_async(&mut conn)
        .await
        .unwrap();
    crate::multinode::wait_ready(addr, 200).await;
    assert_eq!(down_cause(addr).await, None);
    assert_eq!(refusals(), 1);
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    redis.kill().await;
}

/// Redis failures reach callers as `BrokerFailure` variants they can match:
/// at start, refused credentials are `StartError::Broker` with `Auth`, a DB
/// index out of range with `Database` (both permanent); after start, nothing
/// listening is `Unreachable` (an outage), and a publication meanwhile fails
/// with `BrokerError::Unavailable` carrying the cause (the HTTP API's 503
/// message is its text).
#[tokio::test]
async fn redis_failures_are_typed_for_callers() {
    use brain_ws_protocol::{ChannelName, EventType};
    use brain_ws_server::{BrokerError, BrokerFailure, Node};

    let redis =
        PrivateRedis::start_with_args(free_port().await, &["--requirepass", "s3cret"]).await;
    let config_for = |url: String| Config {
        broker: BrokerConfig::Redis(url),
        redis_prefix: format!("brain-ws-it-fail-{}", uuid::Uuid::new_v4().simple()),
        ..Config::default()
    };
    // A refusal of the configuration stops the start, typed.
    let refused_at_start = async |url: String| match Node::start(config_for(url)).await {
        Err(brain_ws_server::StartError::Broker { failure, .. }) => failure,
        Err(other) => panic!("expected StartError::Broker, got {other:?}"),
        Ok(_) => panic!("Node::start accepted a configuration Redis refuses"),
    };
    let start_auth = refused_at_start(format!("redis://:wrong@127.0.0.1:{}/0", redis.port)).await;
    assert!(
        matches!(
            start_auth,
            BrokerFailure::Auth {
                what: "probing",
                ..
            }
        ),
        "{start_auth:?}"
    );
    let start_db = refused_at_start(format!("redis://:s3cret@127.0.0.1:{}/99", redis.port)).await;
    assert!(
        matches!(
            start_db,
            BrokerFailure::Database {
                what: "probing",
                ..
            }
        ),
        "{start_db:?}"
    );
    // After start, an outage is typed too;
    // `redis_restarted_with_a_password_is_reported_as_permanent_and_retried`
    // covers a permanent refusal under a running node.
    let nowhere = Node::start(config_for(format!(
        "redis://127.0.0.1:{}/0",
        free_port().await
    )))
    .await
    .expect("a node starts while its broker is unreachable");
    eventually("the node tried to connect", async || {
        !matches!(
            nowhere.broker_unavailable(),
            None | Some(BrokerFailure::Connecting)
        )
    })
    .await;
    let refused = nowhere.broker_unavailable().expect("down");
    assert!(!refused.is_permanent());
    assert!(
        matches!(
            refused,
            BrokerFailure::Unreachable {
                what: "connecting",
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(refused.to_string().starts_with("connecting: "), "{refused}");
    let channel = ChannelName::new("builds").expect("channel");
    let kind = EventType::new("build_done").expect("event type");
    let err = nowhere
        .publish(&channel, &kind, serde_json::json!({}))
        .await
        .expect_err("nothing is published while Redis is unreachable");
    let BrokerError::Unavailable(cause) = &err;
    assert!(!cause.is_permanent(), "{err:?}");
    assert_eq!(err.to_string(), format!("broker unavailable: {cause}"));
    nowhere.shutdown().await;
    redis.kill().await;
}
