//! Tests of brain-ws-bench: the wire codec, /proc readers and statistics
//! against known values, and whole bench runs against real servers on
//! port 0 (the floor, the axum baseline, and scripted misbehaving servers).
#![allow(clippy::unwrap_used)]

mod envelope;
mod procfs;
mod report;
mod runs;
mod servers;
mod shapes;
mod stats;
mod subscribing;
mod wire;
