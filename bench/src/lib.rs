//! Benchmark of the BRAiN WebSocket server, and the two baselines it is
//! measured against on the same machine in the same run (issue 8).
//!
//! * [`run::run`] — the measuring program behind the `brain-ws-bench` binary:
//!   hand-rolled cheap WebSocket clients ([`client`]), broadcasts triggered
//!   over HTTP ([`http1`]), server CPU and memory from `/proc` ([`procfs`]).
//! * [`cluster::run`] — cluster mode: several nodes on one Redis, publishers
//!   on every node, events/s at p99 < limit, CPU per event on nodes and Redis.
//! * [`delay_proxy::serve`] — `bench-delay-proxy`, a TCP proxy adding a
//!   fixed delay each way (cluster mode over a slower network to Redis).
//! * [`floor::serve`] — `bench-floor`, the physical limit: raw sockets in
//!   one `Vec`, one write per subscriber per broadcast.
//! * [`axum_baseline::router`] — `bench-axum`, the straightforward axum
//!   server with default WebSocket settings and a task per connection.
//!
//! Ratios against the baselines measured in the same run are the only
//! figures that hold on a shared, noisy two-core machine; `bench/run.sh`
//! produces them and `docs/benchmarks.md` records them.

pub mod axum_baseline;
pub mod client;
pub mod cluster;
pub mod delay_proxy;
pub mod envelope;
pub mod floor;
pub mod http1;
pub mod many_channels;
pub mod options;
pub mod procfs;
pub mod report;
pub mod run;
pub mod stats;
pub mod steady;
pub mod stream;
pub mod wire;
