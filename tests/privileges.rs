//! Roles and privileges through the SQL engine: CREATE/ALTER/DROP ROLE,
//! GRANT and REVOKE, and the check each statement passes, with sessions
//! running as different roles (as the server runs them after login).

use std::sync::Arc;

use rustydb::Database;
use rustydb_core::sql::{self, Session};

struct Fixture {
    dir: std::path::PathBuf,
    db: Database,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fixture(name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("rustydb-privileges-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Database::open(&dir).await.unwrap();
    assert!(db.engine().bootstrap_superuser("secret").await.unwrap());
    assert!(!db.engine().bootstrap_superuser("other").await.unwrap(), "bootstraps once");
    Fixture { dir, db }
}

fn session_as(db: &Arc<sql::Database>, user: &str) -> Session {
    let mut session = db.session();
    session.set_user(user);
    session
}

async fn ok(session: &mut Session, sql: &str) {
    session.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The SQLSTATE `sql` fails with.
async fn fails(session: &mut Session, sql: &str) -> String {
    match session.execute(sql).await {
        Ok(_) => panic!("{sql} succeeded"),
        Err(e) => e.sqlstate().to_string(),
    }
}

#[tokio::test]
async fn grants_decide_what_a_role_may_read_and_write() {
    let f = fixture("grants").await;
    let db = f.db.engine();
    let mut admin = session_as(db, "rustydb");
    ok(&mut admin, "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT)").await;
    ok(&mut admin, "INSERT INTO accounts VALUES (1, 100), (2, 50)").await;
    ok(&mut admin, "CREATE ROLE alice LOGIN PASSWORD 'alice-pw'").await;
    ok(&mut admin, "CREATE ROLE bob LOGIN").await;

    let mut alice = session_as(db, "alice");
    assert_eq!(fails(&mut alice, "SELECT * FROM accounts").await, "42501");
    assert_eq!(fails(&mut alice, "UPDATE accounts SET balance = 0 WHERE id = 1").await, "42501");
    assert_eq!(fails(&mut alice, "SELECT (SELECT count(*) FROM accounts)").await, "42501", "subqueries are checked");
    assert_eq!(
        fails(&mut alice, "CREATE TABLE stolen AS SELECT * FROM accounts").await,
        "42501",
        "CREATE TABLE … AS reads"
    );

    ok(&mut admin, "GRANT SELECT ON accounts TO alice").await;
    ok(&mut alice, "SELECT * FROM accounts").await;
    ok(&mut alice, "CREATE TABLE copied AS SELECT * FROM accounts").await;
    ok(&mut alice, "SELECT * FROM copied").await; // she owns what she made
    assert_eq!(fails(&mut alice, "UPDATE accounts SET balance = 0 WHERE id = 1").await, "42501");
    assert_eq!(fails(&mut alice, "DELETE FROM accounts").await, "42501");
    assert_eq!(fails(&mut alice, "TRUNCATE accounts").await, "42501");
    assert_eq!(fails(&mut alice, "DROP TABLE accounts").await, "42501", "only the owner drops");

    ok(&mut admin, "GRANT UPDATE ON TABLE accounts TO alice").await;
    ok(&mut alice, "UPDATE accounts SET balance = balance + 1 WHERE id = 1").await;
    ok(&mut admin, "REVOKE SELECT ON accounts FROM alice").await;
    assert_eq!(
        fails(&mut alice, "UPDATE accounts SET balance = 0 WHERE id = 1").await,
        "42501",
        "a WHERE clause reads the table, which needs SELECT"
    );

    // PUBLIC reaches every role; bob has no grants of his own.
    let mut bob = session_as(db, "bob");
    assert_eq!(fails(&mut bob, "SELECT * FROM accounts").await, "42501");
    ok(&mut admin, "GRANT SELECT ON accounts TO PUBLIC").await;
    ok(&mut bob, "SELECT * FROM accounts").await;
    assert_eq!(fails(&mut bob, "GRANT SELECT ON accounts TO bob").await, "42501", "only the owner grants");
}

#[tokio::test]
async fn owners_hold_every_privilege_on_what_they_create() {
    let f = fixture("owners").await;
    let db = f.db.engine();
    let mut admin = session_as(db, "rustydb");
    ok(&mut admin, "CREATE ROLE carol LOGIN").await;
    ok(&mut admin, "CREATE ROLE dave LOGIN").await;
    ok(&mut admin, "CREATE TABLE secrets (id INT PRIMARY KEY, s TEXT)").await;

    let mut carol = session_as(db, "carol");
    ok(&mut carol, "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)").await;
    ok(&mut carol, "INSERT INTO notes VALUES (1, 'hi')").await;
    ok(&mut carol, "CREATE INDEX notes_body ON notes (body)").await;
    assert_eq!(
        fails(&mut carol, "CREATE VIEW leak AS SELECT * FROM secrets").await,
        "42501",
        "a view cannot expose what its creator cannot read"
    );
    ok(&mut carol, "CREATE VIEW recent AS SELECT body FROM notes").await;
    ok(&mut carol, "GRANT SELECT ON recent TO dave").await;

    let mut dave = session_as(db, "dave");
    assert_eq!(fails(&mut dave, "SELECT * FROM notes").await, "42501");
    let rows = dave.execute("SELECT * FROM recent").await.unwrap();
    assert_eq!(rows[0].rows.len(), 1, "SELECT on a view reads through it");
    assert_eq!(fails(&mut dave, "DROP TABLE notes").await, "42501");
    assert_eq!(fails(&mut dave, "ALTER TABLE notes ADD COLUMN x INT").await, "42501");

    assert_eq!(fails(&mut admin, "DROP ROLE carol").await, "2BP01", "carol owns relations");
    ok(&mut carol, "DROP VIEW recent").await;
    ok(&mut carol, "DROP TABLE notes").await;
    ok(&mut admin, "DROP ROLE carol").await;
}

#[tokio::test]
async fn only_superusers_manage_roles_and_the_bootstrap_superuser_stays() {
    let f = fixture("roles").await;
    let db = f.db.engine();
    let mut admin = session_as(db, "rustydb");
    ok(&mut admin, "CREATE ROLE erin LOGIN PASSWORD 'first'").await;
    assert_eq!(fails(&mut admin, "CREATE ROLE erin").await, "42710");
    ok(&mut admin, "CREATE USER gina WITH PASSWORD 'pw'").await;
    assert!(db.role("gina").await.unwrap().unwrap().login, "CREATE USER implies LOGIN");
    assert_eq!(fails(&mut admin, "CREATE ROLE x CREATEDB").await, "0A000");

    let mut erin = session_as(db, "erin");
    assert_eq!(fails(&mut erin, "CREATE ROLE mallory SUPERUSER").await, "42501");
    assert_eq!(fails(&mut erin, "ALTER ROLE erin SUPERUSER").await, "42501");
    ok(&mut erin, "ALTER ROLE erin PASSWORD 'second'").await;
    let role = db.role("erin").await.unwrap().unwrap();
    let secrets = role.password.as_ref().unwrap();
    assert!(secrets.verify("second") && !secrets.verify("first"));
    assert!(!role.superuser && role.login);
    assert_eq!(fails(&mut erin, "CHECKPOINT").await, "42501", "CHECKPOINT is for superusers");
    ok(&mut admin, "CHECKPOINT").await;

    assert_eq!(fails(&mut admin, "DROP ROLE rustydb").await, "42501");
    assert_eq!(fails(&mut admin, "ALTER ROLE rustydb NOSUPERUSER").await, "42501");
    assert_eq!(fails(&mut admin, "DROP ROLE nobody").await, "42704");
    ok(&mut admin, "DROP ROLE IF EXISTS nobody").await;

    // Role changes are transactional.
    ok(&mut admin, "BEGIN; CREATE ROLE temp; ROLLBACK").await;
    assert!(db.role("temp").await.unwrap().is_none());

    // A session whose role was dropped can do nothing more.
    ok(&mut admin, "DROP ROLE erin").await;
    assert_eq!(fails(&mut erin, "SELECT 1").await, "28000");
    // The embedded owner (no user) is a superuser.
    ok(&mut db.session(), "CREATE ROLE frank").await;
}
