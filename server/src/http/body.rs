//! Request bodies: read whole, at most [`MAX_BODY_BYTES`], before any
//! handler runs.
//!
//! Why a layer of its own rather than only axum's per-extractor limit: a
//! handler that rejects an oversized body stops reading it, and hyper then
//! closes a socket that still has unread bytes, which makes the kernel send
//! a reset. A client still uploading loses the 413 that was already sent
//! and sees a broken connection instead. So an oversized body is drained,
//! up to [`MAX_DRAINED_BYTES`], before the 413 goes out; past that the
//! client is sending far more than any request could need and the
//! connection is closed.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::error::ApiError;

/// The largest request body accepted (a larger one gets 413).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// How much of an oversized body is read and thrown away so that its
/// sender receives the 413.
pub const MAX_DRAINED_BYTES: usize = 16 * MAX_BODY_BYTES;

/// Middleware: buffers the body, or answers 413 for one over the limit.
pub async fn limit_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match read_limited(body).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(error) => error.into_response(),
    }
}

async fn read_limited(body: Body) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut buffer = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        if buffer.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(drain(stream, buffer.len() + chunk.len()).await);
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

/// Reads the rest of an oversized body; `seen` bytes are already read.
async fn drain(mut stream: axum::body::BodyDataStream, mut seen: usize) -> BodyError {
    while seen <= MAX_DRAINED_BYTES {
        match stream.next().await {
            Some(Ok(chunk)) => seen += chunk.len(),
            Some(Err(_)) | None => return BodyError::TooLarge { drained: true },
        }
    }
    BodyError::TooLarge { drained: false }
}

enum BodyError {
    /// The body is over the limit; `drained` says whether all of it was read.
    TooLarge { drained: bool },
    /// The connection failed while the body was being sent.
    Unreadable(String),
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        match self {
            BodyError::TooLarge { drained } => {
                let message = format!("the request body is over the limit of {MAX_BODY_BYTES} bytes");
                let mut response =
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message).into_response();
                if !drained {
                    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
                }
                response
            }
            BodyError::Unreadable(message) => {
                ApiError::bad_request(format!("the request body: {message}")).into_response()
            }
        }
    }
}
