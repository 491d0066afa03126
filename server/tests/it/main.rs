//! Integration tests of the server: a real server on port 0, real WebSocket
//! and HTTP clients. One test binary, one module per topic.

mod support;

mod bad_input;
mod broker_config;
mod channels;
mod embedded;
mod error_bodies;
mod fanout;
mod heartbeat;
mod history;
mod http_api;
mod lifecycle;
mod multinode;
mod protocol_errors;
mod security;
mod usability;
mod wire;
