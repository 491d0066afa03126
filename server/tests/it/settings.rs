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
