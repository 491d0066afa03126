//! Security rules (docs/security.md), each proved with real connections:
//! JWT authentication and its refusals, the three token carriers, auth
//! modes, channel authorization, the admin API guard, origins, connection
//! and rate limits, token expiry, the handshake timeout, a property test of
//! the JWT verifier, and a noisy-neighbour run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brain_ws_server::{
    AuthMode, ChannelRole, Config, JwtAuthenticator, JwtError, RateLimit, Server,
};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::cli::Settings;
use crate::support::*;

pub(crate) const SECRET: &[u8] = b"test-secret-0123456789-abcdefghijklmnop";
const RSA_PRIVATE: &[u8] = include_bytes!("keys/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("keys/rsa_public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("keys/ec_private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("keys/ec_public.pem");
const OTHER_RSA_PRIVATE: &[u8] = include_bytes!("keys/other_rsa_private.pem");

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Claims for `sub` expiring `ttl` seconds from now (negative: in the past).
pub(crate) fn claims(sub: &str, ttl: i64) -> Value {
    json!({"sub": sub, "exp": now() as i64 + ttl})
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).expect("signs")
}

pub(crate) fn hs(claims: &Value) -> String {
    sign(Algorithm::HS256, &EncodingKey::from_secret(SECRET), claims)
}

fn rs(private_pem: &[u8], claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(private_pem).expect("rsa key");
    sign(Algorithm::RS256, &key, claims)
}

fn es(claims: &Value) -> String {
    let key = EncodingKey::from_ec_pem(EC_PRIVATE).expect("ec key");
    sign(Algorithm::ES256, &key, claims)
}

fn b64url(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// An unsigned token (`alg: none`), as an attacker would forge it.
fn alg_none(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(claims.to_string().as_bytes())
    )
}

pub(crate) fn hs_auth() -> Arc<JwtAuthenticator> {
    Arc::new(
        JwtAuthenticator::hs256(SECRET)
            .expect("secret long enough")
            .with_leeway(Duration::ZERO),
    )
}

async fn start_hs(configure: impl FnOnce(&mut Config)) -> Server {
    start(|c| {
        c.authenticator = Some(hs_auth());
        configure(c);
    })
    .await
}

/// A WebSocket upgrade request sent with reqwest, so refusals can be read
/// as plain HTTP: the status and the JSON body.
async fn upgrade(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .get(http_url(server, path))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("upgrade request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Asserts a refusal before the upgrade: status and JSON error code.
async fn refused(server: &Server, path: &str, headers: &[(&str, &str)], status: u16, code: &str) {
    let (got, body) = upgrade(server, path, headers).await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (status, Some(code)),
        "{path}: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Connects with extra request headers; returns the socket, the response's
/// selected subprotocol, and the welcome.
async fn connect_with(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
) -> (Ws, Option<String>, Value) {
    let mut request = ws_url(server, path).into_client_request().expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    let (mut ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket connects");
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["type"], "connected", "{welcome}");
    (ws, protocol, welcome)
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a frame in time");
        match frame {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).expect("JSON"),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn metric_refused(server: &Server, reason: &str) -> f64 {
    metric(
        server,
        &format!("brain_ws_refused_total{{reason=\"{reason}\"}}"),
    )
    .await
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn a_valid_token_identifies_the_user_in_the_welcome() {
    let server = start_hs(|_| {}).await;
    let token = hs(&claims("alice", 600));
    let (client, welcome) =
        Client::connect_to(&server, &format!("/ws/connect?token={token}")).await;
    assert_eq!(welcome["user_id"], "alice");
    assert_eq!(server.node().user_connection_count("alice"), 1);
    client.close().await;
    // No token: anonymous, no user_id.
    let (_, welcome) = Client::connect(&server).await;
    assert_eq!(welcome.get("user_id"), None);
}

#[tokio::test]
async fn the_token_is_read_from_each_of_the_three_carriers() {
    let server = start_hs(|_| {}).await;
    let (_, _, welcome) = connect_with(
        &server,
        &format!("/ws/connect?token={}", hs(&claims("by-query", 600))),
        &[],
    )
    .await;
    assert_eq!(welcome["user_id"], "by-query");

    let bearer = format!("Bearer {}", hs(&claims("by-header", 600)));
    let (_, _, welcome) = connect_with(&server, "/ws/connect", &[("authorization", &bearer)]).await;
    assert_eq!(welcome["user_id"], "by-header");
    let lower = format!("bearer {}", hs(&claims("by-lowercase-scheme", 600)));
    let (_, _, welcome) = connect_with(&server, "/ws/connect", &[("authorization", &lower)]).await;
    assert_eq!(welcome["user_id"], "by-lowercase-scheme");

    // Browsers: the token rides in Sec-WebSocket-Protocol next to brain.v1,
    // and only brain.v1 is echoed back (never the token).
    let protocols = format!("brain.v1, token.{}", hs(&claims("by-protocol", 600)));
    let (_, selected, welcome) = connect_with(
        &server,
        "/ws/connect",
        &[("sec-websocket-protocol", &protocols)],
    )
    .await;
    assert_eq!(welcome["user_id"], "by-protocol");
    assert_eq!(selected.as_deref(), Some("brain.v1"));

    // A bad token in any carrier is refused, not ignored.
    let forged = format!(
        "Bearer {}",
        sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(b"not-the-secret-not-the-secret-000"),
            &claims("x", 600)
        )
    );
    refused(
        &server,
        "/ws/connect",
        &[("authorization", &forged)],
        401,
        "unauthorized",
    )
    .await;
    refused(
        &server,
        "/ws/connect",
        &[("sec-websocket-protocol", "brain.v1, token.garbage")],
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401_before_the_upgrade() {
    let server = start_hs(|_| {}).await;
    let other_secret = EncodingKey::from_secret(b"another-secret-another-secret-000");
    let cases: Vec<(&str, String)> = vec![
        ("expired", hs(&claims("alice", -120))),
        (
            "forged (wrong secret)",
            sign(Algorithm::HS256, &other_secret, &claims("alice", 600)),
        ),
        ("alg none", alg_none(&claims("alice", 600))),
        (
            "RS256 against an HS256 key",
            rs(RSA_PRIVATE, &claims("alice", 600)),
        ),
        (
            "not yet valid",
            hs(&json!({"sub": "alice", "exp": now() + 600, "nbf": now() + 300})),
        ),
        ("no exp", hs(&json!({"sub": "alice"}))),
        ("no sub", hs(&json!({"exp": now() + 600}))),
        ("empty sub", hs(&json!({"sub": "", "exp": now() + 600}))),
        (
            "bad channels claim",
            hs(&json!({"sub": "a", "exp": now() + 600, "channels": ["bad name"]})),
        ),
        ("malformed", "abc".to_owned()),
        ("three garbage segments", "a.b.c".to_owned()),
        ("oversize", "a".repeat(9000)),
    ];
    for (what, token) in &cases {
        let (status, body) = upgrade(&server, &format!("/ws/connect?token={token}"), &[]).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthorized")),
            "{what}: {body}"
        );
        // The token is never echoed back.
        assert!(
            token.len() < 8 || !body.to_string().contains(token.as_str()),
            "{what}: the answer quotes the token"
        );
    }
    let (_, body) = upgrade(
        &server,
        &format!("/ws/connect?token={}", hs(&claims("alice", -120))),
        &[],
    )
    .await;
    assert_eq!(body["error"]["message"], "the token has expired");
    assert_eq!(
        metric_refused(&server, "unauthorized").await,
        cases.len() as f64 + 1.0
    );
    assert_eq!(server.node().stats().total_connections, 0);
}

#[tokio::test]
async fn asymmetric_keys_pin_their_algorithm() {
    let rsa = start(|c| {
        c.authenticator = Some(Arc::new(
            JwtAuthenticator::from_public_key_pem(RSA_PUBLIC).expect("rsa public key"),
        ));
    })
    .await;
    let (_, welcome) = Client::connect_to(
        &rsa,
        &format!(
            "/ws/connect?token={}",
            rs(RSA_PRIVATE, &claims("rsa-user", 600))
        ),
    )
    .await;
    assert_eq!(welcome["user_id"], "rsa-user");
    // Signed by a key the server does not trust.
    refused(
        &rsa,
        &format!(
            "/ws/connect?token={}",
            rs(OTHER_RSA_PRIVATE, &claims("x", 600))
        ),
        &[],
        401,
        "unauthorized",
    )
    .await;
    // The classic confusion: HS256 "signed" with the server's public key as the secret.
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(RSA_PUBLIC),
        &claims("x", 600),
    );
    let (status, body) = upgrade(&rsa, &format!("/ws/connect?token={confused}"), &[]).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["error"]["message"],
        "invalid token: the token's algorithm does not match the server's key"
    );
    refused(
        &rsa,
        &format!("/ws/connect?token={}", alg_none(&claims("x", 600))),
        &[],
        401,
        "unauthorized",
    )
    .await;

    let ec = start(|c| {
        c.authenticator = Some(Arc::new(
            JwtAuthenticator::from_public_key_pem(EC_PUBLIC).expect("ec public key"),
        ));
    })
    .await;
    let (_, welcome) = Client::connect_to(
        &ec,
        &format!("/ws/connect?token={}", es(&claims("ec-user", 600))),
    )
    .await;
    assert_eq!(welcome["user_id"], "ec-user");
    refused(
        &ec,
        &format!("/ws/connect?token={}", rs(RSA_PRIVATE, &claims("x", 600))),
        &[],
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn issuer_and_audience_are_enforced_when_configured() {
    let server = start(|c| {
        c.authenticator = Some(Arc::new(
            JwtAuthenticator::hs256(SECRET)
                .expect("secret")
                .with_issuers(&["https://issuer.example".to_owned()])
                .with_audiences(&["brain-ws".to_owned()]),
        ));
    })
    .await;
    let good =
        json!({"sub": "a", "exp": now() + 600, "iss": "https://issuer.example", "aud": "brain-ws"});
    let (_, welcome) =
        Client::connect_to(&server, &format!("/ws/connect?token={}", hs(&good))).await;
    assert_eq!(welcome["user_id"], "a");
    for (what, claims) in [
        (
            "wrong issuer",
            json!({"sub": "a", "exp": now() + 600, "iss": "https://evil.example", "aud": "brain-ws"}),
        ),
        (
            "wrong audience",
            json!({"sub": "a", "exp": now() + 600, "iss": "https://issuer.example", "aud": "other"}),
        ),
        (
            "no issuer",
            json!({"sub": "a", "exp": now() + 600, "aud": "brain-ws"}),
        ),
        (
            "no audience",
            json!({"sub": "a", "exp": now() + 600, "iss": "https://issuer.example"}),
        ),
    ] {
        let (status, body) =
            upgrade(&server, &format!("/ws/connect?token={}", hs(&claims)), &[]).await;
        assert_eq!(status, 401, "{what}: {body}");
    }
}

#[tokio::test]
async fn auth_modes_decide_what_a_missing_or_present_token_means() {
    // required: no token, no connection.
    let required = start_hs(|c| c.auth_mode = AuthMode::Required).await;
    refused(&required, "/ws/connect", &[], 401, "unauthorized").await;
    refused(&required, "/ws/channel/missions", &[], 401, "unauthorized").await;
    let (_, welcome) = Client::connect_to(
        &required,
        &format!("/ws/connect?token={}", hs(&claims("bob", 600))),
    )
    .await;
    assert_eq!(welcome["user_id"], "bob");
    let (_, info) = get(&required, "/api/ws/info").await;
    assert_eq!(
        (
            info["auth"].as_str(),
            info["features"]["authentication"].as_bool()
        ),
        (Some("required"), Some(true))
    );

    // none: tokens are ignored, even garbage.
    let none = start_hs(|c| c.auth_mode = AuthMode::None).await;
    let (_, welcome) = Client::connect_to(&none, "/ws/connect?token=garbage").await;
    assert_eq!(welcome.get("user_id"), None);
    let (_, welcome) = Client::connect_to(
        &none,
        &format!("/ws/connect?token={}", hs(&claims("bob", 600))),
    )
    .await;
    assert_eq!(welcome.get("user_id"), None);
    let (_, info) = get(&none, "/api/ws/info").await;
    assert_eq!(
        (
            info["auth"].as_str(),
            info["features"]["authentication"].as_bool()
        ),
        (Some("none"), Some(false))
    );

    // optional (the default) without any key: nothing can be verified, so
    // the server acts, and reports itself, as none: a token is not trusted,
    // it is ignored, and the welcome carries no user_id.
    let keyless = start(|_| {}).await;
    let (_, welcome) = Client::connect(&keyless).await;
    assert_eq!(welcome.get("user_id"), None);
    let (_, welcome) = Client::connect_to(
        &keyless,
        &format!("/ws/connect?token={}", hs(&claims("bob", 600))),
    )
    .await;
    assert_eq!(welcome.get("user_id"), None);
    let (_, info) = get(&keyless, "/api/ws/info").await;
    assert_eq!(
        (
            info["auth"].as_str(),
            info["features"]["authentication"].as_bool()
        ),
        (Some("none"), Some(false))
    );

    // optional with a key.
    let optional = start_hs(|_| {}).await;
    let (_, info) = get(&optional, "/api/ws/info").await;
    assert_eq!(
        (
            info["auth"].as_str(),
            info["features"]["authentication"].as_bool()
        ),
        (Some("optional"), Some(true))
    );

    // required without a key cannot start.
    let err = Server::start(Config {
        bind: "127.0.0.1:0".parse().expect("addr"),
        auth_mode: AuthMode::Required,
        ..Config::default()
    })
    .await
    .err()
    .expect("refused");
    assert!(
        err.to_string()
            .contains("auth mode required needs a JWT key"),
        "{err}"
    );
}

#[tokio::test]
async fn a_connection_is_closed_with_4002_when_its_token_expires() {
    let server = start_hs(|_| {}).await;
    // Expires within 2 s; the leeway is zero in these tests.
    let token = hs(&claims("short", 2));
    let (mut short, _) = Client::connect_to(&server, &format!("/ws/connect?token={token}")).await;
    let (mut long, _) = Client::connect_to(
        &server,
        &format!("/ws/connect?token={}", hs(&claims("long", 600))),
    )
    .await;
    let started = std::time::Instant::now();
    let close = short.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 4002);
    assert_eq!(close.reason.as_str(), "token_expired");
    assert!(started.elapsed() <= PATIENCE);
    // The other user is untouched.
    assert_eq!(long.roundtrip().await, Vec::<Value>::new());
    assert_eq!(
        metric(&server, "brain_ws_token_expired_disconnects_total").await,
        1.0
    );
}

/// Collects everything the server logs on this thread.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_never_appear_in_the_logs() {
    // A current-thread runtime: the server's tasks run on this thread, so a
    // thread-local subscriber at TRACE sees everything the server, axum,
    // hyper and tungstenite log.
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = start_hs(|c| c.api_keys = vec!["admin-key-0123456789abcdef".into()]).await;
    let good = hs(&claims("logged-user", 600));
    let forged = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another-secret-another-secret-000"),
        &claims("x", 600),
    );
    let (client, _) = Client::connect_to(&server, &format!("/ws/connect?token={good}")).await;
    client.close().await;
    let bearer = format!("Bearer {good}");
    let (ws, _, _) = connect_with(&server, "/ws/connect", &[("authorization", &bearer)]).await;
    drop(ws);
    let protocols = format!("brain.v1, token.{good}");
    let (ws, _, _) = connect_with(
        &server,
        "/ws/connect",
        &[("sec-websocket-protocol", &protocols)],
    )
    .await;
    drop(ws);
    refused(
        &server,
        &format!("/ws/connect?token={forged}"),
        &[],
        401,
        "unauthorized",
    )
    .await;
    let (status, _) = upgrade(
        &server,
        "/ws/connect",
        &[("authorization", &format!("Bearer {forged}"))],
    )
    .await;
    assert_eq!(status, 401);
    let admin = reqwest::Client::new()
        .get(http_url(&server, "/api/ws/stats"))
        .bearer_auth("admin-key-0123456789abcdef")
        .send()
        .await
        .expect("GET");
    assert_eq!(admin.status().as_u16(), 200);
    server.shutdown().await;
    let text = String::from_utf8_lossy(&logs.0.lock().expect("log lock")).into_owned();
    assert!(
        text.contains("listening on"),
        "the subscriber captured the server's logs"
    );
    for (what, secret) in [
        ("a valid token", good.as_str()),
        ("a forged token", forged.as_str()),
        (
            "a token's signature",
            good.rsplit('.').next().unwrap_or_default(),
        ),
        ("an API key", "admin-key-0123456789abcdef"),
    ] {
        assert!(!text.contains(secret), "{what} appears in the logs");
    }
    println!(
        "tokens_never_appear_in_the_logs: {} bytes of TRACE logs checked",
        text.len()
    );
}

// ---------------------------------------------------------------- channels

#[tokio::test]
async fn private_channels_refuse_anonymous_subscribe_and_publish_and_the_connection_stays() {
    let server = start_hs(|c| {
        c.private_channels = vec!["audit".parse().expect("p"), "user:*".parse().expect("p")];
        c.client_publish_channels = vec!["user:*".parse().expect("p"), "chat".parse().expect("p")];
    })
    .await;
    let (mut anon, _) = Client::connect(&server).await;
    for channel in ["audit", "user:42"] {
        anon.send_json(json!({"type": "subscribe", "channel": channel}))
            .await;
        let reply = anon.recv().await;
        assert_eq!(
            (
                reply["type"].as_str(),
                reply["code"].as_str(),
                reply["channel"].as_str()
            ),
            (Some("error"), Some("forbidden"), Some(channel)),
            "{reply}"
        );
    }
    anon.send_json(json!({"type": "publish", "channel": "user:42", "event": "msg", "data": 1}))
        .await;
    let reply = anon.recv().await;
    assert_eq!(
        (reply["type"].as_str(), reply["code"].as_str()),
        (Some("error"), Some("forbidden"))
    );
    // Still usable, and public channels still work.
    anon.subscribe("missions").await;
    anon.subscribe("chat").await;
    assert_eq!(anon.roundtrip().await, Vec::<Value>::new());
    assert_eq!(
        server.node().subscriber_count(&"audit".parse().expect("c")),
        0
    );
    // /ws/channel/{private} is refused before the upgrade.
    refused(&server, "/ws/channel/audit", &[], 403, "forbidden").await;
    assert_eq!(metric_refused(&server, "forbidden").await, 1.0);

    // An authenticated user may subscribe and publish.
    let token = hs(&claims("alice", 600));
    let (mut alice, _) = Client::connect_to(&server, &format!("/ws/connect?token={token}")).await;
    alice.subscribe("audit").await;
    alice.subscribe("user:42").await;
    alice
        .send_json(
            json!({"type": "publish", "channel": "user:42", "event": "msg", "data": {"n": 1}}),
        )
        .await;
    let event = alice.recv().await;
    assert_eq!(
        (
            event["type"].as_str(),
            event["channel"].as_str(),
            &event["data"]
        ),
        (Some("msg"), Some("user:42"), &json!({"n": 1}))
    );
    let (_, _, welcome) =
        connect_with(&server, &format!("/ws/channel/audit?token={token}"), &[]).await;
    assert_eq!(welcome["user_id"], "alice");
    assert_eq!(metric(&server, "brain_ws_forbidden_total").await, 3.0);
}

#[tokio::test]
async fn role_rules_and_the_channels_claim_restrict_subscriptions() {
    let server = start_hs(|c| {
        c.channel_roles = vec!["admin:*=admin".parse::<ChannelRole>().expect("rule")];
    })
    .await;
    let plain = hs(&claims("plain", 600));
    let admin = hs(&json!({"sub": "boss", "exp": now() + 600, "roles": ["admin"]}));
    let limited =
        hs(&json!({"sub": "lim", "exp": now() + 600, "channels": ["missions", "team:7*"]}));

    let (mut c, _) = Client::connect_to(&server, &format!("/ws/connect?token={plain}")).await;
    c.send_json(json!({"type": "subscribe", "channel": "admin:ops"}))
        .await;
    let reply = c.recv().await;
    assert_eq!(
        (reply["code"].as_str(), reply["channel"].as_str()),
        (Some("forbidden"), Some("admin:ops"))
    );
    c.subscribe("missions").await;

    let (mut anon, _) = Client::connect(&server).await;
    anon.send_json(json!({"type": "subscribe", "channel": "admin:ops"}))
        .await;
    assert_eq!(anon.recv().await["code"], "forbidden");

    let (mut boss, _) = Client::connect_to(&server, &format!("/ws/connect?token={admin}")).await;
    boss.subscribe("admin:ops").await;

    let (mut lim, _) = Client::connect_to(&server, &format!("/ws/connect?token={limited}")).await;
    lim.subscribe("missions").await;
    lim.subscribe("team:7-chat").await;
    for channel in ["agents", "team:8", "admin:ops"] {
        lim.send_json(json!({"type": "subscribe", "channel": channel}))
            .await;
        let reply = lim.recv().await;
        assert_eq!(
            (reply["code"].as_str(), reply["channel"].as_str()),
            (Some("forbidden"), Some(channel))
        );
    }
    assert_eq!(lim.roundtrip().await, Vec::<Value>::new());
    refused(
        &server,
        &format!("/ws/channel/agents?token={limited}"),
        &[],
        403,
        "forbidden",
    )
    .await;
}

// ---------------------------------------------------------------- admin API

#[tokio::test]
async fn the_admin_api_takes_keys_from_a_file_and_compares_them() {
    let dir = std::env::temp_dir().join(format!("brain-ws-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join("keys.txt");
    std::fs::write(
        &file,
        "# admin keys\nkey-one-0123456789abcdef\n\n  key-two-0123456789abcdef  \n",
    )
    .expect("write");
    let cli = Settings::try_parse_from([
        "brain-ws-server",
        "--bind",
        "127.0.0.1:0",
        "--api-key-file",
        file.to_str().expect("utf-8 path"),
    ])
    .expect("parses");
    let (config, _) = cli.into_config().expect("valid");
    assert_eq!(
        config.api_keys,
        vec!["key-one-0123456789abcdef", "key-two-0123456789abcdef"]
    );
    let server = Server::start(config).await.expect("starts");
    let client = reqwest::Client::new();
    let url = http_url(&server, "/api/ws/stats");
    let status = async |key: Option<&str>| {
        let mut request = client.get(&url);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("GET");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        (status, body["error"]["code"].as_str().map(str::to_owned))
    };
    assert_eq!(status(None).await, (401, Some("unauthorized".to_owned())));
    assert_eq!(
        status(Some("key-one-0123456789abcdeX")).await,
        (403, Some("forbidden".to_owned()))
    );
    assert_eq!(
        status(Some("key-one")).await,
        (403, Some("forbidden".to_owned()))
    );
    assert_eq!(status(Some("key-one-0123456789abcdef")).await, (200, None));
    assert_eq!(status(Some("key-two-0123456789abcdef")).await, (200, None));
    // The scheme is case-insensitive (RFC 9110).
    let lower = client
        .get(&url)
        .header("authorization", "bearer key-two-0123456789abcdef")
        .send()
        .await
        .expect("GET");
    assert_eq!(lower.status().as_u16(), 200);
    // A short key in the file is a configuration error, not a weak key.
    std::fs::write(&file, "short\n").expect("write");
    let err = Settings::try_parse_from([
        "brain-ws-server",
        "--api-key-file",
        file.to_str().expect("utf-8"),
    ])
    .expect("parses")
    .into_config()
    .expect_err("too short");
    assert!(err.to_string().contains("at least 16 characters"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// This host's address on its default route, if it has one.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket
        .connect("192.0.2.1:9")
        .or_else(|_| socket.connect("8.8.8.8:53"))
        .ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn without_keys_the_admin_api_serves_loopback_peers_only() {
    let server = start(|c| c.bind = "0.0.0.0:0".parse().expect("addr")).await;
    let port = server.local_addr().port();
    let loopback = reqwest::get(format!("http://127.0.0.1:{port}/api/ws/stats"))
        .await
        .expect("GET");
    assert_eq!(loopback.status().as_u16(), 200);
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address on this host: the remote half of this test cannot run");
        return;
    };
    let remote = reqwest::get(format!("http://{ip}:{port}/api/ws/stats"))
        .await
        .expect("GET");
    assert_eq!(remote.status().as_u16(), 403);
    let body: Value = remote.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "forbidden");
    // It says what to configure.
    assert_eq!(
        body["error"]["message"],
        "the admin API answers only loopback peers while no API key is configured: start the \
         server with --api-key <key> (or BRAIN_WS_API_KEYS, or api_keys in the config file) and \
         send Authorization: Bearer <key>"
    );
    // Public endpoints stay public.
    let info = reqwest::get(format!("http://{ip}:{port}/api/ws/info"))
        .await
        .expect("GET");
    assert_eq!(info.status().as_u16(), 200);
}

// ---------------------------------------------------------------- origins

#[tokio::test]
async fn only_allowed_origins_may_open_websockets() {
    let server = start(|c| {
        c.allowed_origins = vec![
            "https://app.example.com".into(),
            "http://localhost:3000".into(),
        ];
    })
    .await;
    let (_app, _, welcome) = connect_with(
        &server,
        "/ws/connect",
        &[("origin", "https://app.example.com")],
    )
    .await;
    assert_eq!(welcome["type"], "connected");
    let (_local, _, _) = connect_with(
        &server,
        "/ws/connect",
        &[("origin", "HTTP://LOCALHOST:3000")],
    )
    .await;
    // Non-browser clients send no Origin and are allowed.
    let (_cli, _) = Client::connect(&server).await;
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.io",
        "null",
        "http://app.example.com",
    ] {
        refused(
            &server,
            "/ws/connect",
            &[("origin", origin)],
            403,
            "forbidden",
        )
        .await;
    }
    refused(
        &server,
        "/ws/channel/missions",
        &[("origin", "https://evil.example.com")],
        403,
        "forbidden",
    )
    .await;
    assert_eq!(metric_refused(&server, "origin").await, 5.0);
    assert_eq!(server.node().stats().total_connections, 3);
}

// ---------------------------------------------------------------- limits

#[tokio::test]
async fn the_per_user_connection_limit_refuses_with_429() {
    let server = start_hs(|c| c.max_connections_per_user = Some(2)).await;
    let alice = format!("/ws/connect?token={}", hs(&claims("alice", 600)));
    let (a1, _) = Client::connect_to(&server, &alice).await;
    let (_a2, _) = Client::connect_to(&server, &alice).await;
    refused(&server, &alice, &[], 429, "connection_limit").await;
    // Other users and anonymous connections are not affected.
    let (_, welcome) = Client::connect_to(
        &server,
        &format!("/ws/connect?token={}", hs(&claims("bob", 600))),
    )
    .await;
    assert_eq!(welcome["user_id"], "bob");
    let (_, _) = Client::connect(&server).await;
    let (_, _) = Client::connect(&server).await;
    let (_, _) = Client::connect(&server).await;
    assert_eq!(metric_refused(&server, "user_connection_limit").await, 1.0);
    // A place frees up when a connection ends.
    a1.close().await;
    eventually("alice may connect again", async || {
        upgrade(&server, &alice, &[]).await.0 == 101
    })
    .await;
}

#[tokio::test]
async fn the_global_connection_limit_refuses_with_503() {
    let server = start(|c| c.max_connections = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Client::connect(&server).await.0);
    }
    refused(&server, "/ws/connect", &[], 503, "connection_limit").await;
    assert_eq!(metric_refused(&server, "connection_limit").await, 1.0);
}

#[tokio::test]
async fn the_rate_limit_drops_with_an_error_then_closes_sustained_abuse_with_4501() {
    let limit = RateLimit {
        per_second: 5,
        burst: 5,
        max_violations: 4,
    };
    let server = start(|c| c.rate_limit = Some(limit)).await;

    // A short burst over the limit: one message dropped, the connection stays.
    let (mut polite, _) = Client::connect(&server).await;
    for _ in 0..6 {
        polite.send_json(json!({"type": "ping"})).await;
    }
    let mut replies = Vec::new();
    for _ in 0..6 {
        replies.push(polite.recv().await);
    }
    let errors: Vec<&Value> = replies.iter().filter(|r| r["type"] == "error").collect();
    assert!(errors.len() <= 1, "{replies:?}");
    if let Some(error) = errors.first() {
        assert_eq!(error["code"], "rate_limited");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(polite.roundtrip().await, Vec::<Value>::new());

    // A flood: errors for the dropped messages, then 4501.
    let (mut flood, _, _) = connect_with(&server, "/ws/connect", &[]).await;
    for _ in 0..40 {
        let ping = Message::Text(json!({"type": "ping"}).to_string().into());
        if flood.send(ping).await.is_err() {
            break; // already closed by the server
        }
    }
    let mut pongs = 0;
    let mut limited = 0;
    let close = loop {
        let frame = tokio::time::timeout(PATIENCE, flood.next())
            .await
            .expect("in time");
        match frame {
            Some(Ok(Message::Text(text))) => {
                let v: Value = serde_json::from_str(&text).expect("JSON");
                match (v["type"].as_str(), v["code"].as_str()) {
                    (Some("pong"), _) => pongs += 1,
                    (Some("error"), Some("rate_limited")) => limited += 1,
                    _ => panic!("unexpected {v}"),
                }
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break None,
        }
    };
    assert_eq!(close, Some(4501));
    assert_eq!(limited, 3, "max_violations - 1 errors before the close");
    assert!(pongs >= 5, "the burst was served: {pongs}");
    assert_eq!(
        metric(&server, "brain_ws_policy_violation_disconnects_total").await,
        1.0
    );
    // The polite client is unaffected.
    assert_eq!(polite.roundtrip().await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_client_that_never_completes_the_handshake_is_disconnected() {
    let server = start(|c| c.handshake_timeout = Duration::from_millis(300)).await;
    let addr = server.local_addr();
    let started = std::time::Instant::now();
    // Says nothing at all.
    let mut silent = TcpStream::connect(addr).await.expect("tcp");
    // Starts a request and stalls in the middle of the headers.
    let mut slow = TcpStream::connect(addr).await.expect("tcp");
    slow.write_all(b"GET /ws/connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .await
        .expect("write");
    for stream in [&mut silent, &mut slow] {
        let mut buf = [0u8; 512];
        let end = tokio::time::timeout(PATIENCE, async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue, // e.g. a 408 before the close
                }
            }
        })
        .await;
        assert!(end.is_ok(), "the server closes the connection");
        assert!(started.elapsed() >= Duration::from_millis(250));
    }
    assert_eq!(metric_refused(&server, "handshake_timeout").await, 2.0);
    // A normal client is not affected.
    let (_, welcome) = Client::connect(&server).await;
    assert_eq!(welcome["type"], "connected");
}

// ---------------------------------------------------------------- property

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn verifier() -> JwtAuthenticator {
        JwtAuthenticator::hs256(SECRET).expect("secret")
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9_-]{0,40}",
            any::<Vec<u8>>().prop_map(|b| b64url(&b)),
            ".{0,20}".prop_map(|s| b64url(s.as_bytes())),
            Just(b64url(br#"{"alg":"HS256","typ":"JWT"}"#)),
            Just(b64url(br#"{"alg":"none"}"#)),
            Just(b64url(br#"{"sub":"a","exp":99999999999}"#)),
            Just(b64url(br#"{"sub":1,"exp":-5,"channels":"x"}"#)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Arbitrary text never panics the verifier and never verifies.
        #[test]
        fn arbitrary_strings_are_typed_errors(token in ".{0,300}") {
            let result = verifier().verify(&token);
            prop_assert!(result.is_err());
        }

        /// Token-shaped input (three base64url segments, real headers and
        /// claims among them) never panics; without our signature it never
        /// verifies, and the error is one of the documented kinds.
        #[test]
        fn token_shaped_strings_are_typed_errors(a in segment(), b in segment(), c in segment()) {
            let token = format!("{a}.{b}.{c}");
            match verifier().verify(&token) {
                Ok(identity) => prop_assert!(false, "verified a forged token: {identity:?}"),
                Err(e) => prop_assert!(matches!(
                    e,
                    JwtError::Malformed
                        | JwtError::WrongAlgorithm
                        | JwtError::BadSignature
                        | JwtError::Expired
                        | JwtError::NotYetValid
                        | JwtError::MissingClaim(_)
                        | JwtError::InvalidClaim(_)
                )),
            }
        }
    }

    #[test]
    fn a_real_token_verifies_and_reads_its_claims() {
        // Proves the crypto backend is compiled in: jsonwebtoken panics at
        // run time without one.
        let token =
            hs(&json!({"sub": "u", "exp": now() + 60, "roles": ["r"], "channels": ["a", "b:*"]}));
        let identity = verifier().verify(&token).expect("valid");
        assert_eq!(identity.user_id.as_deref(), Some("u"));
        assert_eq!(identity.roles, vec!["r".to_owned()]);
        assert_eq!(
            identity
                .channels
                .map(|c| c.iter().map(ToString::to_string).collect::<Vec<_>>()),
            Some(vec!["a".to_owned(), "b:*".to_owned()])
        );
        assert_eq!(identity.expires_at, Some(now() + 60 + 30));
        assert_eq!(verifier().algorithm(), "HS256");
        assert_eq!(
            JwtAuthenticator::from_public_key_pem(RSA_PUBLIC)
                .expect("rsa")
                .algorithm(),
            "RS256"
        );
        assert_eq!(
            JwtAuthenticator::from_public_key_pem(EC_PUBLIC)
                .expect("ec")
                .algorithm(),
            "ES256"
        );
        assert!(JwtAuthenticator::from_public_key_pem(b"not a pem").is_err());
        assert!(JwtAuthenticator::hs256(b"short").is_err());
    }
}

// ---------------------------------------------------------------- noisy neighbours

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Floods messages as fast as it can, never reading, reconnecting after
/// each disconnect, until `stop`.
async fn flooder(url: String, stop: Arc<AtomicBool>, reconnects: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        reconnects.fetch_add(1, Ordering::Relaxed);
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let text = if i.is_multiple_of(2) {
                json!({"type": "subscribe", "channel": format!("spam-{}", i % 50)}).to_string()
            } else {
                json!({"type": "ping"}).to_string()
            };
            if ws.send(Message::Text(text.into())).await.is_err() {
                break;
            }
            i += 1;
            if i.is_multiple_of(64) {
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Sends frames over the size limit, reconnecting after each 1009, until `stop`.
async fn oversizer(url: String, stop: Arc<AtomicBool>, reconnects: Arc<AtomicU64>) {
    let big = "x".repeat(100 * 1024);
    while !stop.load(Ordering::Relaxed) {
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        reconnects.fetch_add(1, Ordering::Relaxed);
        let _ = ws.send(Message::Text(big.clone().into())).await;
        // Wait for the server to close (1009), then go again.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_behaved_subscriber_gets_everything_while_hundreds_of_clients_misbehave() {
    const FLOODERS: usize = 100;
    const OVERSIZERS: usize = 100;
    const NEVER_READERS: usize = 100;
    const EVENTS: usize = 1000;
    let server = start(|c| {
        c.max_connections = 2000;
        c.outbound_queue = 64;
        // No heartbeat ping among the events, however long a loaded
        // machine makes this test (the reader below expects events only).
        c.heartbeat_interval = Duration::from_secs(3600);
    })
    .await;
    let rss_before = vm_rss_kib();
    let (mut good, _) = Client::connect(&server).await;
    good.subscribe("news").await;

    let stop = Arc::new(AtomicBool::new(false));
    let flood_connects = Arc::new(AtomicU64::new(0));
    let oversize_connects = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..FLOODERS {
        tasks.push(tokio::spawn(flooder(
            ws_url(&server, "/ws/connect"),
            stop.clone(),
            flood_connects.clone(),
        )));
    }
    for _ in 0..OVERSIZERS {
        tasks.push(tokio::spawn(oversizer(
            ws_url(&server, "/ws/connect"),
            stop.clone(),
            oversize_connects.clone(),
        )));
    }
    // Subscribe to the same channel, then never read again.
    let mut never_readers = Vec::new();
    for _ in 0..NEVER_READERS {
        never_readers.push(Client::subscribed(&server, &["news"]).await);
    }

    // 8 KiB events, 8 MB in all: more than the socket buffers of a client
    // that never reads can absorb, so its queue overflows.
    let payload = json!({"body": "n".repeat(8192)});
    let channel = "news".parse().expect("channel");
    let kind = "headline".parse().expect("type");
    let received = Arc::new(AtomicU64::new(0));
    let progress = received.clone();
    let reader = tokio::spawn(async move {
        for i in 0..EVENTS {
            let event = good.recv().await;
            assert_eq!(
                (event["type"].as_str(), event["data"]["i"].as_u64()),
                (Some("headline"), Some(i as u64)),
                "event {i} of {EVENTS}"
            );
            progress.fetch_add(1, Ordering::Relaxed);
        }
        good
    });
    let mut peak_rss = vm_rss_kib();
    for i in 0..EVENTS {
        // The subscriber shares two cores with 300 abusive clients in this
        // process; keep the publisher within half its queue of it, so a
        // starved reader task is not mistaken for a slow consumer.
        while i as u64 >= received.load(Ordering::Relaxed) + 32 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut data = payload.clone();
        data["i"] = json!(i);
        server
            .node()
            .publish(&channel, &kind, data)
            .await
            .expect("published");
        if i % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            peak_rss = peak_rss.max(vm_rss_kib());
        }
    }
    let mut good = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the subscriber received every event in time")
        .expect("in order");
    peak_rss = peak_rss.max(vm_rss_kib());
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    assert_eq!(good.roundtrip().await, Vec::<Value>::new());

    let policy = metric(&server, "brain_ws_policy_violation_disconnects_total").await;
    let slow = metric(&server, "brain_ws_slow_consumer_disconnects_total").await;
    let oversize = metric(&server, "brain_ws_oversize_disconnects_total").await;
    let growth_mib = peak_rss.saturating_sub(rss_before) / 1024;
    println!(
        "noisy neighbours: {FLOODERS} flooders ({} connections, {policy} closed 4501, {slow} closed 4001), \
         {OVERSIZERS} oversizers ({} connections, {oversize} closed 1009), {NEVER_READERS} never-readers; \
         {EVENTS} events of 8 KiB all delivered in order; VmRSS before {} MiB, peak {} MiB (+{growth_mib} MiB)",
        flood_connects.load(Ordering::Relaxed),
        oversize_connects.load(Ordering::Relaxed),
        rss_before / 1024,
        peak_rss / 1024,
    );
    assert!(policy >= 1.0, "flooders were closed with 4501");
    assert!(
        slow >= NEVER_READERS as f64,
        "every never-reader was closed with 4001"
    );
    assert!(
        oversize >= OVERSIZERS as f64,
        "every oversizer was closed with 1009 at least once"
    );
    // Generous: the whole test process (server, 300+ clients, other tests
    // running in parallel) stays within a few hundred MiB of where it started.
    assert!(growth_mib < 512, "memory grew by {growth_mib} MiB");
    drop(never_readers);
}

// ---------------------------------------------------------------- configuration

fn parse(args: &[&str]) -> Result<Config, String> {
    let cli =
        Settings::try_parse_from(std::iter::once("brain-ws-server").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
    cli.into_config().map(|(c, _)| c).map_err(|e| e.to_string())
}

#[tokio::test]
async fn security_flags_build_the_configuration_the_server_enforces() {
    let dir = std::env::temp_dir().join(format!("brain-ws-sec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let secret_file = dir.join("secret");
    std::fs::write(
        &secret_file,
        format!("{}\n", String::from_utf8_lossy(SECRET)),
    )
    .expect("write");
    let public_key = dir.join("rsa.pem");
    std::fs::write(&public_key, RSA_PUBLIC).expect("write");
    let secret_path = secret_file.to_str().expect("utf-8");
    let key_path = public_key.to_str().expect("utf-8");

    let config = parse(&[
        "--bind",
        "127.0.0.1:0",
        "--auth",
        "required",
        "--jwt-secret-file",
        secret_path,
        "--jwt-leeway",
        "0s",
        "--private-channel",
        "audit",
        "--private-channel",
        "user:*",
        "--channel-role",
        "admin:*=admin",
        "--allowed-origins",
        "https://app.example.com",
        "--max-connections-per-user",
        "3",
        "--rate-limit",
        "7",
        "--rate-burst",
        "9",
        "--rate-limit-violations",
        "11",
        "--handshake-timeout",
        "2s",
    ])
    .expect("parses");
    assert_eq!(config.auth_mode, AuthMode::Required);
    assert_eq!(
        config
            .private_channels
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["audit", "user:*"]
    );
    assert_eq!(config.channel_roles[0].to_string(), "admin:*=admin");
    assert_eq!(config.allowed_origins, ["https://app.example.com"]);
    assert_eq!(config.max_connections_per_user, Some(3));
    assert_eq!(
        config.rate_limit,
        Some(RateLimit {
            per_second: 7,
            burst: 9,
            max_violations: 11
        })
    );
    assert_eq!(config.handshake_timeout, Duration::from_secs(2));
    // The secret read from the file (newline trimmed) verifies our tokens.
    let server = Server::start(config).await.expect("starts");
    let (_, welcome) = Client::connect_to(
        &server,
        &format!("/ws/connect?token={}", hs(&claims("from-file", 600))),
    )
    .await;
    assert_eq!(welcome["user_id"], "from-file");
    refused(&server, "/ws/connect", &[], 401, "unauthorized").await;

    // Defaults: no key and so auth none, rate limit on; a key makes it optional.
    let defaults = parse(&[]).expect("defaults");
    assert_eq!(defaults.auth_mode, AuthMode::None);
    assert!(defaults.authenticator.is_none());
    assert_eq!(defaults.rate_limit, Some(RateLimit::default()));
    assert_eq!(defaults.handshake_timeout, Duration::from_secs(10));
    assert_eq!(
        parse(&["--rate-limit", "0"]).expect("parses").rate_limit,
        None
    );
    let rsa = parse(&["--jwt-public-key", key_path]).expect("parses");
    assert!(rsa.authenticator.is_some());
    assert_eq!(rsa.auth_mode, AuthMode::Optional);

    for (args, expected) in [
        (
            vec!["--auth", "maybe"],
            "expected none, optional or required",
        ),
        (
            vec!["--auth", "required"],
            "auth mode required needs a JWT key",
        ),
        (
            vec!["--auth", "optional"],
            "auth mode optional needs a JWT key",
        ),
        (vec!["--jwt-secret", "short"], "at least 32 bytes"),
        (
            vec![
                "--jwt-secret",
                "0123456789abcdef0123456789abcdef",
                "--jwt-public-key",
                key_path,
            ],
            "not both",
        ),
        (vec!["--jwt-public-key", secret_path], "not an RSA or EC"),
        (vec!["--jwt-issuer", "x"], "need a JWT key"),
        (
            vec!["--channel-role", "admin:*"],
            "expected <channel pattern>=<role>",
        ),
        (
            vec!["--allowed-origins", "app.example.com"],
            "scheme://host",
        ),
        (vec!["--max-connections-per-user", "0"], "at least 1"),
        (vec!["--rate-burst", "0"], "at least 1"),
    ] {
        let err = parse(&args).expect_err("refused");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // The same settings from a --config file.
    let toml = dir.join("server.toml");
    std::fs::write(
        &toml,
        format!(
            "auth = \"none\"\njwt_secret_file = {secret_path:?}\nprivate_channels = [\"audit\"]\n\
             channel_roles = [\"ops:*=ops\"]\nallowed_origins = [\"https://a.example\"]\n\
             max_connections_per_user = 4\nrate_limit = 0\nhandshake_timeout = \"3s\"\n"
        ),
    )
    .expect("write");
    let from_file = parse(&["--config", toml.to_str().expect("utf-8")]).expect("parses");
    assert_eq!(from_file.auth_mode, AuthMode::None);
    assert!(from_file.authenticator.is_some());
    assert_eq!(from_file.private_channels[0].to_string(), "audit");
    assert_eq!(from_file.channel_roles[0].to_string(), "ops:*=ops");
    assert_eq!(from_file.allowed_origins, ["https://a.example"]);
    assert_eq!(from_file.max_connections_per_user, Some(4));
    assert_eq!(from_file.rate_limit, None);
    assert_eq!(from_file.handshake_timeout, Duration::from_secs(3));
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------- plain GET of a WebSocket endpoint

/// A plain GET of a WebSocket endpoint with extra headers: status, the
/// `access-control-allow-origin` header, and the JSON body.
async fn plain_get(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new().get(http_url(server, path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    let cors = response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (status, cors, response.json().await.unwrap_or(Value::Null))
}

/// Path, request headers, expected status, error code and message.
type PlainGetCase<'a> = (String, &'a [(&'a str, &'a str)], u16, &'a str, &'a str);

/// A browser sees a refused upgrade only as close 1006: a plain GET of the
/// same URL tells it why (what @brain/ws-client does), readable from any
/// origin, and otherwise says the endpoint wants an upgrade.
#[tokio::test]
async fn a_plain_get_of_a_websocket_endpoint_answers_the_refusal_an_upgrade_would_get() {
    let server = start_hs(|c| {
        c.auth_mode = AuthMode::Required;
        c.allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let good = hs(&claims("bob", 600));
    let app = [("origin", "https://app.example.com")];
    let cases: [PlainGetCase; 6] = [
        (
            "/ws/connect".into(),
            &app,
            401,
            "unauthorized",
            "a token is required",
        ),
        (
            "/ws/connect?token=bad".into(),
            &app,
            401,
            "unauthorized",
            "invalid token: the token is not a well-formed JWT with a supported algorithm",
        ),
        (
            format!("/ws/connect?token={good}"),
            &[("origin", "https://evil.example.com")],
            403,
            "forbidden",
            "this origin is not allowed to open WebSocket connections",
        ),
        (
            format!("/ws/channel/bad%20name?token={good}"),
            &app,
            400,
            "invalid_channel",
            "channel name contains ' '; allowed are ASCII letters, digits and _ . : @ -",
        ),
        (
            format!("/ws/connect?token={good}"),
            &app,
            400,
            "invalid_message",
            "this endpoint only accepts WebSocket upgrades: Connection header did not include 'upgrade'",
        ),
        (
            format!("/ws/channel/missions?token={good}"),
            &app,
            400,
            "invalid_message",
            "this endpoint only accepts WebSocket upgrades: Connection header did not include 'upgrade'",
        ),
    ];
    for (path, headers, status, code, message) in cases {
        let got = plain_get(&server, &path, headers).await;
        assert_eq!(
            got,
            (
                status,
                Some("*".to_owned()),
                json!({"error": {"code": code, "message": message}})
            ),
            "{path}"
        );
    }
    assert_eq!(
        metric_refused(&server, "unauthorized").await,
        0.0,
        "a probe is not a refused connection"
    );
}

// ---------------------------------------------------------------- token carriers

/// What one upgrade ends as: `user:<id>`, `anonymous`, or `<status> <code>:
/// <message>` for a refusal.
async fn carrier_outcome(
    server: &Server,
    query: Option<&str>,
    headers: &[(&str, String)],
) -> String {
    let path = match query {
        Some(q) => format!("/ws/connect?token={q}"),
        None => "/ws/connect".to_owned(),
    };
    let mut request = ws_url(server, &path)
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request.headers_mut().append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut ws, _)) => {
            let welcome = next_json(&mut ws).await;
            match welcome["user_id"].as_str() {
                Some(user) => format!("user:{user}"),
                None => "anonymous".to_owned(),
            }
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .unwrap_or(Value::Null);
            format!(
                "{} {}: {}",
                response.status().as_u16(),
                body["error"]["code"].as_str().unwrap_or("?"),
                body["error"]["message"].as_str().unwrap_or("?")
            )
        }
        Err(e) => panic!("{path}: {e}"),
    }
}

/// The carrier rule as a table (docs/security.md, "Token carriers"): query,
/// then `Authorization: Bearer`, then `Sec-WebSocket-Protocol` `token.<jwt>`;
/// the first carrier holding a non-blank value wins; an empty or blank
/// carrier is no token and never hides a later one. In modes `required`
/// and `optional`.
#[tokio::test]
async fn token_carriers_follow_one_precedence_rule_and_blank_values_are_no_token() {
    let alice = hs(&claims("alice", 600));
    let bob = hs(&claims("bob", 600));
    let bad = "not.a.jwt".to_owned();
    let h = |v: &str| ("authorization", format!("Bearer {v}"));
    let p = |v: &str| ("sec-websocket-protocol", format!("brain.v1, token.{v}"));
    let missing = "401 unauthorized: a token is required";
    let invalid = "401 unauthorized: invalid token: the token is not a well-formed JWT with a supported algorithm";
    // (case, query, headers, outcome in `required`, outcome in `optional`)
    type Case<'a> = (
        &'a str,
        Option<String>,
        Vec<(&'a str, String)>,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        ("nothing", None, vec![], missing, "anonymous"),
        (
            "empty query",
            Some(String::new()),
            vec![],
            missing,
            "anonymous",
        ),
        (
            "blank query",
            Some("%20%09%20".into()),
            vec![],
            missing,
            "anonymous",
        ),
        (
            "empty bearer",
            None,
            vec![("authorization", "Bearer".into())],
            missing,
            "anonymous",
        ),
        (
            "empty protocol token",
            None,
            vec![p("")],
            missing,
            "anonymous",
        ),
        (
            "blank protocol token",
            None,
            vec![("sec-websocket-protocol", "brain.v1, token.  ,x".into())],
            missing,
            "anonymous",
        ),
        (
            "all three empty",
            Some(String::new()),
            vec![("authorization", "Bearer ".into()), p("")],
            missing,
            "anonymous",
        ),
        (
            "empty query, valid bearer",
            Some(String::new()),
            vec![h(&alice)],
            "user:alice",
            "user:alice",
        ),
        (
            "blank query, valid bearer",
            Some("%20".into()),
            vec![h(&alice)],
            "user:alice",
            "user:alice",
        ),
        (
            "empty query, valid protocol",
            Some(String::new()),
            vec![p(&alice)],
            "user:alice",
            "user:alice",
        ),
        (
            "empty bearer, valid protocol",
            None,
            vec![("authorization", "Bearer".into()), p(&alice)],
            "user:alice",
            "user:alice",
        ),
        (
            "empty query and bearer, valid protocol",
            Some(String::new()),
            vec![("authorization", "Bearer".into()), p(&alice)],
            "user:alice",
            "user:alice",
        ),
        (
            "empty protocol entry before a valid one",
            None,
            vec![(
                "sec-websocket-protocol",
                format!("brain.v1, token., token.{alice}"),
            )],
            "user:alice",
            "user:alice",
        ),
        (
            "query beats bearer",
            Some(alice.clone()),
            vec![h(&bob)],
            "user:alice",
            "user:alice",
        ),
        (
            "bearer beats protocol",
            None,
            vec![h(&bob), p(&alice)],
            "user:bob",
            "user:bob",
        ),
        (
            "query beats protocol",
            Some(bob.clone()),
            vec![p(&alice)],
            "user:bob",
            "user:bob",
        ),
        (
            "bad query is not skipped",
            Some(bad.clone()),
            vec![h(&alice)],
            invalid,
            invalid,
        ),
        (
            "bad bearer is not skipped",
            None,
            vec![h(&bad), p(&alice)],
            invalid,
            invalid,
        ),
        (
            "padded query token",
            Some(format!("%20{alice}%20")),
            vec![],
            "user:alice",
            "user:alice",
        ),
    ];
    for (mode, column) in [(AuthMode::Required, 0), (AuthMode::Optional, 1)] {
        let server = start_hs(|c| c.auth_mode = mode).await;
        let mut got = Vec::new();
        let mut expected = Vec::new();
        for (case, query, headers, required, optional) in &cases {
            let outcome = carrier_outcome(&server, query.as_deref(), headers).await;
            got.push((*case, outcome));
            expected.push((*case, [required, optional][column].to_string()));
        }
        assert_eq!(got, expected, "auth mode {mode:?}");
    }
}

// ---------------------------------------------------------------- expiry rule

/// Sleeps until `at` (Unix seconds, fractional) on the system clock.
async fn sleep_until_unix(at: f64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    if at > now {
        tokio::time::sleep(Duration::from_secs_f64(at - now)).await;
    }
}

/// One rule, one clock, sub-second precision (issue 14, item 7): with `exp`
/// = T and a 1 s leeway, a token is accepted at the upgrade until T+1 and
/// refused from T+1 on (not up to T+2 as whole-second rounding did), and a
/// live connection holding it is closed with 4002 at T+1.
#[tokio::test]
async fn the_upgrade_and_the_live_connection_expire_a_token_at_the_same_instant() {
    let auth = JwtAuthenticator::hs256(SECRET)
        .expect("secret")
        .with_leeway(Duration::from_secs(1));
    let server = start(|c| c.authenticator = Some(Arc::new(auth))).await;
    let t = now() + 2;
    let token = hs(&json!({"sub": "edge", "exp": t}));
    let path = format!("/ws/connect?token={token}");
    let (mut live, welcome) = Client::connect_to(&server, &path).await;
    assert_eq!(welcome["user_id"], "edge");

    let cutoff = t as f64 + 1.0;
    // 300 ms before the cutoff: still accepted.
    sleep_until_unix(cutoff - 0.3).await;
    let (mut late, welcome) = Client::connect_to(&server, &path).await;
    assert_eq!(welcome["user_id"], "edge");
    // 50 ms after it: refused at the upgrade, by the rule that closes `live`.
    sleep_until_unix(cutoff + 0.05).await;
    let (status, body) = upgrade(&server, &path, &[]).await;
    assert_eq!(
        (
            status,
            body["error"]["code"].as_str(),
            body["error"]["message"].as_str()
        ),
        (401, Some("unauthorized"), Some("the token has expired"))
    );
    for conn in [&mut live, &mut late] {
        let close = conn.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 4002);
    }
    let closed_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!(
        closed_at >= cutoff,
        "closed at {closed_at}, cutoff {cutoff}"
    );
}

/// A plain request (no upgrade) on a WebSocket endpoint checks the token
/// first, so a browser that saw only 1006 can learn why with `fetch`.
#[tokio::test]
async fn a_plain_request_on_a_websocket_endpoint_tells_a_refused_token() {
    let server = start_hs(|c| c.auth_mode = AuthMode::Required).await;
    let (status, body) = get(&server, "/ws/connect?token=not.a.jwt").await;
    assert_eq!(
        (
            status,
            body["error"]["code"].as_str(),
            body["error"]["message"].as_str()
        ),
        (
            401,
            Some("unauthorized"),
            Some("invalid token: the token is not a well-formed JWT with a supported algorithm")
        )
    );
    let (status, body) = get(&server, "/ws/channel/missions").await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (401, Some("a token is required"))
    );
    let valid = hs(&claims("alice", 600));
    let (status, body) = get(&server, &format!("/ws/connect?token={valid}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_message"))
    );
}

/// Token refusals are typed: callers (and an application's own
/// authenticator) match the reason; the text is the one clients read.
#[test]
fn invalid_tokens_say_why_as_a_type() {
    use brain_ws_server::{AuthError, Authenticator, InvalidToken, JwtAuthenticator, JwtError};
    let tokens = brain_ws_server::StaticTokens::new().with("t-1", "alice");
    let err = tokens.authenticate(Some("nope")).expect_err("unknown");
    assert_eq!(err, AuthError::Invalid(InvalidToken::Unknown));
    assert_eq!(err.to_string(), "invalid token: unknown token");
    let jwt = JwtAuthenticator::hs256(&[7; 32]).expect("key");
    let err = jwt.authenticate(Some("not.a.jwt")).expect_err("malformed");
    assert_eq!(
        err,
        AuthError::Invalid(InvalidToken::Jwt(JwtError::Malformed))
    );
    assert_eq!(
        err.to_string(),
        "invalid token: the token is not a well-formed JWT with a supported algorithm"
    );
    // An application's reason, written as before.
    let own = AuthError::Invalid("revoked".into());
    assert_eq!(
        own,
        AuthError::Invalid(InvalidToken::Other("revoked".into()))
    );
    assert_eq!(own.to_string(), "invalid token: revoked");
}

/// A role rule that does not parse says which part is wrong, as a type.
#[test]
fn channel_role_rules_refuse_with_a_typed_reason() {
    use brain_ws_server::{ChannelRole, InvalidChannelRole};
    assert_eq!(
        "admin:*".parse::<ChannelRole>(),
        Err(InvalidChannelRole::NoEquals)
    );
    assert_eq!(
        "admin:*= ".parse::<ChannelRole>(),
        Err(InvalidChannelRole::EmptyRole)
    );
    let err = "bad name=admin"
        .parse::<ChannelRole>()
        .expect_err("a space in the pattern");
    assert!(matches!(err, InvalidChannelRole::Pattern(_)), "{err:?}");
    assert_eq!(
        InvalidChannelRole::NoEquals.to_string(),
        "expected <channel pattern>=<role>, e.g. admin:*=admin: no '='"
    );
}
