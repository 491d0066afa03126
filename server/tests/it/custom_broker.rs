//! An application's own broker plugged into a node through the public
//! `Broker` trait (`Node::start_with_broker`): a wrapper around the
//! in-memory broker that records every call. Real WebSocket clients and
//! HTTP requests go through it, and what it saw is asserted exactly.

use std::sync::{Arc, Mutex};

use brain_ws_protocol::{ChannelName, EventType};
use brain_ws_server::broker::{
    Broker, BrokerHealth, Hub, Interest, Interests, Joined, MemoryBroker, Page, Position,
    Publication, Replay, Start, Target,
};
use brain_ws_server::{BrokerError, BrokerFailure, Config, Node, Published};
use futures_util::SinkExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Ws, eventually, next_json, serve};

/// One call the node made on the broker.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    /// `publish`: the target and event type.
    Publish(Target, String),
    /// `subscribe`: the channel and `since`'s offset.
    Subscribe(String, Option<u64>),
    Shutdown,
}

/// The in-memory broker, recording each call before passing it on.
struct Recording {
    inner: MemoryBroker,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Recording {
    fn record(&self, call: Call) {
        self.calls.lock().expect("calls").push(call);
    }
}

impl Broker for Recording {
    fn publish(&self, p: Publication) -> BoxFuture<'_, Result<Published, BrokerError>> {
        self.record(Call::Publish(p.target.clone(), p.event_type.to_string()));
        self.inner.publish(p)
    }

    fn subscribe<'a>(
        &'a self,
        channel: &'a ChannelName,
        replay: Option<&'a Replay>,
    ) -> BoxFuture<'a, Joined> {
        let since = match replay {
            Some(Replay::Since(since)) => Some(since.offset),
            _ => None,
        };
        self.record(Call::Subscribe(channel.to_string(), since));
        self.inner.subscribe(channel, replay)
    }

    fn history<'a>(
        &'a self,
        channel: &'a ChannelName,
        start: Start<'a>,
        limit: usize,
    ) -> BoxFuture<'a, Result<(Position, Page), BrokerError>> {
        self.inner.history(channel, start, limit)
    }

    fn kind(&self) -> &'static str {
        "recording"
    }

    fn maintain(&self) {
        self.inner.maintain();
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.record(Call::Shutdown);
        self.inner.shutdown()
    }
}

async fn send_json(ws: &mut Ws, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .expect("send");
}

fn without_timestamp(mut v: Value) -> Value {
    v.as_object_mut().map(|o| o.remove("timestamp"));
    v
}

/// A node on the recording broker; the hub's interest messages are
/// recorded into `interest` as `+channel` and `-channel`.
fn start_recording(calls: &Arc<Mutex<Vec<Call>>>, interest: &Arc<Mutex<Vec<String>>>) -> Node {
    let calls = calls.clone();
    let interest = interest.clone();
    Node::start_with_broker(
        Config::default(),
        move |hub: Arc<Hub>, mut interests: Interests| {
            tokio::spawn(async move {
                while let Some(message) = interests.recv().await {
                    let entry = match message {
                        Interest::Join(channel) => format!("+{channel}"),
                        Interest::Leave(channel) => format!("-{channel}"),
                        other => format!("{other:?}"),
                    };
                    interest.lock().expect("interest").push(entry);
                }
            });
            Recording {
                inner: MemoryBroker::new(hub),
                calls,
            }
        },
    )
    .expect("node starts")
}

#[tokio::test]
async fn a_custom_broker_carries_every_subscription_and_publication() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let interest = Arc::new(Mutex::new(Vec::new()));
    let node = start_recording(&calls, &interest);
    let system = ChannelName::new("system").expect("channel");
    let missions = ChannelName::new("missions").expect("channel");
    // The node announced itself through the broker.
    assert_eq!(
        *calls.lock().expect("calls"),
        vec![Call::Publish(
            Target::Channel(system.clone()),
            "system_startup".into()
        )]
    );
    let addr = serve(brain_ws_server::router(&node), true).await;
    let info: Value = reqwest::get(format!("http://{addr}/api/ws/info"))
        .await
        .expect("info")
        .json()
        .await
        .expect("json");
    assert_eq!(info["broker"], "recording");
    let ready = reqwest::get(format!("http://{addr}/ready"))
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["checks"]["broker"], "recording");

    // Subscribe over a real WebSocket: the broker answers with the history
    // channel's position (the memory broker's ring).
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/connect"))
        .await
        .expect("websocket connects");
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    send_json(&mut ws, json!({"type": "subscribe", "channel": "missions"})).await;
    let subscribed = next_json(&mut ws).await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    assert_eq!(subscribed["offset"], 0);
    let epoch = subscribed["epoch"].as_str().expect("epoch").to_owned();

    // Publish through the admin API: the broker delivers, with offset 1.
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/ws/broadcast"))
        .json(&json!({"channel": "missions", "type": "mission_update", "message": {"n": 1}}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body,
        json!({"status": "broadcasted", "channel": "missions", "subscribers": 1})
    );
    assert_eq!(
        without_timestamp(next_json(&mut ws).await),
        json!({"type": "mission_update", "channel": "missions", "data": {"n": 1}, "offset": 1})
    );

    // A second client recovers from offset 0 through the broker's history.
    let (mut late, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/connect"))
        .await
        .expect("websocket connects");
    assert_eq!(next_json(&mut late).await["type"], "connected");
    send_json(
        &mut late,
        json!({"type": "subscribe", "channel": "missions", "since": {"epoch": epoch, "offset": 0}}),
    )
    .await;
    let answer = next_json(&mut late).await;
    assert_eq!(
        (&answer["type"], &answer["offset"], &answer["recovered"]),
        (&json!("subscribed"), &json!(1), &json!(true)),
        "{answer}"
    );
    assert_eq!(
        without_timestamp(next_json(&mut late).await),
        json!({"type": "mission_update", "channel": "missions", "data": {"n": 1}, "offset": 1})
    );

    // An idempotent retry through the node is answered by the wrapped
    // broker as a duplicate and delivered once.
    let kind = EventType::new("mission_update").expect("event type");
    let first = node
        .publish_idempotent(&missions, &kind, json!({"n": 2}), "k-2")
        .await
        .expect("published");
    let again = node
        .publish_idempotent(&missions, &kind, json!({"n": 2}), "k-2")
        .await
        .expect("answered");
    assert_eq!(first, Published::Local { recipients: 2 });
    assert_eq!(again, Published::Duplicate);
    assert_eq!(next_json(&mut ws).await["offset"], 2);
    send_json(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(
        next_json(&mut ws).await["type"],
        "pong",
        "one delivery only"
    );

    // The hub told the broker when `missions` gained its first local
    // subscriber and when it lost its last.
    assert_eq!(*interest.lock().expect("interest"), vec!["+missions"]);
    send_json(
        &mut ws,
        json!({"type": "unsubscribe", "channel": "missions"}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["type"], "unsubscribed");
    assert_eq!(
        next_json(&mut late).await["offset"],
        2,
        "the late client has it too"
    );
    send_json(
        &mut late,
        json!({"type": "unsubscribe", "channel": "missions"}),
    )
    .await;
    assert_eq!(next_json(&mut late).await["type"], "unsubscribed");
    eventually("the broker hears the channel is left", async || {
        interest.lock().expect("interest").len() == 2
    })
    .await;
    assert_eq!(
        *interest.lock().expect("interest"),
        vec!["+missions", "-missions"]
    );

    node.shutdown().await;
    let update = || Call::Publish(Target::Channel(missions.clone()), "mission_update".into());
    assert_eq!(
        *calls.lock().expect("calls"),
        vec![
            Call::Publish(Target::Channel(system), "system_startup".into()),
            Call::Subscribe("missions".into(), None),
            update(),
            Call::Subscribe("missions".into(), Some(0)),
            update(),
            update(),
            Call::Shutdown,
        ]
    );
}

/// A broker that is down: every publication fails and nothing is delivered.
struct Down;

impl Broker for Down {
    fn publish(&self, _: Publication) -> BoxFuture<'_, Result<Published, BrokerError>> {
        let cause = BrokerFailure::Timeout { what: "publish" };
        Box::pin(std::future::ready(Err(BrokerError::Unavailable(cause))))
    }

    fn subscribe<'a>(
        &'a self,
        _: &'a ChannelName,
        replay: Option<&'a Replay>,
    ) -> BoxFuture<'a, Joined> {
        Box::pin(std::future::ready(Joined::without_history(replay)))
    }

    fn kind(&self) -> &'static str {
        "down"
    }

    fn is_cluster(&self) -> bool {
        true
    }

    fn health(&self) -> BrokerHealth {
        BrokerHealth::Down(BrokerFailure::NotConnected)
    }
}

/// A custom broker's failures are answered like Redis's: 503 `unavailable`
/// with its message on publish, 503 on `/ready` with its reason.
#[tokio::test]
async fn a_custom_broker_that_is_down_is_answered_503() {
    let node = Node::start_with_broker(Config::default(), |_, _| Down).expect("node starts");
    let addr = serve(brain_ws_server::router(&node), true).await;
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/ws/broadcast"))
        .json(&json!({"channel": "missions", "type": "mission_update", "message": {}}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(
        body["error"]["message"],
        "broker unavailable: publish: timed out"
    );
    let ready = reqwest::get(format!("http://{addr}/ready"))
        .await
        .expect("ready");
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(
        ready["checks"]["broker"],
        "down: unavailable (not connected)"
    );
    node.shutdown().await;
}

/// A broker that implements only the required methods keeps no presence:
/// the presence reads answer 503 `unavailable` naming why (the trait's
/// defaults).
#[tokio::test]
async fn a_custom_broker_without_presence_answers_presence_reads_503() {
    let config = Config {
        presence_channels: vec!["agents".parse().expect("pattern")],
        ..Config::default()
    };
    let node = Node::start_with_broker(config, |_, _| Down).expect("node starts");
    let addr = serve(brain_ws_server::router(&node), true).await;
    for path in ["presence", "presence/stats"] {
        let r = reqwest::get(format!("http://{addr}/api/ws/channels/agents/{path}"))
            .await
            .expect("get");
        assert_eq!(r.status(), 503, "{path}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(
            (&body["error"]["code"], &body["error"]["message"]),
            (
                &json!("unavailable"),
                &json!(
                    "broker unavailable: protocol: reading presence: this broker keeps no presence"
                )
            ),
            "{path}"
        );
    }
    node.shutdown().await;
}
