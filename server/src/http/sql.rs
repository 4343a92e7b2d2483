//! Running SQL for HTTP clients (REST's `/v1/sql` and GraphQL's `sql`
//! fields): one request is one session.
//!
//! Without parameters the text may hold several statements, run in order
//! (BEGIN … COMMIT inside it works); with parameters it must be exactly one
//! statement, prepared and then run with the parameters cast to the types
//! the statement needs. A transaction left open when the request ends rolls
//! back. Results are bounded: a request whose rows exceed
//! [`MAX_RESULT_ROWS`] fails with 54000 instead of being serialized.

use std::sync::Arc;

use rustydb_core::sql::{Database, ParsedStatement, QueryResult, parse_script};
use rustydb_core::{Error, Result};
use serde::Deserialize;

use super::json::json_to_value;
use super::login::Requester;
use crate::audit;
use crate::auth::Authenticator;

/// The most rows one HTTP request returns, over all its statements.
pub const MAX_RESULT_ROWS: usize = 100_000;

/// The body of `POST /v1/sql`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    pub sql: String,
    #[serde(default)]
    pub params: Vec<serde_json::Value>,
}

/// Whether the request may change the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// Who runs a request and where its DDL is audited.
pub struct Runner<'a> {
    pub db: &'a Arc<Database>,
    pub auth: &'a Authenticator,
    pub requester: &'a Requester,
}

/// Runs `request` in a fresh session as the requester's role.
pub async fn run(runner: &Runner<'_>, request: &SqlRequest, access: Access) -> Result<Vec<QueryResult>> {
    let mut session = runner.db.session();
    if let Some(user) = &runner.requester.user {
        session.set_user(user);
    }
    if access == Access::ReadOnly {
        session.execute("BEGIN READ ONLY").await?;
    }
    let results = if request.params.is_empty() && access == Access::ReadWrite {
        let mut results = Vec::new();
        for statement in &parse_script(&request.sql)? {
            results.push(session.run_parsed(statement, &[]).await?);
            if let ParsedStatement::Sql(statement) = statement {
                runner.audit(audit::classify(statement)).await?;
            }
        }
        results
    } else {
        let mut prepared = session.prepare(&request.sql, &[]).await?;
        let params: Vec<_> = request.params.iter().map(json_to_value).collect();
        if params.len() != prepared.param_types.len() {
            return Err(Error::sql(
                "08P01",
                format!(
                    "the statement takes {} parameters; the request gave {}",
                    prepared.param_types.len(),
                    params.len()
                ),
            ));
        }
        let result = session.execute_prepared(&mut prepared, &params).await?;
        runner.audit(audit::classify(prepared.statement())).await?;
        vec![result]
    };
    if access == Access::ReadOnly {
        session.execute("COMMIT").await?;
    }
    let rows: usize = results.iter().map(|r| r.rows.len()).sum();
    if rows > MAX_RESULT_ROWS {
        return Err(Error::sql(
            "54000",
            format!("the result has {rows} rows, more than the {MAX_RESULT_ROWS} one request returns; add LIMIT"),
        ));
    }
    Ok(results)
}

impl Runner<'_> {
    async fn audit(&self, entry: Option<(audit::AuditEvent, String)>) -> Result<()> {
        match entry {
            Some((event, detail)) => {
                let requester = self.requester;
                self.auth.audit(event, requester.name(), &requester.origin, &detail).await
            }
            None => Ok(()),
        }
    }
}
