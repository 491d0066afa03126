//! A broker configuration that can never work fails at start with a clear
//! message (issue 14, item 11); an unreachable Redis does not: it is
//! retried in the background (`/ready` 503 meanwhile). Against a private
//! `redis-server` with a password, and our own HTTP port as a non-Redis peer.

use brain_ws_server::{BrokerConfig, Config, Server};

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

/// Redis failures reach callers as `BrokerFailure` variants they can match:
/// refused credentials are `Auth`, a DB index out of range `Database`
/// (both permanent), nothing listening is `Unreachable` (an outage), and
/// a publication meanwhile fails with `BrokerError::Unavailable` carrying
/// the same cause (the HTTP API's 503 message is its text).
#[tokio::test]
async fn redis_failures_are_typed_for_callers() {
    use brain_ws_protocol::{ChannelName, EventType};
    use brain_ws_server::{BrokerError, BrokerFailure, Node};

    let redis =
        PrivateRedis::start_with_args(free_port().await, &["--requirepass", "s3cret"]).await;
    let node_on = |url: String| {
        Node::start(Config {
            broker: BrokerConfig::Redis(url),
            redis_prefix: format!("brain-ws-it-fail-{}", uuid::Uuid::new_v4().simple()),
            ..Config::default()
        })
        .expect("a node starts while its broker is down")
    };
    let wrong = node_on(format!("redis://:wrong@127.0.0.1:{}/0", redis.port));
    let database = node_on(format!("redis://:s3cret@127.0.0.1:{}/99", redis.port));
    let nowhere = node_on(format!("redis://127.0.0.1:{}/0", free_port().await));
    let tried = |node: &Node| {
        !matches!(
            node.broker_unavailable(),
            None | Some(BrokerFailure::Connecting)
        )
    };
    eventually("the nodes tried to connect", async || {
        tried(&wrong) && tried(&database) && tried(&nowhere)
    })
    .await;
    let auth = wrong.broker_unavailable().expect("down");
    assert!(
        matches!(
            auth,
            BrokerFailure::Auth {
                what: "connecting",
                ..
            }
        ),
        "{auth:?}"
    );
    assert!(auth.is_permanent());
    let db = database.broker_unavailable().expect("down");
    assert!(
        matches!(
            db,
            BrokerFailure::Database {
                what: "connecting",
                ..
            }
        ),
        "{db:?}"
    );
    assert!(db.to_string().contains("DB index is out of range"), "{db}");
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
    let err = wrong
        .publish(&channel, &kind, serde_json::json!({}))
        .await
        .expect_err("nothing is published while Redis refuses us");
    let BrokerError::Unavailable(cause) = &err;
    assert!(matches!(cause, BrokerFailure::Auth { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("broker unavailable: {auth}"));
    wrong.shutdown().await;
    database.shutdown().await;
    nowhere.shutdown().await;
    redis.kill().await;
}
