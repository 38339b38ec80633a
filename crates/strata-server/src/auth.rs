//! JWT auth as cc-metric-store does it: tokens signed with Ed25519 (`alg: EdDSA`) only, the
//! public key in the config as base64 of its raw 32 bytes, `Authorization: Bearer <token>`.
//! The signature is checked, and `exp` when the token has one (cc-metric-store's example
//! token has none); other claims are not. InfluxDB clients send `Token <token>`, taken too.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::error::ApiError;
use crate::router::AppState;

/// What checks tokens: the key and the rules.
#[derive(Clone)]
pub struct Auth {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("algorithm", &"EdDSA").finish_non_exhaustive()
    }
}

/// Decodes `server.jwt_public_key`: standard base64 of exactly 32 bytes.
pub(crate) fn decode_public_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64 ({e})"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("an Ed25519 public key is 32 bytes, this one is {}", bytes.len()))
}

impl Auth {
    /// Auth with the key of `server.jwt_public_key`.
    ///
    /// # Errors
    /// A message saying why the key is not a base64 Ed25519 public key.
    pub fn new(public_key: &str) -> Result<Auth, String> {
        let raw = decode_public_key(public_key)?;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let key = DecodingKey::from_ed_components(&x).map_err(|e| format!("not an Ed25519 key ({e})"))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        // exp is checked when present, never required; no other claim is checked.
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.leeway = 0;
        validation.validate_aud = false;
        Ok(Auth { key, validation })
    }

    /// Checks the `Authorization` header's value.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] saying what is wrong with it.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), ApiError> {
        let value = authorization.ok_or_else(|| {
            ApiError::Unauthorized("missing Authorization header (expected \"Bearer <JWT>\")".into())
        })?;
        let token =
            value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("Token ")).ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header is not \"Bearer <JWT>\"".into())
            })?;
        jsonwebtoken::decode::<serde_json::Value>(token.trim(), &self.key, &self.validation)
            .map(|_| ())
            .map_err(|e| ApiError::Unauthorized(format!("invalid token: {}", describe(&e))))
    }
}

fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => "the token has expired (exp is in the past)".into(),
        ErrorKind::InvalidSignature => "the signature does not match the configured public key".into(),
        ErrorKind::InvalidAlgorithm => "only EdDSA (Ed25519) tokens are accepted".into(),
        _ => e.to_string(),
    }
}

/// Middleware: refuses requests without a valid token when auth is on.
pub(crate) async fn require(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(auth) = &state.auth {
        let header = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if let Err(e) = auth.check(header) {
            state.telemetry.count_request_rejected("unauthorized");
            let shape = crate::router::shape_of(request.uri().path());
            return e.into_response_shaped(shape);
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(decode_public_key("not base64!").unwrap_err().contains("not base64"));
        assert!(decode_public_key("AAAA").unwrap_err().contains("32 bytes, this one is 3"));
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(decode_public_key(&key).unwrap(), [7u8; 32]);
    }

    #[test]
    fn a_header_without_bearer_is_refused_by_name() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let auth = Auth::new(&key).unwrap();
        let err = auth.check(None).unwrap_err().to_string();
        assert!(err.contains("missing Authorization header"), "{err}");
        let err = auth.check(Some("Basic abc")).unwrap_err().to_string();
        assert!(err.contains("not \"Bearer <JWT>\""), "{err}");
        let err = auth.check(Some("Bearer abc")).unwrap_err().to_string();
        assert!(err.contains("invalid token"), "{err}");
    }
}
