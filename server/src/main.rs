//! The `brain-ws-server` binary: parse configuration, start, and shut down
//! gracefully on SIGINT or SIGTERM.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use brain_ws_server::Server;
use cli::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let (config, log_format) = match Settings::parse_or_exit().into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("brain-ws-server: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: a file or a pipe gets plain
    // text (and `NO_COLOR`, https://no-color.org, turns it off anyway).
    let ansi = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match log_format {
        LogFormat::Text => subscriber.init(),
        LogFormat::Json => subscriber.json().init(),
    }
    let server = match Server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("brain-ws-server: {e}");
            return ExitCode::from(2);
        }
    };
    wait_for_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
