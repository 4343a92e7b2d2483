//! Runs one test file against a fresh embedded database, record by record,
//! counting each record and going on after failures.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use rustydb_core::sql::{Database, DatabaseConfig, QueryResult, Session};
use sqllogictest::{
    ColumnType, Control, DefaultColumnType, ExpectedError, Location, QueryExpect, Record, ResultMode, SortMode,
    StatementExpect,
};

use super::compare::{self, Shape};
use super::copy::{self, CopySpec};
use super::emit;
use super::format::{Corpus, format_row};
use super::script::{self, Records};

/// Most result lines a verbose failure shows per side.
const SHOWN_LINES: usize = 40;

/// The last panic's message, kept by the hook [`install_panic_hook`] sets.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Keeps the engine's panic messages for the failure report instead of
/// printing them: an engine panic fails one record, and the run goes on.
/// A panic of the main thread (the runner's own) still prints.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            default(info);
        } else if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
}

pub struct Options {
    pub verbose: bool,
    pub timeout: Duration,
    pub conditions: Conditions,
}

/// Whether a record's `onlyif`/`skipif` guards decide if it runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Conditions {
    /// A record guarded for another engine is skipped, as the corpus intends.
    Honour,
    /// Every record runs, whichever engine it was written for: a record in
    /// another dialect (MySQL's `DIV`, MSSQL's `IF EXISTS` …) fails instead
    /// of being skipped, so `passed` counts against every record there is.
    Ignore,
}

/// Record counts: `records == passed + failed + skipped`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub records: u64,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.records += other.records;
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// How far a file's run got, shared with the thread that waits for it.
#[derive(Default)]
struct Progress {
    counts: Counts,
    /// Where the record being run is, for the timeout message.
    current: String,
}

/// What a failed record shows with `--verbose`.
struct Failure {
    reason: String,
    expected: Vec<String>,
    actual: Vec<String>,
}

enum Outcome {
    Passed,
    Failed(Failure),
    Skipped,
}

fn fail(reason: impl Into<String>) -> Outcome {
    Outcome::Failed(Failure { reason: reason.into(), expected: Vec::new(), actual: Vec::new() })
}

fn error_text(err: &rustydb_core::Error) -> String {
    format!("error {}: {err}", err.sqlstate())
}

/// The records that count: those with SQL or a command.
fn is_counted(record: &Record<DefaultColumnType>) -> bool {
    matches!(record, Record::Statement { .. } | Record::Query { .. } | Record::System { .. } | Record::Let { .. })
}

/// Runs one file with its own runtime and database; past the timeout the
/// file's remaining records count as failed.
pub fn run_file(path: &Path, opts: &Options) -> Counts {
    let records = match script::load(path) {
        Ok(records) => records,
        Err(e) => {
            emit(&format!("error {}: cannot load: {e}", path.display()));
            return Counts { records: 1, failed: 1, ..Counts::default() };
        }
    };
    let total = records.iter().filter(|r| is_counted(r)).count() as u64;
    let dir = temp_dir();
    let progress = Arc::new(Mutex::new(Progress::default()));
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            emit(&format!("error {}: cannot start a runtime: {e}", path.display()));
            return Counts { records: total, failed: total, ..Counts::default() };
        }
    };
    let (tx, rx) = mpsc::channel();
    let file = FileRun::new(path, opts, progress.clone());
    let task_dir = dir.clone();
    runtime.spawn(async move {
        let _ = tx.send(file.execute(records, &task_dir).await);
    });
    match rx.recv_timeout(opts.timeout) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => _ = emit(&format!("error {}: {e}", path.display())),
        Err(RecvTimeoutError::Timeout) => {
            let at = progress.lock().map(|p| p.current.clone()).unwrap_or_default();
            _ = emit(&format!("error {}: timed out after {:?}, running {at}", path.display(), opts.timeout))
        }
        Err(RecvTimeoutError::Disconnected) => _ = emit(&format!("error {}: the runner task panicked", path.display())),
    }
    // A task stuck past the timeout is abandoned with its runtime.
    runtime.shutdown_background();
    let _ = std::fs::remove_dir_all(&dir);
    let mut counts = progress.lock().unwrap_or_else(|e| e.into_inner()).counts;
    counts.failed += total.saturating_sub(counts.records);
    counts.records = counts.records.max(total);
    counts
}

/// A new, unique directory under the system's temporary directory.
fn temp_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("rustydb-slt-{}-{n}-{nanos}", std::process::id()))
}

/// The state of one file's run.
struct FileRun {
    corpus: Corpus,
    verbose: bool,
    progress: Arc<Mutex<Progress>>,
    valuewise: bool,
    sort_mode: Option<SortMode>,
    hash_threshold: u64,
    halted: bool,
    conditions: Conditions,
}

impl FileRun {
    fn new(path: &Path, opts: &Options, progress: Arc<Mutex<Progress>>) -> FileRun {
        let corpus = Corpus::of(path);
        let sqlite = corpus == Corpus::Sqlite;
        FileRun {
            corpus,
            verbose: opts.verbose,
            progress,
            valuewise: sqlite,
            sort_mode: None,
            hash_threshold: if sqlite { 8 } else { 0 },
            halted: false,
            conditions: opts.conditions,
        }
    }

    /// Whether a record with these guards is skipped (after a `halt`, every record is).
    fn skips(&self, conditions: &[sqllogictest::Condition]) -> bool {
        self.halted || (self.conditions == Conditions::Honour && script::should_skip(conditions))
    }

    async fn execute(mut self, records: Records, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let env = rustydb_io::production_env(dir, "127.0.0.1", tokio::runtime::Handle::current())
            .map_err(|e| format!("cannot make the environment: {e}"))?;
        let db = Database::open(&env, DatabaseConfig::default()).await.map_err(|e| format!("cannot open: {e}"))?;
        let mut session = db.session();
        for record in records {
            self.step(&mut session, record).await;
        }
        Ok(())
    }

    async fn step(&mut self, session: &mut Session, record: Record<DefaultColumnType>) {
        match record {
            Record::Statement { loc, conditions, sql, expected, .. } => {
                let outcome = if self.skips(&conditions) {
                    Outcome::Skipped
                } else {
                    self.start(&loc);
                    catching(statement(session, &loc, &sql, &expected)).await
                };
                self.count(&loc, &sql, outcome);
            }
            Record::Query { loc, conditions, sql, expected, .. } => {
                let outcome = if self.skips(&conditions) {
                    Outcome::Skipped
                } else {
                    self.start(&loc);
                    let run = query(session, &sql, &expected, self.corpus, self.valuewise, self.sort_mode);
                    catching(run).await
                };
                self.count(&loc, &sql, outcome);
            }
            Record::System { loc, command, .. } => self.count(&loc, &command, Outcome::Skipped),
            Record::Let { loc, sql, .. } => self.count(&loc, &sql, Outcome::Skipped),
            Record::Halt { .. } => self.halted = true,
            Record::HashThreshold { threshold, .. } => self.hash_threshold = threshold,
            Record::Control(Control::ResultMode(mode)) => self.valuewise = mode == ResultMode::ValueWise,
            Record::Control(Control::SortMode(mode)) => self.sort_mode = Some(mode),
            _ => {}
        }
    }

    fn start(&self, loc: &Location) {
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        progress.current = loc.to_string().replace('\n', " ");
    }

    fn count(&self, loc: &Location, sql: &str, outcome: Outcome) {
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let counts = &mut progress.counts;
        counts.records += 1;
        match outcome {
            Outcome::Passed => counts.passed += 1,
            Outcome::Skipped => counts.skipped += 1,
            Outcome::Failed(failure) => {
                counts.failed += 1;
                if self.verbose {
                    print_failure(loc, sql, &failure, self.hash_threshold);
                }
            }
        }
    }
}

/// Runs a record, turning an engine panic into a failure.
async fn catching(run: impl Future<Output = Outcome>) -> Outcome {
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(_) => {
            let message = LAST_PANIC.lock().ok().and_then(|mut p| p.take()).unwrap_or_default();
            fail(format!("panic: {}", message.replace('\n', " ")))
        }
    }
}

fn print_failure(loc: &Location, sql: &str, failure: &Failure, hash_threshold: u64) {
    let mut out = format!("FAIL {loc}: {}\n  sql: {}\n", failure.reason, sql.replace('\n', "\n       "));
    let hashed = hash_threshold > 0 && failure.actual.len() as u64 > hash_threshold;
    for (name, lines) in [("expected", &failure.expected), ("actual", &failure.actual)] {
        if failure.expected.is_empty() && failure.actual.is_empty() {
            break;
        }
        out.push_str(&format!("  {name}: ({} lines{})\n", lines.len(), if hashed { ", not hashed" } else { "" }));
        for line in lines.iter().take(SHOWN_LINES) {
            out.push_str(&format!("    {line}\n"));
        }
        if lines.len() > SHOWN_LINES {
            out.push_str("    …\n");
        }
    }
    emit(out.trim_end());
}

/// RisingWave-only statements that PostgreSQL has no use for.
fn is_risingwave_noop(sql: &str) -> bool {
    let words: Vec<String> = sql.trim().trim_end_matches(';').split_whitespace().map(str::to_ascii_lowercase).collect();
    matches!(words.as_slice(), [w] if w == "flush") || words.get(1).is_some_and(|w| w == "rw_implicit_flush")
}

/// Whether an error is the one a record expects: a SQLSTATE must match;
/// other engines' message texts are not compared.
fn error_matches(expected: &ExpectedError, err: &rustydb_core::Error) -> bool {
    match expected {
        ExpectedError::SqlState(state) => state == err.sqlstate(),
        _ => true,
    }
}

async fn statement(session: &mut Session, loc: &Location, sql: &str, expected: &StatementExpect) -> Outcome {
    if is_risingwave_noop(sql) {
        return Outcome::Skipped;
    }
    if let Some(spec) = copy::parse_copy(sql) {
        return run_copy(session, loc, &spec).await;
    }
    match (expected, session.execute(sql).await) {
        (StatementExpect::Ok, Ok(_)) => Outcome::Passed,
        (StatementExpect::Count(n), Ok(results)) => {
            let affected = results.last().map_or(0, |r| r.affected);
            if affected == *n { Outcome::Passed } else { fail(format!("expected count {n}, got {affected}")) }
        }
        (StatementExpect::Error(e), Err(err)) if error_matches(e, &err) => Outcome::Passed,
        (StatementExpect::Error(e), Err(err)) => fail(format!("expected error {e}, got {}", error_text(&err))),
        (StatementExpect::Error(e), Ok(_)) => fail(format!("expected error {e}, statement succeeded")),
        (_, Err(err)) => fail(error_text(&err)),
    }
}

async fn query(
    session: &mut Session,
    sql: &str,
    expected: &QueryExpect<DefaultColumnType>,
    corpus: Corpus,
    valuewise: bool,
    sort_mode: Option<SortMode>,
) -> Outcome {
    let result = session.execute(sql).await;
    let (types, sort, expected, results) = match (expected, result) {
        (QueryExpect::Error(e), Err(err)) if error_matches(e, &err) => return Outcome::Passed,
        (QueryExpect::Error(e), Err(err)) => return fail(format!("expected error {e}, got {}", error_text(&err))),
        (QueryExpect::Error(e), Ok(_)) => return fail(format!("expected error {e}, query succeeded")),
        (QueryExpect::Results { .. }, Err(err)) => return fail(error_text(&err)),
        (QueryExpect::Results { types, sort_mode: sort, results: expected, .. }, Ok(results)) => {
            (types, sort.or(sort_mode).unwrap_or(SortMode::NoSort), expected, results)
        }
    };
    let empty = QueryResult::default();
    let result = results.last().unwrap_or(&empty);
    let type_chars: Vec<char> = types.iter().map(ColumnType::to_char).collect();
    let data_types: Vec<_> = result.columns.iter().map(|c| c.data_type.clone()).collect();
    let rows: Vec<Vec<String>> =
        result.rows.iter().map(|row| format_row(row, &data_types, &type_chars, corpus)).collect();
    let columns = if types.is_empty() { result.columns.len() } else { types.len() };
    match compare::compare(&rows, expected, Shape { sort, valuewise, columns }) {
        Ok(()) => Outcome::Passed,
        Err(m) => Outcome::Failed(Failure { reason: "wrong result".into(), expected: m.expected, actual: m.actual }),
    }
}

/// `COPY … FROM 'file'`: the file is found relative to the record's file
/// or one of its ancestors, and loaded through `COPY … FROM STDIN`.
async fn run_copy(session: &mut Session, loc: &Location, spec: &CopySpec) -> Outcome {
    let file_dir = Path::new(loc.file()).parent().unwrap_or(Path::new("."));
    let base = std::fs::canonicalize(file_dir).unwrap_or_else(|_| file_dir.to_path_buf());
    let Some(path) = copy::resolve_path(&base, &spec.path) else {
        return fail(format!("COPY: {} not found from {}", spec.path, base.display()));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => return fail(format!("COPY: {}: {e}", path.display())),
    };
    match session.copy_from(&copy::stdin_statement(spec), &copy::stdin_data(&text, spec)).await {
        Ok(_) => Outcome::Passed,
        Err(err) => fail(format!("COPY: {}", error_text(&err))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risingwave_noops() {
        assert!(is_risingwave_noop("SET RW_IMPLICIT_FLUSH TO true;"));
        assert!(is_risingwave_noop("set rw_implicit_flush = true"));
        assert!(is_risingwave_noop("FLUSH;"));
        assert!(is_risingwave_noop(" flush "));
        assert!(!is_risingwave_noop("SELECT flush FROM t"));
        assert!(!is_risingwave_noop("SET search_path TO x"));
    }

    #[test]
    fn counts_add_up() {
        let mut total = Counts::default();
        total.add(Counts { records: 3, passed: 1, failed: 1, skipped: 1 });
        total.add(Counts { records: 2, passed: 2, failed: 0, skipped: 0 });
        assert_eq!(total, Counts { records: 5, passed: 3, failed: 1, skipped: 1 });
    }

    #[test]
    fn counted_records() {
        let records: Records = sqllogictest::parse("hash-threshold 8\n\nstatement ok\nSELECT 1\n\nhalt\n").unwrap();
        assert_eq!(records.iter().filter(|r| is_counted(r)).count(), 1);
    }

    #[test]
    fn ignoring_conditions_runs_every_record() {
        let dir = temp_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("guards.test");
        let script = "onlyif mysql\nquery I\nSELECT 7 DIV 2\n----\n3\n\n\
                      skipif mysql\nquery I\nSELECT 7 / 2\n----\n3\n\n\
                      skipif postgresql\nquery I\nSELECT 1 one\n----\n1\n";
        std::fs::write(&file, script).unwrap();
        let run = |conditions| {
            let opts = Options { verbose: false, timeout: Duration::from_secs(60), conditions };
            run_file(&file, &opts)
        };
        assert_eq!(run(Conditions::Honour), Counts { records: 3, passed: 1, failed: 0, skipped: 2 });
        // MySQL's DIV is not ours: it fails rather than being skipped.
        assert_eq!(run(Conditions::Ignore), Counts { records: 3, passed: 2, failed: 1, skipped: 0 });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
