//! Running the selected scenarios against a server: reads `GET /api/ws/info`
//! once, skips scenarios whose feature is off, runs independent scenarios
//! concurrently and the exclusive ones (server-wide counts, broadcasts to
//! every connection) one at a time afterwards, and collects the report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_ws_protocol::http::InfoResponse;
use futures_util::StreamExt;

use crate::config::{Config, Feature};
use crate::context::{Ctx, Shared};
use crate::glob::matches_filter;
use crate::outcome::Stop;
use crate::report::{Report, ScenarioResult, ServerSummary, Verdict};
use crate::scenario::{self, Scenario};
use crate::schema::{self, Schemas};

/// Runs every scenario `config` selects against the server it names and
/// reports each verdict. Never fails: a server that cannot be reached fails
/// the scenarios, it does not abort the run.
pub async fn run(config: Config) -> Report {
    let started = Instant::now();
    let target = config.ws_url.clone();
    let selected: Vec<Scenario> = scenario::all()
        .into_iter()
        .filter(|s| matches_filter(s.id, &config.filter))
        .collect();

    let setup = Schemas::compile()
        .map_err(|e| e.to_string())
        .and_then(|schemas| {
            brain_ws_client::Proxy::apply_to(
                &config.proxy,
                reqwest::Client::builder()
                    .timeout(config.step_timeout)
                    .use_preconfigured_tls((*config.tls.client_config()).clone()),
            )
            .and_then(reqwest::ClientBuilder::build)
            .map(|http| (schemas, http))
            .map_err(|e| format!("cannot build the HTTP client: {e}"))
        });
    let (schemas, http) = match setup {
        Ok(parts) => parts,
        Err(reason) => {
            let results = selected
                .iter()
                .map(|s| {
                    result(
                        s,
                        Verdict::Fail {
                            reason: reason.clone(),
                        },
                        Duration::ZERO,
                        None,
                    )
                })
                .collect();
            return Report {
                target,
                server: None,
                info_error: Some(reason),
                results,
                duration: started.elapsed(),
            };
        }
    };

    let info = fetch_info(&config, &schemas, &http).await;
    let shared = Arc::new(Shared::new(config, schemas, http, info));

    let mut results: Vec<Option<ScenarioResult>> = selected.iter().map(|_| None).collect();
    let mut concurrent = Vec::new();
    let mut exclusive = Vec::new();
    for (index, s) in selected.iter().enumerate() {
        if let Some(reason) = gate(s, &shared) {
            results[index] = Some(result(s, Verdict::Skipped { reason }, Duration::ZERO, None));
        } else if s.exclusive {
            exclusive.push(index);
        } else {
            concurrent.push(index);
        }
    }

    let concurrency = shared.config.concurrency.max(1);
    let finished: Vec<(usize, ScenarioResult)> = futures_util::stream::iter(concurrent)
        .map(|index| {
            let shared = shared.clone();
            let s = &selected[index];
            async move { (index, run_one(s, shared).await) }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for (index, r) in finished {
        results[index] = Some(r);
    }
    for index in exclusive {
        results[index] = Some(run_one(&selected[index], shared.clone()).await);
    }

    Report {
        target,
        server: shared.info.as_ref().ok().map(summary),
        info_error: shared.info.as_ref().err().cloned(),
        results: results.into_iter().flatten().collect(),
        duration: started.elapsed(),
    }
}

/// Runs one scenario in its own task, bounded by the scenario timeout.
async fn run_one(s: &Scenario, shared: Arc<Shared>) -> ScenarioResult {
    let limit = time_limit(s, &shared);
    let ctx = Ctx::new(shared);
    let transcript = ctx.transcript.clone();
    let started = Instant::now();
    let task = tokio::spawn(tokio::time::timeout(limit, (s.run)(ctx)));
    let verdict = match task.await {
        Ok(Ok(Ok(()))) => Verdict::Pass,
        Ok(Ok(Err(Stop::Fail(reason)))) => Verdict::Fail { reason },
        Ok(Ok(Err(Stop::Skip(reason)))) => Verdict::Skipped { reason },
        Ok(Err(_)) => Verdict::Fail {
            reason: format!("the scenario did not finish within {limit:?}"),
        },
        Err(e) => Verdict::Fail {
            reason: format!("the scenario crashed (a defect of the suite): {e}"),
        },
    };
    let evidence = verdict.is_fail().then(|| transcript.evidence());
    result(s, verdict, started.elapsed(), evidence)
}

/// The configured scenario timeout, stretched for heartbeat-paced
/// scenarios to a few heartbeat intervals plus the timeout.
fn time_limit(s: &Scenario, shared: &Shared) -> Duration {
    let configured = shared.config.scenario_timeout;
    match (&shared.info, s.heartbeat_paced) {
        (Ok(info), true) => {
            let beats = (info.heartbeat_interval * 5.0 + info.heartbeat_timeout * 2.0).max(0.0);
            Duration::try_from_secs_f64(beats)
                .map(|d| configured.max(d + shared.config.step_timeout))
                .unwrap_or(configured)
        }
        _ => configured,
    }
}

fn result(
    s: &Scenario,
    verdict: Verdict,
    duration: Duration,
    evidence: Option<crate::report::Evidence>,
) -> ScenarioResult {
    ScenarioResult {
        id: s.id.to_owned(),
        section: s.section.to_owned(),
        summary: s.summary.to_owned(),
        verdict,
        duration,
        evidence,
    }
}

/// Why a scenario is skipped before it starts, if it is.
fn gate(s: &Scenario, shared: &Shared) -> Option<String> {
    let feature = s.requires?;
    if shared.config.forced(feature) {
        return None;
    }
    let name = feature.name();
    match &shared.info {
        Ok(info) if feature_on(info, feature) => None,
        Ok(_) => Some(format!(
            "the server reports {name} off in GET /api/ws/info (--force {name} runs it anyway)"
        )),
        Err(_) => Some(format!(
            "GET /api/ws/info failed, so {name} is assumed off (--force {name} runs it anyway)"
        )),
    }
}

fn feature_on(info: &InfoResponse, feature: Feature) -> bool {
    match feature {
        Feature::Authentication => info.features.authentication,
        Feature::History => info.features.history,
        Feature::ClientPublish => info.features.client_publish,
        Feature::MultiNode => info.features.multi_node,
        Feature::Presence => info.features.presence,
        Feature::Rewind => info.features.rewind,
        Feature::HistoryRead => info.features.history_read,
        Feature::SlowHeartbeat => true,
    }
}

/// Reads `GET /api/ws/info`, checked against its schema.
async fn fetch_info(
    config: &Config,
    schemas: &Schemas,
    http: &reqwest::Client,
) -> Result<InfoResponse, String> {
    let url = format!("{}/api/ws/info", config.http_base());
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| format!("GET {url} answered {status} with a body that is not JSON: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url} answered {status}: {body}"));
    }
    schemas
        .check(schema::INFO_RESPONSE, &body)
        .map_err(|e| format!("GET {url}: the body {e}"))?;
    serde_json::from_value(body).map_err(|e| format!("GET {url}: {e}"))
}

fn summary(info: &InfoResponse) -> ServerSummary {
    let f = &info.features;
    let features = [
        (f.authentication, "authentication"),
        (f.history, "history"),
        (f.rewind, "rewind"),
        (f.history_read, "history_read"),
        (f.client_publish, "client_publish"),
        (f.multi_node, "multi_node"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| name.to_owned())
    .collect();
    ServerSummary {
        name: format!("{} {}", info.name, info.version),
        protocol: info.protocol.clone(),
        features,
        heartbeat_interval: info.heartbeat_interval,
    }
}
