//! The audit log: an append-only file of security events (logins, failed
//! logins, DDL, role and privilege changes), one JSON object per line.
//!
//! It is written through the Env's storage, beside the database files, so
//! the simulator sees the same writes the production server makes. Each
//! record is written and synced before the action it records is answered,
//! so an acknowledged DDL statement or login is never missing from the
//! log. Records are appended in the order they are handed in: one writer
//! at a time holds the file and its end offset.
//!
//! A torn last line (a crash mid-append) is left as it is; the next record
//! starts on a fresh line, so every complete line stays parseable.

use std::sync::Arc;

use futures::lock::Mutex;
use rustydb_core::Result;
use rustydb_core::env::{Env, File, OpenMode};
use serde::Serialize;

/// The audit log's file name in the data directory.
pub const AUDIT_FILE: &str = "audit.log";
/// Longest statement text kept in a record.
const MAX_DETAIL_BYTES: usize = 4096;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    Login,
    LoginFailed,
    /// A login refused before a password was checked (rate limit).
    LoginThrottled,
    /// A schema change: CREATE, ALTER, DROP, TRUNCATE.
    Ddl,
    /// A role or privilege change: CREATE/ALTER/DROP ROLE, GRANT, REVOKE.
    Privilege,
}

#[derive(Serialize)]
struct Record<'a> {
    /// Milliseconds since 1970 from the Env's wall clock.
    unix_millis: i128,
    event: AuditEvent,
    user: &'a str,
    /// The client's address.
    peer: &'a str,
    /// "pg" or "http".
    via: &'a str,
    detail: &'a str,
}

/// The open audit log.
pub struct AuditLog {
    env: Env,
    file: Mutex<(Box<dyn File>, u64)>,
}

impl AuditLog {
    /// Opens (creating) the audit log in `env.storage`.
    pub async fn open(env: &Env) -> Result<Arc<AuditLog>> {
        let file = env.storage.open(AUDIT_FILE, OpenMode::CreateIfMissing).await?;
        env.storage.sync_dir().await?;
        let mut end = file.len().await?;
        if end > 0 {
            // Start on a fresh line whether or not the last append was torn.
            file.write_and_sync(end, b"\n").await?;
            end += 1;
        }
        Ok(Arc::new(AuditLog { env: env.clone(), file: Mutex::new((file, end)) }))
    }

    /// Appends one record and syncs it.
    pub async fn record(&self, event: AuditEvent, user: &str, peer: &str, via: &str, detail: &str) -> Result<()> {
        let detail = truncate(detail, MAX_DETAIL_BYTES);
        let record = Record { unix_millis: self.env.clock.wall_now().unix_millis(), event, user, peer, via, detail };
        let mut line = serde_json::to_vec(&record).expect("an audit record serializes");
        line.push(b'\n');
        let mut file = self.file.lock().await;
        let (handle, end) = &mut *file;
        handle.write_and_sync(*end, &line).await?;
        *end += line.len() as u64;
        Ok(())
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// How a statement is audited, if it is: its event and a description safe
/// to store (role statements name the roles, never the password).
pub fn classify(statement: &sqlparser::ast::Statement) -> Option<(AuditEvent, String)> {
    use sqlparser::ast::{ObjectType, Statement};
    let names =
        |names: &[sqlparser::ast::ObjectName]| names.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    match statement {
        Statement::CreateRole(create) => Some((AuditEvent::Privilege, format!("CREATE ROLE {}", names(&create.names)))),
        Statement::AlterRole { name, operation } => {
            let what = match operation {
                sqlparser::ast::AlterRoleOperation::WithOptions { options } => options
                    .iter()
                    .map(|o| match o {
                        sqlparser::ast::RoleOption::Password(_) => "PASSWORD '***'".to_string(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            Some((AuditEvent::Privilege, format!("ALTER ROLE {name} {what}")))
        }
        Statement::Drop { object_type: ObjectType::Role | ObjectType::User, .. }
        | Statement::Grant(_)
        | Statement::Revoke(_) => Some((AuditEvent::Privilege, statement.to_string())),
        Statement::CreateTable(_)
        | Statement::CreateIndex(_)
        | Statement::CreateView(_)
        | Statement::CreateSequence { .. }
        | Statement::AlterTable(_)
        | Statement::Drop { .. }
        | Statement::Truncate(_) => Some((AuditEvent::Ddl, statement.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> sqlparser::ast::Statement {
        rustydb_core::sql::session::parse(sql).unwrap().remove(0)
    }

    #[test]
    fn role_statements_are_audited_without_their_passwords() {
        let (event, detail) = classify(&parse("CREATE ROLE alice LOGIN PASSWORD 'hunter2'")).unwrap();
        assert_eq!(event, AuditEvent::Privilege);
        assert_eq!(detail, "CREATE ROLE alice");
        let (_, detail) = classify(&parse("ALTER ROLE alice WITH LOGIN PASSWORD 'hunter2'")).unwrap();
        assert!(!detail.contains("hunter2"), "{detail}");
        assert_eq!(classify(&parse("GRANT SELECT ON t TO alice")).unwrap().0, AuditEvent::Privilege);
        assert_eq!(classify(&parse("DROP TABLE t")).unwrap().0, AuditEvent::Ddl);
        assert!(classify(&parse("SELECT 1")).is_none());
        assert!(classify(&parse("INSERT INTO t VALUES (1)")).is_none());
    }

    #[test]
    fn long_details_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
