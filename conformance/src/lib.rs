//! Conformance suite for BRAiN WebSocket servers (`brain.v1`).
//!
//! Points at any server URL and checks it against the protocol, scenario by
//! scenario: welcome, subscriptions, broadcasts, messages to users, the HTTP
//! API, heartbeat, each class of bad input, limits, ordering, fan-out,
//! recovery, authentication. Every frame and HTTP body received is checked
//! against the JSON Schemas of `brain-ws-protocol`, so the schemas are
//! tested against real servers too. Optional features are read from
//! `GET /api/ws/info` and their scenarios skipped when off (unless forced).
//!
//! ```no_run
//! # async fn demo() {
//! let mut config = brain_ws_conformance::Config::new("ws://127.0.0.1:8000");
//! config.filter = vec!["errors".into()];
//! let report = brain_ws_conformance::run(config).await;
//! assert!(report.is_success(), "{}", report.to_text());
//! # }
//! ```
//!
//! `docs/conformance.md` explains how to run it against a deployment, how to
//! read the report, and what each scenario proves.

mod config;
mod context;
mod glob;
mod http;
mod outcome;
mod render;
mod report;
mod runner;
mod scenario;
mod schema;
mod transcript;
mod ws;

pub use config::{Config, Feature};
pub use glob::{glob_match, matches_filter};
pub use report::{Direction, Evidence, Frame, Report, ScenarioResult, ServerSummary, Verdict};
pub use runner::run;
pub use scenario::{ScenarioInfo, catalogue};
