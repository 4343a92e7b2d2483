//! `GET /v1/changes/{table}` upgraded to a WebSocket: every committed
//! change of the table as one JSON text message
//! `{"table", "operation", "row", "old_row", "csn", "commit_lsn"}`.
//!
//! Back-pressure: the server sends one change at a time and waits for the
//! socket to take it; meanwhile commits queue up to `capacity` changes
//! (`?capacity=N`, default [`DEFAULT_CAPACITY`]). A client that falls
//! further behind gets an error message and a close frame with code 1013
//! (try again later) instead of an unbounded queue or a stalled database.
//! An unknown table is a 404 before the upgrade.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use futures::FutureExt;
use rustydb_core::sql::{TableChange, TableChanges};
use serde::Deserialize;
use serde_json::json;

use super::HttpState;
use super::error::ApiError;
use super::json::row_object;

/// Changes a subscriber may leave unread unless it asks otherwise.
pub const DEFAULT_CAPACITY: usize = 1024;
/// The most a subscriber may ask for.
pub const MAX_CAPACITY: usize = 65_536;

/// Close code 1013: try again later.
const CLOSE_TRY_AGAIN: u16 = 1013;
/// Close code 1011: the server hit an error.
const CLOSE_ERROR: u16 = 1011;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamOptions {
    capacity: Option<usize>,
}

pub async fn subscribe(
    State(state): State<HttpState>,
    Extension(requester): Extension<super::login::Requester>,
    Path(table): Path<String>,
    options: Result<Query<StreamOptions>, axum::extract::rejection::QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(options) = options.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let capacity = options.capacity.unwrap_or(DEFAULT_CAPACITY);
    if capacity == 0 || capacity > MAX_CAPACITY {
        return Err(ApiError::bad_request(format!("capacity must be between 1 and {MAX_CAPACITY}")));
    }
    let upgrade =
        upgrade.map_err(|e| ApiError::bad_request(format!("a WebSocket upgrade is needed: {}", e.body_text())))?;
    let select = rustydb_core::sql::privileges::Privilege::Select;
    state.db.check_privilege(requester.user.as_deref(), &table, select).await?;
    // Subscribed before the upgrade, so the first change after the 101 is not missed.
    let changes = state.db.subscribe(&table, capacity).await?;
    Ok(upgrade.on_upgrade(move |socket| stream_changes(socket, changes)))
}

/// A change as the JSON every subscriber (WebSocket and GraphQL) sees.
pub fn change_json(change: &TableChange) -> serde_json::Value {
    json!({
        "table": change.table,
        "operation": change.kind.name(),
        "row": row_object(&change.columns, &change.row),
        "old_row": change.old_row.as_ref().map(|row| row_object(&change.columns, row)),
        "csn": change.csn,
        "commit_lsn": change.commit_lsn.0,
    })
}

async fn stream_changes(mut socket: WebSocket, mut changes: TableChanges) {
    loop {
        let next = futures::select_biased! {
            incoming = socket.recv().fuse() => match incoming {
                // The client closed or went away: dropping `changes` stops watching.
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                // Pings are answered by the WebSocket layer; text from the client is ignored.
                Some(Ok(_)) => continue,
            },
            next = changes.next().fuse() => next,
        };
        match next {
            Ok(change) => {
                let text = change_json(&change).to_string();
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                let code = if error.sqlstate() == "54000" { CLOSE_TRY_AGAIN } else { CLOSE_ERROR };
                let body = json!({"error": {"code": error.sqlstate(), "message": error.to_string()}});
                let _ = socket.send(Message::Text(body.to_string().into())).await;
                let frame = CloseFrame { code, reason: error.sqlstate().into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
        }
    }
}
