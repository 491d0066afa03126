//! History and recovery on the in-memory broker: `subscribe` with `since`
//! replays exactly what was missed, in order, then continues live.

use brain_ws_protocol::{ChannelName, EventType};
use serde_json::{Value, json};

use crate::support::*;

async fn publish(server: &brain_ws_server::Server, n: i64) {
    let channel = ChannelName::new("missions").expect("valid");
    let kind = EventType::new("mission_update").expect("valid");
    server
        .node()
        .publish(&channel, &kind, json!({"n": n}))
        .await
        .expect("published");
}

#[tokio::test]
async fn a_reconnecting_client_recovers_exactly_the_missed_events() {
    let server = start(|_| {}).await;
    let mut first = Client::subscribed(&server, &[]).await;
    let subscribed = first.subscribe("missions").await;
    let epoch = subscribed["epoch"].as_str().expect("epoch").to_owned();
    publish(&server, 1).await;
    let seen = first.recv().await;
    assert_eq!(seen["offset"], 1);
    first.close().await;

    for n in 2..=4 {
        publish(&server, n).await;
    }
    let (mut again, _) = Client::connect(&server).await;
    again
        .send_json(json!({"type": "subscribe", "channel": "missions", "since": {"epoch": epoch, "offset": 1}}))
        .await;
    let reply = again.recv().await;
    assert_eq!(reply["type"], "subscribed");
    assert_eq!(reply["recovered"], true);
    assert_eq!(reply["offset"], 4);
    let replayed: Vec<Value> = vec![again.recv().await, again.recv().await, again.recv().await];
    let got: Vec<(Value, Value)> = replayed
        .iter()
        .map(|e| (e["offset"].clone(), e["data"]["n"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (json!(2), json!(2)),
            (json!(3), json!(3)),
            (json!(4), json!(4))
        ]
    );
    // Then live, with no duplicate.
    publish(&server, 5).await;
    let live = again.recv().await;
    assert_eq!(
        (live["offset"].clone(), live["data"]["n"].clone()),
        (json!(5), json!(5))
    );
    assert_eq!(again.roundtrip().await, Vec::<Value>::new());
}

#[tokio::test]
async fn recovery_reports_loss_when_history_cannot_cover_the_gap() {
    let server = start(|c| c.history_size = 3).await;
    let (mut client, _) = Client::connect(&server).await;
    let epoch = client.subscribe("missions").await["epoch"]
        .as_str()
        .expect("epoch")
        .to_owned();
    client.close().await;
    for n in 1..=5 {
        publish(&server, n).await;
    }
    let (mut again, _) = Client::connect(&server).await;
    // Offsets 3..=5 are kept; the client last saw 0, so 1 and 2 are gone.
    again
        .send_json(json!({"type": "subscribe", "channel": "missions", "since": {"epoch": epoch, "offset": 0}}))
        .await;
    let reply = again.recv().await;
    assert_eq!(
        (reply["recovered"].clone(), reply["offset"].clone()),
        (json!(false), json!(5))
    );
    assert_eq!(again.roundtrip().await, Vec::<Value>::new());

    // A different epoch (another incarnation of the history) is a loss too.
    again
        .send_json(json!({"type": "subscribe", "channel": "missions", "since": {"epoch": "other", "offset": 4}}))
        .await;
    assert_eq!(again.recv().await["recovered"], false);
    // And a channel without history cannot recover at all.
    again
        .send_json(
            json!({"type": "subscribe", "channel": "builds", "since": {"epoch": "e", "offset": 1}}),
        )
        .await;
    let reply = again.recv().await;
    assert_eq!(
        (reply["recovered"].clone(), reply.get("epoch")),
        (json!(false), None)
    );
}
