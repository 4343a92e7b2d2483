//! Query plans: the tree the binder builds, the planner rewrites and the
//! executor runs.
//!
//! One tree type serves as both logical and physical plan: the binder
//! leaves the physical choices at their defaults (full scans, nested-loop
//! joins) and the planner fills them in (index access, hash or
//! index nested-loop join, join order). Every node's output is a list of
//! typed columns; names live in the binder's scopes, not here.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::sql::catalog::{IndexDef, TableDef};
use crate::sql::expr::Expr;
use crate::sql::value::DataType;

/// Join semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    /// Left rows with at least one match (from EXISTS / IN); outputs left columns only.
    Semi,
    /// Left rows with no match (from NOT EXISTS); outputs left columns only.
    Anti,
}

/// How a join finds matching rows.
#[derive(Debug, Clone)]
pub enum JoinAlgo {
    /// Every left row against every right row (the right side buffered).
    NestedLoop,
    /// Builds a hash table on the right side's keys, probes with the left's.
    Hash { left_keys: Vec<Expr>, right_keys: Vec<Expr> },
    /// For each left row, looks the right table up through an index on the
    /// right keys (the right side is a plain table scan).
    IndexLookup { index: Arc<IndexDef>, left_keys: Vec<Expr> },
}

/// One ORDER BY key.
#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    StringAgg,
    ArrayAgg,
    BoolAnd,
    BoolOr,
    BitAnd,
    BitOr,
    StddevSamp,
    StddevPop,
    VarSamp,
    VarPop,
}

/// One aggregate call of an Aggregate node.
#[derive(Debug, Clone)]
pub struct AggCall {
    pub func: AggFunc,
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub filter: Option<Expr>,
    /// ORDER BY inside the call (string_agg, array_agg).
    pub order_by: Vec<SortKey>,
    pub ty: DataType,
}

/// Window functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    NthValue,
    Aggregate(AggFunc),
}

/// A window frame bound, in rows or range units.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(i64),
    CurrentRow,
    Following(i64),
    UnboundedFollowing,
}

/// A window frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// ROWS (true) or RANGE (false) units.
    pub rows: bool,
    pub start: FrameBound,
    pub end: FrameBound,
}

/// One window function call of a Window node.
#[derive(Debug, Clone)]
pub struct WindowCall {
    pub func: WindowFunc,
    pub args: Vec<Expr>,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<SortKey>,
    pub frame: Frame,
    pub ty: DataType,
}

/// Set operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

/// How a scan reaches a table's rows.
#[derive(Debug, Clone)]
pub enum Access {
    /// Every row, in primary-key order.
    Full,
    /// Rows whose index key starts with `eq` and whose next column lies in
    /// (`lo`, `hi`); each bound is (value, inclusive).
    Index { index: Arc<IndexDef>, eq: Vec<Expr>, lo: Option<(Expr, bool)>, hi: Option<(Expr, bool)> },
}

/// A plan node.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A table's columns; `filter` is applied during the scan.
    Scan {
        table: Arc<TableDef>,
        access: Access,
        filter: Option<Expr>,
        estimate: f64,
    },
    /// Literal rows (VALUES, or one empty row for SELECT without FROM).
    Values {
        rows: Vec<Vec<Expr>>,
        types: Vec<DataType>,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    /// Output: left columns then right columns (left only for semi/anti).
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        on: Option<Expr>,
        algo: JoinAlgo,
        estimate: f64,
    },
    /// Output: the group-by values then the aggregates.
    Aggregate {
        input: Box<Plan>,
        group_by: Vec<Expr>,
        aggs: Vec<AggCall>,
    },
    /// Output: the input columns then one per window call.
    Window {
        input: Box<Plan>,
        calls: Vec<WindowCall>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    /// Removes duplicate rows; with `on`, keeps the first row per key.
    Distinct {
        input: Box<Plan>,
        on: Option<Vec<Expr>>,
    },
    SetOp {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: SetOpKind,
        all: bool,
    },
    /// WITH RECURSIVE: `base`, then `step` (which reads `WorkTable { id }`)
    /// until it yields nothing new.
    Recursive {
        id: usize,
        base: Box<Plan>,
        step: Box<Plan>,
        union_all: bool,
    },
    /// The rows of the enclosing `Recursive { id }`'s previous iteration.
    WorkTable {
        id: usize,
        types: Vec<DataType>,
    },
    /// A set-returning function in FROM (`generate_series`, `unnest` …):
    /// its arguments are evaluated once per execution (they may name
    /// enclosing rows), then it yields its rows; with `ordinality`, a last
    /// bigint column numbers them from 1.
    TableFunction {
        function: TableFunction,
        args: Vec<Expr>,
        ordinality: bool,
        types: Vec<DataType>,
    },
}

/// The set-returning functions FROM accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFunction {
    /// `generate_series(start, stop [, step])` over integers.
    GenerateSeries,
    /// `unnest(array)`: one row per element.
    Unnest,
    /// `pg_partition_ancestors(regclass)`: no table is a partition, so no rows.
    PartitionAncestors,
}

impl TableFunction {
    pub fn name(self) -> &'static str {
        match self {
            TableFunction::GenerateSeries => "generate_series",
            TableFunction::Unnest => "unnest",
            TableFunction::PartitionAncestors => "pg_partition_ancestors",
        }
    }
}

impl Plan {
    /// The types of the output columns.
    pub fn output_types(&self) -> Vec<DataType> {
        match self {
            Plan::Scan { table, .. } => table.columns.iter().map(|c| c.data_type.clone()).collect(),
            Plan::Values { types, .. } | Plan::WorkTable { types, .. } | Plan::TableFunction { types, .. } => {
                types.clone()
            }
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input, .. } => input.output_types(),
            Plan::Project { exprs, .. } => exprs.iter().map(Expr::ty).collect(),
            Plan::Join { left, right, kind, .. } => {
                let mut types = left.output_types();
                if !matches!(kind, JoinKind::Semi | JoinKind::Anti) {
                    types.extend(right.output_types());
                }
                types
            }
            Plan::Aggregate { group_by, aggs, .. } => {
                group_by.iter().map(Expr::ty).chain(aggs.iter().map(|a| a.ty.clone())).collect()
            }
            Plan::Window { input, calls } => {
                let mut types = input.output_types();
                types.extend(calls.iter().map(|c| c.ty.clone()));
                types
            }
            Plan::SetOp { left, .. } => left.output_types(),
            Plan::Recursive { base, .. } => base.output_types(),
        }
    }

    /// The number of output columns.
    pub fn width(&self) -> usize {
        self.output_types().len()
    }

    /// The node's inputs.
    pub fn inputs(&self) -> Vec<&Plan> {
        match self {
            Plan::Scan { .. } | Plan::Values { .. } | Plan::WorkTable { .. } | Plan::TableFunction { .. } => vec![],
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Window { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input, .. } => vec![input],
            Plan::Join { left, right, .. } | Plan::SetOp { left, right, .. } => vec![left, right],
            Plan::Recursive { base, step, .. } => vec![base, step],
        }
    }

    /// A one-line description of this node for EXPLAIN.
    pub fn describe(&self) -> String {
        match self {
            Plan::Scan { table, access, filter, estimate } => {
                let mut s = match access {
                    Access::Full => format!("Seq Scan on {}", table.name),
                    Access::Index { index, .. } => format!("Index Scan using {} on {}", index.name, table.name),
                };
                if let Access::Index { eq, lo, hi, .. } = access {
                    let mut conds: Vec<String> = eq.iter().map(|e| format!("= {e}")).collect();
                    conds.extend(lo.iter().map(|(e, inc)| format!("{} {e}", if *inc { ">=" } else { ">" })));
                    conds.extend(hi.iter().map(|(e, inc)| format!("{} {e}", if *inc { "<=" } else { "<" })));
                    let _ = write!(s, " (key {})", conds.join(", "));
                }
                if let Some(f) = filter {
                    let _ = write!(s, " filter {f}");
                }
                let _ = write!(s, " (rows={estimate:.0})");
                s
            }
            Plan::Values { rows, .. } => format!("Values ({} rows)", rows.len()),
            Plan::Filter { predicate, .. } => format!("Filter {predicate}"),
            Plan::Project { exprs, .. } => {
                format!("Project {}", exprs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "))
            }
            Plan::Join { kind, on, algo, estimate, .. } => {
                let algo_name = match algo {
                    JoinAlgo::NestedLoop => "Nested Loop".to_string(),
                    JoinAlgo::Hash { .. } => "Hash Join".to_string(),
                    JoinAlgo::IndexLookup { index, .. } => format!("Index Nested Loop using {}", index.name),
                };
                let on = on.as_ref().map(|e| format!(" on {e}")).unwrap_or_default();
                format!("{algo_name} {kind:?}{on} (rows={estimate:.0})")
            }
            Plan::Aggregate { group_by, aggs, .. } => {
                let groups = group_by.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
                let funcs = aggs.iter().map(|a| format!("{:?}", a.func)).collect::<Vec<_>>().join(", ");
                format!("HashAggregate group by [{groups}] computing [{funcs}]")
            }
            Plan::Window { calls, .. } => {
                format!("WindowAgg [{}]", calls.iter().map(|c| format!("{:?}", c.func)).collect::<Vec<_>>().join(", "))
            }
            Plan::Sort { keys, .. } => format!(
                "Sort by {}",
                keys.iter()
                    .map(|k| format!("{}{}", k.expr, if k.desc { " DESC" } else { "" }))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Plan::Limit { limit, offset, .. } => format!(
                "Limit {} offset {}",
                limit.as_ref().map(|e| e.to_string()).unwrap_or_else(|| "ALL".into()),
                offset.as_ref().map(|e| e.to_string()).unwrap_or_else(|| "0".into())
            ),
            Plan::Distinct { on, .. } => {
                if on.is_some() {
                    "Unique On".into()
                } else {
                    "HashDistinct".into()
                }
            }
            Plan::SetOp { kind, all, .. } => format!("{kind:?}{}", if *all { " All" } else { "" }),
            Plan::Recursive { .. } => "Recursive Union".into(),
            Plan::WorkTable { .. } => "WorkTable Scan".into(),
            Plan::TableFunction { function, args, ordinality, .. } => {
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                let ordinality = if *ordinality { " WITH ORDINALITY" } else { "" };
                format!("Function Scan on {}({}){ordinality}", function.name(), args.join(", "))
            }
        }
    }

    /// The plan as indented EXPLAIN lines.
    pub fn explain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        self.explain_into(0, &mut lines);
        lines
    }

    fn explain_into(&self, depth: usize, lines: &mut Vec<String>) {
        let prefix = if depth == 0 { String::new() } else { format!("{}->  ", "  ".repeat(depth * 2 - 1)) };
        lines.push(format!("{prefix}{}", self.describe()));
        for input in self.inputs() {
            input.explain_into(depth + 1, lines);
        }
    }
}
