//! A session: one client's connection to a [`Database`].
//!
//! It owns the transaction state machine (autocommit, an explicit block
//! after BEGIN, a failed block that accepts only ROLLBACK or ROLLBACK TO
//! SAVEPOINT, as in PostgreSQL) and session settings (SET / SHOW); it
//! prepares statements (the caller keeps them; their plans are cached per
//! catalog generation) and dispatches each statement to the query path
//! (bind, plan, execute), DML (`dml.rs`) or DDL (`ddl.rs`).
//!
//! Invariants: outside a block, every statement runs in its own transaction
//! that commits or rolls back before the call returns; inside a block the
//! transaction is kept here between calls. A transaction that changed the
//! catalog reads its own catalog and, when it ends, bumps the catalog
//! generation, which invalidates every cached plan.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::sql::binder::{Binder, BoundQuery};
use crate::sql::catalog::Schema;
use crate::sql::database::Database;
use crate::sql::exec::{self, ExecContext};
use crate::sql::functions::FunctionContext;
use crate::sql::plan::Plan;
use crate::sql::privileges;
use crate::sql::roles::Actor;
use crate::sql::script::{ParsedStatement, VacuumCommand, parse_script};
use crate::sql::value::{DataType, Value};
use crate::sql::{ddl, dml, planner};
use crate::txn::{IsolationLevel, Transaction};
use crate::{Error, Result};

/// How deeply expressions may nest (sqlparser's default of 50 rejects
/// generated queries that PostgreSQL runs). Binding recurses as deeply, so
/// this also bounds the stack the binder needs.
const PARSER_RECURSION_LIMIT: usize = 400;

/// The most SQL text one call accepts.
pub const MAX_SQL_BYTES: usize = 16 << 20;

/// One output column of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultColumn {
    pub name: String,
    pub data_type: DataType,
}

/// The result of one statement.
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    /// Empty for statements that return no rows.
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<Value>>,
    /// PostgreSQL's command tag: `SELECT 3`, `INSERT 0 1`, `CREATE TABLE` …
    pub tag: String,
    /// Rows inserted, updated, deleted or returned.
    pub affected: u64,
}

impl QueryResult {
    pub fn command(tag: &str) -> QueryResult {
        QueryResult { tag: tag.to_string(), ..QueryResult::default() }
    }
}

/// A statement parsed and bound once, run many times with parameters.
#[derive(Debug, Clone)]
pub struct PreparedStatement {
    pub sql: String,
    /// Shared so each execution borrows it instead of cloning the tree.
    statement: Arc<ast::Statement>,
    /// Parameter types, from the client or inferred.
    pub param_types: Vec<DataType>,
    /// Output columns (empty if the statement returns none).
    pub columns: Vec<ResultColumn>,
    /// The cached plan of a query and the catalog generation it was made at.
    cached: Option<(u64, Arc<Plan>)>,
}

impl PreparedStatement {
    /// The parsed statement.
    pub fn statement(&self) -> &ast::Statement {
        &self.statement
    }

    /// For COPY … FROM STDIN / TO STDOUT: which way data flows (the
    /// server runs those through its COPY sub-protocol).
    pub fn copy_direction(&self) -> Option<crate::sql::script::CopyDirection> {
        crate::sql::script::copy_direction(&self.statement)
    }
}

/// Transaction state between statements.
enum TxnState {
    /// No open block: each statement commits on its own.
    Idle,
    /// In a BEGIN … block.
    Block(Box<Transaction>),
    /// A statement in the block failed: only ROLLBACK (or COMMIT, which
    /// rolls back) and ROLLBACK TO SAVEPOINT are accepted. The transaction
    /// is kept (its locks too, as in PostgreSQL) so that a savepoint can
    /// revive it.
    Failed(Box<Transaction>),
}

pub struct Session {
    db: Arc<Database>,
    state: TxnState,
    /// Whether the open block changed the catalog.
    catalog_changed: bool,
    default_isolation: IsolationLevel,
    settings: BTreeMap<String, String>,
    last_values: BTreeMap<String, i64>,
    /// Set by another task to cancel the running statement.
    pub cancel: Arc<AtomicBool>,
    /// Data for the next COPY FROM STDIN (see [`Session::copy_from`]).
    copy_data: Option<String>,
    /// What the last COPY TO STDOUT produced.
    copy_output: Option<String>,
    /// The open block was started READ ONLY.
    read_only: bool,
    /// The role the session runs as; `None` for the embedded library's
    /// owner, who acts as a superuser.
    user: Option<String>,
}

/// Parses `sql` (PostgreSQL dialect) into statements.
pub fn parse(sql: &str) -> Result<Vec<ast::Statement>> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(Error::sql("54000", format!("statement longer than {MAX_SQL_BYTES} bytes")));
    }
    let parsed = Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(PARSER_RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| Error::sql("42601", format!("syntax error: {e}")));
    match parsed {
        Err(e) => crate::sql::roles::parse_create_user(sql).unwrap_or(Err(e)),
        ok => ok,
    }
}

/// Parses text that must be exactly one statement.
fn single_statement(sql: &str) -> Result<ParsedStatement> {
    let mut statements = parse_script(sql)?;
    if statements.len() != 1 {
        return Err(Error::sql("42601", "expected exactly one statement"));
    }
    Ok(statements.pop().expect("one statement"))
}

/// Parses text that must be exactly one query (a view's definition).
pub fn parse_single_query(sql: &str) -> Result<ast::Query> {
    match parse(sql)?.pop() {
        Some(ast::Statement::Query(q)) => Ok(*q),
        _ => Err(Error::Corrupt(format!("stored query is not a query: {sql}"))),
    }
}

impl Session {
    pub(crate) fn new(db: Arc<Database>) -> Session {
        let mut settings = BTreeMap::new();
        for (k, v) in DEFAULT_SETTINGS {
            settings.insert(k.to_string(), v.to_string());
        }
        Session {
            db,
            state: TxnState::Idle,
            catalog_changed: false,
            default_isolation: IsolationLevel::ReadCommitted,
            settings,
            last_values: BTreeMap::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            copy_data: None,
            copy_output: None,
            read_only: false,
            user: None,
        }
    }

    /// Runs every later statement as role `name`, whose privileges are
    /// checked statement by statement (the server calls this once the
    /// client has authenticated).
    pub fn set_user(&mut self, name: &str) {
        self.user = Some(name.to_string());
    }

    /// The role the session runs as (`None`: the embedded owner).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Runs `COPY … FROM STDIN` with `data` as its input; the rows loaded.
    pub async fn copy_from(&mut self, sql: &str, data: &str) -> Result<u64> {
        let statement = single_statement(sql)?;
        Ok(self.copy_from_parsed(&statement, data.to_string()).await?.affected)
    }

    /// Runs `COPY … TO STDOUT` and returns the data it wrote.
    pub async fn copy_to(&mut self, sql: &str) -> Result<String> {
        let statement = single_statement(sql)?;
        Ok(self.copy_to_parsed(&statement).await?.1)
    }

    /// A setting's current value as SHOW reports it (`None` if unknown).
    pub fn setting(&self, name: &str) -> Option<String> {
        self.show(&name.to_lowercase()).ok()
    }

    /// How long the server lets this session sit idle inside a transaction
    /// block before it ends the connection (and so the transaction):
    /// PostgreSQL's `idle_in_transaction_session_timeout`; `None` outside a
    /// block or when it is 0 (the default).
    pub fn idle_in_transaction_timeout(&self) -> Option<std::time::Duration> {
        if !self.in_transaction() {
            return None;
        }
        let millis = parse_millis(self.settings.get("idle_in_transaction_session_timeout")?)?;
        (millis > 0).then(|| std::time::Duration::from_millis(millis))
    }

    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// Whether a transaction block is open (PostgreSQL's `T` / `E` status).
    pub fn in_transaction(&self) -> bool {
        !matches!(self.state, TxnState::Idle)
    }

    /// Whether the open block has failed (status `E`).
    pub fn in_failed_transaction(&self) -> bool {
        matches!(self.state, TxnState::Failed(_))
    }

    /// Runs every statement in `sql`, stopping at the first error.
    pub async fn execute(&mut self, sql: &str) -> Result<Vec<QueryResult>> {
        let statements = self.db.parse_script(sql)?;
        let mut results = Vec::with_capacity(statements.len());
        for statement in &statements {
            results.push(self.run_parsed(statement, &[]).await?);
        }
        Ok(results)
    }

    /// Runs one statement of a script parsed by [`parse_script`] (the
    /// server's simple-query path, which handles COPY data itself).
    pub async fn run_parsed(&mut self, statement: &ParsedStatement, params: &[Value]) -> Result<QueryResult> {
        match statement {
            ParsedStatement::Sql(statement) => self.run_statement(statement, params, None).await,
            ParsedStatement::Vacuum(command) => self.vacuum(command).await,
            ParsedStatement::Checkpoint => self.checkpoint().await,
        }
    }

    /// Runs a parsed `COPY … FROM STDIN` with `data` as its input.
    pub async fn copy_from_parsed(&mut self, statement: &ParsedStatement, data: String) -> Result<QueryResult> {
        self.copy_data = Some(data);
        let result = self.run_parsed(statement, &[]).await;
        self.copy_data = None;
        result
    }

    /// Runs a parsed `COPY … TO STDOUT`: its result and the data it wrote.
    pub async fn copy_to_parsed(&mut self, statement: &ParsedStatement) -> Result<(QueryResult, String)> {
        let result = self.run_parsed(statement, &[]).await?;
        let data = self.copy_output.take().ok_or_else(|| Error::sql("42601", "not a COPY … TO STDOUT statement"))?;
        Ok((result, data))
    }

    /// VACUUM: removes row versions no snapshot can see. Every SQL table
    /// shares one storage table, so a vacuum of any table reclaims dead
    /// versions of all of them; naming tables only selects what ANALYZE
    /// covers.
    async fn vacuum(&mut self, command: &VacuumCommand) -> Result<QueryResult> {
        if self.in_transaction() {
            return Err(Error::sql("25001", "VACUUM cannot run inside a transaction block"));
        }
        if command.full {
            return Err(Error::NotSupported("VACUUM FULL (plain VACUUM reclaims space in place)".into()));
        }
        let schema = self.schema_outside_txn().await?;
        for table in &command.tables {
            if schema.table(table).is_none() {
                return Err(Error::sql("42P01", format!("relation \"{table}\" does not exist")));
            }
        }
        self.db.engine.vacuum().await?;
        if command.analyze {
            let sql = if command.tables.is_empty() {
                "ANALYZE".to_string()
            } else {
                let each: Vec<String> =
                    command.tables.iter().map(|t| format!("ANALYZE \"{}\"", t.replace('"', "\"\""))).collect();
                each.join("; ")
            };
            for statement in parse(&sql)? {
                self.run_statement(&statement, &[], None).await?;
            }
        }
        Ok(QueryResult::command("VACUUM"))
    }

    /// CHECKPOINT (superusers only, as in PostgreSQL): writes every dirty
    /// page back and syncs, so recovery starts from here and the log before
    /// it can be recycled. Useful after a bulk load, before measuring.
    async fn checkpoint(&mut self) -> Result<QueryResult> {
        let schema = self.schema_outside_txn().await?;
        Actor::of(self.user.as_deref(), &schema)?.require_superuser("CHECKPOINT")?;
        self.db.engine.store().checkpoint().await?;
        Ok(QueryResult::command("CHECKPOINT"))
    }

    /// Runs one statement with `$n` parameters.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<QueryResult> {
        let mut statements = parse(sql)?;
        if statements.len() != 1 {
            return Err(Error::sql("42601", "cannot run several statements with parameters"));
        }
        let statement = statements.pop().expect("one statement");
        self.run_statement(&statement, params, None).await
    }

    /// Parses and binds `sql` once; `param_types` may leave types unknown.
    pub async fn prepare(&mut self, sql: &str, param_types: &[DataType]) -> Result<PreparedStatement> {
        // Drivers prepare the same texts over and over (an unnamed statement
        // per query in the extended protocol): the parse cache serves them.
        let parsed = self.db.parse_script(sql)?;
        let mut statements = if parsed.iter().all(|s| matches!(s, ParsedStatement::Sql(_))) {
            parsed
                .into_iter()
                .filter_map(|s| match s {
                    ParsedStatement::Sql(statement) => Some(*statement),
                    _ => None,
                })
                .collect()
        } else {
            parse(sql)?
        };
        if statements.len() > 1 {
            return Err(Error::sql("42601", "cannot insert multiple commands into a prepared statement"));
        }
        let statement = statements.pop().unwrap_or(ast::Statement::Flush {
            object_type: ast::FlushType::Tables,
            location: None,
            channel: None,
            read_lock: false,
            export: false,
            tables: vec![],
        });
        let (param_types, columns) = self.describe(&statement, param_types).await?;
        Ok(PreparedStatement {
            sql: sql.to_string(),
            statement: Arc::new(statement),
            param_types,
            columns,
            cached: None,
        })
    }

    /// Runs a prepared statement, reusing its plan while the catalog is unchanged.
    pub async fn execute_prepared(
        &mut self,
        prepared: &mut PreparedStatement,
        params: &[Value],
    ) -> Result<QueryResult> {
        if params.len() < prepared.param_types.len() {
            return Err(Error::sql(
                "08P01",
                format!("statement needs {} parameters, got {}", prepared.param_types.len(), params.len()),
            ));
        }
        let params: Vec<Value> = params
            .iter()
            .zip(prepared.param_types.iter().chain(std::iter::repeat(&DataType::Unknown)))
            .map(|(v, ty)| if *ty == DataType::Unknown { Ok(v.clone()) } else { crate::sql::cast::cast(v.clone(), ty) })
            .collect::<Result<_>>()?;
        let statement = Arc::clone(&prepared.statement);
        self.run_statement(&statement, &params, Some(prepared)).await
    }

    /// Parameter and result types of a statement, without running it.
    async fn describe(
        &mut self,
        statement: &ast::Statement,
        param_types: &[DataType],
    ) -> Result<(Vec<DataType>, Vec<ResultColumn>)> {
        let query = match statement {
            ast::Statement::Query(q) => Some(q.as_ref()),
            _ => None,
        };
        let schema = self.schema_outside_txn().await?;
        let mut binder = Binder::new(&schema).with_params(param_types.to_vec());
        let columns = match query {
            Some(q) => {
                let bound = binder.bind_query(q)?;
                result_columns(&bound)
            }
            None => {
                dml::describe_params(&mut binder, statement)?;
                dml::returning_columns(&mut binder, statement)?
            }
        };
        let n = binder.params.len();
        Ok(((0..n).map(|i| binder.param_type(i)).collect(), columns))
    }

    async fn schema_outside_txn(&mut self) -> Result<Arc<Schema>> {
        match &mut self.state {
            TxnState::Block(txn) if self.catalog_changed => Ok(Arc::new(self.db.catalog.load(txn).await?)),
            _ => self.db.catalog.committed().await,
        }
    }

    /// Runs one statement under the session's transaction rules.
    async fn run_statement(
        &mut self,
        statement: &ast::Statement,
        params: &[Value],
        prepared: Option<&mut PreparedStatement>,
    ) -> Result<QueryResult> {
        self.cancel.store(false, std::sync::atomic::Ordering::Relaxed);
        if let Some(result) = self.transaction_control(statement).await? {
            return Ok(result);
        }
        if matches!(self.state, TxnState::Failed(_)) {
            return Err(Error::sql(
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        if let Some(result) = self.session_command(statement)? {
            return Ok(result);
        }
        let (txn, autocommit) = match std::mem::replace(&mut self.state, TxnState::Idle) {
            TxnState::Block(txn) => (*txn, false),
            _ => (self.db.engine.begin(self.default_isolation).await?, true),
        };
        let mut ctx = ExecContext::new(self.db.clone(), txn, params.to_vec(), self.function_context());
        ctx.cancel = self.cancel.clone();
        ctx.last_value = std::mem::take(&mut self.last_values);
        ctx.memory_limit = self.work_mem();
        let reads_only = matches!(statement, ast::Statement::Query(_) | ast::Statement::Explain { .. })
            || matches!(statement, ast::Statement::Copy { to: true, .. });
        let outcome = if self.read_only && !autocommit && !reads_only {
            Err(Error::sql("25006", "cannot execute this statement in a read-only transaction"))
        } else {
            match ctx.txn.start_sql_statement() {
                Ok(()) => self.dispatch(statement, &mut ctx, prepared).await,
                Err(e) => Err(e),
            }
        };
        self.last_values = std::mem::take(&mut ctx.last_value);
        let ExecContext { txn, .. } = ctx;
        self.finish_statement(txn, autocommit, outcome).await
    }

    /// Commits an autocommit statement, or keeps the block's transaction;
    /// on error rolls back or marks the block failed.
    async fn finish_statement(
        &mut self,
        txn: Transaction,
        autocommit: bool,
        outcome: Result<(QueryResult, bool)>,
    ) -> Result<QueryResult> {
        match outcome {
            Ok((result, changed_catalog)) => {
                if autocommit {
                    let committed = txn.commit().await;
                    if changed_catalog || self.catalog_changed {
                        self.db.catalog.invalidate();
                        self.catalog_changed = false;
                    }
                    committed?;
                } else {
                    self.catalog_changed |= changed_catalog;
                    let returns_data = !result.rows.is_empty() || self.copy_output.is_some();
                    if returns_data && let Err(e) = txn.wait_for_visible_commits().await {
                        self.state = TxnState::Failed(Box::new(txn));
                        return Err(e);
                    }
                    self.state = TxnState::Block(Box::new(txn));
                }
                Ok(result)
            }
            Err(e) => {
                if autocommit {
                    let _ = txn.rollback().await;
                } else {
                    self.state = TxnState::Failed(Box::new(txn));
                }
                Err(e)
            }
        }
    }

    async fn dispatch(
        &mut self,
        statement: &ast::Statement,
        ctx: &mut ExecContext,
        prepared: Option<&mut PreparedStatement>,
    ) -> Result<(QueryResult, bool)> {
        let schema = self.schema_in(ctx).await?;
        ctx.actor = Actor::of(self.user.as_deref(), &schema)?;
        privileges::check(statement, &schema, &ctx.actor)?;
        match statement {
            ast::Statement::Query(query) => Ok((self.run_query(query, &schema, ctx, prepared).await?, false)),
            ast::Statement::Explain { statement, analyze, .. } => {
                Ok((self.explain(statement, *analyze, &schema, ctx).await?, false))
            }
            ast::Statement::Insert(_) | ast::Statement::Update(_) | ast::Statement::Delete(_) => {
                Ok((dml::execute(statement, &schema, ctx).await?, false))
            }
            ast::Statement::Copy { source, to, target, options, legacy_options, payload } => {
                let format = crate::sql::copy::CopyFormat::from_options(options, legacy_options)?;
                let result = match (to, target, payload) {
                    (false, ast::CopyTarget::Stdin, Some(payload)) => {
                        let data = self.copy_data.take().unwrap_or_else(|| payload.data.clone());
                        copy_in(source, &format, &data, &schema, ctx).await?
                    }
                    (false, ast::CopyTarget::Stdin, None) => match self.copy_data.take() {
                        Some(data) => copy_in(source, &format, &data, &schema, ctx).await?,
                        None => {
                            return Err(Error::sql("0A000", "COPY FROM STDIN needs its data: use Session::copy_from"));
                        }
                    },
                    (true, ast::CopyTarget::Stdout, _) => {
                        let (result, data) = copy_out(source, &format, &schema, ctx).await?;
                        self.copy_output = Some(data);
                        result
                    }
                    _ => {
                        return Err(Error::NotSupported(
                            "COPY to or from server files or programs (use STDIN/STDOUT)".into(),
                        ));
                    }
                };
                Ok((result, false))
            }
            ast::Statement::Analyze(a) => {
                ddl::analyze(a, &schema, ctx).await?;
                Ok((QueryResult::command("ANALYZE"), false))
            }
            other => {
                let result = ddl::execute(other, &schema, ctx).await?;
                Ok((result, true))
            }
        }
    }

    /// The schema a statement in `ctx`'s transaction sees.
    async fn schema_in(&self, ctx: &mut ExecContext) -> Result<Arc<Schema>> {
        if self.catalog_changed {
            Ok(Arc::new(self.db.catalog.load(&mut ctx.txn).await?))
        } else {
            self.db.catalog.committed().await
        }
    }

    async fn run_query(
        &mut self,
        query: &ast::Query,
        schema: &Arc<Schema>,
        ctx: &mut ExecContext,
        prepared: Option<&mut PreparedStatement>,
    ) -> Result<QueryResult> {
        let generation = self.db.catalog.generation();
        let cached =
            prepared.as_ref().and_then(|p| p.cached.clone()).filter(|(g, _)| *g == generation && !self.catalog_changed);
        let (plan, columns) = match cached {
            Some((_, plan)) => (plan, prepared.as_ref().map(|p| p.columns.clone()).unwrap_or_default()),
            None => {
                let param_types: Vec<DataType> = prepared
                    .as_ref()
                    .map(|p| p.param_types.clone())
                    .unwrap_or_else(|| ctx.params.iter().map(crate::sql::cast::value_type).collect());
                let mut binder = Binder::new(schema).with_params(param_types);
                let bound = binder.bind_query(query)?;
                let columns = result_columns(&bound);
                let plan = Arc::new(plan_query(bound.plan, schema, ctx).await?);
                if let Some(p) = prepared {
                    p.cached = Some((generation, plan.clone()));
                }
                (plan, columns)
            }
        };
        let batches = exec::collect(&plan, ctx).await?;
        let rows: Vec<Vec<Value>> = batches.iter().flat_map(|b| (0..b.len).map(move |i| b.row(i))).collect();
        let n = rows.len() as u64;
        Ok(QueryResult { columns, rows, tag: format!("SELECT {n}"), affected: n })
    }

    async fn explain(
        &mut self,
        statement: &ast::Statement,
        analyze: bool,
        schema: &Arc<Schema>,
        ctx: &mut ExecContext,
    ) -> Result<QueryResult> {
        let ast::Statement::Query(query) = statement else {
            return Err(Error::NotSupported("EXPLAIN of statements other than queries".into()));
        };
        let mut binder = Binder::new(schema);
        let bound = binder.bind_query(query)?;
        let plan = plan_query(bound.plan, schema, ctx).await?;
        let mut lines = plan.explain();
        if analyze {
            let start = self.db.env.clock.now();
            let batches = exec::collect(&plan, ctx).await?;
            let elapsed = self.db.env.clock.now().saturating_since(start);
            let rows: usize = batches.iter().map(|b| b.len).sum();
            lines.push(format!("Actual rows: {rows}"));
            lines.push(format!("Execution Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0));
        }
        let rows: Vec<Vec<Value>> = lines.into_iter().map(|l| vec![Value::Text(l)]).collect();
        let n = rows.len() as u64;
        Ok(QueryResult {
            columns: vec![ResultColumn { name: "QUERY PLAN".into(), data_type: DataType::Text }],
            rows,
            tag: format!("EXPLAIN {n}"),
            affected: n,
        })
    }

    fn function_context(&self) -> FunctionContext {
        let micros = (self.db.env.clock.wall_now().unix_millis() * 1000) as i64;
        let random = self.db.env.random.clone();
        let mut ctx = FunctionContext::fixed(micros);
        ctx.random = Some(Box::new(move || (random.next_u64() >> 11) as f64 / (1u64 << 53) as f64));
        ctx
    }

    fn work_mem(&self) -> usize {
        self.settings.get("work_mem").and_then(|v| parse_memory(v)).unwrap_or(1 << 30)
    }

    /// BEGIN, COMMIT, ROLLBACK, SAVEPOINT …; `None` for other statements.
    async fn transaction_control(&mut self, statement: &ast::Statement) -> Result<Option<QueryResult>> {
        Ok(Some(match statement {
            ast::Statement::StartTransaction { modes, .. } => {
                if !matches!(self.state, TxnState::Idle) {
                    // PostgreSQL warns and carries on.
                    return Ok(Some(QueryResult::command("BEGIN")));
                }
                let level = isolation_of(modes).unwrap_or(self.default_isolation);
                self.state = TxnState::Block(Box::new(self.db.engine.begin(level).await?));
                self.catalog_changed = false;
                self.read_only = modes
                    .iter()
                    .any(|m| matches!(m, ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadOnly)));
                QueryResult::command("BEGIN")
            }
            ast::Statement::Commit { .. } => self.end_block(true).await?,
            ast::Statement::Rollback { savepoint: None, .. } => self.end_block(false).await?,
            ast::Statement::Rollback { savepoint: Some(name), .. } => {
                let name = crate::sql::binder::ident_name(name);
                match std::mem::replace(&mut self.state, TxnState::Idle) {
                    TxnState::Block(mut txn) | TxnState::Failed(mut txn) => {
                        match txn.rollback_to_savepoint(&name).await {
                            Ok(()) => self.state = TxnState::Block(txn),
                            Err(e) => {
                                self.state = TxnState::Failed(txn);
                                return Err(match e {
                                    Error::InvalidInput(m) => Error::sql("3B001", m),
                                    other => other,
                                });
                            }
                        }
                    }
                    TxnState::Idle => return Err(no_block("ROLLBACK TO SAVEPOINT")),
                }
                QueryResult::command("ROLLBACK")
            }
            ast::Statement::Savepoint { name } => {
                match &mut self.state {
                    TxnState::Block(txn) => txn.savepoint(&crate::sql::binder::ident_name(name))?,
                    TxnState::Failed(_) => {
                        return Err(Error::sql(
                            "25P02",
                            "current transaction is aborted, commands ignored until end of transaction block",
                        ));
                    }
                    TxnState::Idle => return Err(no_block("SAVEPOINT")),
                }
                QueryResult::command("SAVEPOINT")
            }
            ast::Statement::ReleaseSavepoint { name } => {
                match &mut self.state {
                    TxnState::Block(txn) => txn.release_savepoint(&crate::sql::binder::ident_name(name))?,
                    _ => return Err(no_block("RELEASE SAVEPOINT")),
                }
                QueryResult::command("RELEASE")
            }
            _ => return Ok(None),
        }))
    }

    async fn end_block(&mut self, commit: bool) -> Result<QueryResult> {
        let changed = std::mem::take(&mut self.catalog_changed);
        let result = match std::mem::replace(&mut self.state, TxnState::Idle) {
            TxnState::Block(txn) if commit => (*txn).commit().await.map(|()| QueryResult::command("COMMIT")),
            TxnState::Block(txn) => (*txn).rollback().await.map(|()| QueryResult::command("ROLLBACK")),
            TxnState::Failed(txn) => {
                let _ = (*txn).rollback().await;
                Ok(QueryResult::command("ROLLBACK"))
            }
            // PostgreSQL warns "there is no transaction in progress".
            TxnState::Idle => Ok(QueryResult::command(if commit { "COMMIT" } else { "ROLLBACK" })),
        };
        if changed {
            self.db.catalog.invalidate();
        }
        result
    }

    /// SET, SHOW, RESET and prepared-statement commands.
    fn session_command(&mut self, statement: &ast::Statement) -> Result<Option<QueryResult>> {
        Ok(Some(match statement {
            ast::Statement::Set(set) => self.set(set)?,
            ast::Statement::ShowVariable { variable } => {
                let name = variable.iter().map(crate::sql::binder::ident_name).collect::<Vec<_>>().join(" ");
                let value = self.show(&name)?;
                QueryResult {
                    columns: vec![ResultColumn { name: name.clone(), data_type: DataType::Text }],
                    rows: vec![vec![Value::Text(value)]],
                    tag: "SHOW".into(),
                    affected: 1,
                }
            }
            _ => return Ok(None),
        }))
    }

    fn set(&mut self, set: &ast::Set) -> Result<QueryResult> {
        match set {
            ast::Set::SingleAssignment { variable, values, .. } => {
                let name = variable.to_string().to_lowercase();
                let value = values.iter().map(setting_text).collect::<Vec<_>>().join(", ");
                self.set_variable(&name, &value)?;
            }
            ast::Set::SetTransaction { modes, session, .. } => {
                let level = isolation_of(modes)
                    .ok_or_else(|| Error::NotSupported("SET TRANSACTION without ISOLATION LEVEL".into()))?;
                if *session {
                    self.default_isolation = level;
                } else if matches!(self.state, TxnState::Block(_)) {
                    return Err(Error::NotSupported(
                        "SET TRANSACTION inside a started transaction (give the level to BEGIN)".into(),
                    ));
                } else {
                    return Err(no_block("SET TRANSACTION"));
                }
            }
            ast::Set::SetTimeZone { value, .. } => self.set_variable("timezone", &setting_text(value))?,
            ast::Set::SetNames { charset_name, .. } => self.set_variable("client_encoding", &charset_name.value)?,
            other => return Err(Error::NotSupported(format!("{other}"))),
        }
        Ok(QueryResult::command("SET"))
    }

    /// SET: settings whose value the engine honours, or whose only value is
    /// the one the engine implements. Any other value or parameter is an
    /// error, never silently ignored.
    fn set_variable(&mut self, name: &str, value: &str) -> Result<()> {
        let value = value.trim_matches('\'');
        let lower = value.to_lowercase();
        let fixed = |allowed: &[&str]| -> Result<()> {
            if lower == "default" || allowed.contains(&lower.as_str()) {
                Ok(())
            } else {
                Err(Error::NotSupported(format!("{name} = {value} (supported: {})", allowed.join(", "))))
            }
        };
        match name {
            "default_transaction_isolation" | "transaction_isolation" => {
                self.default_isolation = if lower == "default" {
                    IsolationLevel::ReadCommitted
                } else {
                    value.parse().map_err(|_| Error::sql("22023", format!("invalid isolation level: {value}")))?
                };
            }
            "timezone" | "time zone" => fixed(&["utc", "gmt", "+00", "0", "etc/utc", "z"])?,
            "client_encoding" => fixed(&["utf8", "utf-8", "unicode"])?,
            "datestyle" => fixed(&["iso, mdy", "iso", "iso,mdy"])?,
            "intervalstyle" => fixed(&["postgres"])?,
            "standard_conforming_strings" => fixed(&["on"])?,
            "bytea_output" => fixed(&["hex"])?,
            "search_path" => fixed(&["public", "\"$user\", public", "pg_catalog, public", ""])?,
            // Floats always print their shortest exact form, which is what
            // PostgreSQL prints for any positive setting.
            "extra_float_digits" => match value.parse::<i32>() {
                Ok(n) if n >= 1 => {}
                _ if lower == "default" => {}
                _ => return Err(Error::NotSupported(format!("extra_float_digits = {value} (only 1 to 3)"))),
            },
            "work_mem" => {
                if lower != "default" && parse_memory(value).is_none() {
                    return Err(Error::sql("22023", format!("invalid value for work_mem: {value}")));
                }
            }
            // Only shown back, as in PostgreSQL.
            "application_name" | "client_min_messages" => {}
            "idle_in_transaction_session_timeout" => {
                if lower != "default" && parse_millis(value).is_none() {
                    return Err(Error::sql("22023", format!("invalid value for parameter \"{name}\": \"{value}\"")));
                }
            }
            "statement_timeout" | "lock_timeout" | "synchronous_commit" => {
                return Err(Error::NotSupported(format!("the setting {name}")));
            }
            other => return Err(Error::sql("42704", format!("unrecognized configuration parameter \"{other}\""))),
        }
        if lower == "default" {
            self.settings.remove(name);
            if let Some((_, v)) = DEFAULT_SETTINGS.iter().find(|(k, _)| *k == name) {
                self.settings.insert(name.to_string(), v.to_string());
            }
        } else {
            self.settings.insert(name.to_string(), value.to_string());
        }
        Ok(())
    }

    fn show(&self, name: &str) -> Result<String> {
        match name {
            "transaction_isolation" | "transaction isolation level" => {
                let level = match &self.state {
                    TxnState::Block(txn) | TxnState::Failed(txn) => txn.level(),
                    TxnState::Idle => self.default_isolation,
                };
                Ok(level.name().to_lowercase())
            }
            "default_transaction_isolation" => Ok(self.default_isolation.name().to_lowercase()),
            other => self
                .settings
                .get(other)
                .cloned()
                .ok_or_else(|| Error::sql("42704", format!("unrecognized configuration parameter \"{other}\""))),
        }
    }
}

async fn copy_in(
    source: &ast::CopySource,
    format: &crate::sql::copy::CopyFormat,
    data: &str,
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<QueryResult> {
    let ast::CopySource::Table { table_name, columns } = source else {
        return Err(Error::sql("42601", "COPY FROM needs a table"));
    };
    let rows = format.parse(data)?;
    let columns: Vec<ast::ObjectName> = columns.iter().map(|c| ast::ObjectName::from(vec![c.clone()])).collect();
    let table = crate::sql::binder::object_name(table_name)?;
    let n = dml::copy_rows(&table, &columns, rows, schema, ctx).await?;
    Ok(QueryResult { tag: format!("COPY {n}"), affected: n, ..QueryResult::default() })
}

async fn copy_out(
    source: &ast::CopySource,
    format: &crate::sql::copy::CopyFormat,
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<(QueryResult, String)> {
    let query = match source {
        ast::CopySource::Query(q) => (**q).clone(),
        ast::CopySource::Table { table_name, columns } => {
            let cols = if columns.is_empty() {
                "*".to_string()
            } else {
                columns.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
            };
            parse_single_query(&format!("SELECT {cols} FROM {table_name}"))?
        }
    };
    let bound = Binder::new(schema).bind_query(&query)?;
    let names = bound.names.clone();
    let plan = plan_query(bound.plan, schema, ctx).await?;
    let batches = exec::collect(&plan, ctx).await?;
    let rows: Vec<Vec<Option<String>>> = batches
        .iter()
        .flat_map(|b| (0..b.len).map(move |i| b.row(i)))
        .map(|row| {
            row.iter().map(|v| if v.is_null() { None } else { Some(crate::sql::cast::format_value(v)) }).collect()
        })
        .collect();
    let n = rows.len() as u64;
    let data = format.write(&rows, Some(&names));
    Ok((QueryResult { tag: format!("COPY {n}"), affected: n, ..QueryResult::default() }, data))
}

/// Binds nothing, plans `plan` after refreshing stale statistics.
pub async fn plan_query(plan: Plan, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<Plan> {
    ddl::refresh_stale_stats(&plan, ctx).await?;
    let stats = &ctx.db.stats;
    Ok(planner::optimize(plan, schema, &|id| stats.get(id)))
}

fn result_columns(bound: &BoundQuery) -> Vec<ResultColumn> {
    bound.names.iter().zip(bound.types()).map(|(n, t)| ResultColumn { name: n.clone(), data_type: t }).collect()
}

fn no_block(what: &str) -> Error {
    Error::sql("25P01", format!("{what} can only be used in transaction blocks"))
}

fn isolation_of(modes: &[ast::TransactionMode]) -> Option<IsolationLevel> {
    modes.iter().find_map(|m| match m {
        ast::TransactionMode::IsolationLevel(level) => Some(match level {
            ast::TransactionIsolationLevel::Serializable => IsolationLevel::Serializable,
            ast::TransactionIsolationLevel::RepeatableRead | ast::TransactionIsolationLevel::Snapshot => {
                IsolationLevel::RepeatableRead
            }
            _ => IsolationLevel::ReadCommitted,
        }),
        _ => None,
    })
}

fn setting_text(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        ast::Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

/// A duration setting in milliseconds: a number with an optional unit
/// (`ms`, `s`, `min`, `h`, `d`; none means milliseconds), at most
/// PostgreSQL's limit of 2^31 - 1 ms.
fn parse_millis(v: &str) -> Option<u64> {
    let v = v.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let number: u64 = v[..digits].parse().ok()?;
    let scale = match v[digits..].trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(scale).filter(|&ms| ms <= i32::MAX as u64)
}

fn parse_memory(v: &str) -> Option<usize> {
    let v = v.trim().to_lowercase();
    let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: usize = digits.parse().ok()?;
    let scale = match unit.trim() {
        "" | "kb" => 1 << 10,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        "b" => 1,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// Settings SHOW knows before anything sets them.
const DEFAULT_SETTINGS: &[(&str, &str)] = &[
    ("server_version", "15.0"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("datestyle", "ISO, MDY"),
    ("timezone", "UTC"),
    ("intervalstyle", "postgres"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("search_path", "public"),
    ("work_mem", "1GB"),
    ("max_identifier_length", "63"),
    ("idle_in_transaction_session_timeout", "0"),
];
