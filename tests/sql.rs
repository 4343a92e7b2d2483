//! The SQL engine end to end through the embedded library: every executor
//! operator, constraints, transactions, prepared statements and plan
//! invalidation, on a real directory.

use rustydb::{Connection, Database, IsolationLevel, Value};

struct Fixture {
    _dir: TempDir,
    db: Database,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn fixture(name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("rustydb-sql-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Database::open(&dir).await.unwrap();
    Fixture { _dir: TempDir(dir), db }
}

/// Rows of `sql` as text, NULL as "NULL", values joined by '|'.
async fn rows(conn: &mut Connection, sql: &str) -> Vec<String> {
    let result = conn.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    result
        .rows
        .iter()
        .map(|r| {
            r.values
                .iter()
                .map(|v| if v.is_null() { "NULL".to_string() } else { r_text(v) })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn r_text(v: &Value) -> String {
    rustydb_core::sql::cast::format_value(v)
}

async fn setup(conn: &mut Connection) {
    conn.execute_batch(
        "CREATE TABLE emp (id INT PRIMARY KEY, name TEXT NOT NULL, dept INT, salary INT);
         CREATE TABLE dept (id INT PRIMARY KEY, title TEXT);
         INSERT INTO dept VALUES (1, 'eng'), (2, 'ops'), (3, 'empty');
         INSERT INTO emp VALUES (1, 'ann', 1, 100), (2, 'bob', 1, 80), (3, 'cid', 2, 90),
                                (4, 'dee', NULL, 70), (5, 'eve', 2, NULL);",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn scans_filters_and_projections_follow_sql_null_logic() {
    let f = fixture("scan").await;
    let mut c = f.db.connect();
    setup(&mut c).await;
    assert_eq!(rows(&mut c, "SELECT name FROM emp WHERE salary > 75 ORDER BY id").await, ["ann", "bob", "cid"]);
    assert_eq!(rows(&mut c, "SELECT count(*) FROM emp WHERE dept <> 1").await, ["2"]);
    assert_eq!(rows(&mut c, "SELECT id FROM emp WHERE dept IS NULL OR salary IS NULL ORDER BY 1").await, ["4", "5"]);
    assert_eq!(rows(&mut c, "SELECT salary * 2 + 1, -id FROM emp WHERE id = 2").await, ["161|-2"]);
    // NOT IN with a NULL in the list is never true.
    assert!(rows(&mut c, "SELECT id FROM emp WHERE id NOT IN (1, NULL)").await.is_empty());
    // Short-circuit: the division never runs on the row where it would fail.
    assert_eq!(
        rows(&mut c, "SELECT id FROM emp WHERE salary <> 70 AND 100 / (salary - 70) > 3 ORDER BY id").await,
        ["2", "3"]
    );
    assert_eq!(
        rows(
            &mut c,
            "SELECT CASE WHEN salary >= 90 THEN 'high' WHEN salary < 90 THEN 'low' ELSE '?' END FROM emp ORDER BY id"
        )
        .await,
        ["high", "low", "high", "low", "?"]
    );
    assert_eq!(
        rows(&mut c, "SELECT coalesce(salary, -1), nullif(dept, 1) FROM emp WHERE id IN (1, 5) ORDER BY id").await,
        ["100|NULL", "-1|2"]
    );
}

#[tokio::test]
async fn joins_of_every_kind() {
    let f = fixture("join").await;
    let mut c = f.db.connect();
    setup(&mut c).await;
    assert_eq!(
        rows(&mut c, "SELECT e.name, d.title FROM emp e JOIN dept d ON e.dept = d.id ORDER BY e.id").await,
        ["ann|eng", "bob|eng", "cid|ops", "eve|ops"]
    );
    assert_eq!(
        rows(&mut c, "SELECT e.name, d.title FROM emp e LEFT JOIN dept d ON e.dept = d.id WHERE e.id = 4").await,
        ["dee|NULL"]
    );
    assert_eq!(
        rows(&mut c, "SELECT d.title FROM emp e RIGHT JOIN dept d ON e.dept = d.id WHERE e.id IS NULL").await,
        ["empty"]
    );
    assert_eq!(rows(&mut c, "SELECT count(*) FROM emp e FULL JOIN dept d ON e.dept = d.id").await, ["6"]);
    assert_eq!(rows(&mut c, "SELECT count(*) FROM emp, dept").await, ["15"]);
    assert_eq!(
        rows(&mut c, "SELECT title FROM dept d WHERE EXISTS (SELECT 1 FROM emp e WHERE e.dept = d.id) ORDER BY 1")
            .await,
        ["eng", "ops"]
    );
    assert_eq!(
        rows(&mut c, "SELECT title FROM dept d WHERE NOT EXISTS (SELECT 1 FROM emp e WHERE e.dept = d.id)").await,
        ["empty"]
    );
    assert_eq!(rows(&mut c, "SELECT e.name FROM emp e JOIN dept d USING (id) ORDER BY 1").await, ["ann", "bob", "cid"]);
    // A non-equi join runs as a nested loop.
    assert_eq!(rows(&mut c, "SELECT count(*) FROM emp a JOIN emp b ON a.salary < b.salary").await, ["6"]);
}

#[tokio::test]
async fn aggregation_grouping_and_having() {
    let f = fixture("agg").await;
    let mut c = f.db.connect();
    setup(&mut c).await;
    assert_eq!(
        rows(&mut c, "SELECT dept, count(*), sum(salary), min(name), max(salary) FROM emp GROUP BY dept ORDER BY dept")
            .await,
        ["1|2|180|ann|100", "2|2|90|cid|90", "NULL|1|70|dee|70"]
    );
    assert_eq!(rows(&mut c, "SELECT dept FROM emp GROUP BY dept HAVING count(*) > 1 ORDER BY 1").await, ["1", "2"]);
    assert_eq!(
        rows(&mut c, "SELECT count(salary), count(DISTINCT dept), avg(salary) FROM emp").await,
        ["4|2|85.0000000000000000"]
    );
    assert_eq!(rows(&mut c, "SELECT count(*), sum(salary) FROM emp WHERE id > 100").await, ["0|NULL"]);
    assert_eq!(
        rows(&mut c, "SELECT string_agg(name, ',' ORDER BY name DESC) FROM emp WHERE dept = 1").await,
        ["bob,ann"]
    );
    assert_eq!(rows(&mut c, "SELECT bool_and(salary > 60), bool_or(salary > 95) FROM emp").await, ["t|t"]);
    assert_eq!(rows(&mut c, "SELECT count(*) FILTER (WHERE salary > 80) FROM emp").await, ["2"]);
    assert!(c.query("SELECT name, count(*) FROM emp GROUP BY dept", &[]).await.unwrap_err().sqlstate() == "42803");
}

#[tokio::test]
async fn sorting_limits_distinct_and_set_operations() {
    let f = fixture("sort").await;
    let mut c = f.db.connect();
    setup(&mut c).await;
    assert_eq!(rows(&mut c, "SELECT salary FROM emp ORDER BY salary DESC").await, ["NULL", "100", "90", "80", "70"]);
    assert_eq!(rows(&mut c, "SELECT salary FROM emp ORDER BY salary NULLS FIRST LIMIT 2 OFFSET 1").await, ["70", "80"]);
    assert_eq!(rows(&mut c, "SELECT DISTINCT dept FROM emp ORDER BY dept").await, ["1", "2", "NULL"]);
    assert_eq!(
        rows(&mut c, "SELECT dept FROM emp UNION SELECT id FROM dept ORDER BY 1").await,
        ["1", "2", "3", "NULL"]
    );
    assert_eq!(rows(&mut c, "SELECT dept FROM emp UNION ALL SELECT id FROM dept").await.len(), 8);
    assert_eq!(rows(&mut c, "SELECT id FROM dept EXCEPT SELECT dept FROM emp").await, ["3"]);
    assert_eq!(rows(&mut c, "SELECT id FROM dept INTERSECT SELECT dept FROM emp ORDER BY 1").await, ["1", "2"]);
    assert_eq!(
        rows(&mut c, "SELECT DISTINCT ON (dept) dept, name FROM emp ORDER BY dept, name DESC").await,
        ["1|bob", "2|eve", "NULL|dee"]
    );
}

#[tokio::test]
async fn window_functions_subqueries_and_ctes() {
    let f = fixture("window").await;
    let mut c = f.db.connect();
    setup(&mut c).await;
    assert_eq!(
        rows(&mut c, "SELECT name, row_number() OVER (ORDER BY salary DESC), rank() OVER (PARTITION BY dept ORDER BY salary DESC) FROM emp WHERE salary IS NOT NULL ORDER BY name").await,
        ["ann|1|1", "bob|3|2", "cid|2|1", "dee|4|1"]
    );
    assert_eq!(rows(&mut c, "SELECT id, sum(salary) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), lag(id) OVER (ORDER BY id) FROM emp WHERE id <= 3 ORDER BY id").await, ["1|100|NULL", "2|180|1", "3|170|2"]);
    assert_eq!(rows(&mut c, "SELECT name FROM emp WHERE salary = (SELECT max(salary) FROM emp)").await, ["ann"]);
    assert_eq!(
        rows(
            &mut c,
            "SELECT name, (SELECT title FROM dept WHERE dept.id = emp.dept) FROM emp WHERE id IN (1, 4) ORDER BY id"
        )
        .await,
        ["ann|eng", "dee|NULL"]
    );
    assert_eq!(
        rows(
            &mut c,
            "SELECT name FROM emp e WHERE salary > (SELECT avg(salary) FROM emp x WHERE x.dept = e.dept) ORDER BY 1"
        )
        .await,
        ["ann"]
    );
    assert_eq!(
        rows(
            &mut c,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT sum(i) FROM n"
        )
        .await,
        ["15"]
    );
    assert_eq!(
        rows(&mut c, "WITH rich AS (SELECT * FROM emp WHERE salary >= 90) SELECT count(*) FROM rich").await,
        ["2"]
    );
    assert!(c.query("SELECT (SELECT id FROM emp)", &[]).await.unwrap_err().sqlstate() == "21000");
}

#[tokio::test]
async fn constraints_defaults_and_returning() {
    let f = fixture("dml").await;
    let mut c = f.db.connect();
    c.execute_batch(
        "CREATE TABLE parent (id SERIAL PRIMARY KEY, code TEXT UNIQUE, n INT DEFAULT 7 CHECK (n > 0));
         CREATE TABLE child (id INT PRIMARY KEY, parent INT REFERENCES parent (id));",
    )
    .await
    .unwrap();
    let r = c.query("INSERT INTO parent (code) VALUES ('a'), ('b') RETURNING id, n", &[]).await.unwrap();
    assert_eq!(r.rows.len(), 2);
    assert_eq!(r.rows[1].values, vec![Value::Int(2), Value::Int(7)]);
    let state = |e: rustydb::Error| e.sqlstate().to_string();
    assert_eq!(c.execute("INSERT INTO parent (code) VALUES ('a')", &[]).await.map_err(state), Err("23505".into()));
    assert_eq!(
        c.execute("INSERT INTO parent (code, n) VALUES ('z', 0)", &[]).await.map_err(state),
        Err("23514".into())
    );
    assert_eq!(c.execute("INSERT INTO child VALUES (1, 99)", &[]).await.map_err(state), Err("23503".into()));
    assert_eq!(c.execute("INSERT INTO child VALUES (1, 1)", &[]).await.unwrap(), 1);
    assert_eq!(c.execute("DELETE FROM parent WHERE id = 1", &[]).await.map_err(state), Err("23503".into()));
    assert_eq!(
        c.execute("INSERT INTO parent (id, code) VALUES (2, 'x') ON CONFLICT DO NOTHING", &[]).await.unwrap(),
        0
    );
    let up = "INSERT INTO parent (id, code) VALUES (2, 'q') ON CONFLICT (id) DO UPDATE SET code = excluded.code || parent.code";
    assert_eq!(c.execute(up, &[]).await.unwrap(), 1);
    assert_eq!(rows(&mut c, "SELECT code FROM parent WHERE id = 2").await, ["qb"]);
    assert_eq!(c.execute("UPDATE parent SET n = n + 1 WHERE code = 'qb'", &[]).await.unwrap(), 1);
    assert_eq!(rows(&mut c, "DELETE FROM child RETURNING parent").await, ["1"]);
    assert_eq!(
        c.execute("INSERT INTO parent (code) VALUES (NULL), (NULL)", &[]).await.unwrap(),
        2,
        "NULLs never collide in a unique index"
    );
}

#[tokio::test]
async fn transactions_savepoints_and_failed_blocks() {
    let f = fixture("txn").await;
    let mut c = f.db.connect();
    c.execute_batch("CREATE TABLE t (k INT PRIMARY KEY, v INT)").await.unwrap();
    c.execute_batch(
        "BEGIN; INSERT INTO t VALUES (1, 1); SAVEPOINT s; INSERT INTO t VALUES (2, 2); ROLLBACK TO SAVEPOINT s; COMMIT",
    )
    .await
    .unwrap();
    assert_eq!(rows(&mut c, "SELECT k FROM t").await, ["1"]);
    c.execute_batch("BEGIN").await.unwrap();
    assert!(c.execute("INSERT INTO t VALUES (1, 1)", &[]).await.is_err());
    assert_eq!(c.execute("SELECT 1", &[]).await.unwrap_err().sqlstate(), "25P02");
    c.execute_batch("ROLLBACK").await.unwrap();
    // DDL is transactional.
    c.execute_batch("BEGIN; CREATE TABLE gone (x INT); ROLLBACK").await.unwrap();
    assert_eq!(c.execute("SELECT * FROM gone", &[]).await.unwrap_err().sqlstate(), "42P01");
    let n = c
        .transaction(IsolationLevel::Serializable, 5, |c| {
            Box::pin(async move {
                c.execute("UPDATE t SET v = v + 10 WHERE k = 1", &[]).await?;
                let r = c.query("SELECT v FROM t WHERE k = 1", &[]).await?;
                r.rows[0].get::<i64>(0)
            })
        })
        .await
        .unwrap();
    assert_eq!(n, 11);
}

#[tokio::test]
async fn prepared_plans_are_invalidated_by_ddl() {
    let f = fixture("prepared").await;
    let mut c = f.db.connect();
    c.execute_batch("CREATE TABLE t (k INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'one'), (2, 'two')")
        .await
        .unwrap();
    let mut stmt = c.prepare("SELECT * FROM t WHERE k = $1").await.unwrap();
    assert_eq!(stmt.param_types(), &[rustydb::DataType::Int32]);
    let r = c.run(&mut stmt, &[2.into()]).await.unwrap();
    assert_eq!(r.rows[0].values, vec![Value::Int(2), Value::Text("two".into())]);
    c.execute_batch("ALTER TABLE t ADD COLUMN w INT DEFAULT 5").await.unwrap();
    let r = c.run(&mut stmt, &[2.into()]).await.unwrap();
    assert_eq!(r.rows[0].values.len(), 3, "the cached plan was re-made after ALTER TABLE");
}

#[tokio::test]
async fn memory_limits_and_explain_index_use() {
    let f = fixture("limits").await;
    let mut c = f.db.connect();
    c.execute_batch("CREATE TABLE big (k INT PRIMARY KEY, v TEXT); INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, 3000) AS s(g)").await.unwrap();
    c.execute_batch("SET work_mem = '64kB'").await.unwrap();
    assert_eq!(c.query("SELECT v FROM big ORDER BY v DESC", &[]).await.unwrap_err().sqlstate(), "53200");
    c.execute_batch("SET work_mem = '64MB'; ANALYZE big").await.unwrap();
    let plan = rows(&mut c, "EXPLAIN SELECT v FROM big WHERE k = 42").await.join("\n");
    assert!(plan.contains("Index Scan using big_pkey"), "{plan}");
    assert_eq!(rows(&mut c, "SELECT v FROM big WHERE k = 42").await, ["row 42"]);
    assert_eq!(rows(&mut c, "SELECT count(*) FROM big WHERE k BETWEEN 100 AND 199").await, ["100"]);
}

#[tokio::test]
async fn unsupported_statements_say_so() {
    let f = fixture("unsupported").await;
    let mut c = f.db.connect();
    let err = c.execute("CREATE TRIGGER t AFTER INSERT ON x FOR EACH ROW EXECUTE FUNCTION f()", &[]).await.unwrap_err();
    assert!(matches!(err.sqlstate(), "0A000" | "42601"), "{err}");
    assert_eq!(c.execute("SELEC 1", &[]).await.unwrap_err().sqlstate(), "42601");
}

#[tokio::test]
async fn copy_in_and_out_in_text_and_csv() {
    let f = fixture("copy").await;
    let mut c = f.db.connect();
    c.execute_batch("CREATE TABLE t (k INT PRIMARY KEY, v TEXT)").await.unwrap();
    let mut s = f.db.engine().session();
    assert_eq!(s.copy_from("COPY t FROM STDIN", "1\tone\n2\t\\N\n\\.\n").await.unwrap(), 2);
    assert_eq!(
        s.copy_from("COPY t (k, v) FROM STDIN WITH (FORMAT csv, HEADER true)", "k,v\n3,\"a,b\"\n4,\n").await.unwrap(),
        2
    );
    assert_eq!(rows(&mut c, "SELECT k, v FROM t ORDER BY k").await, ["1|one", "2|NULL", "3|a,b", "4|NULL"]);
    assert_eq!(s.copy_to("COPY t TO STDOUT").await.unwrap(), "1\tone\n2\t\\N\n3\ta,b\n4\t\\N\n");
    assert_eq!(s.copy_to("COPY (SELECT k FROM t WHERE k > 2) TO STDOUT WITH (FORMAT csv)").await.unwrap(), "3\n4\n");
    assert_eq!(s.copy_from("COPY t FROM STDIN", "x\ty\n").await.unwrap_err().sqlstate(), "22P02");
}

/// Committed changes of a table, in commit order, with before images for
/// updates and deletes; rolled-back work and other tables stay out.
#[tokio::test]
async fn change_streams_deliver_committed_rows_in_commit_order() {
    use rustydb::ChangeKind;
    let f = fixture("changes").await;
    let mut conn = f.db.connect();
    conn.execute_batch("CREATE TABLE t (id INT PRIMARY KEY, v TEXT); CREATE TABLE other (id INT)").await.unwrap();
    let mut changes = f.db.engine().subscribe("t", 100).await.unwrap();
    conn.execute_batch(
        "INSERT INTO t VALUES (1, 'a'), (2, 'b');
         BEGIN; INSERT INTO t VALUES (3, 'gone'); ROLLBACK;
         INSERT INTO other VALUES (9);
         BEGIN; UPDATE t SET v = 'a2' WHERE id = 1; INSERT INTO t VALUES (4, 'x'); DELETE FROM t WHERE id = 4; COMMIT;
         DELETE FROM t WHERE id = 2;",
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let change = changes.next().await.unwrap();
        let old = change.old_row.as_ref().map(|row| r_text(&row[1]));
        seen.push((change.csn, change.kind, r_text(&change.row[0]), r_text(&change.row[1]), old));
    }
    let kinds: Vec<_> =
        seen.iter().map(|(_, kind, id, v, old)| (*kind, id.as_str(), v.as_str(), old.as_deref())).collect();
    assert_eq!(
        kinds,
        [
            (ChangeKind::Insert, "1", "a", None),
            (ChangeKind::Insert, "2", "b", None),
            (ChangeKind::Update, "1", "a2", Some("a")),
            (ChangeKind::Delete, "2", "b", None),
        ]
    );
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "commit order: {seen:?}");
    assert_eq!(&changes.columns()[..], ["id", "v"]);
    conn.execute_batch("DROP TABLE t").await.unwrap();
    conn.execute_batch("CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (5, 'new')").await.unwrap();
    let error = changes.next().await.unwrap_err();
    assert_eq!(error.sqlstate(), "42P01", "{error}");
}
