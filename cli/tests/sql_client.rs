//! `rustydb sql` as a user runs it: embedded mode on a data directory and
//! wire mode against a `rustydb server`, scripts from `-c` and `-f`, aligned
//! output, and exit codes (1 for a SQL error, 2 for a failed connection).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rustydb");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rustydb-sql-client-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The test servers' superuser password.
const PASSWORD: &str = "cli-test-password";

fn sql(args: &[&str]) -> Output {
    Command::new(BIN).arg("sql").args(args).env("PGPASSWORD", PASSWORD).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn embedded_scripts_print_aligned_tables_and_stop_at_errors() {
    let dir = temp_dir("embedded");
    let data = dir.to_str().unwrap();
    let created = sql(&[
        "--data",
        data,
        "-c",
        "CREATE TABLE t (id INT PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'ann'), (22, NULL)",
    ]);
    assert!(created.status.success(), "{created:?}");
    assert_eq!(stdout(&created), "CREATE TABLE\nINSERT 0 2\n");
    let selected = sql(&["--data", data, "-c", "SELECT * FROM t ORDER BY id"]);
    assert_eq!(stdout(&selected), " id | name\n----+------\n 1  | ann\n 22 |\n(2 rows)\n\n");
    let script = dir.join("script.sql");
    std::fs::write(&script, "INSERT INTO t VALUES (3, 'cid');\nSELECT count(*) FROM t;\n").unwrap();
    let from_file = sql(&["--data", data, "-f", script.to_str().unwrap()]);
    assert!(stdout(&from_file).contains(" count\n-------\n 3\n(1 row)"), "{from_file:?}");
    let failed = sql(&["--data", data, "-c", "SELECT * FROM nowhere", "-c", "INSERT INTO t VALUES (4, 'never')"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("42P01"), "{failed:?}");
    let count = sql(&["--data", data, "-c", "SELECT count(*) FROM t"]);
    assert!(stdout(&count).contains(" 3\n"), "the script stopped at the error: {count:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A server on a fresh directory and an ephemeral port; killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = Command::new(BIN)
            .args(["server", "--data", dir.to_str().unwrap(), "--pg-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .env("RUSTYDB_SUPERUSER_PASSWORD", PASSWORD)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let marker = "PostgreSQL protocol listening on 127.0.0.1:";
        let port = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                let rest = &line[line.find(marker)? + marker.len()..];
                rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
            })
            .expect("the server prints its port");
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, port, dir: dir.to_path_buf() }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn wire_mode_talks_to_a_server_and_reports_connection_failures() {
    let server = Server::start(&temp_dir("wire"));
    let port = server.port.to_string();
    let created = sql(&["-p", &port, "-c", "CREATE TABLE w (a INT, b TEXT); INSERT INTO w VALUES (1, 'x')"]);
    assert!(created.status.success(), "{created:?}");
    let selected = sql(&["-p", &port, "-c", "SELECT * FROM w"]);
    assert_eq!(stdout(&selected), " a | b\n---+---\n 1 | x\n(1 row)\n\n");
    let failed = sql(&["-p", &port, "-c", "SELECT 1/0"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("22012"), "{failed:?}");
    let locked = sql(&["--data", server.dir.to_str().unwrap(), "-c", "SELECT 1"]);
    assert_eq!(locked.status.code(), Some(2), "the server holds the directory: {locked:?}");
    drop(server);
    let refused = sql(&["-p", &port, "-c", "SELECT 1"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
}
