//! The OpenAPI 3.1 document served at `/openapi.json`, written by hand
//! next to the routes it describes (`mod.rs` lists the same paths).

use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "RustyDB HTTP API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A token from POST /v1/login"}}
        },
        "security": [{"bearer": []}]
    })
}

fn paths() -> Value {
    json!({
        "/v1/login": {"post": {
            "summary": "Trade a role's password for a bearer token (valid one hour)",
            "security": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["user", "password"], "additionalProperties": false,
                "properties": {"user": {"type": "string"}, "password": {"type": "string"}}
            }}}},
            "responses": {
                "200": {"description": "`{token, expires_in_seconds}`"},
                "400": error_response("Malformed body"),
                "401": error_response("Wrong user or password (28P01), or locked out after repeated failures (28000)")
            }
        }},
        "/v1/logout": {"post": {
            "summary": "Revoke the request's token",
            "responses": {"204": {"description": "Revoked"}, "401": error_response("No valid token")}
        }},
        "/v1/sql": {"post": {
            "summary": "Run SQL: several statements, or one statement with parameters",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SqlRequest"}}}},
            "responses": {
                "200": {"description": "One result per statement", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SqlResponse"}}}},
                "400": error_response("Malformed JSON or SQL, or a constraint violated"),
                "404": error_response("A table the SQL names does not exist"),
                "409": error_response("Serialization failure or deadlock: retry"),
                "413": error_response("Body or result too large"),
                "415": error_response("Body is not application/json")
            }
        }},
        "/v1/tables": {"get": {
            "summary": "List tables",
            "responses": {"200": {"description": "Tables", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"tables": {"type": "array", "items": {"$ref": "#/components/schemas/Table"}}}}}}}}
        }},
        "/v1/tables/{name}": {"get": {
            "summary": "One table's columns, primary key and indexes",
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "The table", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Table"}}}},
                "404": error_response("No such table")
            }
        }},
        "/v1/changes/{table}": {"get": {
            "summary": "WebSocket: committed changes of a table, one JSON message per row change",
            "parameters": [
                {"name": "table", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "capacity", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 65536}}
            ],
            "responses": {"101": {"description": "Switching to the WebSocket protocol"}, "400": error_response("Not a WebSocket upgrade, or a bad capacity"), "404": error_response("No such table")}
        }},
        "/graphql": {"post": {
            "summary": "GraphQL queries and mutations (subscriptions over the WebSocket at /graphql/ws)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["query"], "properties": {
                "query": {"type": "string"}, "variables": {"type": "object"}, "operationName": {"type": "string"}}}}}},
            "responses": {"200": {"description": "A GraphQL response", "content": {"application/json": {"schema": {"type": "object"}}}}, "400": error_response("Malformed JSON")}
        }},
        "/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "Serving"}, "503": {"description": "Shutting down"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "Text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}}
    })
}

fn schemas() -> Value {
    json!({
        "SqlRequest": {"type": "object", "required": ["sql"], "additionalProperties": false, "properties": {
            "sql": {"type": "string"},
            "params": {"type": "array", "description": "Values for $1, $2 …; strings are cast to the parameter's type", "items": {}}
        }},
        "SqlResponse": {"type": "object", "properties": {"results": {"type": "array", "items": {"$ref": "#/components/schemas/SqlResult"}}}},
        "SqlResult": {"type": "object", "properties": {
            "columns": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "type": {"type": "string"}}}},
            "rows": {"type": "array", "items": {"type": "array", "items": {}}},
            "command": {"type": "string"},
            "rows_affected": {"type": "integer"}
        }},
        "Table": {"type": "object", "properties": {
            "name": {"type": "string"},
            "columns": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "type": {"type": "string"}, "nullable": {"type": "boolean"}, "default": {"type": ["string", "null"]}}}},
            "primary_key": {"type": "array", "items": {"type": "string"}},
            "indexes": {"type": "array", "items": {"type": "object"}}
        }},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "description": "A SQLSTATE, or an HTTP-level reason such as bad_json"},
            "message": {"type": "string"}
        }}}}
    })
}
