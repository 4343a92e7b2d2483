//! The HTTP front end (axum): REST, GraphQL and WebSocket change streams
//! over one database.
//!
//! | path | what | file |
//! |---|---|---|
//! | `POST /v1/sql` | SQL with JSON parameters → typed JSON rows | `rest.rs`, `sql.rs` |
//! | `GET /v1/tables`, `GET /v1/tables/{name}` | tables and their schema | `rest.rs` |
//! | `GET /v1/changes/{table}` (WebSocket) | committed changes of a table | `changes.rs` |
//! | `POST /graphql`, `GET /graphql/ws` (WebSocket) | GraphQL queries, mutations, subscriptions | `graphql.rs` |
//! | `GET /health`, `GET /metrics` | liveness, Prometheus metrics | `rest.rs` |
//! | `GET /openapi.json` | the OpenAPI document | `openapi.rs` |
//! | `POST /v1/login`, `POST /v1/logout` | bearer tokens for a role's password | `login.rs` |
//!
//! Every request body is read whole before routing (`body.rs`), so an
//! oversized one is answered 413 however far its upload got.
//!
//! SQL values become JSON as `json.rs` says; errors are JSON bodies with a
//! SQLSTATE (`error.rs`). Limits: a request body is at most
//! [`MAX_BODY_BYTES`], a result at most [`sql::MAX_RESULT_ROWS`] rows, a
//! change stream buffers at most its capacity.
//!
//! Unlike the PostgreSQL protocol, which runs over Env streams, this front
//! end runs on tokio sockets (axum serves a tokio listener), so the
//! simulator does not drive it; the SQL it runs is the same engine. Every
//! request but the public ones carries a bearer token from `/v1/login` and
//! runs as that token's role, with the same privilege checks, throttle and
//! audit log as the wire protocol.

pub mod body;
pub mod changes;
pub mod error;
pub mod graphql;
pub mod json;
pub mod login;
pub mod openapi;
pub mod rest;
pub mod sql;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use rustydb_core::env::Env;
use rustydb_core::sql::Database;

use crate::Registry;
use crate::auth::Authenticator;

pub use body::MAX_BODY_BYTES;

/// What every handler shares.
#[derive(Clone)]
pub struct HttpState {
    pub env: Env,
    pub db: Arc<Database>,
    pub auth: Arc<Authenticator>,
    pub tokens: Arc<login::Tokens>,
    /// PostgreSQL connections (for metrics and shutdown state).
    pub registry: Arc<Registry>,
    pub graphql: graphql::RustyDbSchema,
    pub requests: Arc<AtomicU64>,
}

impl HttpState {
    pub fn new(env: &Env, db: Arc<Database>, registry: Arc<Registry>, auth: Arc<Authenticator>) -> HttpState {
        HttpState {
            env: env.clone(),
            graphql: graphql::schema(db.clone(), auth.clone()),
            db,
            auth,
            tokens: Arc::default(),
            registry,
            requests: Arc::default(),
        }
    }
}

/// Every route.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/v1/sql", post(rest::post_sql))
        .route("/v1/tables", get(rest::list_tables))
        .route("/v1/tables/{name}", get(rest::describe_table))
        .route("/v1/changes/{table}", get(changes::subscribe))
        .route("/v1/login", post(login::login))
        .route("/v1/logout", post(login::logout))
        .route("/graphql", post(graphql::post))
        .route("/graphql/ws", get(graphql::websocket))
        .route("/health", get(rest::health))
        .route("/metrics", get(rest::metrics))
        .route("/openapi.json", get(|| async { axum::Json(openapi::document()) }))
        .fallback(rest::not_found)
        .method_not_allowed_fallback(rest::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), login::require_caller))
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        // Outermost, so a body is read (and an oversized one drained)
        // before the caller is even checked; handlers get it buffered.
        .layer(middleware::from_fn(body::limit_body))
        .with_state(state)
}

async fn count_request(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    next.run(request).await
}

/// Serves `listener` until `stop` completes; then stops accepting and
/// lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(stop).await
}
