//! The `pg_catalog` relations psql's listing commands read, through the
//! SQL engine with the exact queries psql 15 sends for `\dt`, `\dv`, `\di`,
//! `\ds` and `\l`, as a role that owns nothing (the catalog is readable by
//! everyone, as in PostgreSQL).

use rustydb::Database;
use rustydb_core::sql::{QueryResult, Session, Value};

/// psql 15's `\dt` (`\dv`, `\di`, `\ds` differ only in the kinds listed).
fn listing(kinds: &str) -> String {
    format!(
        "SELECT n.nspname as \"Schema\",
  c.relname as \"Name\",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' \
         WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' \
         WHEN 'I' THEN 'partitioned index' END as \"Type\",
  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ({kinds})
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"
    )
}

/// psql 15's `\di`: indexes with their tables, through `pg_index`.
const INDEXES: &str = "SELECT n.nspname as \"Schema\",
  c.relname as \"Name\",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' \
         WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' \
         WHEN 'I' THEN 'partitioned index' END as \"Type\",
  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\",
 c2.relname as \"Table\"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
     LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
     LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid
WHERE c.relkind IN ('i','I','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;";

const DATABASES: &str = "SELECT d.datname as \"Name\",
       pg_catalog.pg_get_userbyid(d.datdba) as \"Owner\",
       pg_catalog.pg_encoding_to_char(d.encoding) as \"Encoding\",
       d.datcollate as \"Collate\",
       d.datctype as \"Ctype\",
       d.daticulocale as \"ICU Locale\",
       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS \"Locale Provider\",
       pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\"
FROM pg_catalog.pg_database d
ORDER BY 1;";

fn texts(result: &QueryResult) -> Vec<Vec<String>> {
    let show = |v: &Value| match v {
        Value::Null => "NULL".to_string(),
        Value::Text(s) => s.clone(),
        other => format!("{other:?}"),
    };
    result.rows.iter().map(|row| row.iter().map(show).collect()).collect()
}

async fn query(session: &mut Session, sql: &str) -> Vec<Vec<String>> {
    let results = session.execute(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"));
    texts(results.last().unwrap())
}

#[tokio::test]
async fn psql_listings_see_the_catalog() {
    let dir = std::env::temp_dir().join(format!("rustydb-system-catalog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Database::open(&dir).await.unwrap();
    let engine = db.engine();
    engine.bootstrap_superuser("secret").await.unwrap();
    let mut admin = engine.session();
    admin.set_user("rustydb");
    admin
        .execute(
            "CREATE ROLE alice LOGIN PASSWORD 'pw';
             CREATE TABLE accounts (id INT PRIMARY KEY, owner TEXT);
             CREATE INDEX accounts_owner ON accounts (owner);
             CREATE VIEW owners AS SELECT DISTINCT owner FROM accounts;
             CREATE SEQUENCE ticket;",
        )
        .await
        .unwrap();
    let mut alice = engine.session();
    alice.set_user("alice");
    alice.execute("CREATE TABLE notes (body TEXT)").await.unwrap();

    let tables = query(&mut alice, &listing("'r','p',''")).await;
    assert_eq!(
        tables,
        vec![vec!["public", "accounts", "table", "rustydb"], vec!["public", "notes", "table", "alice"]],
        "\\dt"
    );
    assert_eq!(query(&mut alice, &listing("'v',''")).await, vec![vec!["public", "owners", "view", "rustydb"]]);
    let indexes = query(&mut alice, INDEXES).await;
    assert!(
        indexes.contains(&vec![
            "public".into(),
            "accounts_owner".into(),
            "index".into(),
            "rustydb".into(),
            "accounts".into()
        ]),
        "\\di: {indexes:?}"
    );
    assert_eq!(query(&mut alice, &listing("'S',''")).await, vec![vec!["public", "ticket", "sequence", "rustydb"]]);
    assert_eq!(
        query(&mut alice, DATABASES).await,
        vec![vec!["rustydb", "rustydb", "UTF8", "C", "C", "NULL", "libc", "NULL"]],
        "\\l"
    );

    // The relations follow DDL at once, and regular expressions work beyond psql.
    alice.execute("DROP TABLE notes").await.unwrap();
    let left = query(&mut alice, "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~* '^ACC'").await;
    assert_eq!(left, vec![vec!["accounts"]]);
    assert_eq!(
        query(&mut alice, "SELECT 'abc' !~ 'b', 'abc' OPERATOR(pg_catalog.~) 'b'").await[0],
        ["Bool(false)", "Bool(true)"]
    );
    // psql's patterns (`\\dt acc*`) compare under the default collation, which is bytewise.
    let pattern = "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname OPERATOR(pg_catalog.~) '^(acc.*)$' COLLATE pg_catalog.default";
    assert_eq!(query(&mut alice, pattern).await, vec![vec!["accounts"]]);
    assert_eq!(alice.execute("SELECT 'a' COLLATE \"de_DE\"").await.unwrap_err().sqlstate(), "0A000");
    let bad = alice.execute("SELECT 'a' ~ '('").await.unwrap_err();
    assert_eq!(bad.sqlstate(), "2201B");
    let roles = query(&mut alice, "SELECT rolname, rolsuper, rolcanlogin FROM pg_roles ORDER BY 1").await;
    assert_eq!(roles, vec![vec!["alice", "Bool(false)", "Bool(true)"], vec!["rustydb", "Bool(true)", "Bool(true)"]]);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
