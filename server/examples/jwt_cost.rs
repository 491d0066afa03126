//! What verifying one token costs, per algorithm: the CPU an anonymous
//! client can make the server spend per handshake attempt (docs/security.md).
//!
//! `cargo run --release -p brain-ws-server --example jwt_cost`

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use brain_ws_server::JwtAuthenticator;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

const SECRET: &[u8] = b"test-secret-0123456789-abcdefghijklmnop";
const RSA_PRIVATE: &[u8] = include_bytes!("../tests/it/keys/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../tests/it/keys/rsa_public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../tests/it/keys/ec_private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("../tests/it/keys/ec_public.pem");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 3600;
    let claims = serde_json::json!({"sub": "user-1", "exp": exp, "roles": ["a"], "channels": ["missions", "user:1*"]});
    let cases = [
        (
            "HS256",
            JwtAuthenticator::hs256(SECRET)?,
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(SECRET),
            )?,
        ),
        (
            "RS256",
            JwtAuthenticator::from_public_key_pem(RSA_PUBLIC)?,
            jsonwebtoken::encode(
                &Header::new(Algorithm::RS256),
                &claims,
                &EncodingKey::from_rsa_pem(RSA_PRIVATE)?,
            )?,
        ),
        (
            "ES256",
            JwtAuthenticator::from_public_key_pem(EC_PUBLIC)?,
            jsonwebtoken::encode(
                &Header::new(Algorithm::ES256),
                &claims,
                &EncodingKey::from_ec_pem(EC_PRIVATE)?,
            )?,
        ),
    ];
    for (name, auth, token) in &cases {
        auth.verify(token)?;
        let n = 2000;
        let started = Instant::now();
        for _ in 0..n {
            std::hint::black_box(auth.verify(std::hint::black_box(token))?);
        }
        let valid = started.elapsed() / n;
        // A forged token (the claims changed, the signature kept) costs the
        // full signature check, then fails.
        let mut parts = token.splitn(3, '.');
        let (header, _, signature) = (
            parts.next().unwrap_or_default(),
            parts.next(),
            parts.next().unwrap_or_default(),
        );
        let other = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "someone-else", "exp": exp}),
            &EncodingKey::from_secret(SECRET),
        )?;
        let payload = other.split('.').nth(1).unwrap_or_default();
        let forged = format!("{header}.{payload}.{signature}");
        assert!(auth.verify(&forged).is_err());
        let started = Instant::now();
        for _ in 0..n {
            let _ = std::hint::black_box(auth.verify(std::hint::black_box(&forged)));
        }
        let bad = started.elapsed() / n;
        println!("{name}: valid token {valid:?}, forged signature {bad:?} per verification");
    }
    let garbage = "x".repeat(9000);
    let started = Instant::now();
    for _ in 0..100_000 {
        let _ = std::hint::black_box(cases[1].1.verify(std::hint::black_box(&garbage)));
    }
    println!(
        "oversize token (9000 bytes): {:?} per refusal",
        started.elapsed() / 100_000
    );
    Ok(())
}
