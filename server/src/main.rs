//! brain-ws-server binary.
fn main() {}
