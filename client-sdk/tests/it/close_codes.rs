//! Close codes and refused upgrades: which end the client, which make it
//! reconnect (the protocol's `should_reconnect`), against stub servers.

use std::time::Duration;

use brain_ws_client::{
    Client, ConnectErrorKind, ConnectionEvent, ConnectionState, SubscribeErrorKind,
};
use brain_ws_protocol::{CloseCode, ErrorCode};

use crate::support::{Stub, StubConn, fast_backoff, next_event, reject, within};

#[tokio::test]
async fn terminal_close_code_stops_the_client_and_surfaces_the_error() {
    let stub = Stub::start(|_, tcp| async move {
        let mut conn = StubConn::accept(tcp).await;
        conn.welcome(30.0).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        conn.close(4500, "token revoked").await;
    })
    .await;
    let client = Client::builder(stub.url())
        .backoff(fast_backoff())
        .connect()
        .await
        .expect("connects");
    let mut events = client.connection_events();

    let event = next_event(&mut events).await;
    let ConnectionEvent::Closed { error: Some(error) } = event else {
        panic!("expected Closed with an error, got {event:?}");
    };
    assert_eq!(error.kind(), ConnectErrorKind::TerminalClose);
    assert_eq!(error.close_code(), Some(CloseCode::UNAUTHORIZED));
    assert!(error.message().contains("token revoked"), "{error}");

    let closed = within("closed()", client.closed()).await.expect("an error");
    assert_eq!(closed.close_code(), Some(CloseCode(4500)));
    assert_eq!(*client.state().borrow(), ConnectionState::Closed);

    // Many backoff periods (20-200 ms) later, still a single connection.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(stub.accepted(), 1);
    let err = client.subscribe("missions").await.expect_err("closed");
    assert_eq!(err.kind(), SubscribeErrorKind::Closed);
}

#[tokio::test]
async fn reconnect_class_close_codes_reconnect() {
    for code in [1001u16, 4000, 4001, 4002] {
        let stub = Stub::start(move |i, tcp| async move {
            let mut conn = StubConn::accept(tcp).await;
            conn.welcome(30.0).await;
            if i == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                conn.close(code, "bye").await;
            } else {
                conn.hold().await;
            }
        })
        .await;
        let client = Client::builder(stub.url())
            .backoff(fast_backoff())
            .connect()
            .await
            .expect("connects");
        let first = client.connection_id().expect("connected");
        let mut events = client.connection_events();

        let event = next_event(&mut events).await;
        assert!(
            matches!(&event, ConnectionEvent::Disconnected { code: Some(c), reason } if *c == CloseCode(code) && reason == "bye"),
            "{code}: {event:?}"
        );
        let event = next_event(&mut events).await;
        assert!(
            matches!(event, ConnectionEvent::Reconnecting { attempt: 1, delay } if delay <= Duration::from_millis(20)),
            "{code}: {event:?}"
        );
        assert!(matches!(
            next_event(&mut events).await,
            ConnectionEvent::Connecting
        ));
        let event = next_event(&mut events).await;
        let ConnectionEvent::Connected { connection_id, .. } = event else {
            panic!("{code}: expected Connected, got {event:?}");
        };
        assert_ne!(connection_id, first);
        assert_eq!(client.connection_id(), Some(connection_id));
        assert_eq!(stub.accepted(), 2, "{code}");
    }
}

#[tokio::test]
async fn refused_upgrades_fail_connect_with_typed_errors() {
    for (status, code, kind) in [
        (401, ErrorCode::UNAUTHORIZED, ConnectErrorKind::Unauthorized),
        (403, ErrorCode::FORBIDDEN, ConnectErrorKind::Forbidden),
        (503, ErrorCode::CONNECTION_LIMIT, ConnectErrorKind::Rejected),
    ] {
        let wire = code.as_str().to_owned();
        let stub = Stub::start(move |_, tcp| {
            let wire = wire.clone();
            async move { reject(tcp, status, &wire).await }
        })
        .await;
        let err = Client::builder(stub.url())
            .connect()
            .await
            .expect_err("refused");
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.code(), Some(&code));
    }
}

#[tokio::test]
async fn unauthorized_upgrade_during_reconnect_stops_the_loop() {
    // Connection 0 is welcomed then closed with 1001; every later attempt
    // is refused with 401 (the token expired meanwhile).
    let stub = Stub::start(|i, tcp| async move {
        if i == 0 {
            let mut conn = StubConn::accept(tcp).await;
            conn.welcome(30.0).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            conn.close(1001, "restart").await;
        } else {
            reject(tcp, 401, "unauthorized").await;
        }
    })
    .await;
    let client = Client::builder(stub.url())
        .backoff(fast_backoff())
        .connect()
        .await
        .expect("connects");
    let error = within("closed()", client.closed()).await.expect("an error");
    assert_eq!(error.kind(), ConnectErrorKind::Unauthorized);
    assert_eq!(error.status(), Some(401));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(stub.accepted(), 2, "no attempt after the 401");
}

#[tokio::test]
async fn connection_refused_fails_connect_but_retry_initial_connect_waits_for_the_server() {
    // Reserve a free port, then free it.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let url = format!("ws://{addr}");
    let err = Client::builder(url.clone())
        .connect()
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind(), ConnectErrorKind::Io);

    let client = Client::builder(url)
        .backoff(fast_backoff())
        .retry_initial_connect()
        .connect()
        .await
        .expect("returns at once");
    let mut state = client.state();
    within(
        "a failed attempt",
        state.wait_for(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await
    .expect("task alive");

    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut conn = StubConn::accept(tcp).await;
        conn.welcome(30.0).await;
        conn.hold().await;
    });
    within(
        "connected",
        state.wait_for(|s| matches!(s, ConnectionState::Connected { .. })),
    )
    .await
    .expect("task alive");
    server.abort();
}

#[tokio::test]
async fn close_sends_1000_and_stops() {
    let (codes_tx, mut codes) = tokio::sync::mpsc::unbounded_channel();
    let stub = Stub::start(move |_, tcp| {
        let codes_tx = codes_tx.clone();
        async move {
            let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
            use futures_util::{SinkExt, StreamExt};
            let welcome = serde_json::json!({"type": "connected", "connection_id": uuid::Uuid::new_v4(),
                "timestamp": 1.0, "heartbeat_interval": 30.0, "protocol": "brain.v1"});
            ws.send(tokio_tungstenite::tungstenite::Message::text(welcome.to_string()))
                .await
                .expect("welcome");
            while let Some(Ok(frame)) = ws.next().await {
                if let tokio_tungstenite::tungstenite::Message::Close(frame) = frame {
                    let _ = codes_tx.send(frame.map(|f| u16::from(f.code)));
                }
            }
        }
    })
    .await;
    let client = Client::builder(stub.url())
        .connect()
        .await
        .expect("connects");
    let other_handle = client.clone();
    within("close()", client.close()).await;
    assert_eq!(within("close frame", codes.recv()).await, Some(Some(1000)));
    assert_eq!(*other_handle.state().borrow(), ConnectionState::Closed);
    assert!(
        other_handle.closed().await.is_none(),
        "closing on request is not an error"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stub.accepted(), 1);
}

/// The server's answers to protocol errors (1002, 1007: issue 14 item 9)
/// stop the client: the same frames would fail the same way.
#[tokio::test]
async fn protocol_error_close_codes_stop_the_client() {
    for code in [1002u16, 1007] {
        let stub = Stub::start(move |_, tcp| async move {
            let mut conn = StubConn::accept(tcp).await;
            conn.welcome(30.0).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            conn.close(code, "protocol_error").await;
        })
        .await;
        let client = Client::builder(stub.url())
            .backoff(fast_backoff())
            .connect()
            .await
            .expect("connects");
        let closed = within("closed()", client.closed()).await.expect("an error");
        assert_eq!(closed.kind(), ConnectErrorKind::TerminalClose, "{code}");
        assert_eq!(closed.close_code(), Some(CloseCode(code)));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(stub.accepted(), 1, "no reconnect after {code}");
    }
}
