//! Small things a user hit (issue 14, item 12), each against the real
//! binary or a real server: plain logs into a pipe, `--bind localhost:N`,
//! a bad environment value named by its variable, and `GET /`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_brain-ws-server");

/// Runs the binary with `args` and `env` until it exits or `for_` passes
/// (then it is killed); returns its exit code (None when killed) and its
/// stdout and stderr.
async fn run(args: &[&str], env: &[(&str, &str)], for_: Duration) -> (Option<i32>, String, String) {
    let mut child = tokio::process::Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary starts");
    let code = match tokio::time::timeout(for_, child.wait()).await {
        Ok(status) => status.expect("wait").code(),
        Err(_) => {
            child.start_kill().expect("kill");
            child.wait().await.expect("wait");
            None
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .await
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .await
        .expect("read");
    (code, out, err)
}

#[tokio::test]
async fn logs_into_a_pipe_have_no_colour_codes_and_localhost_binds() {
    let (code, out, _) = run(&["--bind", "localhost:0"], &[], Duration::from_secs(2)).await;
    assert_eq!(code, None, "still running when stopped: {out}");
    assert!(out.contains("listening on 127.0.0.1:"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no ANSI escape in piped logs: {out:?}"
    );
}

#[tokio::test]
async fn a_bind_that_resolves_to_nothing_says_what_is_expected() {
    let (code, _, err) = run(
        &["--bind", "no-such-host.invalid:8000"],
        &[],
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(
        err.contains("invalid value 'no-such-host.invalid:8000' for '--bind <BIND>'")
            && err.contains(
                "(expected ip:port or host:port, e.g. 127.0.0.1:8000, [::1]:8000 or localhost:8000)"
            ),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_environment_value_is_reported_under_the_variable() {
    let (code, _, err) = run(
        &[],
        &[("BRAIN_WS_MAX_CONNECTIONS", "lots")],
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(code, Some(2));
    assert_eq!(
        err.trim(),
        "brain-ws-server: invalid value \"lots\" in environment variable BRAIN_WS_MAX_CONNECTIONS \
         (the --max-connections setting): invalid digit found in string"
    );
    // A broker URL's password is never echoed.
    let (code, _, err) = run(
        &[],
        &[("BRAIN_WS_BROKER", "postgres://user:pw@db")],
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(code, Some(2));
    assert_eq!(
        err.trim(),
        "brain-ws-server: invalid configuration: broker URL scheme \"postgres\": expected `memory` \
         or a redis://, rediss:// or unix:// URL"
    );
    // The same bad value typed as a flag keeps clap's message about the flag.
    let (code, _, err) = run(&["--max-connections", "lots"], &[], Duration::from_secs(20)).await;
    assert_eq!(code, Some(2));
    assert!(
        err.contains("invalid value 'lots' for '--max-connections <MAX_CONNECTIONS>'"),
        "{err}"
    );
}

#[tokio::test]
async fn the_root_points_at_the_test_page_and_the_info_endpoint() {
    let server = start(|_| {}).await;
    let (status, body) = get(&server, "/").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "name": "brain-ws-server",
            "protocol": "brain.v1",
            "test_page": "/static/websocket_test.html",
            "info": "/api/ws/info",
            "openapi": "/openapi.json",
            "websocket": "/ws/connect",
            "health": "/health",
        })
    );
}
