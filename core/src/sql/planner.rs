//! The planner: rewrites a bound plan and makes its physical choices.
//!
//! Rules, in order, bottom-up:
//! 1. **Constant folding**: subexpressions without column, parameter or
//!    subquery references are evaluated once (errors are left to run time,
//!    so `CASE WHEN false THEN 1/0 END` still works).
//! 2. **Outer-to-inner**: a LEFT/RIGHT join under a filter that rejects
//!    NULLs of the padded side becomes an inner join.
//! 3. **Join clusters**: a tree of inner joins and filters is flattened into
//!    relations plus conjuncts. Conjuncts on one relation are pushed into it
//!    (into the scan itself, where they pick the access path); the rest
//!    decide join order — dynamic programming over left-deep orders for up
//!    to [`DP_LIMIT`] relations, greedy beyond — and each join's algorithm:
//!    hash join on equality keys, index nested loop when the new relation
//!    has an index on its join keys and the outer side is small, nested
//!    loop otherwise. Conjuncts with subqueries stay above the cluster.
//! 4. **Access paths**: a scan with equality (and range) conjuncts on the
//!    leading columns of an index, primary key included, uses the index
//!    when its estimated cost beats a sequential scan.
//!
//! Estimates come from [`TableStats`]: row counts, distinct counts and
//! min/max (for ranges). Default selectivities follow PostgreSQL's
//! (equality 1/ndv, ranges 1/3, anything else 1/3 … 1/2).

use std::sync::Arc;

use crate::sql::batch::Batch;
use crate::sql::catalog::{IndexDef, Schema, TableDef};
use crate::sql::expr::Expr;
use crate::sql::functions::FunctionContext;
use crate::sql::ops::BinaryOp;
use crate::sql::plan::{Access, JoinAlgo, JoinKind, Plan};
use crate::sql::stats::TableStats;
use crate::sql::value::{DataType, Value};

/// Largest join cluster ordered by dynamic programming.
pub const DP_LIMIT: usize = 8;

/// Statistics lookup by table id.
pub type StatsFn<'a> = &'a dyn Fn(u64) -> Option<TableStats>;

/// Plans `plan`.
pub fn optimize(plan: Plan, schema: &Schema, stats: StatsFn) -> Plan {
    let planner = Planner { schema, stats };
    planner.plan(plan)
}

struct Planner<'a> {
    schema: &'a Schema,
    stats: StatsFn<'a>,
}

/// One relation of a join cluster.
struct Relation {
    plan: Plan,
    /// Its first column in the cluster's original layout.
    offset: usize,
    width: usize,
    rows: f64,
}

impl Planner<'_> {
    fn plan(&self, plan: Plan) -> Plan {
        match plan {
            Plan::Filter { .. } | Plan::Join { kind: JoinKind::Inner, .. } => self.plan_cluster(plan),
            Plan::Join { left, right, kind, on, algo, .. } => {
                let (left, right) = (self.plan(*left), self.plan(*right));
                let on = on.map(fold);
                let (l_rows, r_rows) = (self.estimate(&left), self.estimate(&right));
                let algo = match &on {
                    Some(on) => equi_keys(on, left.width(), right.width())
                        .map(|(left_keys, right_keys)| JoinAlgo::Hash { left_keys, right_keys })
                        .unwrap_or(algo),
                    None => algo,
                };
                let estimate = l_rows.max(r_rows);
                Plan::Join { left: Box::new(left), right: Box::new(right), kind, on, algo, estimate }
            }
            other => self.plan_children(other),
        }
    }

    /// Plans the inputs of a node that is not itself rewritten.
    fn plan_children(&self, plan: Plan) -> Plan {
        match plan {
            Plan::Project { input, exprs } => {
                let input = self.plan(*input);
                let identity = exprs.len() == input.width()
                    && exprs.iter().enumerate().all(|(i, e)| matches!(e, Expr::Column { index, .. } if *index == i));
                if identity {
                    return input;
                }
                Plan::Project { input: Box::new(input), exprs: exprs.into_iter().map(fold).collect() }
            }
            Plan::Aggregate { input, group_by, aggs } => {
                Plan::Aggregate { input: Box::new(self.plan(*input)), group_by, aggs }
            }
            Plan::Window { input, calls } => Plan::Window { input: Box::new(self.plan(*input)), calls },
            Plan::Sort { input, keys } => Plan::Sort { input: Box::new(self.plan(*input)), keys },
            Plan::Limit { input, limit, offset } => Plan::Limit { input: Box::new(self.plan(*input)), limit, offset },
            Plan::Distinct { input, on } => Plan::Distinct { input: Box::new(self.plan(*input)), on },
            Plan::SetOp { left, right, kind, all } => {
                Plan::SetOp { left: Box::new(self.plan(*left)), right: Box::new(self.plan(*right)), kind, all }
            }
            Plan::Recursive { id, base, step, union_all } => {
                Plan::Recursive { id, base: Box::new(self.plan(*base)), step: Box::new(self.plan(*step)), union_all }
            }
            Plan::Scan { table, access, filter, .. } => {
                let conjuncts = filter.map(|f| fold(f).conjuncts()).unwrap_or_default();
                self.plan_scan(table, access, conjuncts)
            }
            other => other,
        }
    }

    /// Flattens inner joins and filters, orders the joins, pushes conjuncts.
    fn plan_cluster(&self, plan: Plan) -> Plan {
        let width = plan.width();
        let mut relations = Vec::new();
        let mut local = Vec::new();
        let mut residual = Vec::new();
        self.flatten(plan, 0, &mut relations, &mut local, &mut residual);
        let relations = self.push_down(relations, &mut local);
        let ordered = self.join_order(relations, &local);
        let joined = self.build_joins(ordered, local);
        let mut plan = restore_layout(joined.0, &joined.1, width);
        if let Some(predicate) = Expr::and_all(residual) {
            plan = Plan::Filter { input: Box::new(plan), predicate };
        }
        plan
    }

    /// Splits `plan` (at column `offset` of the cluster) into relations and
    /// conjuncts. Conjuncts with subqueries go to `residual`, evaluated on
    /// the cluster's rows in their original layout, which only matches a
    /// subquery's outer references at offset 0; deeper ones stay in place.
    fn flatten(
        &self,
        plan: Plan,
        offset: usize,
        relations: &mut Vec<Relation>,
        conjuncts: &mut Vec<Expr>,
        residual: &mut Vec<Expr>,
    ) {
        let movable = |e: &Option<Expr>| offset == 0 || e.as_ref().is_none_or(|e| !e.has_subquery());
        match plan {
            Plan::Join { left, right, kind: JoinKind::Inner, on, .. } if movable(&on) => {
                let left_width = left.width();
                self.flatten(*left, offset, relations, conjuncts, residual);
                self.flatten(*right, offset + left_width, relations, conjuncts, residual);
                if let Some(on) = on {
                    self.split(on, offset, conjuncts, residual);
                }
            }
            Plan::Filter { input, predicate } if movable(&Some(predicate.clone())) => {
                let input = outer_to_inner(*input, &predicate);
                self.flatten(input, offset, relations, conjuncts, residual);
                self.split(predicate, offset, conjuncts, residual);
            }
            other => {
                // A node that cannot join this cluster starts a cluster of its own.
                let plan = self.plan(other);
                let width = plan.width();
                let rows = self.estimate(&plan);
                relations.push(Relation { plan, offset, width, rows });
            }
        }
    }

    fn split(&self, predicate: Expr, offset: usize, conjuncts: &mut Vec<Expr>, residual: &mut Vec<Expr>) {
        for c in predicate.conjuncts() {
            let c = fold(shift(c, offset));
            if c.has_subquery() {
                residual.push(c);
            } else if !matches!(c, Expr::Literal(Value::Bool(true), _)) {
                conjuncts.push(c);
            }
        }
    }

    /// Moves single-relation conjuncts into their relation.
    fn push_down(&self, relations: Vec<Relation>, conjuncts: &mut Vec<Expr>) -> Vec<Relation> {
        relations
            .into_iter()
            .map(|rel| {
                let range = rel.offset..rel.offset + rel.width;
                let (mine, rest): (Vec<Expr>, Vec<Expr>) = std::mem::take(conjuncts).into_iter().partition(|c| {
                    let mut cols = Vec::new();
                    c.columns_used(&mut cols);
                    !cols.is_empty() && cols.iter().all(|i| range.contains(i)) || cols.is_empty() && range.start == 0
                });
                *conjuncts = rest;
                if mine.is_empty() {
                    return rel;
                }
                let local: Vec<Expr> = mine.into_iter().map(|c| c.remap_columns(&|i| i - rel.offset)).collect();
                let plan = match rel.plan {
                    Plan::Scan { table, access, filter, .. } => {
                        let mut all = filter.map(Expr::conjuncts).unwrap_or_default();
                        all.extend(local);
                        self.plan_scan(table, access, all)
                    }
                    other => {
                        Plan::Filter { input: Box::new(other), predicate: Expr::and_all(local).expect("non-empty") }
                    }
                };
                let rows = self.estimate(&plan);
                Relation { plan, rows, ..rel }
            })
            .collect()
    }

    /// Picks the scan's access path for its conjuncts.
    fn plan_scan(&self, table: Arc<TableDef>, _access: Access, conjuncts: Vec<Expr>) -> Plan {
        let stats = self.table_stats(&table);
        // A sequential scan reads every version of every row (dead ones
        // too, until vacuum), so even a one-row table costs more than a
        // unique point lookup, which reads one key's versions.
        let mut best = (stats.rows.max(1.0) + 1.0, Access::Full);
        for index in self.schema.indexes_of(&table.name) {
            if let Some((access, matched)) = index_access(&index, &conjuncts, &stats) {
                let per_row = if index.primary { 1.5 } else { 4.0 };
                let point =
                    index.unique && matches!(&access, Access::Index { eq, .. } if eq.len() == index.columns.len());
                let cost = if point { per_row } else { matched * per_row + 2.0 };
                if cost < best.0 {
                    best = (cost, access);
                }
            }
        }
        let selectivity: f64 = conjuncts.iter().map(|c| selectivity(c, &stats)).product();
        let estimate = (stats.rows * selectivity).max(1.0);
        let access = best.1;
        let residual = conjuncts.into_iter().filter(|c| !enforced_by_range(&access, c, &table)).collect();
        Plan::Scan { table, access, filter: Expr::and_all(residual), estimate }
    }

    fn table_stats(&self, table: &TableDef) -> TableStats {
        (self.stats)(table.id).unwrap_or(TableStats { rows: 1000.0, ..TableStats::default() })
    }

    /// Estimated output rows of a plan.
    fn estimate(&self, plan: &Plan) -> f64 {
        match plan {
            Plan::Scan { estimate, .. } => *estimate,
            Plan::Join { estimate, .. } => *estimate,
            Plan::Values { rows, .. } => rows.len() as f64,
            Plan::TableFunction { function, args, .. } => table_function_rows(*function, args),
            Plan::Filter { input, .. } => (self.estimate(input) / 3.0).max(1.0),
            Plan::Aggregate { input, group_by, .. } => {
                if group_by.is_empty() {
                    1.0
                } else {
                    (self.estimate(input) / 10.0).max(1.0)
                }
            }
            Plan::Limit { input, .. } => self.estimate(input).min(100.0),
            other => other.inputs().iter().map(|p| self.estimate(p)).fold(1.0, f64::max),
        }
    }

    /// Orders relations to keep intermediate results small.
    fn join_order(&self, relations: Vec<Relation>, conjuncts: &[Expr]) -> Vec<Relation> {
        let n = relations.len();
        if n <= 1 {
            return relations;
        }
        let order = if n <= DP_LIMIT {
            dp_order(&relations, conjuncts, self)
        } else {
            greedy_order(&relations, conjuncts, self)
        };
        let mut slots: Vec<Option<Relation>> = relations.into_iter().map(Some).collect();
        order.into_iter().map(|i| slots[i].take().expect("each relation once")).collect()
    }

    /// Estimated rows of joining a set of relations (bitmask) under `conjuncts`.
    fn join_rows(&self, relations: &[Relation], set: u64, conjuncts: &[Expr]) -> f64 {
        let mut rows: f64 =
            relations.iter().enumerate().filter(|(i, _)| set & (1 << i) != 0).map(|(_, r)| r.rows).product();
        for c in conjuncts {
            let rels = relations_of(c, relations);
            if rels != 0 && rels & set == rels && rels.count_ones() >= 2 {
                rows *= self.join_selectivity(c, relations);
            }
        }
        rows.max(1.0)
    }

    fn join_selectivity(&self, c: &Expr, relations: &[Relation]) -> f64 {
        if let Expr::Binary { op: BinaryOp::Eq, left, right, .. } = c {
            let ndv = |e: &Expr| -> f64 {
                let Expr::Column { index, .. } = e else { return 10.0 };
                relations
                    .iter()
                    .find(|r| (r.offset..r.offset + r.width).contains(index))
                    .map(|r| match &r.plan {
                        Plan::Scan { table, .. } => self.table_stats(table).distinct(index - r.offset),
                        _ => (r.rows / 2.0).max(1.0),
                    })
                    .unwrap_or(10.0)
            };
            return 1.0 / ndv(left).max(ndv(right)).max(1.0);
        }
        1.0 / 3.0
    }

    /// Builds a left-deep join tree; returns it with its column layout
    /// (original indices in output order).
    fn build_joins(&self, ordered: Vec<Relation>, mut conjuncts: Vec<Expr>) -> (Plan, Vec<usize>) {
        let mut iter = ordered.into_iter();
        let first = iter.next().expect("a cluster has a relation");
        let mut layout: Vec<usize> = (first.offset..first.offset + first.width).collect();
        let mut plan = first.plan;
        let mut rows = first.rows;
        for rel in iter {
            let mut right_layout: Vec<usize> = (rel.offset..rel.offset + rel.width).collect();
            let mut combined = layout.clone();
            combined.append(&mut right_layout);
            let (ready, rest): (Vec<Expr>, Vec<Expr>) = conjuncts.into_iter().partition(|c| {
                let mut cols = Vec::new();
                c.columns_used(&mut cols);
                cols.iter().all(|i| combined.contains(i))
            });
            conjuncts = rest;
            let on: Vec<Expr> = ready.into_iter().map(|c| c.remap_columns(&|i| position(&combined, i))).collect();
            let on = Expr::and_all(on);
            let left_width = layout.len();
            let algo = self.join_algo(on.as_ref(), left_width, rel.width, rows, &rel);
            let estimate = (rows
                * rel.rows
                * on.as_ref()
                    .map(|o| o.clone().conjuncts().iter().map(|c| self.conjunct_selectivity(c)).product::<f64>())
                    .unwrap_or(1.0))
            .max(1.0);
            rows = estimate;
            plan = Plan::Join {
                left: Box::new(plan),
                right: Box::new(rel.plan),
                kind: JoinKind::Inner,
                on,
                algo,
                estimate,
            };
            layout = combined;
        }
        if let Some(rest) =
            Expr::and_all(conjuncts.into_iter().map(|c| c.remap_columns(&|i| position(&layout, i))).collect())
        {
            plan = Plan::Filter { input: Box::new(plan), predicate: rest };
        }
        (plan, layout)
    }

    fn conjunct_selectivity(&self, c: &Expr) -> f64 {
        match c {
            Expr::Binary { op: BinaryOp::Eq, .. } => 0.01,
            _ => 1.0 / 3.0,
        }
    }

    fn join_algo(
        &self,
        on: Option<&Expr>,
        left_width: usize,
        right_width: usize,
        left_rows: f64,
        right: &Relation,
    ) -> JoinAlgo {
        let Some(on) = on else { return JoinAlgo::NestedLoop };
        let Some((left_keys, right_keys)) = equi_keys(on, left_width, right_width) else { return JoinAlgo::NestedLoop };
        if let Plan::Scan { table, access: Access::Full, .. } = &right.plan
            && left_rows * 8.0 < right.rows
            && let Some((index, keys)) = self.index_for_keys(table, &left_keys, &right_keys)
        {
            return JoinAlgo::IndexLookup { index, left_keys: keys };
        }
        JoinAlgo::Hash { left_keys, right_keys }
    }

    /// An index whose leading columns are all among the right keys; the
    /// left keys in index-column order.
    fn index_for_keys(
        &self,
        table: &TableDef,
        left_keys: &[Expr],
        right_keys: &[Expr],
    ) -> Option<(Arc<IndexDef>, Vec<Expr>)> {
        self.schema.indexes_of(&table.name).into_iter().find_map(|index| {
            let keys: Option<Vec<Expr>> = index
                .columns
                .iter()
                .map(|c| {
                    right_keys
                        .iter()
                        .position(|r| matches!(r, Expr::Column { index, .. } if index == c))
                        .map(|k| left_keys[k].clone())
                })
                .collect();
            keys.map(|k| (index.clone(), k))
        })
    }
}

/// A LEFT (RIGHT) join under a filter that rejects NULLs in the right
/// (left) side's columns keeps no padded row: it is an inner join.
fn outer_to_inner(input: Plan, predicate: &Expr) -> Plan {
    let Plan::Join { left, right, kind, on, algo, estimate } = input else { return input };
    let left_width = left.width();
    let right_range = left_width..left_width + right.width();
    let kind = match kind {
        JoinKind::Left if rejects_nulls(predicate, &right_range) => JoinKind::Inner,
        JoinKind::Right if rejects_nulls(predicate, &(0..left_width)) => JoinKind::Inner,
        other => other,
    };
    Plan::Join { left, right, kind, on, algo, estimate }
}

/// Whether some conjunct is false or NULL whenever every column in
/// `range` is NULL: a comparison whose operands are strict (columns,
/// literals and arithmetic only) and read a column in `range`.
fn rejects_nulls(predicate: &Expr, range: &std::ops::Range<usize>) -> bool {
    fn strict(e: &Expr) -> bool {
        match e {
            Expr::Column { .. } | Expr::Literal(..) | Expr::Param { .. } => true,
            Expr::Binary { op, left, right, .. } => {
                matches!(
                    op,
                    BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Concat
                ) && strict(left)
                    && strict(right)
            }
            Expr::Cast { expr, .. } => strict(expr),
            _ => false,
        }
    }
    predicate.clone().conjuncts().iter().any(|c| match c {
        Expr::Binary {
            op: BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq,
            left,
            right,
            ..
        } => {
            let mut cols = Vec::new();
            c.columns_used(&mut cols);
            strict(left) && strict(right) && cols.iter().any(|i| range.contains(i))
        }
        Expr::IsNull { expr, negated: true } => {
            matches!(expr.as_ref(), Expr::Column { index, .. } if range.contains(index))
        }
        _ => false,
    })
}

/// Dynamic programming over left-deep orders: the cheapest (sum of
/// intermediate sizes) order of each subset, extended one relation at a time.
fn dp_order(relations: &[Relation], conjuncts: &[Expr], planner: &Planner) -> Vec<usize> {
    let n = relations.len();
    let full = (1u64 << n) - 1;
    let mut best: Vec<Option<(f64, Vec<usize>)>> = vec![None; 1 << n];
    for (i, r) in relations.iter().enumerate() {
        best[1 << i] = Some((r.rows, vec![i]));
    }
    for set in 1..=full {
        let Some((cost, order)) = best[set as usize].clone() else { continue };
        for (i, _) in relations.iter().enumerate() {
            if set & (1 << i) != 0 {
                continue;
            }
            let next = set | (1 << i);
            let connected = conjuncts.iter().any(|c| {
                let rels = relations_of(c, relations);
                rels & (1 << i) != 0 && rels & set != 0
            });
            // Cross products only when nothing connects (penalized).
            let penalty = if connected { 1.0 } else { 1e3 };
            let rows = planner.join_rows(relations, next, conjuncts);
            let total = cost + rows * penalty;
            if best[next as usize].as_ref().is_none_or(|(c, _)| total < *c) {
                let mut o = order.clone();
                o.push(i);
                best[next as usize] = Some((total, o));
            }
        }
    }
    best[full as usize].take().map(|(_, o)| o).unwrap_or_else(|| (0..n).collect())
}

/// Greedy: smallest first, then the relation giving the smallest join.
fn greedy_order(relations: &[Relation], conjuncts: &[Expr], planner: &Planner) -> Vec<usize> {
    let n = relations.len();
    let first = (0..n).min_by(|&a, &b| relations[a].rows.total_cmp(&relations[b].rows)).unwrap_or(0);
    let mut order = vec![first];
    let mut set = 1u64 << first;
    while order.len() < n {
        let connected: Vec<usize> = (0..n)
            .filter(|i| set & (1 << i) == 0)
            .filter(|&i| {
                conjuncts.iter().any(|c| {
                    let rels = relations_of(c, relations);
                    rels & (1 << i) != 0 && rels & set != 0
                })
            })
            .collect();
        // Cross products only when nothing left connects.
        let candidates: Vec<usize> =
            if connected.is_empty() { (0..n).filter(|i| set & (1 << i) == 0).collect() } else { connected };
        let next = candidates
            .into_iter()
            .min_by(|&a, &b| {
                let ra = planner.join_rows(relations, set | (1 << a), conjuncts);
                let rb = planner.join_rows(relations, set | (1 << b), conjuncts);
                ra.total_cmp(&rb)
            })
            .expect("some relation left");
        order.push(next);
        set |= 1 << next;
    }
    order
}

/// Bitmask of the relations a conjunct reads (cluster of at most 64).
fn relations_of(c: &Expr, relations: &[Relation]) -> u64 {
    let mut cols = Vec::new();
    c.columns_used(&mut cols);
    let mut mask = 0u64;
    for col in cols {
        if let Some(i) = relations.iter().position(|r| (r.offset..r.offset + r.width).contains(&col)) {
            mask |= 1 << (i % 64);
        }
    }
    mask
}

fn position(layout: &[usize], original: usize) -> usize {
    layout.iter().position(|&i| i == original).expect("column present in layout")
}

/// Projects the join tree's layout back to the cluster's original order.
fn restore_layout(plan: Plan, layout: &[usize], width: usize) -> Plan {
    if layout.iter().copied().eq(0..width) {
        return plan;
    }
    let types = plan.output_types();
    let exprs = (0..width).map(|orig| {
        let pos = position(layout, orig);
        Expr::column(pos, types[pos].clone())
    });
    Plan::Project { input: Box::new(plan), exprs: exprs.collect() }
}

fn shift(e: Expr, offset: usize) -> Expr {
    if offset == 0 { e } else { e.remap_columns(&|i| i + offset) }
}

/// Equality conjuncts `left expr = right expr` of a join condition, as key
/// lists over each side's own columns.
fn equi_keys(on: &Expr, left_width: usize, right_width: usize) -> Option<(Vec<Expr>, Vec<Expr>)> {
    let mut left_keys = Vec::new();
    let mut right_keys = Vec::new();
    for c in on.clone().conjuncts() {
        let Expr::Binary { op: BinaryOp::Eq, left, right, .. } = c else { continue };
        let side = |e: &Expr| -> Option<bool> {
            let mut cols = Vec::new();
            e.columns_used(&mut cols);
            if cols.is_empty() || e.has_subquery() {
                return None;
            }
            if cols.iter().all(|&i| i < left_width) {
                Some(true)
            } else if cols.iter().all(|&i| i >= left_width && i < left_width + right_width) {
                Some(false)
            } else {
                None
            }
        };
        let (l, r) = match (side(&left), side(&right)) {
            (Some(true), Some(false)) => (*left, *right),
            (Some(false), Some(true)) => (*right, *left),
            _ => continue,
        };
        left_keys.push(l);
        right_keys.push(r.remap_columns(&|i| i - left_width));
    }
    (!left_keys.is_empty()).then_some((left_keys, right_keys))
}

/// Whether `e` has a value before the scan starts (no columns of the row).
fn is_bound_value(e: &Expr) -> bool {
    let mut ok = true;
    e.walk(&mut |n| {
        if matches!(n, Expr::Column { .. } | Expr::Subquery(_)) {
            ok = false;
        }
    });
    ok
}

/// A conjunct as `column op value` (flipped if written `value op column`).
fn column_comparison(c: &Expr) -> Option<(usize, BinaryOp, Expr)> {
    let Expr::Binary { op, left, right, .. } = c else { return None };
    let flip = |op: BinaryOp| match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        other => other,
    };
    if !matches!(op, BinaryOp::Eq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq) {
        return None;
    }
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column { index, .. }, v) if is_bound_value(v) => Some((*index, *op, v.clone())),
        (v, Expr::Column { index, .. }) if is_bound_value(v) => Some((*index, flip(*op), v.clone())),
        _ => None,
    }
}

/// The index range the conjuncts allow on `index`, and its estimated rows.
fn index_access(index: &Arc<IndexDef>, conjuncts: &[Expr], stats: &TableStats) -> Option<(Access, f64)> {
    let comparisons: Vec<(usize, BinaryOp, Expr)> = conjuncts.iter().filter_map(column_comparison).collect();
    let mut eq = Vec::new();
    let mut rows = stats.rows.max(1.0);
    for &col in &index.columns {
        match comparisons.iter().find(|(c, op, _)| *c == col && *op == BinaryOp::Eq) {
            Some((_, _, v)) => {
                eq.push(v.clone());
                rows /= stats.distinct(col).max(1.0);
            }
            None => break,
        }
    }
    if eq.len() == index.columns.len() && index.unique {
        rows = rows.min(1.0);
    }
    let (mut lo, mut hi) = (None, None);
    if let Some(&next) = index.columns.get(eq.len()) {
        for (c, op, v) in &comparisons {
            if *c != next {
                continue;
            }
            match op {
                BinaryOp::Gt | BinaryOp::GtEq if lo.is_none() => lo = Some((v.clone(), *op == BinaryOp::GtEq)),
                BinaryOp::Lt | BinaryOp::LtEq if hi.is_none() => hi = Some((v.clone(), *op == BinaryOp::LtEq)),
                _ => {}
            }
        }
        if lo.is_some() || hi.is_some() {
            rows *= range_fraction(stats, next, lo.as_ref(), hi.as_ref());
        }
    }
    if eq.is_empty() && lo.is_none() && hi.is_none() {
        return None;
    }
    Some((Access::Index { index: index.clone(), eq, lo, hi }, rows.max(1.0)))
}

/// Whether the index range of `access` already guarantees `conjunct`, so
/// the scan need not evaluate it on every row: the conjunct is one the range
/// was built from (see [`index_access`]) and compares an integer or text
/// column with a literal of the same kind, whose key order is exactly the
/// SQL order. Anything else (parameters, casts, CHAR's blank padding,
/// NUMERIC's text keys) stays in the filter.
fn enforced_by_range(access: &Access, conjunct: &Expr, table: &TableDef) -> bool {
    let Access::Index { index, eq, lo, hi } = access else { return false };
    let Some((col, op, value)) = column_comparison(conjunct) else { return false };
    let exact_type = matches!(
        (&value, table.columns.get(col).map(|c| &c.data_type)),
        (Expr::Literal(Value::Int(_), _), Some(DataType::Int16 | DataType::Int32 | DataType::Int64))
            | (Expr::Literal(Value::Text(_), _), Some(DataType::Text | DataType::Varchar(_)))
    );
    if !exact_type {
        return false;
    }
    if op == BinaryOp::Eq {
        let position = index.columns.iter().position(|&c| c == col);
        return position.and_then(|p| eq.get(p)).is_some_and(|bound| same_literal(bound, &value));
    }
    if index.columns.get(eq.len()) != Some(&col) {
        return false;
    }
    let bound = match op {
        BinaryOp::Gt | BinaryOp::GtEq => lo.as_ref().filter(|(_, inclusive)| *inclusive == (op == BinaryOp::GtEq)),
        BinaryOp::Lt | BinaryOp::LtEq => hi.as_ref().filter(|(_, inclusive)| *inclusive == (op == BinaryOp::LtEq)),
        _ => None,
    };
    bound.is_some_and(|(bound, _)| same_literal(bound, &value))
}

fn same_literal(a: &Expr, b: &Expr) -> bool {
    match (a, b) {
        (Expr::Literal(Value::Int(x), _), Expr::Literal(Value::Int(y), _)) => x == y,
        (Expr::Literal(Value::Text(x), _), Expr::Literal(Value::Text(y), _)) => x == y,
        _ => false,
    }
}

/// The fraction of a column's values within the bounds, from min/max for
/// integer constants; 1/3 per bound otherwise.
fn range_fraction(stats: &TableStats, col: usize, lo: Option<&(Expr, bool)>, hi: Option<&(Expr, bool)>) -> f64 {
    let as_f64 = |v: &Value| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    let column = stats.columns.get(col);
    let min = column.and_then(|c| c.min.as_ref()).and_then(as_f64);
    let max = column.and_then(|c| c.max.as_ref()).and_then(as_f64);
    let bound =
        |b: Option<&(Expr, bool)>| b.and_then(|(e, _)| if let Expr::Literal(v, _) = e { as_f64(v) } else { None });
    match (min, max) {
        (Some(min), Some(max)) if max > min => {
            let l = bound(lo).unwrap_or(min).clamp(min, max);
            let h = bound(hi).unwrap_or(max).clamp(min, max);
            let known = lo.is_none_or(|_| bound(lo).is_some()) && hi.is_none_or(|_| bound(hi).is_some());
            if known { ((h - l) / (max - min)).clamp(0.0, 1.0).max(1.0 / stats.rows.max(1.0)) } else { 1.0 / 3.0 }
        }
        _ => {
            let bounds = lo.is_some() as i32 + hi.is_some() as i32;
            (1.0f64 / 3.0).powi(bounds)
        }
    }
}

/// A filter conjunct's estimated selectivity.
fn selectivity(c: &Expr, stats: &TableStats) -> f64 {
    match column_comparison(c) {
        Some((col, BinaryOp::Eq, _)) => 1.0 / stats.distinct(col).max(1.0),
        Some((col, op, v)) => {
            let b = Some((v, matches!(op, BinaryOp::LtEq | BinaryOp::GtEq)));
            match op {
                BinaryOp::Gt | BinaryOp::GtEq => range_fraction(stats, col, b.as_ref(), None),
                _ => range_fraction(stats, col, None, b.as_ref()),
            }
        }
        None => 1.0 / 3.0,
    }
}

/// Folds constant subexpressions to literals where evaluation succeeds.
pub fn fold(e: Expr) -> Expr {
    e.transform(&mut |node| {
        if matches!(node, Expr::Literal(..))
            || !node.is_constant()
            || !node.children().iter().all(|c| matches!(c, Expr::Literal(..)))
        {
            return node;
        }
        let ty = node.ty();
        let one = Batch { columns: vec![], len: 1 };
        let precomputed = std::collections::BTreeMap::new();
        let mut functions = FunctionContext::fixed(0);
        let mut env = crate::sql::exec::EvalEnv {
            params: &[],
            outer: &[],
            precomputed: &precomputed,
            functions: &mut functions,
            rows: None,
        };
        if matches!(node, Expr::Function { .. }) {
            // Functions may read the statement time; leave them to run time.
            return node;
        }
        match crate::sql::exec::eval_sync(&node, &one, &mut env) {
            Ok(column) => Expr::Literal(column.get(0), ty),
            Err(_) => node,
        }
    })
}

/// Estimated rows of a set-returning function: exact for a series or an
/// array given as constants, otherwise PostgreSQL's defaults (1000 rows for
/// a function, 100 elements for an array).
fn table_function_rows(function: crate::sql::plan::TableFunction, args: &[Expr]) -> f64 {
    use crate::sql::plan::TableFunction as F;
    let literal = |i: usize| match args.get(i) {
        Some(Expr::Literal(v, _)) => Some(v),
        _ => None,
    };
    match function {
        F::GenerateSeries => match (literal(0), literal(1)) {
            (Some(Value::Int(a)), Some(Value::Int(b))) => ((*b as f64 - *a as f64).abs() + 1.0).max(1.0),
            _ => 1000.0,
        },
        F::Unnest => match literal(0) {
            Some(Value::Array(items)) => items.len().max(1) as f64,
            _ => 100.0,
        },
        F::PartitionAncestors => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::binder::Binder;
    use crate::sql::catalog::{ColumnDef, IndexDef, TableDef};
    use crate::sql::stats::ColumnStats;
    use crate::sql::value::DataType;

    /// Tables `a`, `b`, `c` with columns (id, x); `id` is each one's primary key.
    fn schema() -> Schema {
        let mut schema = Schema::default();
        for (id, name) in [(1, "a"), (2, "b"), (3, "c")] {
            let columns = ["id", "x"]
                .iter()
                .map(|c| ColumnDef { name: c.to_string(), data_type: DataType::Int32, nullable: true, default: None })
                .collect();
            let table = TableDef {
                id,
                name: name.into(),
                columns,
                primary_key: vec![0],
                checks: vec![],
                foreign_keys: vec![],
                acl: Default::default(),
                storage_id: None,
            };
            schema.tables.insert(name.into(), Arc::new(table));
            let pkey = IndexDef {
                id,
                name: format!("{name}_pkey"),
                table: name.into(),
                columns: vec![0],
                unique: true,
                constraint: true,
                primary: true,
                storage_id: None,
            };
            schema.indexes.insert(pkey.name.clone(), Arc::new(pkey));
        }
        schema
    }

    fn stats_with(rows: &[(u64, f64)]) -> impl Fn(u64) -> Option<TableStats> {
        let rows = rows.to_vec();
        move |id| {
            rows.iter().find(|(t, _)| *t == id).map(|(_, n)| TableStats {
                rows: *n,
                columns: vec![
                    ColumnStats { distinct: *n, ..ColumnStats::default() },
                    ColumnStats { distinct: 10.0, ..ColumnStats::default() },
                ],
                modified: 0.0,
                analyzed: true,
                analyzing: false,
                auto_analyzed_at: None,
            })
        }
    }

    fn plan(sql: &str, schema: &Schema, stats: &dyn Fn(u64) -> Option<TableStats>) -> Plan {
        let query = crate::sql::session::parse_single_query(sql).unwrap();
        let bound = Binder::new(schema).bind_query(&query).unwrap();
        optimize(bound.plan, schema, stats)
    }

    fn explain(p: &Plan) -> String {
        p.explain().join("\n")
    }

    #[test]
    fn a_range_uses_the_primary_key_on_a_large_table_but_not_a_tiny_one() {
        let schema = schema();
        let big = plan("SELECT x FROM a WHERE id > 5", &schema, &stats_with(&[(1, 100_000.0)]));
        assert!(explain(&big).contains("Index Scan using a_pkey"), "{}", explain(&big));
        let tiny = plan("SELECT x FROM a WHERE id > 5", &schema, &stats_with(&[(1, 1.0)]));
        assert!(explain(&tiny).contains("Seq Scan on a"), "{}", explain(&tiny));
        // A unique point lookup reads one key's versions: always the index.
        let point = plan("SELECT x FROM a WHERE id = 5", &schema, &stats_with(&[(1, 1.0)]));
        assert!(explain(&point).contains("Index Scan using a_pkey"), "{}", explain(&point));
    }

    #[test]
    fn range_predicates_bound_an_index_scan() {
        let schema = schema();
        let p = plan("SELECT x FROM a WHERE id > 10 AND id <= 20", &schema, &stats_with(&[(1, 100_000.0)]));
        let text = explain(&p);
        assert!(text.contains("Index Scan using a_pkey") && text.contains("> 10") && text.contains("<= 20"), "{text}");
    }

    #[test]
    fn conjuncts_the_index_range_enforces_leave_the_filter() {
        let schema = schema();
        let stats = stats_with(&[(1, 100_000.0)]);
        let p = plan("SELECT x FROM a WHERE id > 10 AND id <= 20", &schema, &stats);
        assert!(!explain(&p).contains("filter"), "{}", explain(&p));
        // A second bound on the key, another column, a parameter: rechecked per row.
        let p = plan("SELECT x FROM a WHERE id > 10 AND id > 15 AND x = 3", &schema, &stats);
        let text = explain(&p);
        assert!(text.contains("filter ((#0 > 15) AND (#1 = 3))") && !text.contains("(#0 > 10)"), "{text}");
        let p = plan("SELECT x FROM a WHERE id = $1", &schema, &stats);
        assert!(explain(&p).contains("filter (#0 = $1)"), "{}", explain(&p));
    }

    #[test]
    fn equi_joins_become_hash_joins_with_pushed_down_filters() {
        let schema = schema();
        let p =
            plan("SELECT * FROM a, b WHERE a.x = b.x AND a.id > 3", &schema, &stats_with(&[(1, 1000.0), (2, 1000.0)]));
        let text = explain(&p);
        assert!(text.contains("Hash Join"), "{text}");
        assert!(!text.contains("\nFilter"), "the filter should sit in the scan: {text}");
    }

    #[test]
    fn join_order_follows_statistics() {
        let schema = schema();
        let sql = "SELECT * FROM a JOIN b ON a.x = b.x JOIN c ON b.x = c.x";
        let first_scan = |p: &Plan| {
            let text = explain(p);
            text.lines().filter(|l| l.contains("Scan on")).map(|l| l.trim().to_string()).collect::<Vec<_>>()
        };
        let small_c = plan(sql, &schema, &stats_with(&[(1, 100_000.0), (2, 50_000.0), (3, 10.0)]));
        let small_a = plan(sql, &schema, &stats_with(&[(1, 10.0), (2, 50_000.0), (3, 100_000.0)]));
        assert_ne!(first_scan(&small_c), first_scan(&small_a), "{}\n---\n{}", explain(&small_c), explain(&small_a));
        assert!(first_scan(&small_c)[0].contains("on c"), "{}", explain(&small_c));
        assert!(first_scan(&small_a)[0].contains("on a"), "{}", explain(&small_a));
    }

    #[test]
    fn a_small_outer_side_probes_the_inner_index() {
        let schema = schema();
        let p = plan(
            "SELECT * FROM a JOIN b ON a.x = b.id WHERE a.id = 7",
            &schema,
            &stats_with(&[(1, 100_000.0), (2, 100_000.0)]),
        );
        assert!(explain(&p).contains("Index Nested Loop using b_pkey"), "{}", explain(&p));
    }

    #[test]
    fn constants_fold() {
        let folded = fold(Expr::Binary {
            op: BinaryOp::Add,
            left: Box::new(Expr::literal(Value::Int(2))),
            right: Box::new(Expr::literal(Value::Int(3))),
            ty: DataType::Int32,
        });
        assert!(matches!(folded, Expr::Literal(Value::Int(5), _)), "{folded:?}");
        // A division by zero is left for run time (it may never run).
        let kept = fold(Expr::Binary {
            op: BinaryOp::Div,
            left: Box::new(Expr::literal(Value::Int(1))),
            right: Box::new(Expr::literal(Value::Int(0))),
            ty: DataType::Int32,
        });
        assert!(matches!(kept, Expr::Binary { .. }));
    }

    #[test]
    fn a_left_join_under_a_null_rejecting_filter_becomes_inner() {
        let schema = schema();
        let stats = stats_with(&[(1, 1000.0), (2, 1000.0)]);
        let p = plan("SELECT * FROM a LEFT JOIN b ON a.x = b.x WHERE b.id > 5", &schema, &stats);
        assert!(explain(&p).contains("Inner"), "{}", explain(&p));
        let kept = plan("SELECT * FROM a LEFT JOIN b ON a.x = b.x WHERE b.id IS NULL", &schema, &stats);
        assert!(explain(&kept).contains("Left"), "{}", explain(&kept));
    }

    #[test]
    fn subquery_predicates_stay_above_the_join() {
        let schema = schema();
        let p = plan("SELECT * FROM a, b WHERE a.x = b.x AND a.id IN (SELECT id FROM c)", &schema, &stats_with(&[]));
        let text = explain(&p);
        let filter = text.find("Filter").expect("a filter");
        assert!(filter < text.find("Hash Join").expect("a hash join"), "{text}");
    }
}
