//! GraphQL (async-graphql) over the same database: `POST /graphql` for
//! queries and mutations, `GET /graphql/ws` for subscriptions (the
//! graphql-transport-ws and graphql-ws WebSocket protocols).
//!
//! The schema is generic rather than generated per table, so it never goes
//! stale under DDL:
//! - `Query.tables`: tables with their columns;
//! - `Query.sql(sql, params)`: one statement in a READ ONLY transaction
//!   (a write fails with 25006);
//! - `Mutation.sql(sql, params)`: statements that may write, as REST's `/v1/sql`;
//! - `Subscription.changes(table, capacity)`: committed changes of a table,
//!   in commit order; a subscriber that lags gets an error and the stream ends.
//!
//! Every operation runs as the request's role (the [`Requester`] the login
//! middleware resolved, handed to async-graphql as request data; for the
//! WebSocket, the upgrade request's token).
//!
//! Limits: depth 16, complexity 1,000, and the HTTP body limit of the router.

use std::sync::Arc;

use async_graphql::futures_util::Stream;
use async_graphql::{Context, ErrorExtensions, Json as GqlJson, Object, Schema, SimpleObject, Subscription};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, State};
use axum::response::Response;
use rustydb_core::sql::privileges::Privilege;
use rustydb_core::sql::{Database, QueryResult};

use super::HttpState;
use super::changes::{DEFAULT_CAPACITY, MAX_CAPACITY, change_json};
use super::error::ApiError;
use super::json::value_to_json;
use super::login::Requester;
use super::sql::{self, Access, SqlRequest};
use crate::auth::Authenticator;

pub type RustyDbSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

pub fn schema(db: Arc<Database>, auth: Arc<Authenticator>) -> RustyDbSchema {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .data(db)
        .data(auth)
        .limit_depth(16)
        .limit_complexity(1000)
        .finish()
}

/// `POST /graphql`. The body is parsed here, not by async-graphql's
/// extractor, so malformed JSON gets the same JSON error body as REST.
pub async fn post(
    State(state): State<HttpState>,
    Extension(requester): Extension<Requester>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), "bad_request", e.body_text()))?;
    let request: async_graphql::Request = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_REQUEST, "bad_json", e.to_string()))?;
    let response = state.graphql.execute(request.data(requester)).await;
    let json = serde_json::to_value(&response).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(json))
}

/// `GET /graphql/ws`: subscriptions over graphql-transport-ws or graphql-ws,
/// as the role whose token the upgrade request carried.
pub async fn websocket(
    State(state): State<HttpState>,
    Extension(requester): Extension<Requester>,
    protocol: GraphQLProtocol,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade =
        upgrade.map_err(|e| ApiError::bad_request(format!("a WebSocket upgrade is needed: {}", e.body_text())))?;
    let schema = state.graphql.clone();
    Ok(upgrade.protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |stream| {
        let mut data = async_graphql::Data::default();
        data.insert(requester);
        GraphQLWebSocket::new(stream, schema, protocol).with_data(data).serve()
    }))
}

#[derive(SimpleObject)]
struct Column {
    name: String,
    #[graphql(name = "type")]
    data_type: String,
    nullable: bool,
}

#[derive(SimpleObject)]
struct Table {
    name: String,
    columns: Vec<Column>,
    primary_key: Vec<String>,
}

#[derive(SimpleObject)]
struct ResultColumn {
    name: String,
    #[graphql(name = "type")]
    data_type: String,
}

/// One statement's result; `rows` is a JSON array of arrays, typed as in REST.
#[derive(SimpleObject)]
struct SqlResult {
    columns: Vec<ResultColumn>,
    rows: GqlJson<serde_json::Value>,
    command: String,
    rows_affected: u64,
}

impl From<&QueryResult> for SqlResult {
    fn from(result: &QueryResult) -> SqlResult {
        let rows =
            result.rows.iter().map(|row| serde_json::Value::Array(row.iter().map(value_to_json).collect())).collect();
        SqlResult {
            columns: result
                .columns
                .iter()
                .map(|c| ResultColumn { name: c.name.clone(), data_type: c.data_type.sql_name() })
                .collect(),
            rows: GqlJson(serde_json::Value::Array(rows)),
            command: result.tag.clone(),
            rows_affected: result.affected,
        }
    }
}

fn gql_error(error: rustydb_core::Error) -> async_graphql::Error {
    let code = error.sqlstate();
    async_graphql::Error::new(error.to_string()).extend_with(|_, e| e.set("code", code))
}

async fn run_sql(
    ctx: &Context<'_>,
    sql: String,
    params: Option<Vec<GqlJson<serde_json::Value>>>,
    access: Access,
) -> async_graphql::Result<Vec<SqlResult>> {
    let runner = sql::Runner {
        db: ctx.data::<Arc<Database>>()?,
        auth: ctx.data::<Arc<Authenticator>>()?,
        requester: ctx.data::<Requester>()?,
    };
    let params = params.unwrap_or_default().into_iter().map(|p| p.0).collect();
    let results = sql::run(&runner, &SqlRequest { sql, params }, access).await.map_err(gql_error)?;
    Ok(results.iter().map(SqlResult::from).collect())
}

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Every table with its columns.
    async fn tables(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Table>> {
        let db = ctx.data::<Arc<Database>>()?;
        let schema = db.schema().await.map_err(gql_error)?;
        Ok(schema
            .tables
            .values()
            .map(|t| Table {
                name: t.name.clone(),
                columns: t
                    .columns
                    .iter()
                    .map(|c| Column { name: c.name.clone(), data_type: c.data_type.sql_name(), nullable: c.nullable })
                    .collect(),
                primary_key: t.primary_key.iter().map(|&c| t.columns[c].name.clone()).collect(),
            })
            .collect())
    }

    /// One read-only statement.
    async fn sql(
        &self,
        ctx: &Context<'_>,
        sql: String,
        params: Option<Vec<GqlJson<serde_json::Value>>>,
    ) -> async_graphql::Result<SqlResult> {
        let mut results = run_sql(ctx, sql, params, Access::ReadOnly).await?;
        results.pop().ok_or_else(|| async_graphql::Error::new("the statement returned no result"))
    }
}

pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Statements that may write; one result per statement.
    async fn sql(
        &self,
        ctx: &Context<'_>,
        sql: String,
        params: Option<Vec<GqlJson<serde_json::Value>>>,
    ) -> async_graphql::Result<Vec<SqlResult>> {
        run_sql(ctx, sql, params, Access::ReadWrite).await
    }
}

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Committed changes of `table`: `{table, operation, row, old_row, csn, commit_lsn}`.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        table: String,
        capacity: Option<usize>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<GqlJson<serde_json::Value>>>> {
        let db = ctx.data::<Arc<Database>>()?;
        let user = ctx.data::<Requester>()?.user.as_deref();
        db.check_privilege(user, &table, Privilege::Select).await.map_err(gql_error)?;
        let capacity = capacity.unwrap_or(DEFAULT_CAPACITY);
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(async_graphql::Error::new(format!("capacity must be between 1 and {MAX_CAPACITY}")));
        }
        let changes = db.subscribe(&table, capacity).await.map_err(gql_error)?;
        // After an error the stream ends: a lagged subscriber must subscribe again.
        Ok(futures::stream::unfold(Some(changes), |state| async move {
            let mut changes = state?;
            match changes.next().await {
                Ok(change) => Some((Ok(GqlJson(change_json(&change))), Some(changes))),
                Err(error) => Some((Err(gql_error(error)), None)),
            }
        }))
    }
}
