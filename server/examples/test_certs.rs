//! Writes a throwaway test CA and a certificate it signs for `localhost` and
//! `127.0.0.1` into a directory: `ca.pem`, `server.pem`, `server-key.pem`,
//! `client.pem`, `client-key.pem`. For TLS tests and CI only.
//!
//! ```sh
//! cargo run -p brain-ws-server --example test_certs -- /tmp/certs
//! ```

#[path = "../tests/it/certs.rs"]
mod certs;

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: test_certs DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("test_certs: {}: {e}", dir.display());
        std::process::exit(2);
    }
    let ca = certs::TestCa::new("brain-ws test CA");
    ca.write(&dir.join("ca.pem"));
    ca.issue(&dir, "server");
    ca.issue(&dir, "client");
    println!("{}", dir.display());
}
