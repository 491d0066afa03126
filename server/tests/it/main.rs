//! Integration tests of the server: a real server on port 0, real WebSocket
//! and HTTP clients. One test binary, one module per topic.

mod multinode;
