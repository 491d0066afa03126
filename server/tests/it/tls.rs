//! TLS for real: a test CA made by rcgen, the server binary with
//! `--tls-cert/--tls-key`, the Rust SDK over `wss://` and `https://`,
//! certificate reload on SIGHUP, and two nodes sharing a TLS-only Redis
//! (`rediss://`, client certificates required) started by the test; and
//! both SDK transports through an HTTP `CONNECT` proxy.

// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brain_ws_client::{
    Client, ConnectErrorKind, Proxy, PublishErrorKind, Publisher, SubscriptionEvent, Tls,
};
use brain_ws_protocol::catalog::{Event, MissionEvent};
use brain_ws_server::{BrokerConfig, Config, RedisTls, Server};
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::certs::{Issued, TestCa, temp_dir};

const WAIT: Duration = Duration::from_secs(10);

/// The server binary serving `cert` over TLS, and the address it reports.
async fn spawn_tls_server(cert: &Issued) -> (Child, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brain-ws-server"));
    command.args(["--bind", "127.0.0.1:0"]).args([
        "--tls-cert",
        cert.cert.to_str().unwrap(),
        "--tls-key",
        cert.key.to_str().unwrap(),
    ]);
    crate::support::spawn_listening(command, WAIT).await
}

pub(crate) fn tls_with(ca: &Path) -> Tls {
    Tls::default().with_ca_file(ca).unwrap()
}

/// Subscribes over `wss://` and waits until the server counts it.
async fn subscribed_client(url: &str, tls: Tls) -> (Client, brain_ws_client::Subscription) {
    let client = Client::builder(url).tls(tls).connect().await.unwrap();
    let sub = client.subscribe("missions").await.unwrap();
    (client, sub)
}

/// The next event's `mission_id`, within [`WAIT`].
async fn next_mission(sub: &mut brain_ws_client::Subscription) -> String {
    loop {
        match tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap()
            .unwrap()
        {
            SubscriptionEvent::Event(msg) => {
                assert_eq!(msg.event_type.as_str(), "mission_started");
                let Event::Mission(MissionEvent::MissionStarted(started)) = msg.event else {
                    panic!("not a mission_started: {:?}", msg.event);
                };
                return started.mission_id;
            }
            SubscriptionEvent::Resubscribed { .. } => {}
            gap @ SubscriptionEvent::Gap { .. } => panic!("no event may be missed: {gap:?}"),
            other => panic!("no presence was asked for: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_sdk_speaks_wss_and_https_with_the_test_ca_and_refuses_without_it() {
    let dir = temp_dir("sdk");
    let ca = TestCa::new("brain-ws test CA");
    let ca_file = ca.write(&dir.join("ca.pem"));
    let server = ca.issue(&dir, "server");
    let (_child, addr) = spawn_tls_server(&server).await;
    let wss = format!("wss://localhost:{}", addr.port());
    let https = format!("https://localhost:{}", addr.port());
    let tls = tls_with(&ca_file);

    let (_client, mut sub) = subscribed_client(&wss, tls.clone()).await;
    let publisher = Publisher::new(&https).tls(&tls).unwrap();
    let sent = publisher
        .broadcast(
            "missions",
            "mission_started",
            json!({"mission_id": "m-tls"}),
        )
        .await
        .unwrap();
    assert_eq!(sent.subscribers, 1);
    assert_eq!(next_mission(&mut sub).await, "m-tls");
    // The IP address is in the certificate too.
    let by_ip = Publisher::new(format!("https://127.0.0.1:{}", addr.port()))
        .tls(&tls)
        .unwrap();
    assert_eq!(by_ip.stats().await.unwrap().total_connections, 1);

    // Without the CA: refused, and the error says it is the certificate.
    let err = Client::builder(&wss).connect().await.unwrap_err();
    assert_eq!(err.kind(), ConnectErrorKind::Certificate, "{err}");
    assert!(
        err.to_string().starts_with(
            "TLS certificate problem: the server's TLS certificate was refused (UnknownIssuer)"
        ),
        "{err}"
    );
    let err = Publisher::new(&https).stats().await.unwrap_err();
    assert_eq!(err.kind(), PublishErrorKind::Certificate, "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // Plain ws:// to the TLS port is no WebSocket either.
    let err = Client::builder(format!("ws://{addr}"))
        .connect()
        .await
        .unwrap_err();
    assert_ne!(err.kind(), ConnectErrorKind::Certificate, "{err}");

    // The test switch accepts the unknown issuer.
    let insecure = Tls::default().dangerous_accept_invalid_certificates();
    let client = Client::builder(&wss).tls(insecure).connect().await.unwrap();
    client.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_open_connections_stay_up() {
    let dir = temp_dir("reload");
    let old_ca = TestCa::new("old CA");
    let new_ca = TestCa::new("new CA");
    let old_ca_file = old_ca.write(&dir.join("old-ca.pem"));
    let new_ca_file = new_ca.write(&dir.join("new-ca.pem"));
    let served = old_ca.issue(&dir, "server");
    let (child, addr) = spawn_tls_server(&served).await;
    let pid = child.id().unwrap().to_string();
    let wss = format!("wss://localhost:{}", addr.port());
    let https = format!("https://localhost:{}", addr.port());
    let (_old_client, mut old_sub) = subscribed_client(&wss, tls_with(&old_ca_file)).await;

    // Renew: a certificate from another CA replaces the files, then SIGHUP.
    let renewed_dir = dir.join("renewed");
    std::fs::create_dir_all(&renewed_dir).unwrap();
    let renewed = new_ca.issue(&renewed_dir, "server");
    std::fs::rename(&renewed.cert, &served.cert).unwrap();
    std::fs::rename(&renewed.key, &served.key).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());

    // New connections see the new certificate: the new CA works, the old fails.
    let new_tls = tls_with(&new_ca_file);
    let publisher = tokio::time::timeout(WAIT, async {
        loop {
            let publisher = Publisher::new(&https).tls(&new_tls).unwrap();
            if publisher.stats().await.is_ok() {
                return publisher;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the renewed certificate is served after SIGHUP");
    let err = Client::builder(&wss)
        .tls(tls_with(&old_ca_file))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ConnectErrorKind::Certificate, "{err}");
    let (_new_client, mut new_sub) = subscribed_client(&wss, new_tls.clone()).await;

    // The connection opened before the reload is still up and delivers.
    let sent = publisher
        .broadcast(
            "missions",
            "mission_started",
            json!({"mission_id": "m-after"}),
        )
        .await
        .unwrap();
    assert_eq!(sent.subscribers, 2);
    assert_eq!(next_mission(&mut old_sub).await, "m-after");
    assert_eq!(next_mission(&mut new_sub).await, "m-after");

    // A broken renewal (key of another certificate) keeps the current one.
    let stray = new_ca.issue(&renewed_dir, "stray");
    std::fs::copy(&stray.key, &served.key).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(publisher.stats().await.unwrap().total_connections, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A free loopback port (bound then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `redis-server` on a TLS-only port (`--port 0`) that requires client
/// certificates signed by `ca`; `None` (test skipped) when `redis-server`
/// is not installed, unless `BRAIN_WS_REQUIRE_REDIS=1` (CI).
async fn tls_redis(dir: &Path, ca: &TestCa, ca_file: &Path) -> Option<(Child, u16)> {
    let server = ca.issue(dir, "redis");
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--tls-cert-file", server.cert.to_str().unwrap()])
        .args(["--tls-key-file", server.key.to_str().unwrap()])
        .args(["--tls-ca-cert-file", ca_file.to_str().unwrap()])
        .args(["--tls-auth-clients", "yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if std::env::var("BRAIN_WS_REQUIRE_REDIS").as_deref() != Ok("1") => {
            eprintln!("SKIPPED: cannot start redis-server ({e}); Debian's is built with TLS");
            return None;
        }
        Err(e) => panic!("redis-server is required (BRAIN_WS_REQUIRE_REDIS=1): {e}"),
    };
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("Ready to accept connections") {
                return;
            }
        }
        panic!("redis-server exited before accepting connections");
    })
    .await
    .unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some((child, port))
}

async fn wait_ready(server: &Server) {
    let url = format!("http://{}/ready", server.local_addr());
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(r) = reqwest::get(&url).await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("node ready on the TLS Redis");
}

#[tokio::test]
async fn two_nodes_deliver_across_a_tls_only_redis() {
    let dir = temp_dir("rediss");
    let ca = TestCa::new("redis test CA");
    let ca_file = ca.write(&dir.join("ca.pem"));
    let Some((_redis, port)) = tls_redis(&dir, &ca, &ca_file).await else {
        return;
    };
    let client_cert = ca.issue(&dir, "node");
    let prefix = format!("tls-{}", uuid::Uuid::new_v4().simple());
    let node = |id: &str| Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        node_id: id.into(),
        broker: BrokerConfig::Redis(format!("rediss://127.0.0.1:{port}/0")),
        redis_tls: RedisTls {
            ca: Some(ca_file.clone()),
            client_cert: Some(client_cert.cert.clone()),
            client_key: Some(client_cert.key.clone()),
        },
        redis_prefix: prefix.clone(),
        cluster_refresh: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(1),
        ..Config::default()
    };
    let a = Server::start(node("a")).await.unwrap();
    let b = Server::start(node("b")).await.unwrap();
    wait_ready(&a).await;
    wait_ready(&b).await;

    let client = Client::builder(format!("ws://{}", a.local_addr()))
        .connect()
        .await
        .unwrap();
    let mut sub = client.subscribe("missions").await.unwrap();
    let publisher = Publisher::new(format!("http://{}", b.local_addr()));
    publisher
        .broadcast(
            "missions",
            "mission_started",
            json!({"mission_id": "m-rediss"}),
        )
        .await
        .unwrap();
    assert_eq!(next_mission(&mut sub).await, "m-rediss");

    // The same node without its client certificate is refused by Redis.
    let mut no_cert = node("c");
    no_cert.redis_tls.client_cert = None;
    no_cert.redis_tls.client_key = None;
    let c = Server::start(no_cert).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ready = reqwest::get(format!("http://{}/ready", c.local_addr()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    client.close().await;
    a.shutdown().await;
    b.shutdown().await;
    c.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A minimal HTTP `CONNECT` proxy: tunnels each connection to where it
/// asks and records the targets.
async fn connect_proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split(' ').nth(1).unwrap_or("").to_owned();
                log.lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or("").to_owned());
                let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn the_sdk_tunnels_wss_and_https_through_an_http_proxy() {
    let dir = temp_dir("proxy");
    let ca = TestCa::new("proxy test CA");
    let ca_file = ca.write(&dir.join("ca.pem"));
    let served = ca.issue(&dir, "server");
    let (_child, addr) = spawn_tls_server(&served).await;
    let (proxy_addr, seen) = connect_proxy().await;
    let proxy = Proxy::Url(format!("http://{proxy_addr}"));
    let tls = tls_with(&ca_file);

    let client = Client::builder(format!("wss://localhost:{}", addr.port()))
        .tls(tls.clone())
        .proxy(proxy.clone())
        .connect()
        .await
        .unwrap();
    let mut sub = client.subscribe("missions").await.unwrap();
    let publisher = Publisher::new(format!("https://localhost:{}", addr.port()))
        .tls(&tls)
        .unwrap()
        .proxy(proxy)
        .unwrap();
    publisher
        .broadcast(
            "missions",
            "mission_started",
            json!({"mission_id": "m-proxy"}),
        )
        .await
        .unwrap();
    assert_eq!(next_mission(&mut sub).await, "m-proxy");
    let target = format!("localhost:{}", addr.port());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            format!("CONNECT {target} HTTP/1.1"),
            format!("CONNECT {target} HTTP/1.1")
        ],
        "the WebSocket and the HTTP call each went through one tunnel"
    );

    // A proxy that refuses is a clear connect error.
    let err = Client::builder(format!("wss://localhost:{}", addr.port()))
        .tls(tls)
        .proxy(Proxy::Url("http://127.0.0.1:1".into()))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ConnectErrorKind::Io, "{err}");
    assert!(err.to_string().contains("proxy 127.0.0.1:1"), "{err}");
    client.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn unusable_certificate_files_stop_the_start_with_the_reason() {
    let dir = temp_dir("bad");
    let ca = TestCa::new("bad-files CA");
    let good = ca.issue(&dir, "good");
    let other = ca.issue(&dir, "other");
    let start = |cert: &Path, key: &Path| {
        Server::start(Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            tls: Some(brain_ws_server::TlsFiles {
                cert: cert.to_owned(),
                key: key.to_owned(),
            }),
            ..Config::default()
        })
    };
    let missing = dir.join("missing.pem");
    let err = start(&missing, &good.key).await.err().unwrap().to_string();
    assert!(
        err.starts_with(&format!("TLS: {}: ", missing.display())),
        "{err}"
    );
    let err = start(&good.cert, &other.key)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("private key does not match"), "{err}");
    let err = start(&good.key, &good.key).await.err().unwrap().to_string();
    assert!(err.contains("no CERTIFICATE block"), "{err}");
    // The same refusals, as types a caller can match.
    use brain_ws_server::{StartError, TlsError};
    let err = start(&good.cert, &other.key).await.err().unwrap();
    assert!(
        matches!(&err, StartError::Tls(TlsError::KeyMismatch { cert, key })
            if cert == &good.cert && key == &other.key),
        "{err:?}"
    );
    let err = start(&missing, &good.key).await.err().unwrap();
    assert!(
        matches!(&err, StartError::Tls(TlsError::Certificate { path, .. }) if path == &missing),
        "{err:?}"
    );
    let err = start(&good.key, &good.key).await.err().unwrap();
    assert!(
        matches!(&err, StartError::Tls(TlsError::NoCertificate { path }) if path == &good.key),
        "{err:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
