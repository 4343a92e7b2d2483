//! The HTTP front end through real clients: REST with reqwest, GraphQL
//! queries and mutations over HTTP, GraphQL subscriptions and the change
//! stream over WebSockets with tokio-tungstenite; malformed requests of
//! every kind get a 4xx with a JSON error body; logins, bearer tokens and
//! privileges.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rustydb_core::sql::{Database, DatabaseConfig};
use rustydb_server::Registry;
use rustydb_server::audit::AuditLog;
use rustydb_server::auth::{AuthMethod, Authenticator};
use rustydb_server::http::HttpState;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The bootstrap superuser's password in these tests.
const PASSWORD: &str = "http-test-password";

struct Server {
    base: String,
    ws_base: String,
    dir: std::path::PathBuf,
    /// Sends the superuser's bearer token with every request.
    http: reqwest::Client,
    token: String,
}

impl Server {
    async fn start(name: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("rustydb-http-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let env = rustydb_io::production_env(&dir, "127.0.0.1", tokio::runtime::Handle::current()).unwrap();
        let db = Database::open(&env, DatabaseConfig::default()).await.unwrap();
        db.bootstrap_superuser(PASSWORD).await.unwrap();
        let registry = Arc::new(Registry::new(env.random.clone()));
        let audit = AuditLog::open(&env).await.unwrap();
        let auth = Authenticator::new(&env, db.clone(), AuthMethod::Password, Some(audit));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = HttpState::new(&env, db, registry, auth);
        tokio::spawn(rustydb_server::http::serve(listener, state, std::future::pending()));
        let base = format!("http://{addr}");
        let token = login(&base, "rustydb", PASSWORD).await.expect("the superuser logs in");
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        let http = reqwest::Client::builder().default_headers(headers).build().unwrap();
        Server { base, ws_base: format!("ws://{addr}"), dir, http, token }
    }

    /// A WebSocket request to `path` carrying the superuser's token.
    fn ws(&self, path: &str) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        let mut request = format!("{}{path}", self.ws_base).into_client_request().unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {}", self.token).parse().unwrap());
        request
    }

    /// POSTs `body` as JSON to `path`; returns the status and the JSON answer.
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Runs SQL through REST and returns the results, failing the test on an error.
    async fn sql(&self, sql: &str, params: Value) -> Vec<Value> {
        let (status, body) = self.post("/v1/sql", json!({"sql": sql, "params": params})).await;
        assert_eq!(status, 200, "{sql}: {body}");
        body["results"].as_array().unwrap().clone()
    }

    /// Waits until the server counts `n` open change streams (a stream
    /// opens asynchronously after the WebSocket handshake).
    async fn wait_for_streams(&self, n: u64) {
        let wanted = format!("rustydb_change_streams {n}\n");
        for _ in 0..500 {
            if self.get("/metrics").await.1.contains(&wanted) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server never had {n} change streams open");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The next text message as JSON, failing after 10 s.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .expect("a well-formed message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_sql_returns_typed_rows_and_takes_parameters() {
    let server = Server::start("rest").await;
    let results = server
        .sql(
            "CREATE TABLE t (id INT PRIMARY KEY, name TEXT, price NUMERIC(20,2), ok BOOLEAN, meta JSONB, d DATE, tags TEXT[]);
             BEGIN;
             INSERT INTO t VALUES (1, 'ann', 12345678901234567.25, true, '{\"k\": [1, 2]}', '2026-11-24', ARRAY['a', 'b']);
             COMMIT;
             SELECT * FROM t",
            json!([]),
        )
        .await;
    assert_eq!(results.len(), 5);
    let select = &results[4];
    assert_eq!(select["command"], "SELECT 1");
    assert_eq!(select["columns"][0], json!({"name": "id", "type": "integer"}));
    assert_eq!(select["columns"][2]["type"], "numeric(20,2)");
    assert_eq!(
        select["rows"][0],
        json!([1, "ann", "12345678901234567.25", true, {"k": [1, 2]}, "2026-11-24", ["a", "b"]])
    );
    let inserted = server.sql("INSERT INTO t (id, name, price) VALUES ($1, $2, $3)", json!(["2", "bob", 3.5])).await;
    assert_eq!(inserted[0]["rows_affected"], 1);
    let found = server.sql("SELECT name, price FROM t WHERE id = $1", json!([2])).await;
    assert_eq!(found[0]["rows"], json!([["bob", "3.50"]]));
    let nulls = server.sql("SELECT $1::int IS NULL, NULL::text", json!([null])).await;
    assert_eq!(nulls[0]["rows"], json!([[true, null]]));
    // A transaction left open by a request rolls back when the request ends.
    server.sql("BEGIN; INSERT INTO t (id) VALUES (3)", json!([])).await;
    let count = server.sql("SELECT count(*) FROM t", json!([])).await;
    assert_eq!(count[0]["rows"], json!([[2]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_health_metrics_and_the_openapi_document() {
    let server = Server::start("meta").await;
    server
        .sql(
            "CREATE TABLE acct (id BIGINT PRIMARY KEY, owner TEXT NOT NULL); CREATE INDEX acct_owner ON acct (owner)",
            json!([]),
        )
        .await;
    let (status, tables) = server.get("/v1/tables").await;
    assert_eq!(status, 200);
    let tables: Value = serde_json::from_str(&tables).unwrap();
    assert_eq!(tables["tables"][0]["name"], "acct");
    let (status, table) = server.get("/v1/tables/acct").await;
    assert_eq!(status, 200);
    let table: Value = serde_json::from_str(&table).unwrap();
    assert_eq!(table["primary_key"], json!(["id"]));
    assert_eq!(table["columns"][1], json!({"name": "owner", "type": "text", "nullable": false, "default": null}));
    let index_names: Vec<&str> =
        table["indexes"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert!(index_names.contains(&"acct_owner"), "{index_names:?}");
    assert_eq!(server.get("/health").await, (200, r#"{"status":"ok"}"#.to_string()));
    let (status, metrics) = server.get("/metrics").await;
    assert_eq!(status, 200);
    for name in
        ["rustydb_commits_total", "rustydb_http_requests_total", "rustydb_change_streams", "rustydb_pg_connections"]
    {
        assert!(metrics.contains(&format!("# TYPE {name} ")), "{name} missing from\n{metrics}");
    }
    let (status, document) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    let document: Value = serde_json::from_str(&document).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    for path in ["/v1/sql", "/v1/tables", "/v1/tables/{name}", "/v1/changes/{table}", "/graphql", "/health", "/metrics"]
    {
        assert!(document["paths"].get(path).is_some(), "{path} is not documented");
    }
}

/// Every malformed request gets a 4xx and a JSON body naming the problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_4xx_with_a_json_error() {
    let server = Server::start("malformed").await;
    server.sql("CREATE TABLE t (id INT PRIMARY KEY)", json!([])).await;
    let raw = |path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut request = server.http.post(format!("{}{path}", server.base)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_else(|e| panic!("a JSON body for {status}: {e}"));
            (status, body["error"]["code"].as_str().unwrap_or("no code").to_string())
        }
    };
    let json_type = Some("application/json");
    let cases: Vec<(&str, (u16, String))> = vec![
        ("truncated JSON", raw("/v1/sql", json_type, b"{\"sql\": ".to_vec()).await),
        ("not JSON at all", raw("/v1/sql", json_type, b"\xff\xfe garbage".to_vec()).await),
        ("no content type", raw("/v1/sql", None, b"{\"sql\": \"select 1\"}".to_vec()).await),
        ("unknown field", raw("/v1/sql", json_type, br#"{"sql": "select 1", "bogus": 1}"#.to_vec()).await),
        ("sql is a number", raw("/v1/sql", json_type, br#"{"sql": 5}"#.to_vec()).await),
        ("two megabytes", raw("/v1/sql", json_type, vec![b' '; 2 << 20]).await),
        ("graphql truncated JSON", raw("/graphql", json_type, b"{\"query\"".to_vec()).await),
        ("graphql two megabytes", raw("/graphql", json_type, vec![b' '; 2 << 20]).await),
    ];
    let expected = [
        (400, "bad_json"),
        (400, "bad_json"),
        (415, "unsupported_media_type"),
        (400, "bad_json"),
        (400, "bad_json"),
        (413, "payload_too_large"),
        (400, "bad_json"),
        (413, "payload_too_large"),
    ];
    for ((what, got), (status, code)) in cases.iter().zip(expected) {
        assert_eq!((got.0, got.1.as_str()), (status, code), "{what}");
    }
    // A 413 must reach a client that is still uploading, every time (the
    // server drains the body rather than resetting the connection).
    for _ in 0..20 {
        let got = raw("/graphql", json_type, vec![b' '; 3 << 20]).await;
        assert_eq!((got.0, got.1.as_str()), (413, "payload_too_large"));
    }
    let sql_errors = [
        ("SELEC 1", json!([]), 400, "42601"),
        ("SELECT * FROM nowhere", json!([]), 404, "42P01"),
        ("INSERT INTO t VALUES (1), (1)", json!([]), 400, "23505"),
        ("SELECT 1/0", json!([]), 400, "22012"),
        ("SELECT $1::int", json!(["not a number"]), 400, "22P02"),
        ("SELECT $1::int + $2::int", json!([1]), 400, "08P01"),
        ("SELECT 1; SELECT 2", json!([1]), 400, "42601"),
    ];
    for (sql, params, status, code) in sql_errors {
        let (got, body) = server.post("/v1/sql", json!({"sql": sql, "params": params})).await;
        assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{sql}: {body}");
    }
    let (status, body) = server.get("/v1/no/such/path").await;
    assert_eq!((status, body.contains("not_found")), (404, true), "{body}");
    let response = server.http.delete(format!("{}/v1/sql", server.base)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let (status, body) = server.get("/v1/tables/nope").await;
    assert_eq!((status, body.contains("not_found")), (404, true), "{body}");
    let (status, body) = server.get("/v1/changes/t").await;
    assert_eq!((status, body.contains("WebSocket upgrade")), (400, true), "not an upgrade: {body}");
    let error = tokio_tungstenite::connect_async(server.ws("/v1/changes/nope")).await.unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
    let error = tokio_tungstenite::connect_async(server.ws("/v1/changes/t?capacity=0")).await.unwrap_err();
    assert!(error.to_string().contains("400"), "{error}");
    // The table is intact after all of that.
    assert_eq!(server.sql("SELECT count(*) FROM t", json!([])).await[0]["rows"], json!([[0]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_queries_mutations_and_read_only_queries() {
    let server = Server::start("graphql").await;
    let mutation = json!({
        "query": "mutation { sql(sql: \"CREATE TABLE g (id INT PRIMARY KEY, v TEXT); INSERT INTO g VALUES (1, 'x')\") { command rowsAffected } }"
    });
    let (status, body) = server.post("/graphql", mutation).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["sql"],
        json!([{"command": "CREATE TABLE", "rowsAffected": 0}, {"command": "INSERT 0 1", "rowsAffected": 1}])
    );
    let with_params = json!({
        "query": "mutation($v: JSON!) { sql(sql: \"INSERT INTO g VALUES (2, $1)\", params: [$v]) { rowsAffected } }",
        "variables": {"v": "y"}
    });
    let (status, body) = server.post("/graphql", with_params).await;
    assert_eq!((status, &body["data"]["sql"][0]["rowsAffected"]), (200, &json!(1)), "{body}");
    let query = json!({"query": "{ tables { name primaryKey columns { name type nullable } } sql(sql: \"SELECT id, v FROM g ORDER BY id\") { columns { name type } rows command } }"});
    let (status, body) = server.post("/graphql", query).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["tables"][0]["primaryKey"], json!(["id"]));
    assert_eq!(body["data"]["sql"]["rows"], json!([[1, "x"], [2, "y"]]));
    assert_eq!(body["data"]["sql"]["columns"][1], json!({"name": "v", "type": "text"}));
    let write_in_query = json!({"query": "{ sql(sql: \"DELETE FROM g\") { command } }"});
    let (status, body) = server.post("/graphql", write_in_query).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "25006", "a query is read-only: {body}");
    let bad_sql = json!({"query": "mutation { sql(sql: \"SELEC\") { command } }"});
    let (_, body) = server.post("/graphql", bad_sql).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "42601", "{body}");
    let bad_graphql = json!({"query": "{ nosuchfield }"});
    let (status, body) = server.post("/graphql", bad_graphql).await;
    assert_eq!(status, 200);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("nosuchfield"), "{body}");
    assert_eq!(server.sql("SELECT count(*) FROM g", json!([])).await[0]["rows"], json!([[2]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_subscriptions_stream_committed_changes() {
    let server = Server::start("subscribe").await;
    server.sql("CREATE TABLE s (id INT PRIMARY KEY, v TEXT)", json!([])).await;
    let mut request = server.ws("/graphql/ws");
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::text(json!({"type": "connection_init"}).to_string())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let subscribe =
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { changes(table: \"s\") }"}});
    socket.send(Message::text(subscribe.to_string())).await.unwrap();
    server.wait_for_streams(1).await;
    server.sql("INSERT INTO s VALUES (1, 'a'); UPDATE s SET v = 'b' WHERE id = 1; BEGIN; DELETE FROM s; ROLLBACK; DELETE FROM s", json!([])).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let message = next_json(&mut socket).await;
        assert_eq!((message["type"].as_str(), message["id"].as_str()), (Some("next"), Some("1")), "{message}");
        let change = &message["payload"]["data"]["changes"];
        seen.push((change["operation"].clone(), change["row"].clone(), change["old_row"].clone()));
    }
    assert_eq!(
        seen,
        [
            (json!("insert"), json!({"id": 1, "v": "a"}), Value::Null),
            (json!("update"), json!({"id": 1, "v": "b"}), json!({"id": 1, "v": "a"})),
            (json!("delete"), json!({"id": 1, "v": "b"}), Value::Null),
        ]
    );
    socket.send(Message::text(json!({"id": "1", "type": "complete"}).to_string())).await.unwrap();
    server.wait_for_streams(0).await;
    let unknown =
        json!({"id": "2", "type": "subscribe", "payload": {"query": "subscription { changes(table: \"nope\") }"}});
    socket.send(Message::text(unknown.to_string())).await.unwrap();
    let mut message = next_json(&mut socket).await;
    while message["id"] == "1" {
        message = next_json(&mut socket).await;
    }
    // A field error of a subscription arrives as a result with errors (graphql-transport-ws).
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "42P01", "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_change_stream_keeps_commit_order_and_stops_a_lagging_client() {
    let server = Server::start("changes").await;
    server.sql("CREATE TABLE c (id INT PRIMARY KEY, n INT)", json!([])).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws("/v1/changes/c?capacity=4")).await.unwrap();
    server.wait_for_streams(1).await;
    for i in 0..3 {
        server.sql("INSERT INTO c VALUES ($1, 0)", json!([i])).await;
    }
    server.sql("UPDATE c SET n = n + 1 WHERE id = 1", json!([])).await;
    let mut last_csn = 0;
    let mut operations = Vec::new();
    for _ in 0..4 {
        let change = next_json(&mut socket).await;
        assert_eq!(change["table"], "c");
        let csn = change["csn"].as_u64().unwrap();
        assert!(csn > last_csn, "commit order: {csn} after {last_csn}");
        assert!(change["commit_lsn"].as_u64().unwrap() > 0);
        last_csn = csn;
        operations.push((change["operation"].as_str().unwrap().to_string(), change["row"]["id"].as_i64().unwrap()));
    }
    let expected: Vec<(String, i64)> =
        [("insert", 0), ("insert", 1), ("insert", 2), ("update", 1)].iter().map(|(o, i)| (o.to_string(), *i)).collect();
    assert_eq!(operations, expected);
    // One commit of more changes than the stream may buffer: the stream
    // stops with 54000 and close code 1013 rather than buffering without bound.
    server.sql("INSERT INTO c SELECT g, 0 FROM generate_series(10, 19) AS g", json!([])).await;
    let error = next_json(&mut socket).await;
    assert_eq!(error["error"]["code"], "54000", "{error}");
    let close = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.unwrap().unwrap().unwrap();
    match close {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1013),
        other => panic!("expected a close frame, got {other:?}"),
    }
    server.wait_for_streams(0).await;
    // A client that simply disconnects releases its stream too.
    let (socket, _) = tokio_tungstenite::connect_async(server.ws("/v1/changes/c")).await.unwrap();
    server.wait_for_streams(1).await;
    drop(socket);
    server.sql("INSERT INTO c VALUES (100, 0)", json!([])).await;
    server.wait_for_streams(0).await;
}

/// Logs in at `/v1/login`: the token, or the status and error body.
async fn login(base: &str, user: &str, password: &str) -> Result<String, (u16, Value)> {
    let body = json!({"user": user, "password": password});
    let response = reqwest::Client::new().post(format!("{base}/v1/login")).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    match body["token"].as_str() {
        Some(token) if status == 200 => Ok(token.to_string()),
        _ => Err((status, body)),
    }
}

/// A client sending `token`.
fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_need_a_token_and_run_as_its_role() {
    let server = Server::start("login").await;
    server
        .sql("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'x')", json!([]))
        .await;
    server.sql("CREATE ROLE reader LOGIN PASSWORD 'reader-pw'; GRANT SELECT ON notes TO reader", json!([])).await;

    // No token, a made-up token, a wrong password: 401 with a JSON error.
    let anonymous = reqwest::Client::new();
    let response = anonymous.post(format!("{}/v1/sql", server.base)).json(&json!({"sql": "SELECT 1"})).send().await;
    assert_eq!(response.unwrap().status().as_u16(), 401);
    let response = client_with("made-up").get(format!("{}/v1/tables", server.base)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let (status, body) = login(&server.base, "reader", "wrong").await.unwrap_err();
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("28P01")), "{body}");
    let (status, _) = login(&server.base, "nobody", "x").await.unwrap_err();
    assert_eq!(status, 401, "an unknown role fails like a wrong password");
    let response = anonymous
        .post(format!("{}/v1/login", server.base))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400, "a malformed login body");
    let health = anonymous.get(format!("{}/health", server.base)).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "health needs no token");

    // The reader may read, not write, and not stream a table it cannot read.
    let token = login(&server.base, "reader", "reader-pw").await.unwrap();
    let reader = client_with(&token);
    let post = |sql: &str| reader.post(format!("{}/v1/sql", server.base)).json(&json!({"sql": sql})).send();
    let read: Value = post("SELECT body FROM notes").await.unwrap().json().await.unwrap();
    assert_eq!(read["results"][0]["rows"], json!([["x"]]));
    let denied = post("DELETE FROM notes").await.unwrap();
    assert_eq!(denied.status().as_u16(), 403);
    server.sql("CREATE TABLE secret (id INT PRIMARY KEY)", json!([])).await;
    let mut request = server.ws("/v1/changes/secret");
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let error = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert!(error.to_string().contains("403"), "{error}");
    let graphql = json!({"query": "mutation { sql(sql: \"DELETE FROM notes\") { command } }"});
    let body: Value =
        reader.post(format!("{}/graphql", server.base)).json(&graphql).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "42501", "{body}");

    // Logging out ends the token.
    let response = reader.post(format!("{}/v1/logout", server.base)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(post("SELECT 1").await.unwrap().status().as_u16(), 401);

    let audit = std::fs::read_to_string(server.dir.join(rustydb_server::audit::AUDIT_FILE)).unwrap();
    assert!(audit.contains("\"via\":\"http\"") && audit.contains("GRANT SELECT ON notes TO reader"), "{audit}");
    assert!(!audit.contains("reader-pw"), "{audit}");
}
