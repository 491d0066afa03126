//! Integration tests of the server: a real server on port 0, real WebSocket
//! and HTTP clients. One test binary, one module per topic.

mod certs;
mod support;

/// The binary's settings (flags, environment, TOML file), compiled into the
/// tests too: it is not part of the library's API.
#[allow(dead_code)]
#[path = "../../src/cli.rs"]
mod cli;

mod bad_input;
mod batch;
mod broker_config;
mod channels;
mod custom_broker;
mod docs;
mod embedded;
mod error_bodies;
mod fanout;
mod faults;
mod heartbeat;
mod history;
mod http_api;
mod lifecycle;
mod multinode;
mod presence;
mod protocol_errors;
mod publish_queue;
mod rewind;
mod security;
mod settings;
mod tls;
mod usability;
mod wire;
