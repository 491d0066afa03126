//! The binary reads each setting from flag, environment and `--config` file
//! in that order of precedence (docs/operations.md "Configuration"), proved
//! on the real binary through which setting it refuses: a refused value only
//! fails the start if it is the one that wins.

use std::process::Command;

/// Runs the binary with `args` and `envs` (and no other `BRAIN_WS_*`
/// variable) and returns its exit code and stderr.
fn run(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brain-ws-server"));
    for (key, _) in std::env::vars() {
        if key.starts_with("BRAIN_WS_") {
            command.env_remove(key);
        }
    }
    let out = command
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn flags_beat_the_environment_which_beats_the_file() {
    let dir = std::env::temp_dir().join(format!("brain-ws-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join("server.toml");
    std::fs::write(&file, "max_connections = 0\nbind = \"127.0.0.1:0\"\n").expect("write");
    let config = file.to_str().expect("utf-8");

    let (code, err) = run(&["--config", config], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.trim(),
        "brain-ws-server: invalid configuration: max connections must be at least 1"
    );
    let env = [
        ("BRAIN_WS_CONFIG", config),
        ("BRAIN_WS_MAX_CONNECTIONS", "5"),
        ("BRAIN_WS_HEARTBEAT_TIMEOUT", "1ms"),
    ];
    // The environment's value replaces the file's, so the next bad value
    // (also from the environment) is the one refused.
    let (code, err) = run(&[], &env);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.trim(),
        "brain-ws-server: invalid configuration: heartbeat timeout must be at least 10ms"
    );
    // A flag replaces the environment's value.
    let (code, err) = run(
        &["--heartbeat-timeout", "1s", "--outbound-queue", "1"],
        &env,
    );
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.trim(),
        "brain-ws-server: invalid configuration: outbound queue must hold at least 2 frames"
    );
    // Lists: comma-separated in the environment, each value parsed.
    let (code, err) = run(&[], &[("BRAIN_WS_CLIENT_PUBLISH", "chat:*,bad name")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad name"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Library callers match configuration errors by variant and setting; the
/// messages are the ones the binary prints.
#[tokio::test]
async fn configuration_errors_are_typed_for_callers() {
    use brain_ws_server::{BrokerConfig, Config, ConfigError, Node, RedisTls};
    let config = Config {
        max_connections: 0,
        ..Config::default()
    };
    let err = config.validate().expect_err("0 connections is refused");
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                setting: "max_connections",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "invalid configuration: max connections must be at least 1"
    );
    let err = "postgres://db"
        .parse::<BrokerConfig>()
        .expect_err("not a broker");
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                setting: "broker",
                ..
            }
        ),
        "{err:?}"
    );
    let missing = std::path::PathBuf::from("/nonexistent/brain-ws-ca.pem");
    let err = Node::start(Config {
        broker: BrokerConfig::Redis("rediss://127.0.0.1:1/0".into()),
        redis_tls: RedisTls {
            ca: Some(missing.clone()),
            ..RedisTls::default()
        },
        ..Config::default()
    })
    .await
    .err()
    .expect("an unreadable CA is refused");
    let brain_ws_server::StartError::Config(ConfigError::Unreadable { what, path, source }) = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        (*what, path, source.kind()),
        ("Redis TLS CA", &missing, std::io::ErrorKind::NotFound)
    );
    assert!(
        err.to_string().starts_with(
            "invalid configuration: cannot read Redis TLS CA /nonexistent/brain-ws-ca.pem: "
        ),
        "{err}"
    );
}
