//! Errors as HTTP responses: a status code and a JSON body
//! `{"error": {"code": SQLSTATE or HTTP reason, "message": …}}`.
//!
//! Bad input of any kind (JSON, SQL, unknown tables, oversized bodies) is a
//! 4xx; only the engine's own failures (I/O, corruption, internal errors)
//! are a 5xx, and shutting down is a 503.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rustydb_core::Error;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code.to_string(), message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

/// The HTTP status for an engine error, by SQLSTATE class.
pub fn status_of(sqlstate: &str) -> StatusCode {
    match sqlstate {
        "42P01" | "42704" | "3D000" => StatusCode::NOT_FOUND,
        "57014" => StatusCode::REQUEST_TIMEOUT,
        "57P01" | "53300" => StatusCode::SERVICE_UNAVAILABLE,
        "54000" => StatusCode::PAYLOAD_TOO_LARGE,
        "42501" => StatusCode::FORBIDDEN,
        _ => match &sqlstate[..2.min(sqlstate.len())] {
            "28" => StatusCode::UNAUTHORIZED,
            "40" => StatusCode::CONFLICT,
            "53" => StatusCode::SERVICE_UNAVAILABLE,
            "XX" | "58" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        },
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        let code = error.sqlstate();
        ApiError { status: status_of(code), code: code.to_string(), message: error.to_string() }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "bad_json",
        };
        // A body the JSON parser accepts but whose fields are wrong is a 422
        // in axum; to clients both are a malformed request.
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
        ApiError::new(status, code, rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_are_4xx_and_engine_failures_5xx() {
        assert_eq!(status_of("42601"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("42P01"), StatusCode::NOT_FOUND);
        assert_eq!(status_of("23505"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("40001"), StatusCode::CONFLICT);
        assert_eq!(status_of("XX000"), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status_of("58030"), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
