//! The PostgreSQL wire protocol through a real driver (tokio-postgres) and
//! raw sockets: simple and extended queries, typed parameters and binary
//! results, errors with SQLSTATEs, transactions, COPY both ways, portals
//! fetched in pieces, cancel requests, and malformed input; SCRAM-SHA-256
//! logins, the failed-login throttle, privileges and the audit log; TLS.
//! The test server always has a certificate (`tests/data/tls`): clients that
//! do not ask for TLS never notice.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rustydb_core::sql::{Database, DatabaseConfig};
use rustydb_io::TcpNetwork;
use rustydb_server::Registry;
use rustydb_server::audit::AuditLog;
use rustydb_server::auth::{AuthMethod, Authenticator};

/// The bootstrap superuser's password in these tests.
const PASSWORD: &str = "wire-test-password";
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

struct Server {
    port: u16,
    dir: std::path::PathBuf,
    stop: Option<futures::channel::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    async fn start(name: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("rustydb-wire-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let env = rustydb_io::production_env(&dir, "127.0.0.1", tokio::runtime::Handle::current()).unwrap();
        let db = Database::open(&env, DatabaseConfig::default()).await.unwrap();
        db.bootstrap_superuser(PASSWORD).await.unwrap();
        let listener = TcpNetwork::new("127.0.0.1").listen_tcp(0).await.unwrap();
        let port = listener.local_port().unwrap();
        let registry = Arc::new(Registry::new(env.random.clone()));
        let audit = AuditLog::open(&env).await.unwrap();
        let auth = Authenticator::new(&env, db.clone(), AuthMethod::Password, Some(audit));
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stop = async move {
                let _ = stopped.await;
            };
            let tls = Some(test_tls_config());
            rustydb_server::postgres::serve(env, db, Box::new(listener), registry, auth, tls, stop).await.unwrap();
        });
        Server { port, dir, stop: Some(stop), task: Some(task) }
    }

    async fn connect(&self) -> Client {
        self.connect_as("rustydb", PASSWORD).await.unwrap()
    }

    async fn connect_as(&self, user: &str, password: &str) -> Result<Client, tokio_postgres::Error> {
        let config = format!("host=127.0.0.1 port={} user={user} password={password} dbname=rustydb", self.port);
        let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    fn audit_log(&self) -> String {
        std::fs::read_to_string(self.dir.join(rustydb_server::audit::AUDIT_FILE)).unwrap()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_else(|| format!("no SQLSTATE: {e}"))
}

fn tls_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/tls/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn test_tls_config() -> Arc<rustls::ServerConfig> {
    rustydb_server::postgres::tls::server_config(&tls_file("server.crt"), &tls_file("server.key")).unwrap()
}

/// Sends an SSLRequest on a fresh socket and returns the one-byte answer.
async fn ssl_request(port: u16) -> (tokio::net::TcpStream, u8) {
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    socket.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).await.unwrap();
    let mut answer = [0u8; 1];
    socket.read_exact(&mut answer).await.unwrap();
    (socket, answer[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_carries_a_whole_session_when_the_client_asks() {
    let server = Server::start("tls").await;
    let (socket, answer) = ssl_request(server.port).await;
    assert_eq!(answer, b'S');
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(&tls_file("ca.crt")).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, socket).await.expect("the handshake verifies against the test CA");
    let config: tokio_postgres::Config =
        format!("user=rustydb password={PASSWORD} dbname=rustydb sslmode=disable").parse().unwrap();
    // Already encrypted: the driver runs startup, SCRAM and queries through it.
    let (client, connection) = config.connect_raw(tls, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client.batch_execute("CREATE TABLE secret (id INT PRIMARY KEY, v TEXT)").await.unwrap();
    let chunk = "x".repeat(900);
    for id in 0..40 {
        client.execute("INSERT INTO secret VALUES ($1, $2)", &[&id, &chunk]).await.unwrap();
    }
    // More than one TLS record (16 KiB) each way.
    let rows = client.query("SELECT v FROM secret ORDER BY id", &[]).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.get::<_, String>(0).len()).sum::<usize>(), 36_000);
    let long = "y".repeat(50_000);
    let row = client.query_one(&format!("SELECT length('{long}')"), &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 50_000);
    drop(client);

    // Plaintext sent before the handshake is refused, not read as if encrypted.
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    let mut pipelined = vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    pipelined.extend_from_slice(&[0, 0, 0, 8, 0, 3, 0, 0]);
    socket.write_all(&pipelined).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut reply)).await;
    assert_eq!(reply.first(), Some(&b'E'), "an error, not `S`, after pipelined plaintext: {reply:?}");
    assert!(String::from_utf8_lossy(&reply).contains("unencrypted data after SSL request"), "{reply:?}");

    // A client that speaks something else after `S` just loses its connection.
    let (mut socket, answer) = ssl_request(server.port).await;
    assert_eq!(answer, b'S');
    socket.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut rest)).await;
    let client = server.connect().await;
    client.simple_query("SELECT 1").await.expect("the server carries on");
    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_parameters_and_binary_results_round_trip() {
    let server = Server::start("types").await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE t (id INT PRIMARY KEY, small SMALLINT, big BIGINT, f DOUBLE PRECISION, r REAL, ok BOOLEAN,
                             name TEXT, v VARCHAR(10), raw BYTEA, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ)",
        )
        .await
        .unwrap();
    let insert =
        client.prepare("INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)").await.unwrap();
    let date = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let ts = date.and_hms_micro_opt(12, 34, 56, 789_012).unwrap();
    let tz = chrono::DateTime::<chrono::Utc>::from_naive_utc_and_offset(ts, chrono::Utc);
    let inserted = client
        .execute(
            &insert,
            &[
                &1i32,
                &-7i16,
                &(1i64 << 40),
                &1.25f64,
                &0.5f32,
                &true,
                &"héllo",
                &"short",
                &vec![0u8, 255],
                &date,
                &ts,
                &tz,
            ],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    client
        .execute(
            &insert,
            &[
                &2i32,
                &None::<i16>,
                &None::<i64>,
                &None::<f64>,
                &None::<f32>,
                &None::<bool>,
                &None::<String>,
                &None::<String>,
                &None::<Vec<u8>>,
                &None::<chrono::NaiveDate>,
                &None::<chrono::NaiveDateTime>,
                &None::<chrono::DateTime<chrono::Utc>>,
            ],
        )
        .await
        .unwrap();

    let row = client.query_one("SELECT * FROM t WHERE id = $1", &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, i16>("small"), -7);
    assert_eq!(row.get::<_, i64>("big"), 1 << 40);
    assert_eq!(row.get::<_, f64>("f"), 1.25);
    assert_eq!(row.get::<_, f32>("r"), 0.5);
    assert!(row.get::<_, bool>("ok"));
    assert_eq!(row.get::<_, String>("name"), "héllo");
    assert_eq!(row.get::<_, String>("v"), "short");
    assert_eq!(row.get::<_, Vec<u8>>("raw"), vec![0u8, 255]);
    assert_eq!(row.get::<_, chrono::NaiveDate>("d"), date);
    assert_eq!(row.get::<_, chrono::NaiveDateTime>("ts"), ts);
    assert_eq!(row.get::<_, chrono::DateTime<chrono::Utc>>("tz"), tz);
    let nulls = client.query_one("SELECT small, name FROM t WHERE id = 2", &[]).await.unwrap();
    assert_eq!((nulls.get::<_, Option<i16>>(0), nulls.get::<_, Option<String>>(1)), (None, None));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simple_protocol_returns_postgresql_text() {
    let server = Server::start("text").await;
    let client = server.connect().await;
    client.batch_execute("CREATE TABLE t (id INT, ok BOOLEAN, d DATE, f DOUBLE PRECISION)").await.unwrap();
    client.batch_execute("INSERT INTO t VALUES (1, true, '2024-02-29', 1.25)").await.unwrap();
    let messages = client.simple_query("SELECT id, ok, d, f FROM t ORDER BY id").await.unwrap();
    let first = messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    });
    let first = first.unwrap();
    assert_eq!(
        (first.get(0), first.get(1), first.get(2), first.get(3)),
        (Some("1"), Some("t"), Some("2024-02-29"), Some("1.25"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_sqlstates_and_the_connection_survives_them() {
    let server = Server::start("errors").await;
    let client = server.connect().await;
    client.batch_execute("CREATE TABLE k (id INT PRIMARY KEY)").await.unwrap();
    client.execute("INSERT INTO k VALUES (1)", &[]).await.unwrap();
    let duplicate = client.execute("INSERT INTO k VALUES (1)", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&duplicate), "23505");
    assert_eq!(sqlstate(&client.batch_execute("SELEC 1").await.unwrap_err()), "42601");
    assert_eq!(sqlstate(&client.prepare("SELECT * FROM missing").await.unwrap_err()), "42P01");
    assert_eq!(sqlstate(&client.query("SELECT 1 / $1::int", &[&0i32]).await.unwrap_err()), "22012");
    // A failed block accepts only ROLLBACK.
    client.batch_execute("BEGIN").await.unwrap();
    assert_eq!(sqlstate(&client.batch_execute("INSERT INTO k VALUES (1)").await.unwrap_err()), "23505");
    assert_eq!(sqlstate(&client.batch_execute("SELECT 1").await.unwrap_err()), "25P02");
    client.batch_execute("ROLLBACK").await.unwrap();
    let count: i64 = client.query_one("SELECT count(*) FROM k", &[]).await.unwrap().get(0);
    assert_eq!(count, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_and_roll_back() {
    let server = Server::start("txn").await;
    let mut client = server.connect().await;
    client.batch_execute("CREATE TABLE acct (id INT PRIMARY KEY, balance INT)").await.unwrap();
    client.batch_execute("INSERT INTO acct VALUES (1, 100), (2, 0)").await.unwrap();
    let txn = client.transaction().await.unwrap();
    txn.execute("UPDATE acct SET balance = balance - 30 WHERE id = 1", &[]).await.unwrap();
    txn.execute("UPDATE acct SET balance = balance + 30 WHERE id = 2", &[]).await.unwrap();
    txn.commit().await.unwrap();
    let txn = client.transaction().await.unwrap();
    txn.execute("DELETE FROM acct", &[]).await.unwrap();
    txn.rollback().await.unwrap();
    let other = server.connect().await;
    let rows = other.query("SELECT balance FROM acct ORDER BY id", &[]).await.unwrap();
    let balances: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(balances, vec![70, 30]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_in_and_out_through_the_driver() {
    let server = Server::start("copy").await;
    let client = server.connect().await;
    client.batch_execute("CREATE TABLE c (id INT, name TEXT)").await.unwrap();
    let sink = client.copy_in("COPY c FROM STDIN").await.unwrap();
    let mut sink = std::pin::pin!(sink);
    sink.send(bytes::Bytes::from_static(b"1\tone\n2\t\\N\n")).await.unwrap();
    sink.send(bytes::Bytes::from_static(b"3\tthree\n")).await.unwrap();
    let loaded = sink.as_mut().finish().await.unwrap();
    assert_eq!(loaded, 3);
    let stream = client.copy_out("COPY (SELECT * FROM c ORDER BY id) TO STDOUT WITH (FORMAT csv)").await.unwrap();
    let chunks: Vec<bytes::Bytes> = stream.map(|c| c.unwrap()).collect().await;
    let text: String = chunks.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    assert_eq!(text, "1,one\n2,\n3,three\n");
    // Bad COPY data is an error with the table unchanged.
    let sink = client.copy_in("COPY c FROM STDIN").await.unwrap();
    let mut sink = std::pin::pin!(sink);
    sink.send(bytes::Bytes::from_static(b"x\ty\n")).await.unwrap();
    assert_eq!(sqlstate(&sink.as_mut().finish().await.unwrap_err()), "22P02");
    let count: i64 = client.query_one("SELECT count(*) FROM c", &[]).await.unwrap().get(0);
    assert_eq!(count, 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_fetch_rows_in_pieces() {
    let server = Server::start("portal").await;
    let mut client = server.connect().await;
    let txn = client.transaction().await.unwrap();
    let statement = txn.prepare("SELECT x FROM generate_series(1, 10) AS g(x) ORDER BY x").await.unwrap();
    let portal = txn.bind(&statement, &[]).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let rows = txn.query_portal(&portal, 4).await.unwrap();
        if rows.is_empty() {
            break;
        }
        assert!(rows.len() <= 4);
        seen.extend(rows.iter().map(|r| r.get::<_, i32>(0)));
    }
    assert_eq!(seen, (1..=10).collect::<Vec<i32>>());
    txn.commit().await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_stops_a_running_query() {
    let server = Server::start("cancel").await;
    let client = server.connect().await;
    client.batch_execute("CREATE TABLE n (x INT)").await.unwrap();
    client.batch_execute("INSERT INTO n SELECT x FROM generate_series(1, 2000) AS g(x)").await.unwrap();
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let long = tokio::time::timeout(
        Duration::from_secs(60),
        client.query("SELECT count(*) FROM n a, n b, n c WHERE a.x + b.x + c.x > 0", &[]),
    )
    .await
    .expect("the cancel request did not stop the query within 60 s");
    canceller.await.unwrap();
    assert_eq!(sqlstate(&long.unwrap_err()), "57014");
    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_protocol_input_gets_an_error_and_harms_no_one() {
    let server = Server::start("garbage").await;
    let client = server.connect().await;
    client.batch_execute("CREATE TABLE g (x INT); INSERT INTO g VALUES (1)").await.unwrap();
    for garbage in [
        &b"\x00\x00\x00\x08\x00\x00\x00\x00"[..],  // startup with protocol 0.0
        &b"\x00\x00\x00\x03"[..],                  // length shorter than itself
        &b"\x7f\xff\xff\xff\x00\x03\x00\x00"[..],  // a 2 GiB startup packet
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], // the wrong protocol
    ] {
        let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
        socket.write_all(garbage).await.unwrap();
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut reply)).await.unwrap();
        assert!(reply.is_empty() || reply[0] == b'E', "{garbage:?} got {reply:?}");
    }
    // A started session that then sends an unknown message type.
    let config = format!("host=127.0.0.1 port={} user=rustydb password={PASSWORD}", server.port);
    let (other, connection) = tokio_postgres::connect(&config, NoTls).await.unwrap();
    drop(other);
    drop(connection);
    let count: i64 = client.query_one("SELECT count(*) FROM g", &[]).await.unwrap().get(0);
    assert_eq!(count, 1);
    server.stop().await;
}

/// A session idle inside a transaction longer than
/// `idle_in_transaction_session_timeout` is ended with 25P03, and its
/// transaction rolls back, releasing the row lock another session waits for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_transaction_times_out_and_frees_its_locks() {
    let server = Server::start("idle").await;
    let idle = server.connect().await;
    idle.batch_execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0)").await.unwrap();
    let bad = idle.batch_execute("SET idle_in_transaction_session_timeout = 'soon'").await.unwrap_err();
    assert_eq!(sqlstate(&bad), "22023");
    idle.batch_execute("SET idle_in_transaction_session_timeout = '200ms'").await.unwrap();
    idle.batch_execute("BEGIN").await.unwrap();
    idle.batch_execute("UPDATE t SET v = 1 WHERE id = 1").await.unwrap();
    let other = server.connect().await;
    let waited = tokio::time::timeout(Duration::from_secs(10), other.execute("UPDATE t SET v = 2 WHERE id = 1", &[]));
    assert_eq!(waited.await.expect("the lock is freed within 10 s").unwrap(), 1);
    assert!(idle.batch_execute("COMMIT").await.is_err(), "the idle session was ended");
    let rows = other.query("SELECT v FROM t", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, i32>(0), 2, "the idle transaction's update rolled back");
    drop((idle, other));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_logins_succeed_only_with_the_password_and_are_audited() {
    let server = Server::start("scram").await;
    let admin = server.connect().await;
    admin
        .batch_execute("CREATE ROLE alice LOGIN PASSWORD 'alice-secret'; CREATE ROLE nologin PASSWORD 'x'")
        .await
        .unwrap();
    let alice = server.connect_as("alice", "alice-secret").await.expect("alice logs in");
    let superuser: String = alice.query_one("SHOW is_superuser", &[]).await.map(|r| r.get(0)).unwrap_or_default();
    assert_ne!(superuser, "on");

    // A wrong password, an unknown role and a role without LOGIN look alike.
    for (user, password) in [("alice", "wrong"), ("nobody", "x"), ("nologin", "x")] {
        let error = server.connect_as(user, password).await.expect_err("refused");
        let state = sqlstate(&error);
        assert!(state == "28P01" || state == "28000", "{user}: {error}");
    }
    let log = server.audit_log();
    assert!(log.lines().any(|l| l.contains("\"event\":\"login\"") && l.contains("\"user\":\"alice\"")), "{log}");
    assert!(log.lines().any(|l| l.contains("\"event\":\"login_failed\"") && l.contains("nobody")), "{log}");
    assert!(log.contains("CREATE ROLE alice") && !log.contains("alice-secret"), "passwords stay out: {log}");
    drop((admin, alice));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_lock_the_user_out_from_that_host() {
    let server = Server::start("throttle").await;
    let admin = server.connect().await;
    admin.batch_execute("CREATE ROLE bob LOGIN PASSWORD 'bob-secret'").await.unwrap();
    for _ in 0..rustydb_server::auth::FREE_FAILURES {
        let error = server.connect_as("bob", "guess").await.err().unwrap();
        assert_eq!(sqlstate(&error), "28P01");
    }
    let locked = server.connect_as("bob", "bob-secret").await.expect_err("locked out even with the password");
    assert_eq!(sqlstate(&locked), "28000");
    let message = locked.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert!(message.contains("too many failed login attempts"), "{locked:?}");
    tokio::time::sleep(rustydb_server::auth::FIRST_LOCKOUT + Duration::from_millis(200)).await;
    server.connect_as("bob", "bob-secret").await.expect("the lockout ends");
    assert!(server.audit_log().contains("login_throttled"));
    drop(admin);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileges_are_checked_over_the_wire_and_changes_audited() {
    let server = Server::start("grants").await;
    let admin = server.connect().await;
    admin
        .batch_execute(
            "CREATE TABLE ledger (id INT PRIMARY KEY, amount INT); INSERT INTO ledger VALUES (1, 10);
             CREATE ROLE carol LOGIN PASSWORD 'carol-secret'",
        )
        .await
        .unwrap();
    let carol = server.connect_as("carol", "carol-secret").await.unwrap();
    let denied = carol.query("SELECT * FROM ledger", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&denied), "42501");
    admin.batch_execute("GRANT SELECT ON ledger TO carol").await.unwrap();
    let rows = carol.query("SELECT amount FROM ledger WHERE id = $1", &[&1i32]).await.unwrap();
    assert_eq!(rows[0].get::<_, i32>(0), 10, "the extended protocol is checked too");
    let denied = carol.execute("INSERT INTO ledger VALUES ($1, $2)", &[&2i32, &5i32]).await.unwrap_err();
    assert_eq!(sqlstate(&denied), "42501");
    let log = server.audit_log();
    assert!(log.contains("\"event\":\"ddl\"") && log.contains("CREATE TABLE ledger"), "{log}");
    assert!(log.contains("\"event\":\"privilege\"") && log.contains("GRANT SELECT ON ledger TO carol"), "{log}");
    drop((admin, carol));
    server.stop().await;
}
