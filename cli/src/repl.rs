//! `rustydb sql`: a SQL client. It talks to a server over the PostgreSQL
//! protocol (`--host`, `--port`, `--user`) or opens a data directory itself
//! (`--data DIR`, embedded mode, taking the same lock a server takes).
//!
//! `-c SQL` (repeatable) and `-f FILE` run scripts and stop at the first
//! error with exit status 1 (psql with ON_ERROR_STOP); a failed connection
//! exits 2. Without them it is interactive (rustyline): history in
//! `~/.rustydb_history`, statements spanning lines until a `;`, aligned
//! tables, and the meta-commands `\q`, `\timing`, `\dt`, `\d TABLE`, `\?`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rustydb_core::sql::cast::format_value;
use rustydb_core::sql::{Database, DatabaseConfig, QueryResult, Session};
use tokio_postgres::{NoTls, SimpleQueryMessage};

#[derive(clap::Args, Debug)]
pub struct SqlArgs {
    /// Open this data directory directly instead of connecting to a server.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Server host (PostgreSQL protocol).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, short = 'p', default_value_t = 5432)]
    port: u16,
    /// User name sent to the server (its password is read from PGPASSWORD).
    #[arg(long, short = 'U', default_value = "rustydb")]
    user: String,
    /// Run this SQL and exit (may be given more than once).
    #[arg(short = 'c')]
    command: Vec<String>,
    /// Run the SQL in this file and exit.
    #[arg(short = 'f')]
    file: Option<PathBuf>,
}

/// One statement's output, as text.
struct Output {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
    tag: String,
}

/// Where statements go.
enum Backend {
    Embedded { session: Session, _lock: std::fs::File },
    Wire(tokio_postgres::Client),
}

pub fn run(args: SqlArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rustydb sql: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let mut backend = match runtime.block_on(connect(&args)) {
        Ok(backend) => backend,
        Err(e) => {
            eprintln!("rustydb sql: {e}");
            return ExitCode::from(2);
        }
    };
    let scripts = match scripts(&args) {
        Ok(scripts) => scripts,
        Err(e) => {
            eprintln!("rustydb sql: {e}");
            return ExitCode::from(2);
        }
    };
    if scripts.is_empty() {
        interactive(&runtime, &mut backend);
        return ExitCode::SUCCESS;
    }
    for script in scripts {
        match runtime.block_on(backend.run(&script)) {
            Ok(outputs) => outputs.iter().for_each(print_output),
            Err(e) => {
                eprintln!("ERROR: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn scripts(args: &SqlArgs) -> Result<Vec<String>, String> {
    let mut scripts = args.command.clone();
    if let Some(path) = &args.file {
        scripts.push(std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(scripts)
}

async fn connect(args: &SqlArgs) -> Result<Backend, String> {
    if let Some(dir) = &args.data {
        std::fs::create_dir_all(dir).map_err(|e| format!("data directory {}: {e}", dir.display()))?;
        let lock = crate::server::lock_data_dir(dir)?;
        let env = rustydb_io::production_env(dir, "127.0.0.1", tokio::runtime::Handle::current())
            .map_err(|e| e.to_string())?;
        let db = Database::open(&env, DatabaseConfig::default())
            .await
            .map_err(|e| format!("opening {}: {e}", dir.display()))?;
        return Ok(Backend::Embedded { session: db.session(), _lock: lock });
    }
    let mut config = tokio_postgres::Config::new();
    config.host(&args.host).port(args.port).user(&args.user).dbname("rustydb");
    // As libpq: the password comes from PGPASSWORD, never from a flag
    // (flags show up in `ps`).
    if let Ok(password) = std::env::var("PGPASSWORD") {
        config.password(password);
    }
    let (client, connection) =
        config.connect(NoTls).await.map_err(|e| format!("cannot connect to {}:{}: {e}", args.host, args.port))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("rustydb sql: connection lost: {e}");
        }
    });
    Ok(Backend::Wire(client))
}

impl Backend {
    async fn run(&mut self, sql: &str) -> Result<Vec<Output>, String> {
        match self {
            Backend::Embedded { session, .. } => {
                let results = session.execute(sql).await.map_err(|e| format!("{e} (SQLSTATE {})", e.sqlstate()))?;
                Ok(results.iter().map(embedded_output).collect())
            }
            Backend::Wire(client) => {
                let messages = client.simple_query(sql).await.map_err(|e| match e.as_db_error() {
                    Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                    None => e.to_string(),
                })?;
                Ok(wire_outputs(messages))
            }
        }
    }

    /// `\dt` (no table) or `\d TABLE`, read from `pg_catalog` the same way
    /// over the wire and embedded.
    async fn describe(&mut self, table: Option<&str>) -> Result<Output, String> {
        let sql = match table {
            None => "SELECT relname AS \"Name\", 'table' AS \"Type\" FROM pg_catalog.pg_class \
                     WHERE relkind = 'r' ORDER BY 1"
                .to_string(),
            Some(name) => format!(
                "SELECT a.attname AS \"Column\", pg_catalog.format_type(a.atttypid, a.atttypmod) AS \"Type\", \
                   CASE WHEN a.attnotnull THEN 'not null' ELSE '' END AS \"Nullable\", \
                   (SELECT d.adbin FROM pg_catalog.pg_attrdef d \
                     WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) AS \"Default\", \
                   CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conrelid = a.attrelid \
                     AND c.contype = 'p' AND a.attnum = ANY (c.conkey)) THEN 'primary key' ELSE '' END AS \"Key\" \
                 FROM pg_catalog.pg_attribute a WHERE a.attrelid = '{}'::regclass AND a.attnum > 0 ORDER BY a.attnum",
                name.replace('\'', "''")
            ),
        };
        let mut outputs = self.run(&sql).await?;
        outputs.pop().ok_or_else(|| "no answer from the catalog".to_string())
    }
}

fn embedded_output(result: &QueryResult) -> Output {
    let columns = result.columns.iter().map(|c| c.name.clone()).collect();
    let rows =
        result.rows.iter().map(|row| row.iter().map(|v| (!v.is_null()).then(|| format_value(v))).collect()).collect();
    Output { columns, rows, tag: result.tag.clone() }
}

fn wire_outputs(messages: Vec<SimpleQueryMessage>) -> Vec<Output> {
    let mut outputs = Vec::new();
    let mut current = Output { columns: Vec::new(), rows: Vec::new(), tag: String::new() };
    for message in messages {
        match message {
            SimpleQueryMessage::RowDescription(columns) => {
                current.columns = columns.iter().map(|c| c.name().to_string()).collect();
            }
            SimpleQueryMessage::Row(row) => {
                current.rows.push((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect());
            }
            SimpleQueryMessage::CommandComplete(count) => {
                current.tag = if current.columns.is_empty() { format!("OK {count}") } else { String::new() };
                outputs.push(std::mem::replace(
                    &mut current,
                    Output { columns: Vec::new(), rows: Vec::new(), tag: String::new() },
                ));
            }
            _ => {}
        }
    }
    outputs
}

/// Prints `output` as psql's aligned format does.
fn print_output(output: &Output) {
    print!("{}", render(output));
}

fn render(output: &Output) -> String {
    if output.columns.is_empty() {
        return format!("{}\n", output.tag);
    }
    let mut widths: Vec<usize> = output.columns.iter().map(|c| c.chars().count()).collect();
    for row in &output.rows {
        for (width, value) in widths.iter_mut().zip(row) {
            *width = (*width).max(value.as_deref().map_or(0, |v| v.chars().count()));
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, &width)| format!(" {cell:<width$} ")).collect();
        padded.join("|").trim_end().to_string() + "\n"
    };
    let mut out = line(output.columns.iter().map(String::as_str).collect());
    out += &widths.iter().map(|&w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+");
    out += "\n";
    for row in &output.rows {
        out += &line(row.iter().map(|v| v.as_deref().unwrap_or("")).collect());
    }
    let n = output.rows.len();
    out += &format!("({n} row{})\n\n", if n == 1 { "" } else { "s" });
    out
}

fn interactive(runtime: &tokio::runtime::Runtime, backend: &mut Backend) {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("rustydb sql: no line editor ({e})");
            return;
        }
    };
    let history = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".rustydb_history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!("rustydb sql: statements end with ';'. \\? for help, \\q to quit.");
    let mut buffer = String::new();
    let mut timing = false;
    loop {
        let prompt = if buffer.is_empty() { "rustydb=> " } else { "rustydb-> " };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(_) => break,
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match meta_command(runtime, backend, trimmed, &mut timing) {
                Flow::Quit => break,
                Flow::Continue => continue,
            }
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let _ = editor.add_history_entry(buffer.trim());
        let started = Instant::now();
        match runtime.block_on(backend.run(&buffer)) {
            Ok(outputs) => outputs.iter().for_each(print_output),
            Err(e) => eprintln!("ERROR: {e}"),
        }
        if timing {
            println!("Time: {:.3} ms", duration_ms(started.elapsed()));
        }
        buffer.clear();
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
}

enum Flow {
    Quit,
    Continue,
}

fn meta_command(runtime: &tokio::runtime::Runtime, backend: &mut Backend, command: &str, timing: &mut bool) -> Flow {
    let mut words = command.split_whitespace();
    match (words.next().unwrap_or(""), words.next()) {
        ("\\q", _) => return Flow::Quit,
        ("\\timing", _) => {
            *timing = !*timing;
            println!("Timing is {}.", if *timing { "on" } else { "off" });
        }
        ("\\dt", _) | ("\\d", None) => print_or_error(runtime.block_on(backend.describe(None))),
        ("\\d", Some(table)) => print_or_error(runtime.block_on(backend.describe(Some(table)))),
        ("\\?", _) => println!(
            "\\q quit   \\timing toggle timing   \\dt list tables   \\d TABLE describe a table\nSQL runs when a line ends with ';'."
        ),
        (other, _) => eprintln!("invalid command {other}; try \\?"),
    }
    Flow::Continue
}

fn print_or_error(result: Result<Output, String>) {
    match result {
        Ok(output) => print_output(&output),
        Err(e) => eprintln!("ERROR: {e}"),
    }
}

fn duration_ms(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_aligned_like_psql() {
        let output = Output {
            columns: vec!["id".into(), "name".into()],
            rows: vec![vec![Some("1".into()), Some("ann".into())], vec![Some("22".into()), None]],
            tag: "SELECT 2".into(),
        };
        assert_eq!(render(&output), " id | name\n----+------\n 1  | ann\n 22 |\n(2 rows)\n\n");
        let command = Output { columns: vec![], rows: vec![], tag: "INSERT 0 1".into() };
        assert_eq!(render(&command), "INSERT 0 1\n");
    }
}
