//! Set-returning functions in FROM ([`Plan::TableFunction`]).
//!
//! The arguments are evaluated once, when the first batch is asked for (so
//! they may name columns of an enclosing query's current row), and the rows
//! are produced a batch at a time: `generate_series(1, 10000000)` never
//! holds more than one batch. A series is limited to [`MAX_SERIES_ROWS`].

use crate::env::BoxFuture;
use crate::sql::batch::{BATCH_SIZE, Batch};
use crate::sql::expr::Expr;
use crate::sql::plan::TableFunction;
use crate::sql::value::{DataType, Value};
use crate::{Error, Result};

use super::{ExecContext, Operator, eval};

/// Most rows one `generate_series` call may produce.
pub const MAX_SERIES_ROWS: u64 = 10_000_000;

/// What the function yields, once its arguments are known.
enum Rows {
    Series { next: i64, step: i64, left: u64 },
    Elements(std::vec::IntoIter<Value>),
}

pub struct TableFunctionOp {
    function: TableFunction,
    args: Vec<Expr>,
    ordinality: bool,
    types: Vec<DataType>,
    rows: Option<Rows>,
    produced: i64,
}

impl TableFunctionOp {
    pub fn new(function: TableFunction, args: Vec<Expr>, ordinality: bool, types: Vec<DataType>) -> Self {
        TableFunctionOp { function, args, ordinality, types, rows: None, produced: 0 }
    }

    async fn start(&self, ctx: &mut ExecContext) -> Result<Rows> {
        let one = Batch { columns: vec![], len: 1 };
        let mut args = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            args.push(eval(arg, &one, ctx).await?.get(0));
        }
        match self.function {
            TableFunction::GenerateSeries => series(&args),
            TableFunction::Unnest => match args.into_iter().next() {
                Some(Value::Array(items)) => Ok(Rows::Elements(items.into_iter())),
                _ => Ok(Rows::Elements(Vec::new().into_iter())),
            },
            TableFunction::PartitionAncestors => Ok(Rows::Elements(Vec::new().into_iter())),
        }
    }
}

/// The rows of `generate_series(start, stop [, step])`; NULL arguments give none.
fn series(args: &[Value]) -> Result<Rows> {
    if args.iter().any(Value::is_null) {
        return Ok(Rows::Series { next: 0, step: 1, left: 0 });
    }
    let int = |v: &Value| match v {
        Value::Int(i) => Ok(*i),
        other => Err(Error::sql("42883", format!("generate_series over {other:?} is not supported (integers only)"))),
    };
    let (start, stop, step) = match args {
        [a, b] => (int(a)?, int(b)?, 1),
        [a, b, s] => (int(a)?, int(b)?, int(s)?),
        _ => return Err(Error::sql("42883", "generate_series takes (start, stop [, step])")),
    };
    if step == 0 {
        return Err(Error::sql("22023", "step size cannot equal zero"));
    }
    let left = if (step > 0 && start > stop) || (step < 0 && start < stop) {
        0
    } else {
        ((stop as i128 - start as i128) / step as i128 + 1) as u64
    };
    if left > MAX_SERIES_ROWS {
        return Err(Error::sql("54000", format!("generate_series of more than {MAX_SERIES_ROWS} rows")));
    }
    Ok(Rows::Series { next: start, step, left })
}

impl Operator for TableFunctionOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            ctx.pause().await?;
            if self.rows.is_none() {
                self.rows = Some(self.start(ctx).await?);
            }
            let mut out: Vec<Vec<Value>> = Vec::new();
            match self.rows.as_mut().expect("started above") {
                Rows::Series { next, step, left } => {
                    while *left > 0 && out.len() < BATCH_SIZE {
                        out.push(vec![Value::Int(*next)]);
                        *left -= 1;
                        // Saturating: the last value may sit at the type's edge.
                        *next = next.saturating_add(*step);
                    }
                }
                Rows::Elements(items) => out.extend(items.by_ref().take(BATCH_SIZE).map(|v| vec![v])),
            }
            if out.is_empty() {
                return Ok(None);
            }
            if self.ordinality {
                for row in &mut out {
                    self.produced += 1;
                    row.push(Value::Int(self.produced));
                }
            }
            Ok(Some(Batch::from_rows(&out, &self.types)))
        })
    }
}
