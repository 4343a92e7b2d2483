//! Binding queries: WITH, set operations, SELECT (FROM, WHERE, GROUP BY,
//! HAVING, windows, projection, DISTINCT), ORDER BY and LIMIT.

use std::collections::BTreeMap;

use sqlparser::ast;

use super::aggregate::{AggContext, WindowContext, collect_calls};
use super::scope::{Scope, ScopeColumn};
use super::{Binder, BoundQuery, CteBinding, ident_name, object_name};
use crate::sql::expr::Expr;
use crate::sql::plan::{Access, JoinAlgo, JoinKind, Plan, SetOpKind, SortKey, TableFunction};
use crate::sql::value::{DataType, Value};
use crate::{Error, Result};

/// The ORDER BY and LIMIT parts of a query, applied over its body.
struct Tail<'q> {
    order_by: &'q [ast::OrderByExpr],
    limit: Option<&'q ast::Expr>,
    offset: Option<&'q ast::Expr>,
}

impl<'a> Binder<'a> {
    /// Binds a whole query (WITH, body, ORDER BY, LIMIT).
    pub fn bind_query(&mut self, query: &ast::Query) -> Result<BoundQuery> {
        self.enter()?;
        let result = self.bind_query_inner(query);
        self.leave();
        result
    }

    fn bind_query_inner(&mut self, query: &ast::Query) -> Result<BoundQuery> {
        if !query.locks.is_empty() {
            return Err(Error::NotSupported("SELECT … FOR UPDATE/SHARE in SQL (use the transaction API)".into()));
        }
        let pushed = query.with.is_some();
        if let Some(with) = &query.with {
            self.bind_with(with)?;
        }
        let tail = tail_of(query)?;
        let result = match query.body.as_ref() {
            ast::SetExpr::Select(select) => self.bind_select(select, &tail),
            body => {
                let bound = self.bind_set_expr(body)?;
                self.apply_tail_by_name(bound, &tail)
            }
        };
        if pushed {
            self.ctes.pop();
        }
        result
    }

    fn bind_with(&mut self, with: &ast::With) -> Result<()> {
        self.ctes.push(BTreeMap::new());
        for cte in &with.cte_tables {
            let name = ident_name(&cte.alias.name);
            let bound = if with.recursive && is_self_referencing(&cte.query, &name) {
                self.bind_recursive_cte(&name, cte)?
            } else {
                self.bind_query(&cte.query)?
            };
            let bound = rename(bound, &cte.alias.columns)?;
            self.ctes.last_mut().expect("pushed above").insert(name, CteBinding { query: bound });
        }
        Ok(())
    }

    /// `base UNION [ALL] step`, where `step` reads the CTE's previous rows.
    fn bind_recursive_cte(&mut self, name: &str, cte: &ast::Cte) -> Result<BoundQuery> {
        let ast::SetExpr::SetOperation { left, op: ast::SetOperator::Union, set_quantifier, right } =
            cte.query.body.as_ref()
        else {
            return Err(Error::sql("42P19", format!("recursive query \"{name}\" must have the form base UNION step")));
        };
        let base = rename(self.bind_set_expr(left)?, &cte.alias.columns)?;
        let id = self.fresh_id();
        let types = base.types();
        let work = BoundQuery { plan: Plan::WorkTable { id, types: types.clone() }, names: base.names.clone() };
        self.ctes.last_mut().expect("pushed by bind_with").insert(name.to_string(), CteBinding { query: work });
        let step = self.bind_set_expr(right)?;
        let step_plan = self.cast_columns(step.plan, &types)?;
        let union_all = matches!(set_quantifier, ast::SetQuantifier::All);
        let plan = Plan::Recursive { id, base: Box::new(base.plan), step: Box::new(step_plan), union_all };
        Ok(BoundQuery { plan, names: base.names })
    }

    /// Binds a query body without ORDER BY / LIMIT of its own.
    fn bind_set_expr(&mut self, body: &ast::SetExpr) -> Result<BoundQuery> {
        match body {
            ast::SetExpr::Select(select) => {
                self.bind_select(select, &Tail { order_by: &[], limit: None, offset: None })
            }
            ast::SetExpr::Query(query) => self.bind_query(query),
            ast::SetExpr::Values(values) => self.bind_values(values, None),
            ast::SetExpr::SetOperation { left, op, set_quantifier, right } => {
                let l = self.bind_set_expr(left)?;
                let r = self.bind_set_expr(right)?;
                self.bind_set_operation(l, r, op, set_quantifier)
            }
            other => Err(Error::NotSupported(format!("query body {other}"))),
        }
    }

    fn bind_set_operation(
        &mut self,
        l: BoundQuery,
        r: BoundQuery,
        op: &ast::SetOperator,
        quantifier: &ast::SetQuantifier,
    ) -> Result<BoundQuery> {
        if l.names.len() != r.names.len() {
            return Err(Error::sql("42601", format!("each {op} query must have the same number of columns")));
        }
        let kind = match op {
            ast::SetOperator::Union => SetOpKind::Union,
            ast::SetOperator::Intersect => SetOpKind::Intersect,
            ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
        };
        let all = matches!(quantifier, ast::SetQuantifier::All);
        let (lt, rt) = (l.types(), r.types());
        let mut types = Vec::new();
        for (a, b) in lt.iter().zip(&rt) {
            let common = crate::sql::cast::common_type(a, b)
                .ok_or_else(|| Error::sql("42804", format!("{op} types {a} and {b} cannot be matched")))?;
            types.push(if common == DataType::Unknown { DataType::Text } else { common });
        }
        let left = self.cast_columns(l.plan, &types)?;
        let right = self.cast_columns(r.plan, &types)?;
        Ok(BoundQuery { plan: Plan::SetOp { left: Box::new(left), right: Box::new(right), kind, all }, names: l.names })
    }

    /// Wraps `plan` in a projection casting its columns to `types` if needed.
    pub(super) fn cast_columns(&mut self, plan: Plan, types: &[DataType]) -> Result<Plan> {
        let current = plan.output_types();
        if current == types {
            return Ok(plan);
        }
        let exprs = current
            .into_iter()
            .enumerate()
            .zip(types)
            .map(|((i, from), to)| self.cast_to(Expr::column(i, from), to))
            .collect();
        Ok(Plan::Project { input: Box::new(plan), exprs })
    }

    /// VALUES rows; `targets` gives the types an INSERT wants, if any.
    pub fn bind_values(&mut self, values: &ast::Values, targets: Option<&[DataType]>) -> Result<BoundQuery> {
        let empty = Scope::default();
        let width = values.rows.first().map(|r| r.content.len()).unwrap_or(0);
        let mut rows: Vec<Vec<Expr>> = Vec::with_capacity(values.rows.len());
        for row in &values.rows {
            if row.content.len() != width {
                return Err(Error::sql("42601", "VALUES lists must all be the same length"));
            }
            let mut bound = Vec::with_capacity(width);
            for e in &row.content {
                let is_default = matches!(e, ast::Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"));
                bound.push(if is_default {
                    Expr::Function { name: "default".into(), args: vec![], ty: DataType::Unknown }
                } else {
                    self.bind_expr(e, &empty)?
                });
            }
            rows.push(bound);
        }
        if targets.is_some_and(|t| t.len() < width) {
            return Err(Error::sql("42601", "INSERT has more expressions than target columns"));
        }
        let types = match targets {
            Some(t) => t.to_vec(),
            None => self.values_types(&rows, width)?,
        };
        for row in &mut rows {
            for (e, ty) in row.iter_mut().zip(&types) {
                if !matches!(e, Expr::Function { name, .. } if name == "default") {
                    let taken = std::mem::replace(e, Expr::Literal(Value::Null, DataType::Unknown));
                    *e = self.cast_to(taken, ty);
                }
            }
        }
        let names = (1..=width).map(|i| format!("column{i}")).collect();
        Ok(BoundQuery { plan: Plan::Values { rows, types }, names })
    }

    fn values_types(&mut self, rows: &[Vec<Expr>], width: usize) -> Result<Vec<DataType>> {
        (0..width)
            .map(|c| {
                let mut common = DataType::Unknown;
                for row in rows {
                    let ty = row[c].ty();
                    common = crate::sql::cast::common_type(&common, &ty).ok_or_else(|| {
                        Error::sql("42804", format!("VALUES types {common} and {ty} cannot be matched"))
                    })?;
                }
                Ok(if common == DataType::Unknown { DataType::Text } else { common })
            })
            .collect()
    }

    /// ORDER BY (output names or positions only) and LIMIT over a set operation.
    fn apply_tail_by_name(&mut self, bound: BoundQuery, tail: &Tail) -> Result<BoundQuery> {
        let types = bound.types();
        let scope = Scope::new(
            bound
                .names
                .iter()
                .zip(&types)
                .map(|(n, t)| ScopeColumn { table: None, name: n.clone(), ty: t.clone(), hidden: false })
                .collect(),
        );
        let mut plan = bound.plan;
        if !tail.order_by.is_empty() {
            let mut keys = Vec::new();
            for item in tail.order_by {
                let expr = match ordinal(&item.expr, bound.names.len())? {
                    Some(i) => Expr::column(i, types[i].clone()),
                    None => self.bind_expr(&item.expr, &scope)?,
                };
                let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
                keys.push(SortKey { expr, desc, nulls_first: item.options.nulls_first.unwrap_or(desc) });
            }
            plan = Plan::Sort { input: Box::new(plan), keys };
        }
        plan = self.apply_limit(plan, tail)?;
        Ok(BoundQuery { plan, names: bound.names })
    }

    fn apply_limit(&mut self, plan: Plan, tail: &Tail) -> Result<Plan> {
        if tail.limit.is_none() && tail.offset.is_none() {
            return Ok(plan);
        }
        let empty = Scope::default();
        let bind_count = |b: &mut Self, e: Option<&ast::Expr>| -> Result<Option<Expr>> {
            e.map(|e| {
                let bound = b.bind_expr(e, &empty)?;
                Ok(b.cast_to(bound, &DataType::Int64))
            })
            .transpose()
        };
        let limit = bind_count(self, tail.limit)?;
        let offset = bind_count(self, tail.offset)?;
        Ok(Plan::Limit { input: Box::new(plan), limit, offset })
    }

    /// Binds one SELECT with the ORDER BY / LIMIT that apply to it.
    fn bind_select(&mut self, select: &ast::Select, tail: &Tail) -> Result<BoundQuery> {
        reject_unsupported(select)?;
        if let Some((function, args, column)) = select_list_function(select) {
            // `SELECT f(args) AS c` is `SELECT c FROM f(args) AS c`.
            let alias = ast::TableAlias { explicit: true, name: ast::Ident::new(&column), columns: vec![], at: None };
            let (plan, scope) = self.bind_table_function(&function, &args, false, Some(&alias))?;
            let mut select = select.clone();
            select.projection = vec![ast::SelectItem::ExprWithAlias {
                expr: ast::Expr::Identifier(ast::Ident::new(&column)),
                alias: ast::Ident::new(&column),
            }];
            return self.bind_select_over(&select, tail, plan, scope);
        }
        let (plan, scope) = self.bind_from(&select.from)?;
        self.bind_select_over(select, tail, plan, scope)
    }

    /// Binds the rest of a SELECT over its bound FROM.
    fn bind_select_over(
        &mut self,
        select: &ast::Select,
        tail: &Tail,
        mut plan: Plan,
        scope: Scope,
    ) -> Result<BoundQuery> {
        if let Some(predicate) = &select.selection {
            let predicate = self.bind_bool(predicate, &scope)?;
            plan = Plan::Filter { input: Box::new(plan), predicate };
        }
        let items = self.expand_projection(&select.projection, &scope)?;
        let mut agg_asts = Vec::new();
        let mut window_asts = Vec::new();
        for (e, _) in &items {
            collect_calls(e, &mut agg_asts, &mut window_asts);
        }
        if let Some(h) = &select.having {
            collect_calls(h, &mut agg_asts, &mut window_asts);
        }
        for o in tail.order_by {
            collect_calls(&o.expr, &mut agg_asts, &mut window_asts);
        }
        let group_by = match &select.group_by {
            ast::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs.clone(),
            _ => return Err(Error::NotSupported("GROUP BY ALL, ROLLUP, CUBE and GROUPING SETS".into())),
        };
        let grouped = !group_by.is_empty() || !agg_asts.is_empty() || select.having.is_some();
        if grouped {
            plan = self.bind_aggregate(plan, &scope, &group_by, &agg_asts, &items)?;
            if let Some(h) = &select.having {
                let predicate = self.bind_expr(h, &scope)?;
                let predicate = self.require_bool(predicate, "argument of HAVING")?;
                plan = Plan::Filter { input: Box::new(plan), predicate };
            }
        }
        if !window_asts.is_empty() {
            plan = self.bind_windows(plan, &scope, &window_asts)?;
        }
        let result = self.bind_projection(plan, &scope, &items, select, tail);
        self.agg = None;
        self.window = None;
        result
    }

    /// `*` and `t.*` expanded; each item with its output name.
    fn expand_projection(&mut self, projection: &[ast::SelectItem], scope: &Scope) -> Result<Vec<(ast::Expr, String)>> {
        let mut items = Vec::new();
        for item in projection {
            match item {
                ast::SelectItem::UnnamedExpr(e) => items.push((e.clone(), output_name(e))),
                ast::SelectItem::ExprWithAlias { expr, alias } => items.push((expr.clone(), ident_name(alias))),
                ast::SelectItem::Wildcard(_) => {
                    if scope.columns.is_empty() {
                        return Err(Error::sql("42601", "SELECT * with no tables specified is not valid"));
                    }
                    for c in scope.columns.iter().filter(|c| !c.hidden) {
                        items.push((column_ast(c), c.name.clone()));
                    }
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let table = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(name) => object_name(name)?,
                        other => return Err(Error::NotSupported(format!("wildcard {other}"))),
                    };
                    if !scope.has_table(&table) {
                        return Err(Error::sql("42P01", format!("missing FROM-clause entry for table \"{table}\"")));
                    }
                    for c in scope.columns.iter().filter(|c| c.table.as_deref() == Some(&table)) {
                        items.push((column_ast(c), c.name.clone()));
                    }
                }
                ast::SelectItem::ExprWithAliases { .. } => return Err(Error::NotSupported("multiple aliases".into())),
            }
        }
        Ok(items)
    }

    fn bind_aggregate(
        &mut self,
        input: Plan,
        scope: &Scope,
        group_by: &[ast::Expr],
        agg_asts: &[&ast::Function],
        items: &[(ast::Expr, String)],
    ) -> Result<Plan> {
        let mut ctx = AggContext::default();
        let mut groups = Vec::new();
        for g in group_by {
            // GROUP BY 2 and GROUP BY alias refer to output columns.
            let g = match ordinal(g, items.len())? {
                Some(i) => items[i].0.clone(),
                None => match g {
                    ast::Expr::Identifier(id) if scope.resolve(None, &ident_name(id))?.is_none() => items
                        .iter()
                        .find(|(_, name)| *name == ident_name(id))
                        .map(|(e, _)| e.clone())
                        .unwrap_or_else(|| g.clone()),
                    _ => g.clone(),
                },
            };
            let bound = self.bind_expr(&g, scope)?;
            ctx.group_columns.push(match &bound {
                Expr::Column { index, .. } => Some(*index),
                _ => None,
            });
            ctx.group_asts.push(g.to_string());
            ctx.group_types.push(bound.ty());
            groups.push(bound);
        }
        let mut aggs = Vec::new();
        for f in agg_asts {
            let call = self.bind_agg_call(f, scope)?;
            ctx.agg_asts.push(f.to_string());
            ctx.agg_types.push(call.ty.clone());
            aggs.push(call);
        }
        self.agg = Some(ctx);
        Ok(Plan::Aggregate { input: Box::new(input), group_by: groups, aggs })
    }

    fn bind_windows(&mut self, input: Plan, scope: &Scope, window_asts: &[&ast::Function]) -> Result<Plan> {
        let base = input.width();
        let mut calls = Vec::new();
        let mut ctx = WindowContext { base, ..WindowContext::default() };
        for f in window_asts {
            let call = self.bind_window_call(f, scope)?;
            ctx.asts.push(f.to_string());
            ctx.types.push(call.ty.clone());
            calls.push(call);
        }
        self.window = Some(ctx);
        Ok(Plan::Window { input: Box::new(input), calls })
    }

    fn bind_projection(
        &mut self,
        input: Plan,
        scope: &Scope,
        items: &[(ast::Expr, String)],
        select: &ast::Select,
        tail: &Tail,
    ) -> Result<BoundQuery> {
        let mut exprs = Vec::new();
        let mut names = Vec::new();
        for (e, name) in items {
            let bound = self.bind_expr(e, scope)?;
            let bound = if bound.ty() == DataType::Unknown { self.cast_to(bound, &DataType::Text) } else { bound };
            exprs.push(bound);
            names.push(name.clone());
        }
        let visible = exprs.len();
        let mut keys = Vec::new();
        for item in tail.order_by {
            let position = self.order_position(item, items, &names, scope)?;
            let index = match position {
                Some(i) => i,
                None => {
                    let bound = self.bind_expr(&item.expr, scope)?;
                    exprs.push(bound);
                    exprs.len() - 1
                }
            };
            let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
            keys.push(SortKey {
                expr: Expr::column(index, exprs[index].ty()),
                desc,
                nulls_first: item.options.nulls_first.unwrap_or(desc),
            });
        }
        let mut plan = Plan::Project { input: Box::new(input), exprs: exprs.clone() };
        match &select.distinct {
            None | Some(ast::Distinct::All) => {}
            Some(ast::Distinct::Distinct) => {
                if exprs.len() > visible {
                    return Err(Error::sql(
                        "42P10",
                        "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                    ));
                }
                plan = Plan::Distinct { input: Box::new(plan), on: None };
            }
            Some(ast::Distinct::On(on)) => {
                let proj_scope = Scope::new(
                    names
                        .iter()
                        .zip(&exprs)
                        .map(|(n, e)| ScopeColumn { table: None, name: n.clone(), ty: e.ty(), hidden: false })
                        .collect(),
                );
                let on = on
                    .iter()
                    .map(|e| self.distinct_on_key(e, items, &exprs, &proj_scope))
                    .collect::<Result<Vec<_>>>()?;
                if !keys.is_empty() {
                    plan = Plan::Sort { input: Box::new(plan), keys: keys.clone() };
                }
                plan = Plan::Distinct { input: Box::new(plan), on: Some(on) };
            }
        }
        if !keys.is_empty() && !matches!(plan, Plan::Distinct { on: Some(_), .. }) {
            plan = Plan::Sort { input: Box::new(plan), keys };
        }
        plan = self.apply_limit(plan, tail)?;
        if exprs.len() > visible {
            let types: Vec<DataType> = exprs.iter().map(Expr::ty).collect();
            let keep = (0..visible).map(|i| Expr::column(i, types[i].clone())).collect();
            plan = Plan::Project { input: Box::new(plan), exprs: keep };
        }
        Ok(BoundQuery { plan, names })
    }

    fn distinct_on_key(
        &mut self,
        e: &ast::Expr,
        items: &[(ast::Expr, String)],
        exprs: &[Expr],
        proj_scope: &Scope,
    ) -> Result<Expr> {
        if let Some(i) = ordinal(e, items.len())? {
            return Ok(Expr::column(i, exprs[i].ty()));
        }
        if let Some(i) = items.iter().position(|(ast_e, _)| ast_e.to_string() == e.to_string()) {
            return Ok(Expr::column(i, exprs[i].ty()));
        }
        self.bind_expr(e, proj_scope)
    }

    /// Which select item an ORDER BY item names, if it names one: a
    /// position, an output name, or the same expression.
    fn order_position(
        &mut self,
        item: &ast::OrderByExpr,
        items: &[(ast::Expr, String)],
        names: &[String],
        scope: &Scope,
    ) -> Result<Option<usize>> {
        if let Some(i) = ordinal(&item.expr, items.len())? {
            return Ok(Some(i));
        }
        if let ast::Expr::Identifier(id) = &item.expr {
            let name = ident_name(id);
            let matches: Vec<usize> = names.iter().enumerate().filter(|(_, n)| **n == name).map(|(i, _)| i).collect();
            if matches.len() == 1 {
                return Ok(Some(matches[0]));
            }
            if matches.len() > 1 && scope.resolve(None, &name)?.is_none() {
                return Err(Error::sql("42702", format!("ORDER BY \"{name}\" is ambiguous")));
            }
        }
        let text = item.expr.to_string();
        Ok(items.iter().position(|(e, _)| e.to_string() == text))
    }

    /// Binds FROM: a cross join of its items (the planner reorders).
    pub fn bind_from(&mut self, from: &[ast::TableWithJoins]) -> Result<(Plan, Scope)> {
        let mut result: Option<(Plan, Scope)> = None;
        for item in from {
            let (mut plan, mut scope) = self.bind_table_factor(&item.relation)?;
            for join in &item.joins {
                (plan, scope) = self.bind_join(plan, scope, join)?;
            }
            result = Some(match result {
                None => (plan, scope),
                Some((left, left_scope)) => (cross_join(left, plan), left_scope.join(scope)),
            });
        }
        Ok(result.unwrap_or_else(|| (Plan::Values { rows: vec![vec![]], types: vec![] }, Scope::default())))
    }

    fn bind_join(&mut self, left: Plan, left_scope: Scope, join: &ast::Join) -> Result<(Plan, Scope)> {
        use ast::JoinOperator as J;
        let (kind, constraint) = match &join.join_operator {
            J::Join(c) | J::Inner(c) => (JoinKind::Inner, c),
            J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, c),
            J::Right(c) | J::RightOuter(c) => (JoinKind::Right, c),
            J::FullOuter(c) => (JoinKind::Full, c),
            J::CrossJoin(c) => (JoinKind::Inner, c),
            other => return Err(Error::NotSupported(format!("join {other:?}"))),
        };
        let (right, mut right_scope) = self.bind_table_factor(&join.relation)?;
        let using: Vec<String> = match constraint {
            ast::JoinConstraint::Using(names) => names.iter().map(object_name).collect::<Result<_>>()?,
            ast::JoinConstraint::Natural => left_scope
                .columns
                .iter()
                .filter(|c| !c.hidden && right_scope.columns.iter().any(|r| !r.hidden && r.name == c.name))
                .map(|c| c.name.clone())
                .collect(),
            _ => vec![],
        };
        let left_width = left_scope.columns.len();
        let mut conditions = Vec::new();
        let mut merged = Vec::new();
        for name in &using {
            let l = left_scope.resolve(None, name)?.ok_or_else(|| missing_using(name))?;
            let r = right_scope.resolve(None, name)?.ok_or_else(|| missing_using(name))?;
            let le = Expr::column(l, left_scope.columns[l].ty.clone());
            let re = Expr::column(left_width + r, right_scope.columns[r].ty.clone());
            conditions.push(self.make_binary(crate::sql::ops::BinaryOp::Eq, le.clone(), re.clone())?);
            right_scope.columns[r].hidden = true;
            merged.push((name.clone(), l, le, re));
        }
        let scope = left_scope.join(right_scope);
        if let ast::JoinConstraint::On(on) = constraint {
            conditions.push(self.bind_bool(on, &scope)?);
        }
        let on = Expr::and_all(conditions);
        let plan = Plan::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            on,
            algo: JoinAlgo::NestedLoop,
            estimate: 0.0,
        };
        if matches!(kind, JoinKind::Right | JoinKind::Full) && !merged.is_empty() {
            return self.merge_using_columns(plan, scope, kind, merged);
        }
        Ok((plan, scope))
    }

    /// After a RIGHT or FULL join USING (…), each named column is one
    /// column that holds a value whichever side had the row: the right
    /// side's (RIGHT), or the first non-null of the two (FULL). The merged
    /// columns come first, as PostgreSQL lists them for `*`; the left copies
    /// stay reachable only qualified, like the right ones. (After an inner
    /// or LEFT join the left copy always holds the value, and serves.)
    fn merge_using_columns(
        &mut self,
        plan: Plan,
        scope: Scope,
        kind: JoinKind,
        merged: Vec<(String, usize, Expr, Expr)>,
    ) -> Result<(Plan, Scope)> {
        let mut exprs = Vec::with_capacity(merged.len() + scope.columns.len());
        let mut columns = Vec::with_capacity(exprs.capacity());
        let mut joined = scope.columns;
        for (name, l, le, re) in merged {
            let ty = crate::sql::cast::common_type(&le.ty(), &re.ty()).unwrap_or_else(|| le.ty());
            let re = self.cast_to(re, &ty);
            exprs.push(match kind {
                JoinKind::Right => re,
                _ => Expr::Coalesce { args: vec![self.cast_to(le, &ty), re], ty: ty.clone() },
            });
            columns.push(ScopeColumn { table: None, name, ty, hidden: false });
            joined[l].hidden = true;
        }
        exprs.extend(joined.iter().enumerate().map(|(i, c)| Expr::column(i, c.ty.clone())));
        columns.extend(joined);
        Ok((Plan::Project { input: Box::new(plan), exprs }, Scope::new(columns)))
    }

    fn bind_table_factor(&mut self, factor: &ast::TableFactor) -> Result<(Plan, Scope)> {
        match factor {
            ast::TableFactor::Table { name, alias, args: None, .. } => {
                let name = object_name(name)?;
                let (plan, names) = self.bind_relation(&name)?;
                let alias_name = alias.as_ref().map(|a| ident_name(&a.name)).unwrap_or(name);
                let names = apply_column_aliases(names, alias.as_ref())?;
                let scope = Scope::of_table(&alias_name, &names, &plan.output_types());
                Ok((plan, scope))
            }
            ast::TableFactor::Table { name, alias, args: Some(args), with_ordinality, .. } => {
                self.bind_table_function(name, &args.args, *with_ordinality, alias.as_ref())
            }
            ast::TableFactor::Function { lateral: false, name, args, with_ordinality, alias } => {
                self.bind_table_function(name, args, *with_ordinality, alias.as_ref())
            }
            ast::TableFactor::UNNEST { alias, array_exprs, with_offset: false, with_ordinality, .. } => {
                let args: Vec<ast::FunctionArg> = array_exprs
                    .iter()
                    .map(|e| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e.clone())))
                    .collect();
                let name = ast::ObjectName::from(vec![ast::Ident::new("unnest")]);
                self.bind_table_function(&name, &args, *with_ordinality, alias.as_ref())
            }
            ast::TableFactor::Derived { lateral: false, subquery, alias, .. } => {
                let bound = self.bind_query(subquery)?;
                let alias_name = alias.as_ref().map(|a| ident_name(&a.name)).unwrap_or_else(|| "subquery".into());
                let names = apply_column_aliases(bound.names.clone(), alias.as_ref())?;
                let scope = Scope::of_table(&alias_name, &names, &bound.types());
                Ok((bound.plan, scope))
            }
            ast::TableFactor::NestedJoin { table_with_joins, alias: None } => {
                let (mut plan, mut scope) = self.bind_table_factor(&table_with_joins.relation)?;
                for join in &table_with_joins.joins {
                    (plan, scope) = self.bind_join(plan, scope, join)?;
                }
                Ok((plan, scope))
            }
            other => Err(Error::NotSupported(format!("FROM item {other}"))),
        }
    }

    /// A table, view or CTE by name: its plan and column names.
    fn bind_relation(&mut self, name: &str) -> Result<(Plan, Vec<String>)> {
        for level in self.ctes.iter().rev() {
            if let Some(cte) = level.get(name) {
                return Ok((cte.query.plan.clone(), cte.query.names.clone()));
            }
        }
        if let Some(relation) = crate::sql::system_catalog::relation(name, self.schema, self.view_columns) {
            return Ok(relation);
        }
        if let Some(view) = self.schema.views.get(name).cloned() {
            let query = super::super::session::parse_single_query(&view.query)?;
            // A view sees no enclosing query.
            let saved_outer = std::mem::take(&mut self.outer);
            let saved_ctes = std::mem::take(&mut self.ctes);
            let bound = self.bind_query(&query);
            self.outer = saved_outer;
            self.ctes = saved_ctes;
            let bound = bound?;
            let names = if view.columns.is_empty() { bound.names } else { view.columns.clone() };
            return Ok((bound.plan, names));
        }
        let table = self
            .schema
            .table(name)
            .ok_or_else(|| Error::sql("42P01", format!("relation \"{name}\" does not exist")))?
            .clone();
        let names = table.columns.iter().map(|c| c.name.clone()).collect();
        Ok((Plan::Scan { table, access: Access::Full, filter: None, estimate: 0.0 }, names))
    }

    /// A set-returning function in FROM: `generate_series`, `unnest` or
    /// `pg_partition_ancestors`, optionally WITH ORDINALITY. Its arguments
    /// may name columns of enclosing queries (not of FROM items beside it).
    fn bind_table_function(
        &mut self,
        name: &ast::ObjectName,
        args: &[ast::FunctionArg],
        ordinality: bool,
        alias: Option<&ast::TableAlias>,
    ) -> Result<(Plan, Scope)> {
        let fname = object_name(name)?;
        let mut bound = Vec::with_capacity(args.len());
        for a in args {
            let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = a else {
                return Err(Error::NotSupported(format!("named arguments to {fname}")));
            };
            bound.push(self.bind_expr(e, &Scope::default())?);
        }
        let (function, args, output) = match fname.as_str() {
            "generate_series" => self.series_arguments(bound)?,
            "unnest" => self.unnest_argument(bound)?,
            "pg_partition_ancestors" => {
                let [relation] = <[Expr; 1]>::try_from(bound)
                    .map_err(|_| Error::sql("42883", "pg_partition_ancestors takes one argument"))?;
                let oid = crate::sql::system_catalog::to_regclass(relation, self.schema)?;
                (TableFunction::PartitionAncestors, vec![oid], DataType::Int64)
            }
            other => return Err(Error::NotSupported(format!("table function {other}"))),
        };
        // A scalar function's column takes the table alias's name.
        let table = alias.map(|a| ident_name(&a.name)).unwrap_or_else(|| fname.clone());
        let mut names = vec![table.clone()];
        let mut types = vec![output];
        if ordinality {
            names.push("ordinality".into());
            types.push(DataType::Int64);
        }
        let names = apply_column_aliases(names, alias)?;
        let scope = Scope::of_table(&table, &names, &types);
        Ok((Plan::TableFunction { function, args, ordinality, types }, scope))
    }

    /// `generate_series(start, stop [, step])` over integers: integer
    /// arguments give an integer series, bigint ones a bigint series, as in
    /// PostgreSQL.
    fn series_arguments(&mut self, args: Vec<Expr>) -> Result<(TableFunction, Vec<Expr>, DataType)> {
        if !(2..=3).contains(&args.len()) {
            return Err(Error::sql("42883", "generate_series takes (start, stop [, step])"));
        }
        let mut output = DataType::Int32;
        let mut cast = Vec::with_capacity(args.len());
        for arg in args {
            match arg.ty() {
                DataType::Int16 | DataType::Int32 | DataType::Unknown => {}
                DataType::Int64 => output = DataType::Int64,
                other => {
                    return Err(Error::NotSupported(format!("generate_series over {other} (integers only)")));
                }
            }
            cast.push(self.cast_to(arg, &DataType::Int64));
        }
        Ok((TableFunction::GenerateSeries, cast, output))
    }

    /// `unnest(array)`: one row per element, typed as the elements.
    fn unnest_argument(&mut self, args: Vec<Expr>) -> Result<(TableFunction, Vec<Expr>, DataType)> {
        let [array] =
            <[Expr; 1]>::try_from(args).map_err(|_| Error::NotSupported("unnest of several arrays".into()))?;
        match array.ty() {
            DataType::Array(element) => Ok((TableFunction::Unnest, vec![array], *element)),
            DataType::Unknown => Err(Error::sql("42804", "could not determine the element type of unnest's argument")),
            other => Err(Error::sql("42883", format!("function unnest({other}) does not exist"))),
        }
    }
}

/// The set-returning function a FROM-less SELECT's only item calls, with
/// its arguments and output column name: PostgreSQL runs such a call once
/// per row it returns (`SELECT generate_series(1, 3)` gives three rows).
fn select_list_function(select: &ast::Select) -> Option<(ast::ObjectName, Vec<ast::FunctionArg>, String)> {
    let [item] = select.projection.as_slice() else { return None };
    let (expr, alias) = match item {
        ast::SelectItem::UnnamedExpr(e) => (e, None),
        ast::SelectItem::ExprWithAlias { expr, alias } => (expr, Some(ident_name(alias))),
        _ => return None,
    };
    let ast::Expr::Function(f) = expr else { return None };
    let name = object_name(&f.name).ok()?;
    let set_returning = matches!(name.as_str(), "generate_series" | "unnest" | "pg_partition_ancestors");
    if !select.from.is_empty() || !set_returning || f.over.is_some() || f.filter.is_some() {
        return None;
    }
    let ast::FunctionArguments::List(list) = &f.args else { return None };
    Some((f.name.clone(), list.args.clone(), alias.unwrap_or(name)))
}

fn missing_using(name: &str) -> Error {
    Error::sql("42703", format!("column \"{name}\" specified in USING clause does not exist in both tables"))
}

fn cross_join(left: Plan, right: Plan) -> Plan {
    Plan::Join {
        left: Box::new(left),
        right: Box::new(right),
        kind: JoinKind::Inner,
        on: None,
        algo: JoinAlgo::NestedLoop,
        estimate: 0.0,
    }
}

fn apply_column_aliases(mut names: Vec<String>, alias: Option<&ast::TableAlias>) -> Result<Vec<String>> {
    if let Some(alias) = alias {
        if alias.columns.len() > names.len() {
            return Err(Error::sql("42P10", "table has fewer columns than aliases given"));
        }
        for (name, a) in names.iter_mut().zip(&alias.columns) {
            *name = ident_name(&a.name);
        }
    }
    Ok(names)
}

fn rename(mut bound: BoundQuery, columns: &[ast::TableAliasColumnDef]) -> Result<BoundQuery> {
    if columns.len() > bound.names.len() {
        return Err(Error::sql("42P10", "WITH query has fewer columns than names given"));
    }
    for (name, c) in bound.names.iter_mut().zip(columns) {
        *name = ident_name(&c.name);
    }
    Ok(bound)
}

fn tail_of(query: &ast::Query) -> Result<Tail<'_>> {
    let order_by: &[ast::OrderByExpr] = match &query.order_by {
        None => &[],
        Some(ast::OrderBy { kind: ast::OrderByKind::Expressions(items), .. }) => items,
        Some(_) => return Err(Error::NotSupported("ORDER BY ALL".into())),
    };
    let (mut limit, mut offset) = match &query.limit_clause {
        None => (None, None),
        Some(ast::LimitClause::LimitOffset { limit, offset, limit_by }) if limit_by.is_empty() => {
            (limit.as_ref(), offset.as_ref().map(|o| &o.value))
        }
        Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => (Some(limit), Some(offset)),
        Some(other) => return Err(Error::NotSupported(format!("{other}"))),
    };
    if let Some(fetch) = &query.fetch {
        if fetch.with_ties || fetch.percent {
            return Err(Error::NotSupported("FETCH … WITH TIES / PERCENT".into()));
        }
        limit = fetch.quantity.as_ref();
    }
    if matches!(limit, Some(ast::Expr::Value(v)) if matches!(v.value, ast::Value::Null)) {
        limit = None;
    }
    offset = offset.filter(|o| !matches!(o, ast::Expr::Value(v) if matches!(v.value, ast::Value::Null)));
    Ok(Tail { order_by, limit, offset })
}

/// `ORDER BY 2` / `GROUP BY 1`: a 0-based position, if `e` is an integer literal.
fn ordinal(e: &ast::Expr, count: usize) -> Result<Option<usize>> {
    if let ast::Expr::Value(v) = e
        && let ast::Value::Number(n, _) = &v.value
        && let Ok(i) = n.parse::<usize>()
    {
        if i == 0 || i > count {
            return Err(Error::sql("42P10", format!("position {i} is not in select list")));
        }
        return Ok(Some(i - 1));
    }
    Ok(None)
}

/// The output name PostgreSQL gives an unaliased select item.
fn output_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(id) => ident_name(id),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
        ast::Expr::Function(f) => object_name(&f.name).unwrap_or_else(|_| "?column?".into()),
        ast::Expr::Cast { expr, data_type, .. } => match expr.as_ref() {
            ast::Expr::Value(_) => types_name(data_type),
            inner => output_name(inner),
        },
        ast::Expr::Nested(inner) => output_name(inner),
        ast::Expr::Case { .. } => "case".into(),
        ast::Expr::Exists { .. } => "exists".into(),
        ast::Expr::Subquery(q) => match q.body.as_ref() {
            ast::SetExpr::Select(s) if s.projection.len() == 1 => match &s.projection[0] {
                ast::SelectItem::UnnamedExpr(e) => output_name(e),
                ast::SelectItem::ExprWithAlias { alias, .. } => ident_name(alias),
                _ => "?column?".into(),
            },
            _ => "?column?".into(),
        },
        _ => "?column?".into(),
    }
}

fn types_name(ty: &ast::DataType) -> String {
    super::types::data_type(ty)
        .map(|t| match t {
            DataType::Int32 => "int4".into(),
            DataType::Int64 => "int8".into(),
            DataType::Int16 => "int2".into(),
            DataType::Float64 => "float8".into(),
            DataType::Float32 => "float4".into(),
            DataType::Bool => "bool".into(),
            DataType::Varchar(_) => "varchar".into(),
            DataType::Char(_) => "bpchar".into(),
            DataType::Timestamp => "timestamp".into(),
            DataType::TimestampTz => "timestamptz".into(),
            other => other.sql_name(),
        })
        .unwrap_or_else(|_| "?column?".into())
}

fn column_ast(c: &ScopeColumn) -> ast::Expr {
    let column = ast::Ident::with_quote('"', c.name.clone());
    match &c.table {
        Some(t) => ast::Expr::CompoundIdentifier(vec![ast::Ident::with_quote('"', t.clone()), column]),
        None => ast::Expr::Identifier(column),
    }
}

fn is_self_referencing(query: &ast::Query, name: &str) -> bool {
    let text = query.to_string().to_lowercase();
    text.split(|c: char| !c.is_alphanumeric() && c != '_').any(|word| word == name)
}

fn reject_unsupported(select: &ast::Select) -> Result<()> {
    if select.into.is_some() {
        return Err(Error::NotSupported("SELECT INTO".into()));
    }
    if select.top.is_some()
        || !select.lateral_views.is_empty()
        || select.qualify.is_some()
        || !select.named_window.is_empty()
    {
        return Err(Error::NotSupported("TOP, LATERAL VIEW, QUALIFY and WINDOW clauses".into()));
    }
    Ok(())
}
