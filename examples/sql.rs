//! The embedded SQL library: a schema, parameters, a prepared statement, a
//! retried transaction, an aggregate join, EXPLAIN, and a reopen.
//!
//! Run: `cargo run --release --example sql -- /tmp/rustydb-sql-example`

use rustydb::{Database, IsolationLevel, Value};

#[tokio::main]
async fn main() -> rustydb::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "rustydb-sql-example".to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let db = Database::open(&dir).await?;
    let mut conn = db.connect();
    conn.execute_batch(
        "CREATE TABLE customers (id SERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, city TEXT);
         CREATE TABLE orders (id SERIAL PRIMARY KEY, customer INT NOT NULL REFERENCES customers (id),
                              amount NUMERIC(10,2) NOT NULL CHECK (amount > 0));
         CREATE INDEX orders_customer ON orders (customer);",
    )
    .await?;
    for (name, city) in [("ada", "London"), ("grace", "New York"), ("edsger", "Austin")] {
        conn.execute("INSERT INTO customers (name, city) VALUES ($1, $2)", &[name.into(), city.into()]).await?;
    }
    let mut add_order = conn.prepare("INSERT INTO orders (customer, amount) VALUES ($1, $2)").await?;
    for (customer, amount) in [(1, "19.99"), (1, "5.00"), (2, "120.50"), (3, "7.25"), (2, "3.10")] {
        conn.run(&mut add_order, &[customer.into(), amount.into()]).await?;
    }

    // Move an order between customers at SERIALIZABLE, retrying on 40001.
    conn.transaction(IsolationLevel::Serializable, 10, |c| {
        Box::pin(async move {
            c.execute("UPDATE orders SET customer = 3 WHERE id = $1", &[2.into()]).await?;
            Ok(())
        })
    })
    .await?;

    let totals = conn
        .query(
            "SELECT c.name, count(*) AS orders, sum(o.amount) AS total
             FROM customers c JOIN orders o ON o.customer = c.id
             GROUP BY c.name ORDER BY total DESC",
            &[],
        )
        .await?;
    for row in &totals.rows {
        let name: String = row.get(0)?;
        let count: i64 = row.get(1)?;
        let total: String = row.get(2)?;
        println!("{name:>8}: {count} orders, {total}");
    }
    let plan = conn.query("EXPLAIN SELECT * FROM orders WHERE customer = 2", &[]).await?;
    for line in &plan.rows {
        println!("plan: {}", line.get::<String>(0)?);
    }
    match conn.execute("INSERT INTO orders (customer, amount) VALUES (99, 1)", &[]).await {
        Err(e) => println!("rejected as expected: {e} (SQLSTATE {})", e.sqlstate()),
        Ok(_) => println!("unexpected: an order for a missing customer was accepted"),
    }
    drop(conn);
    drop(db);

    let db = Database::open(&dir).await?;
    let mut conn = db.connect();
    let count = conn.query("SELECT count(*) FROM orders", &[]).await?;
    let n: i64 = count.rows[0].get(0)?;
    println!("after reopen: {n} orders");
    assert_eq!(count.rows[0].values, vec![Value::Int(5)]);
    Ok(())
}
