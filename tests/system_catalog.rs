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

/// psql 15's `\df`: functions outside `pg_catalog` (there are none: no
/// CREATE FUNCTION).
const FUNCTIONS: &str = "SELECT n.nspname as \"Schema\",
  p.proname as \"Name\",
  pg_catalog.pg_get_function_result(p.oid) as \"Result data type\",
  pg_catalog.pg_get_function_arguments(p.oid) as \"Argument data types\",
 CASE p.prokind
  WHEN 'a' THEN 'agg'
  WHEN 'w' THEN 'window'
  WHEN 'p' THEN 'proc'
  ELSE 'func'
 END as \"Type\"
FROM pg_catalog.pg_proc p
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE pg_catalog.pg_function_is_visible(p.oid)
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
ORDER BY 1, 2, 4;";

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
    assert!(query(&mut alice, FUNCTIONS).await.is_empty(), "\\df");
    let roles = query(&mut alice, "SELECT rolname, rolsuper, rolcanlogin FROM pg_roles ORDER BY 1").await;
    assert_eq!(roles, vec![vec!["alice", "Bool(false)", "Bool(true)"], vec!["rustydb", "Bool(true)", "Bool(true)"]]);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The size functions psql's `\dt+` and `\di+` call: the bytes a
/// relation's entries take, read from the storage.
#[tokio::test]
async fn size_functions_measure_the_storage() {
    let dir = std::env::temp_dir().join(format!("rustydb-system-catalog-sizes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Database::open(&dir).await.unwrap();
    let mut admin = db.engine().session();
    admin
        .execute(
            "CREATE TABLE accounts (id INT PRIMARY KEY, owner TEXT);
             CREATE INDEX accounts_owner ON accounts (owner);
             CREATE VIEW owners AS SELECT DISTINCT owner FROM accounts;",
        )
        .await
        .unwrap();
    let sizes = "SELECT pg_table_size('accounts'::regclass), pg_indexes_size('accounts'::regclass), \
                 pg_total_relation_size('accounts'::regclass), pg_relation_size('accounts_owner'::regclass), \
                 pg_table_size('owners'::regclass), pg_table_size(1), pg_size_pretty(pg_table_size('accounts'::regclass))";
    let empty = query(&mut admin, sizes).await;
    assert_eq!(empty[0][..6], ["Int(0)", "Int(0)", "Int(0)", "Int(0)", "Int(0)", "NULL"], "empty: {empty:?}");
    admin.execute("INSERT INTO accounts SELECT g, 'owner ' || g FROM generate_series(1, 500) AS g").await.unwrap();
    let full = query(&mut admin, sizes).await;
    let bytes =
        |column: usize| full[0][column].trim_start_matches("Int(").trim_end_matches(')').parse::<i64>().unwrap();
    assert!(bytes(0) > 500 * 10, "500 rows take more than 10 bytes each: {full:?}");
    assert!(bytes(1) > 500 * 5, "an index entry per row: {full:?}");
    assert_eq!(bytes(2), bytes(0) + bytes(1), "total = table + indexes");
    assert_eq!(bytes(3), bytes(1), "the one secondary index");
    assert_eq!(full[0][4..], ["Int(0)", "NULL", format!("{} kB", (bytes(0) + 512) / 1024).as_str()][..], "{full:?}");
    let by_name = query(&mut admin, "SELECT pg_total_relation_size('accounts')").await;
    assert_eq!(by_name[0][0], full[0][2], "a name is taken as a regclass");
    // A relation made in the statement's own open transaction measures too.
    admin
        .execute("BEGIN; CREATE TABLE scratch (id INT PRIMARY KEY); INSERT INTO scratch VALUES (1), (2)")
        .await
        .unwrap();
    let scratch = query(&mut admin, "SELECT pg_table_size('scratch')").await;
    admin.execute("ROLLBACK").await.unwrap();
    assert_ne!(scratch[0][0], "Int(0)", "a table of two rows, uncommitted");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The queries psql 15 sends for `\d t`, in order (`{oid}` stands for the
/// table's oid, `{name}` for its name).
const DESCRIBE: [(&str, &str); 13] = [
    ("LOOKUP", "SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^({name})$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;"),
    ("TABLE_INFO", "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{oid}';"),
    ("COLUMNS", "SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{oid}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;"),
    ("INDEXES_OF", "SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '{oid}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;"),
    ("CHECKS", "SELECT r.conname, pg_catalog.pg_get_constraintdef(r.oid, true)
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '{oid}' AND r.contype = 'c'
ORDER BY 1;"),
    ("FOREIGN_KEYS", "SELECT true as sametable, conname,
  pg_catalog.pg_get_constraintdef(r.oid, true) as condef,
  conrelid::pg_catalog.regclass AS ontable
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '{oid}' AND r.contype = 'f'
     AND conparentid = 0
ORDER BY conname"),
    ("REFERENCED_BY", "SELECT conname, conrelid::pg_catalog.regclass AS ontable,
       pg_catalog.pg_get_constraintdef(oid, true) AS condef
  FROM pg_catalog.pg_constraint c
 WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors('{oid}')
                     UNION ALL VALUES ('{oid}'::pg_catalog.regclass))
       AND contype = 'f' AND conparentid = 0
ORDER BY conname;"),
    ("POLICIES", "SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '{oid}' ORDER BY 1;"),
    ("STATISTICS", "SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '{oid}'
ORDER BY nsp, stxname;"),
    ("PUBLICATIONS", "SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='{oid}' and pg_catalog.pg_relation_is_publishable('{oid}')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '{oid}'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('{oid}')
ORDER BY 1;"),
    ("TRIGGERS", "SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true), t.tgenabled, t.tgisinternal,
  CASE WHEN t.tgparentid != 0 THEN
    (SELECT u.tgrelid::pg_catalog.regclass
     FROM pg_catalog.pg_trigger AS u,
          pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY AS a(relid, depth)
     WHERE u.tgname = t.tgname AND u.tgrelid = a.relid
           AND u.tgparentid = 0
     ORDER BY a.depth LIMIT 1)
  END AS parent
FROM pg_catalog.pg_trigger t
WHERE t.tgrelid = '{oid}' AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D'))
ORDER BY 1;"),
    ("INHERITS", "SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '{oid}'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;"),
    ("PARTITIONS", "SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '{oid}'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;"),
];

/// Runs psql's `\d name` queries, returning each one's rows by its label.
async fn describe(session: &mut Session, name: &str) -> std::collections::BTreeMap<&'static str, Vec<Vec<String>>> {
    let mut out = std::collections::BTreeMap::new();
    let lookup = DESCRIBE[0].1.replace("{name}", name);
    let oid = query(session, &lookup).await[0][0].clone();
    let oid = oid.trim_start_matches("Int(").trim_end_matches(')').to_string();
    for (label, sql) in DESCRIBE {
        out.insert(label, query(session, &sql.replace("{oid}", &oid).replace("{name}", name)).await);
    }
    out
}

#[tokio::test]
async fn psql_describe_sees_columns_keys_and_constraints() {
    let dir = std::env::temp_dir().join(format!("rustydb-describe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Database::open(&dir).await.unwrap();
    let mut session = db.engine().session();
    session
        .execute(
            "CREATE TABLE t (id INT PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', v NUMERIC(10,2), d DATE UNIQUE,
                             CONSTRAINT positive CHECK (id > 0));
             CREATE INDEX t_name ON t (name);
             CREATE TABLE u (a INT REFERENCES t(id), b VARCHAR(20));",
        )
        .await
        .unwrap();

    let t = describe(&mut session, "t").await;
    // relchecks, relkind, relhasindex, -, relhastriggers (foreign keys need them for psql to list any)
    assert_eq!(&t["TABLE_INFO"][0][..5], ["Int(1)", "r", "Bool(true)", "Bool(false)", "Bool(true)"]);
    let columns: Vec<Vec<String>> = t["COLUMNS"].iter().map(|r| r[..4].to_vec()).collect();
    assert_eq!(
        columns,
        vec![
            vec!["id", "integer", "NULL", "Bool(true)"],
            vec!["name", "text", "'x'", "Bool(true)"],
            vec!["v", "numeric(10,2)", "NULL", "Bool(false)"],
            vec!["d", "date", "NULL", "Bool(false)"],
        ]
    );
    let indexes: Vec<(String, String, String)> =
        t["INDEXES_OF"].iter().map(|r| (r[0].clone(), r[5].clone(), r[6].clone())).collect();
    assert_eq!(
        indexes,
        vec![
            (
                "t_pkey".into(),
                "CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)".into(),
                "PRIMARY KEY (id)".into()
            ),
            ("t_d_key".into(), "CREATE UNIQUE INDEX t_d_key ON public.t USING btree (d)".into(), "UNIQUE (d)".into()),
            ("t_name".into(), "CREATE INDEX t_name ON public.t USING btree (name)".into(), "NULL".into()),
        ]
    );
    assert_eq!(t["CHECKS"], vec![vec!["positive", "CHECK (id > 0)"]]);
    assert!(t["FOREIGN_KEYS"].is_empty());
    assert_eq!(t["REFERENCED_BY"], vec![vec!["u_a_fkey", "u", "FOREIGN KEY (a) REFERENCES t(id)"]]);
    for empty in ["POLICIES", "STATISTICS", "PUBLICATIONS", "TRIGGERS", "INHERITS", "PARTITIONS"] {
        assert!(t[empty].is_empty(), "{empty}: {:?}", t[empty]);
    }

    let u = describe(&mut session, "u").await;
    assert_eq!(u["COLUMNS"][1][1], "character varying(20)");
    assert_eq!(u["FOREIGN_KEYS"], vec![vec!["Bool(true)", "u_a_fkey", "FOREIGN KEY (a) REFERENCES t(id)", "u"]]);
    assert!(u["REFERENCED_BY"].is_empty());

    // regclass both ways, and an unknown name is an error, not NULL.
    let oid = query(&mut session, "SELECT 't'::regclass").await[0][0].clone();
    let back = format!(
        "SELECT {}::regclass, '{}'::regclass = 't'::regclass",
        oid.trim_start_matches("Int(").trim_end_matches(')'),
        oid.trim_start_matches("Int(").trim_end_matches(')')
    );
    assert_eq!(query(&mut session, &back).await[0], ["t", "Bool(true)"]);
    assert_eq!(session.execute("SELECT 'missing'::regclass").await.unwrap_err().sqlstate(), "42P01");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn information_schema_lists_tables_columns_and_constraints() {
    let dir = std::env::temp_dir().join(format!("rustydb-system-catalog-infoschema-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Database::open(&dir).await.unwrap();
    let mut session = db.engine().session();
    session
        .execute(
            "CREATE TABLE dept (id SERIAL PRIMARY KEY, name VARCHAR(40) NOT NULL UNIQUE);
             CREATE TABLE emp (id INT PRIMARY KEY, dept_id INT REFERENCES dept (id),
                               salary NUMERIC(10,2) CHECK (salary > 0), tags TEXT[]);
             CREATE VIEW paid AS SELECT id, salary FROM emp;
             CREATE TABLE tables (x INT);",
        )
        .await
        .unwrap();
    let tables = query(&mut session, "SELECT table_name, table_type FROM information_schema.tables ORDER BY 1").await;
    let expected = [["dept", "BASE TABLE"], ["emp", "BASE TABLE"], ["paid", "VIEW"], ["tables", "BASE TABLE"]];
    assert_eq!(tables, expected.map(|r| r.map(String::from).to_vec()));
    assert!(query(&mut session, "SELECT * FROM tables").await.is_empty(), "unqualified, a user table");

    let columns = query(
        &mut session,
        "SELECT column_name, is_nullable, data_type, udt_name, character_maximum_length::text,
                numeric_precision::text, numeric_scale::text, column_default
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name IN ('dept', 'emp')
         ORDER BY table_name, ordinal_position",
    )
    .await;
    let expected = [
        ["id", "NO", "integer", "int4", "NULL", "32", "0", "nextval('dept_id_seq')"],
        ["name", "NO", "character varying", "varchar", "40", "NULL", "NULL", "NULL"],
        ["id", "NO", "integer", "int4", "NULL", "32", "0", "NULL"],
        ["dept_id", "YES", "integer", "int4", "NULL", "32", "0", "NULL"],
        ["salary", "YES", "numeric", "numeric", "NULL", "10", "2", "NULL"],
        ["tags", "YES", "ARRAY", "_text", "NULL", "NULL", "NULL", "NULL"],
    ];
    assert_eq!(columns, expected.map(|r| r.map(String::from).to_vec()));

    // The foreign key joined to the key it references, as ORMs read it.
    let keys = query(
        &mut session,
        "SELECT tc.constraint_type, kcu.table_name, kcu.column_name, ccu.table_name, ccu.column_name
         FROM information_schema.table_constraints tc
         JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name
         LEFT JOIN information_schema.referential_constraints rc ON rc.constraint_name = tc.constraint_name
         LEFT JOIN information_schema.key_column_usage ccu
                ON ccu.constraint_name = rc.unique_constraint_name
               AND ccu.ordinal_position = kcu.position_in_unique_constraint
         ORDER BY 1, 2, 3",
    )
    .await;
    let expected = [
        ["FOREIGN KEY", "emp", "dept_id", "dept", "id"],
        ["PRIMARY KEY", "dept", "id", "NULL", "NULL"],
        ["PRIMARY KEY", "emp", "id", "NULL", "NULL"],
        ["UNIQUE", "dept", "name", "NULL", "NULL"],
    ];
    assert_eq!(keys, expected.map(|r| r.map(String::from).to_vec()));
    let checks = "SELECT count(*)::text FROM information_schema.table_constraints WHERE constraint_type = 'CHECK'";
    assert_eq!(query(&mut session, checks).await, [["1"]]);
    let sequences = query(&mut session, "SELECT sequence_name, increment FROM information_schema.sequences").await;
    assert_eq!(sequences, [["dept_id_seq", "1"]]);
    let missing = session.execute("SELECT * FROM information_schema.nothing").await.unwrap_err();
    assert_eq!(missing.sqlstate(), "42P01");
    drop(session);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
