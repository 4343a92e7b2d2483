//! HTTP authentication: `POST /v1/login` trades a role's password for a
//! bearer token, `POST /v1/logout` revokes one, and a middleware resolves
//! the `Authorization: Bearer …` header of every other request to the role
//! it runs as ([`Caller`]).
//!
//! Tokens are 256 random bits from the Env, valid for [`TOKEN_TTL`], kept in
//! memory (a restart logs everyone out) and bounded to [`MAX_TOKENS`]: past
//! that the oldest is revoked. The password is checked against the role's
//! Argon2id hash on the blocking pool (it takes tens of milliseconds by
//! design), through the same failed-login throttle and audit log as the
//! wire protocol. Only `/health`, `/metrics`, `/openapi.json` and the login
//! itself are served without a token. Under `auth = "trust"` a request
//! without a token runs as the database owner.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustydb_core::env::Instant;
use rustydb_core::sql::roles::PasswordSecrets;
use serde::Deserialize;
use serde_json::json;

use super::HttpState;
use super::error::ApiError;
use crate::auth::{AuthMethod, Origin};

/// How long a token stays valid.
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Live tokens kept at most.
pub const MAX_TOKENS: usize = 10_000;
/// Paths served without a token.
const PUBLIC_PATHS: [&str; 4] = ["/health", "/metrics", "/openapi.json", "/v1/login"];

/// Who sent an HTTP request: the role it runs as (`None`: the database
/// owner, under `trust` only) and where it came from.
#[derive(Debug, Clone)]
pub struct Requester {
    pub user: Option<String>,
    pub origin: Origin,
}

impl Requester {
    /// The name the audit log records.
    pub fn name(&self) -> &str {
        self.user.as_deref().unwrap_or("(owner)")
    }
}

/// Live bearer tokens.
#[derive(Default)]
pub struct Tokens {
    live: Mutex<BTreeMap<String, Issued>>,
}

#[derive(Clone)]
struct Issued {
    user: String,
    issued: Instant,
}

impl Tokens {
    fn issue(&self, token: String, user: &str, now: Instant) {
        let mut live = self.live.lock().expect("tokens lock");
        live.retain(|_, issued| now.saturating_since(issued.issued) < TOKEN_TTL);
        if live.len() >= MAX_TOKENS {
            let oldest = live.iter().min_by_key(|(_, issued)| issued.issued).map(|(t, _)| t.clone());
            if let Some(oldest) = oldest {
                live.remove(&oldest);
            }
        }
        live.insert(token, Issued { user: user.to_string(), issued: now });
    }

    fn user_of(&self, token: &str, now: Instant) -> Option<String> {
        let live = self.live.lock().expect("tokens lock");
        live.get(token).filter(|issued| now.saturating_since(issued.issued) < TOKEN_TTL).map(|i| i.user.clone())
    }

    fn revoke(&self, token: &str) -> bool {
        self.live.lock().expect("tokens lock").remove(token).is_some()
    }
}

/// The body of `POST /v1/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    user: String,
    password: String,
}

/// `POST /v1/login`: `{"user", "password"}` → `{"token", "expires_in_seconds"}`.
pub async fn login(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let origin = Origin { host: peer.ip().to_string(), via: "http" };
    let auth = &state.auth;
    auth.admit(&request.user, &origin).await?;
    let secrets = auth.login_role(&request.user).await?.and_then(|role| role.password.clone());
    let password = request.password;
    let matches = tokio::task::spawn_blocking(move || match secrets {
        Some(secrets) => secrets.verify(&password),
        None => PasswordSecrets::unmatchable().verify(&password),
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "XX000", e.to_string()))?;
    if !matches {
        return Err(auth.failed(&request.user, &origin).await.into());
    }
    auth.succeeded(&request.user, &origin).await?;
    let token = new_token(&state);
    state.tokens.issue(token.clone(), &request.user, state.env.clock.now());
    Ok(Json(json!({"token": token, "expires_in_seconds": TOKEN_TTL.as_secs()})).into_response())
}

/// `POST /v1/logout`: revokes the request's own token.
pub async fn logout(State(state): State<HttpState>, request: Request) -> Result<StatusCode, ApiError> {
    match bearer(&request) {
        Some(token) if state.tokens.revoke(token) => Ok(StatusCode::NO_CONTENT),
        _ => Err(unauthorized("no valid bearer token")),
    }
}

/// Resolves the caller of every request but the public ones; 401 without
/// a valid token.
pub async fn require_caller(State(state): State<HttpState>, mut request: Request, next: Next) -> Response {
    if PUBLIC_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let now = state.env.clock.now();
    let user = match bearer(&request) {
        Some(token) => match state.tokens.user_of(token, now) {
            Some(user) => Some(user),
            None => return unauthorized("the bearer token is unknown or expired; log in again").into_response(),
        },
        None if state.auth.method() == AuthMethod::Trust => None,
        None => return unauthorized("log in at POST /v1/login and send Authorization: Bearer <token>").into_response(),
    };
    let host = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let origin = Origin { host: host.unwrap_or_default(), via: "http" };
    request.extensions_mut().insert(Requester { user, origin });
    next.run(request).await
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn new_token(state: &HttpState) -> String {
    let mut bytes = [0u8; 32];
    state.env.random.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "28000", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_are_revoked_and_are_bounded() {
        let tokens = Tokens::default();
        let t0 = Instant::from_nanos(0);
        tokens.issue("a".into(), "alice", t0);
        assert_eq!(tokens.user_of("a", t0).as_deref(), Some("alice"));
        assert_eq!(tokens.user_of("a", t0.saturating_add(TOKEN_TTL)), None, "expired");
        assert!(tokens.revoke("a"));
        assert!(!tokens.revoke("a"));
        for i in 0..=MAX_TOKENS {
            tokens.issue(format!("t{i}"), "u", Instant::from_nanos(i as u64));
        }
        assert_eq!(tokens.live.lock().unwrap().len(), MAX_TOKENS);
        assert_eq!(tokens.user_of("t0", Instant::from_nanos(0)), None, "the oldest went first");
    }
}
