//! REST: `POST /v1/sql`, `GET /v1/tables`, `GET /v1/tables/{name}`,
//! `GET /health`, `GET /metrics`, and the 404/405 answers for anything else.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use rustydb_core::sql::catalog::TableDef;
use serde_json::{Value, json};

use super::HttpState;
use super::error::ApiError;
use super::json::result_json;
use super::login::Requester;
use super::sql::{self, Access, SqlRequest};

/// `POST /v1/sql`: `{"sql": …, "params": […]}` → `{"results": [{columns, rows, command, rows_affected}]}`.
pub async fn post_sql(
    State(state): State<HttpState>,
    Extension(requester): Extension<Requester>,
    body: Result<Json<SqlRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(request) = body?;
    let runner = sql::Runner { db: &state.db, auth: &state.auth, requester: &requester };
    let results = sql::run(&runner, &request, Access::ReadWrite).await?;
    Ok(Json(json!({"results": results.iter().map(result_json).collect::<Vec<_>>()})))
}

/// `GET /v1/tables`: every table with its columns.
pub async fn list_tables(State(state): State<HttpState>) -> Result<Json<Value>, ApiError> {
    let schema = state.db.schema().await?;
    let tables: Vec<Value> = schema.tables.values().map(|t| table_json(t, &[])).collect();
    Ok(Json(json!({"tables": tables})))
}

/// `GET /v1/tables/{name}`: one table's columns, keys and indexes.
pub async fn describe_table(State(state): State<HttpState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let schema = state.db.schema().await?;
    let table = schema.table(&name).ok_or_else(|| ApiError::not_found(format!("no table named {name:?}")))?;
    let indexes: Vec<Value> = schema
        .indexes_of(&name)
        .iter()
        .map(|index| {
            let columns: Vec<&str> = index.columns.iter().map(|&c| table.columns[c].name.as_str()).collect();
            json!({"name": index.name, "columns": columns, "unique": index.unique, "primary": index.primary})
        })
        .collect();
    Ok(Json(table_json(table, &indexes)))
}

fn table_json(table: &TableDef, indexes: &[Value]) -> Value {
    let columns: Vec<Value> = table
        .columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.data_type.sql_name(), "nullable": c.nullable, "default": c.default}))
        .collect();
    let primary_key: Vec<&str> = table.primary_key.iter().map(|&c| table.columns[c].name.as_str()).collect();
    let mut out = json!({"name": table.name, "columns": columns, "primary_key": primary_key});
    if !indexes.is_empty() {
        out["indexes"] = Value::Array(indexes.to_vec());
    }
    out
}

/// `GET /health`: 200 while serving, 503 once shutting down.
pub async fn health(State(state): State<HttpState>) -> impl IntoResponse {
    if state.registry.shutting_down() {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "shutting_down"})))
    } else {
        (StatusCode::OK, Json(json!({"status": "ok"})))
    }
}

/// `GET /metrics`: counters and gauges in Prometheus' text format.
pub async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let stats = state.db.engine().stats();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    metric("rustydb_commits_total", "counter", "Transactions committed since start.", stats.commits);
    metric("rustydb_rollbacks_total", "counter", "Transactions rolled back since start.", stats.rollbacks);
    metric(
        "rustydb_serialization_failures_total",
        "counter",
        "Transactions failed with 40001.",
        stats.serialization_failures,
    );
    metric("rustydb_lock_waits_total", "counter", "Lock requests that had to wait.", stats.locks.waits);
    metric("rustydb_deadlocks_total", "counter", "Deadlocks broken.", stats.locks.deadlocks);
    metric("rustydb_lock_timeouts_total", "counter", "Lock waits that timed out.", stats.locks.timeouts);
    metric("rustydb_versions_vacuumed_total", "counter", "Row versions removed by vacuum.", stats.versions_vacuumed);
    metric("rustydb_pg_connections", "gauge", "Open PostgreSQL protocol connections.", state.registry.len() as u64);
    let (flush_requests, syncs) = state.db.engine().store().log_stats();
    metric(
        "rustydb_wal_flush_requests_total",
        "counter",
        "Requests to make the log durable (commits).",
        flush_requests,
    );
    metric("rustydb_wal_syncs_total", "counter", "Syncs of the log (one covers every waiting commit).", syncs);
    let watchers = state.db.engine().change_watchers() as u64;
    metric("rustydb_change_streams", "gauge", "Open change streams (WebSocket and GraphQL subscriptions).", watchers);
    let requests = state.requests.load(Ordering::Relaxed);
    metric("rustydb_http_requests_total", "counter", "HTTP requests received.", requests);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /openapi.json")
}

/// A known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method")
}
