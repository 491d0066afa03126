//! JSON Web Token verification: the [`Authenticator`] the server uses when a
//! JWT key is configured (`--jwt-secret` or `--jwt-public-key`).
//!
//! The algorithm is pinned by the key, never taken from the token: an HS256
//! key accepts HS256 only, an RSA key RS256 only, a P-256 key ES256 only (a
//! P-384 key ES384). `alg: none` cannot even be represented by the decoder.
//! `exp` and `sub` are required, `exp` and `nbf` are checked with a small
//! leeway, `iss` and `aud` when configured. Errors never quote the token.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::auth::{AuthError, Authenticator, Identity};
use crate::pattern::ChannelPattern;

/// Longest accepted `sub`, the same bound as user ids in the HTTP API.
const MAX_SUBJECT_LEN: usize = 256;

/// Why a token was refused. Each variant is a fixed message: a token, or a
/// part of it, is never echoed back or logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url segments of JSON, too long, or a header naming an
    /// algorithm the decoder does not know (including `none`).
    #[error("the token is not a well-formed JWT with a supported algorithm")]
    Malformed,
    /// The header names an algorithm other than the configured key's.
    #[error("the token's algorithm does not match the server's key")]
    WrongAlgorithm,
    /// The signature does not verify with the configured key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not one of the configured issuers.
    #[error("the token's issuer is not accepted")]
    InvalidIssuer,
    /// `aud` does not name one of the configured audiences (or the token has
    /// an audience and the server has none configured).
    #[error("the token's audience is not accepted")]
    InvalidAudience,
    /// A required claim is absent.
    #[error("the token lacks the {0} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or an unacceptable value.
    #[error("the token's {0} claim is invalid")]
    InvalidClaim(&'static str),
}

/// Why a JWT key could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtKeyError {
    /// The HS256 secret is shorter than [`JwtAuthenticator::MIN_SECRET_LEN`] bytes.
    #[error(
        "the JWT secret must be at least {} bytes",
        JwtAuthenticator::MIN_SECRET_LEN
    )]
    ShortSecret,
    /// The PEM is neither an RSA nor a P-256/P-384 public key.
    #[error("not an RSA or EC (P-256, P-384) public key in PEM form")]
    UnsupportedKey,
}

/// The claims the server reads. Unknown claims are ignored.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<serde_json::Number>,
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    channels: Option<Vec<String>>,
}

/// Verifies JWTs with one key and turns their claims into an [`Identity`]:
/// `sub` is the user id, `roles` (array of strings) the roles, `channels`
/// (array of channel names or `prefix*` patterns) the channels the holder
/// is restricted to.
#[derive(Clone)]
pub struct JwtAuthenticator {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthenticator")
            .field("algorithm", &self.algorithm())
            .field("leeway", &self.validation.leeway)
            .field("issuers", &self.validation.iss)
            .field("audiences", &self.validation.aud)
            .finish_non_exhaustive()
    }
}

impl JwtAuthenticator {
    /// Longest token accepted, in bytes: bounds the work an attacker can make
    /// one handshake cost (base64 and signature hashing).
    pub const MAX_TOKEN_LEN: usize = 8 * 1024;
    /// Shortest accepted HS256 secret: RFC 7518 section 3.2 wants a key at
    /// least as long as the hash output (256 bits).
    pub const MIN_SECRET_LEN: usize = 32;
    /// Default clock-skew allowance for `exp` and `nbf`.
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

    /// HS256 with a shared secret of at least [`Self::MIN_SECRET_LEN`] bytes.
    pub fn hs256(secret: &[u8]) -> Result<Self, JwtKeyError> {
        if secret.len() < Self::MIN_SECRET_LEN {
            return Err(JwtKeyError::ShortSecret);
        }
        Ok(Self::with_key(
            DecodingKey::from_secret(secret),
            Algorithm::HS256,
        ))
    }

    /// RS256 (RSA key), ES256 (P-256 key) or ES384 (P-384 key), from a PEM
    /// public key (`PUBLIC KEY` or `RSA PUBLIC KEY`); the key type picks the
    /// one algorithm accepted.
    pub fn from_public_key_pem(pem: &[u8]) -> Result<Self, JwtKeyError> {
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            return Ok(Self::with_key(key, Algorithm::RS256));
        }
        let key = DecodingKey::from_ec_pem(pem).map_err(|_| JwtKeyError::UnsupportedKey)?;
        // An uncompressed SEC1 point: 1 + 2 * 32 bytes on P-256, 1 + 2 * 48 on P-384.
        let algorithm = match key.try_get_as_bytes().map(<[u8]>::len) {
            Ok(65) => Algorithm::ES256,
            Ok(97) => Algorithm::ES384,
            _ => return Err(JwtKeyError::UnsupportedKey),
        };
        Ok(Self::with_key(key, algorithm))
    }

    fn with_key(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // `exp` stays required, but is checked by `auth::time_left` at
        // sub-second precision: jsonwebtoken compares whole seconds, which
        // accepted a token up to a second after live connections holding it
        // were closed.
        validation.validate_exp = false;
        validation.validate_nbf = true;
        validation.leeway = Self::DEFAULT_LEEWAY.as_secs();
        Self { key, validation }
    }

    /// Accepts tokens only from these issuers (`iss` becomes required).
    pub fn with_issuers(mut self, issuers: &[String]) -> Self {
        if !issuers.is_empty() {
            self.validation.set_issuer(issuers);
            self.validation.required_spec_claims.insert("iss".into());
        }
        self
    }

    /// Accepts tokens only for these audiences (`aud` becomes required).
    pub fn with_audiences(mut self, audiences: &[String]) -> Self {
        if !audiences.is_empty() {
            self.validation.set_audience(audiences);
            self.validation.required_spec_claims.insert("aud".into());
        }
        self
    }

    /// Clock-skew allowance for `exp` and `nbf` (whole seconds).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.validation.leeway = leeway.as_secs();
        self
    }

    /// The one algorithm this key accepts, e.g. `RS256`.
    pub fn algorithm(&self) -> String {
        self.validation
            .algorithms
            .first()
            .map(|a| format!("{a:?}"))
            .unwrap_or_default()
    }

    /// Verifies a token and reads its identity. `expires_at` is the token's
    /// `exp` plus the leeway: the moment a connection holding it is closed.
    pub fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        if token.is_empty() || token.len() > Self::MAX_TOKEN_LEN {
            return Err(JwtError::Malformed);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| classify(e.kind()))?;
        let claims = data.claims;
        let sub = claims.sub.ok_or(JwtError::MissingClaim("sub"))?;
        if sub.is_empty() || sub.len() > MAX_SUBJECT_LEN {
            return Err(JwtError::InvalidClaim("sub"));
        }
        let exp = claims
            .exp
            .as_ref()
            .and_then(|n| n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)))
            .ok_or(JwtError::InvalidClaim("exp"))?;
        let channels = claims
            .channels
            .map(|list| {
                list.iter()
                    .map(|p| p.parse::<ChannelPattern>())
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|_| JwtError::InvalidClaim("channels"))?;
        let expires_at = exp.saturating_add(self.validation.leeway);
        if crate::auth::time_left(expires_at, std::time::SystemTime::now()).is_zero() {
            return Err(JwtError::Expired);
        }
        Ok(Identity {
            user_id: Some(Arc::from(sub)),
            roles: claims.roles.unwrap_or_default(),
            channels,
            expires_at: Some(expires_at),
        })
    }
}

fn classify(kind: &ErrorKind) -> JwtError {
    match kind {
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => JwtError::WrongAlgorithm,
        ErrorKind::InvalidSignature => JwtError::BadSignature,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidIssuer => JwtError::InvalidIssuer,
        ErrorKind::InvalidAudience => JwtError::InvalidAudience,
        ErrorKind::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim_name(claim)),
        ErrorKind::InvalidClaimFormat(claim) => JwtError::InvalidClaim(claim_name(claim)),
        // The token's own `exp` is malformed (e.g. negative).
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_)
        | ErrorKind::InvalidSubject => JwtError::Malformed,
        // Key and provider errors: the token cannot have been signed by our key.
        _ => JwtError::BadSignature,
    }
}

fn claim_name(claim: &str) -> &'static str {
    match claim {
        "exp" => "exp",
        "nbf" => "nbf",
        "sub" => "sub",
        "iss" => "iss",
        "aud" => "aud",
        _ => "unknown",
    }
}

impl Authenticator for JwtAuthenticator {
    fn authenticate(&self, token: Option<&str>) -> Result<Identity, AuthError> {
        match token {
            None => Ok(Identity::default()),
            Some(token) => self.verify(token).map_err(|e| match e {
                JwtError::Expired => AuthError::Expired,
                other => AuthError::Invalid(other.into()),
            }),
        }
    }
}
