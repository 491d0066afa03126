//! `brain-ws-conformance`: checks a BRAiN WebSocket server against the
//! protocol and exits 0 only when every selected scenario passes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use brain_ws_client::Proxy;
use brain_ws_conformance::{Config, Feature, catalogue, matches_filter, run};
use clap::{Parser, ValueEnum};

/// Check a BRAiN WebSocket server against the brain.v1 protocol.
#[derive(Debug, Parser)]
#[command(name = "brain-ws-conformance", version)]
struct Cli {
    /// WebSocket base URL of the server, such as ws://127.0.0.1:8000.
    #[arg(long, env = "BRAIN_WS_CONFORMANCE_URL")]
    url: Option<String>,
    /// HTTP base URL of the same server (default: --url with ws replaced by http).
    #[arg(long)]
    http_url: Option<String>,
    /// Token for WebSocket connections (needed for user.send and auth.user_id).
    #[arg(long, env = "BRAIN_WS_CONFORMANCE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The server's HS256 JWT secret: lets the suite sign an expired token
    /// (auth.expired_token is skipped without it).
    #[arg(long, env = "BRAIN_WS_CONFORMANCE_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Admin API key, sent as Authorization: Bearer on HTTP calls.
    #[arg(long, env = "BRAIN_WS_CONFORMANCE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Select scenarios: an id, a group (`errors`), or a pattern with `*`;
    /// repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    filter: Vec<String>,
    /// List the selected scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Run the scenarios of an optional feature even if the server reports it off.
    #[arg(long, value_enum, num_args = 1..)]
    force: Vec<Feature>,
    /// Seconds one step (one expected frame or HTTP answer) may take.
    #[arg(long, default_value_t = 5.0)]
    step_timeout: f64,
    /// How many independent scenarios run at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// CA certificate (PEM) that signs the server's certificate, trusted on
    /// top of the public roots (a private CA, a test CA).
    #[arg(long, env = "BRAIN_WS_CONFORMANCE_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// TEST SET-UPS ONLY: accept any server certificate (expired,
    /// self-signed, another host's). The connection is then not authenticated.
    #[arg(long)]
    dangerous_accept_invalid_certificates: bool,
    /// HTTP proxy for WebSocket and HTTP, `http://host:port`, or `none`
    /// [default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment].
    #[arg(long)]
    proxy: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Junit,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list {
        for s in catalogue()
            .into_iter()
            .filter(|s| matches_filter(s.id, &cli.filter))
        {
            let needs = s
                .requires
                .map(|f| format!(" [needs {}]", f.name()))
                .unwrap_or_default();
            println!(
                "{:<36} {}{needs}\n{:<36} {}",
                s.id, s.summary, "", s.section
            );
        }
        return ExitCode::SUCCESS;
    }
    let Some(url) = cli.url else {
        eprintln!("error: --url is required (for example --url ws://127.0.0.1:8000)");
        return ExitCode::from(2);
    };
    let Ok(step_timeout) = Duration::try_from_secs_f64(cli.step_timeout) else {
        eprintln!("error: --step-timeout must be a positive number of seconds");
        return ExitCode::from(2);
    };
    let mut config = Config::new(url);
    config.http_url = cli.http_url;
    config.token = cli.token;
    config.jwt_secret = cli.jwt_secret;
    config.api_key = cli.api_key;
    config.filter = cli.filter;
    config.force = cli.force;
    config.step_timeout = step_timeout;
    config.concurrency = cli.concurrency;
    if let Some(path) = &cli.ca_file {
        match config.tls.clone().with_ca_file(path) {
            Ok(tls) => config.tls = tls,
            Err(e) => {
                eprintln!("error: --ca-file: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if cli.dangerous_accept_invalid_certificates {
        eprintln!(
            "warning: --dangerous-accept-invalid-certificates: the server's certificate is NOT checked"
        );
        config.tls = config.tls.dangerous_accept_invalid_certificates();
    }
    config.proxy = match cli.proxy.as_deref() {
        None => Proxy::FromEnv,
        Some("none") => Proxy::Direct,
        Some(url) => Proxy::Url(url.to_owned()),
    };

    let report = run(config).await;
    if report.results.is_empty() {
        eprintln!("error: the filter selects no scenario (see --list)");
        return ExitCode::from(2);
    }
    match cli.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", report.to_json()),
        Format::Junit => print!("{}", report.to_junit()),
    }
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
