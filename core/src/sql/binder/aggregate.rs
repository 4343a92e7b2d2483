//! Aggregate and window calls: finding them in a SELECT, binding them, and
//! binding the expressions above them (which see group keys, aggregate
//! results and window results as columns).

use sqlparser::ast;

use super::scope::{Scope, ScopeColumn};
use super::{Binder, object_name};
use crate::sql::expr::Expr;
use crate::sql::plan::{AggCall, AggFunc, Frame, FrameBound, SortKey, WindowCall, WindowFunc};
use crate::sql::value::DataType;
use crate::{Error, Result};

/// While binding above an Aggregate node: what its output columns are.
#[derive(Debug, Clone, Default)]
pub struct AggContext {
    /// Per group key: the FROM-scope column it is, if it is a plain column.
    pub group_columns: Vec<Option<usize>>,
    pub group_asts: Vec<String>,
    pub group_types: Vec<DataType>,
    pub agg_asts: Vec<String>,
    pub agg_types: Vec<DataType>,
}

/// While binding above a Window node: where its results are.
#[derive(Debug, Clone, Default)]
pub struct WindowContext {
    /// Output position of the first window result.
    pub base: usize,
    pub asts: Vec<String>,
    pub types: Vec<DataType>,
}

/// Whether `name` is an aggregate function.
pub fn aggregate_func(name: &str) -> Option<AggFunc> {
    Some(match name {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "avg" => AggFunc::Avg,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        "string_agg" => AggFunc::StringAgg,
        "array_agg" => AggFunc::ArrayAgg,
        "bool_and" | "every" => AggFunc::BoolAnd,
        "bool_or" => AggFunc::BoolOr,
        "bit_and" => AggFunc::BitAnd,
        "bit_or" => AggFunc::BitOr,
        "stddev" | "stddev_samp" => AggFunc::StddevSamp,
        "stddev_pop" => AggFunc::StddevPop,
        "variance" | "var_samp" => AggFunc::VarSamp,
        "var_pop" => AggFunc::VarPop,
        _ => return None,
    })
}

fn function_name(f: &ast::Function) -> String {
    object_name(&f.name).unwrap_or_default()
}

/// Collects the aggregate calls (outside subqueries and not windowed) and
/// the window calls in `e`, in order of appearance, without duplicates.
pub fn collect_calls<'e>(e: &'e ast::Expr, aggs: &mut Vec<&'e ast::Function>, windows: &mut Vec<&'e ast::Function>) {
    match e {
        ast::Expr::Function(f) => {
            let is_agg = aggregate_func(&function_name(f)).is_some();
            if f.over.is_some() {
                if !windows.iter().any(|w| w.to_string() == f.to_string()) {
                    windows.push(f);
                }
            } else if is_agg {
                if !aggs.iter().any(|a| a.to_string() == f.to_string()) {
                    aggs.push(f);
                }
                return;
            }
            for arg in function_args(f) {
                collect_calls(arg, aggs, windows);
            }
            if let Some(ast::WindowType::WindowSpec(spec)) = &f.over {
                for p in &spec.partition_by {
                    collect_calls(p, aggs, windows);
                }
                for o in &spec.order_by {
                    collect_calls(&o.expr, aggs, windows);
                }
            }
        }
        ast::Expr::Subquery(_) | ast::Expr::Exists { .. } => {}
        ast::Expr::In { expr, target: ast::InTarget::Subquery(_), .. } => collect_calls(expr, aggs, windows),
        other => {
            for child in ast_children(other) {
                collect_calls(child, aggs, windows);
            }
        }
    }
}

/// The plain expression arguments of a call.
pub fn function_args(f: &ast::Function) -> Vec<&ast::Expr> {
    match &f.args {
        ast::FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
                ast::FunctionArg::Named { arg: ast::FunctionArgExpr::Expr(e), .. } => Some(e),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

/// Sub-expressions of the expression kinds aggregates can hide in.
fn ast_children(e: &ast::Expr) -> Vec<&ast::Expr> {
    use ast::Expr as E;
    match e {
        E::BinaryOp { left, right, .. } => vec![left, right],
        E::UnaryOp { expr, .. }
        | E::Nested(expr)
        | E::IsNull(expr)
        | E::IsNotNull(expr)
        | E::IsTrue(expr)
        | E::IsNotTrue(expr)
        | E::IsFalse(expr)
        | E::IsNotFalse(expr)
        | E::IsUnknown(expr)
        | E::IsNotUnknown(expr)
        | E::Cast { expr, .. }
        | E::Extract { expr, .. }
        | E::Ceil { expr, .. }
        | E::Floor { expr, .. } => vec![expr],
        E::IsDistinctFrom(a, b) | E::IsNotDistinctFrom(a, b) => vec![a, b],
        E::Between { expr, low, high, .. } => vec![expr, low, high],
        E::In { expr, target: ast::InTarget::List(list), .. } => std::iter::once(&**expr).chain(list).collect(),
        E::Like { expr, pattern, .. } | E::ILike { expr, pattern, .. } => vec![expr, pattern],
        E::Case { operand, conditions, else_result, .. } => {
            let mut out: Vec<&ast::Expr> = operand.iter().map(|o| &**o).collect();
            for c in conditions {
                out.push(&c.condition);
                out.push(&c.result);
            }
            out.extend(else_result.iter().map(|e| &**e));
            out
        }
        E::Substring { expr, substring_from, substring_for, .. } => std::iter::once(&**expr)
            .chain(substring_from.iter().map(|e| &**e))
            .chain(substring_for.iter().map(|e| &**e))
            .collect(),
        E::Position { expr, r#in } => vec![expr, r#in],
        E::Trim { expr, trim_what, .. } => std::iter::once(&**expr).chain(trim_what.iter().map(|e| &**e)).collect(),
        E::AnyOp { left, right, .. } | E::AllOp { left, right, .. } => vec![left, right],
        _ => vec![],
    }
}

impl Binder<'_> {
    /// In aggregate or window context, binds `e` to a column of the
    /// Aggregate / Window output if it is a group key, an aggregate call or
    /// a window call; errors for columns that are neither grouped nor
    /// aggregated.
    pub(super) fn bind_grouped(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Option<Expr>> {
        if let (Some(window), ast::Expr::Function(f)) = (&self.window, e)
            && f.over.is_some()
        {
            let text = f.to_string();
            let k = window.asts.iter().position(|a| *a == text).ok_or_else(window_misplaced)?;
            return Ok(Some(Expr::column(window.base + k, window.types[k].clone())));
        }
        let Some(agg) = &self.agg else { return Ok(None) };
        let text = e.to_string();
        if let Some(i) = agg.group_asts.iter().position(|g| *g == text) {
            return Ok(Some(Expr::column(i, agg.group_types[i].clone())));
        }
        if let ast::Expr::Function(f) = e
            && f.over.is_none()
            && let Some(j) = agg.agg_asts.iter().position(|a| *a == text)
        {
            let n = agg.group_asts.len();
            return Ok(Some(Expr::column(n + j, agg.agg_types[j].clone())));
        }
        let column = match e {
            ast::Expr::Identifier(ident) => scope.resolve(None, &super::ident_name(ident))?,
            ast::Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let n = parts.len();
                scope.resolve(Some(&super::ident_name(&parts[n - 2])), &super::ident_name(&parts[n - 1]))?
            }
            _ => return Ok(None),
        };
        let Some(c) = column else { return Ok(None) };
        match agg.group_columns.iter().position(|g| *g == Some(c)) {
            Some(i) => Ok(Some(Expr::column(i, agg.group_types[i].clone()))),
            None => Err(Error::sql(
                "42803",
                format!("column \"{}\" must appear in the GROUP BY clause or be used in an aggregate function", e),
            )),
        }
    }

    /// A column reference to FROM-scope column `index`, seen from the
    /// current context (aggregates hide ungrouped columns).
    pub(super) fn local_column(&mut self, index: usize, scope: &Scope) -> Result<Expr> {
        Ok(Expr::column(index, scope.columns[index].ty.clone()))
    }

    /// The scope of the rows an expression bound now is evaluated on (what
    /// a correlated subquery's outer references see).
    pub(super) fn output_scope(&self, scope: &Scope) -> Scope {
        let Some(agg) = &self.agg else {
            let mut out = scope.clone();
            if let Some(window) = &self.window {
                out.columns.extend(window.types.iter().map(|ty| unnamed(ty.clone())));
            }
            return out;
        };
        let mut columns: Vec<ScopeColumn> = agg
            .group_columns
            .iter()
            .zip(&agg.group_types)
            .map(|(c, ty)| match c {
                Some(c) => ScopeColumn { ty: ty.clone(), ..scope.columns[*c].clone() },
                None => unnamed(ty.clone()),
            })
            .collect();
        columns.extend(agg.agg_types.iter().map(|ty| unnamed(ty.clone())));
        if let Some(window) = &self.window {
            columns.extend(window.types.iter().map(|ty| unnamed(ty.clone())));
        }
        Scope::new(columns)
    }

    /// Binds an aggregate call's arguments against the FROM scope.
    pub(super) fn bind_agg_call(&mut self, f: &ast::Function, scope: &Scope) -> Result<AggCall> {
        let name = function_name(f);
        let mut func =
            aggregate_func(&name).ok_or_else(|| Error::sql("42883", format!("function {name} does not exist")))?;
        let (distinct, star, clauses) = match &f.args {
            ast::FunctionArguments::List(list) => (
                matches!(list.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct)),
                list.args.iter().any(|a| matches!(a, ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard))),
                list.clauses.as_slice(),
            ),
            _ => (false, false, &[][..]),
        };
        if star {
            func = AggFunc::CountStar;
        }
        let mut args = Vec::new();
        for a in function_args(f) {
            let bound = self.bind_expr(a, scope)?;
            args.push(if bound.ty() == DataType::Unknown { self.cast_to(bound, &DataType::Text) } else { bound });
        }
        let filter = f.filter.as_ref().map(|e| self.bind_bool(e, scope)).transpose()?;
        let mut order_by = Vec::new();
        for clause in clauses {
            if let ast::FunctionArgumentClause::OrderBy(items) = clause {
                for item in items {
                    order_by.push(self.bind_sort_key(item, scope)?);
                }
            }
        }
        let ty = agg_type(func, &args, &name)?;
        Ok(AggCall { func, args, distinct, filter, order_by, ty })
    }

    pub(super) fn bind_sort_key(&mut self, item: &ast::OrderByExpr, scope: &Scope) -> Result<SortKey> {
        let expr = self.bind_expr(&item.expr, scope)?;
        let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
        Ok(SortKey { expr, desc, nulls_first: item.options.nulls_first.unwrap_or(desc) })
    }

    /// Binds a window call (arguments, partition and order) against the
    /// rows under the Window node.
    pub(super) fn bind_window_call(&mut self, f: &ast::Function, scope: &Scope) -> Result<WindowCall> {
        let name = function_name(f);
        let spec = match &f.over {
            Some(ast::WindowType::WindowSpec(spec)) => spec,
            _ => return Err(Error::NotSupported("named windows".into())),
        };
        if f.filter.is_some() {
            return Err(Error::NotSupported("FILTER on a window function".into()));
        }
        let func = match name.as_str() {
            "row_number" => WindowFunc::RowNumber,
            "rank" => WindowFunc::Rank,
            "dense_rank" => WindowFunc::DenseRank,
            "percent_rank" => WindowFunc::PercentRank,
            "cume_dist" => WindowFunc::CumeDist,
            "ntile" => WindowFunc::Ntile,
            "lag" => WindowFunc::Lag,
            "lead" => WindowFunc::Lead,
            "first_value" => WindowFunc::FirstValue,
            "last_value" => WindowFunc::LastValue,
            "nth_value" => WindowFunc::NthValue,
            other => match aggregate_func(other) {
                Some(agg) => WindowFunc::Aggregate(agg),
                None => return Err(Error::sql("42883", format!("function {other} is not a window function"))),
            },
        };
        let star = matches!(&f.args, ast::FunctionArguments::List(l)
            if l.args.iter().any(|a| matches!(a, ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard))));
        let func = if star { WindowFunc::Aggregate(AggFunc::CountStar) } else { func };
        let mut args = Vec::new();
        for a in function_args(f) {
            args.push(self.bind_expr(a, scope)?);
        }
        let partition_by = spec.partition_by.iter().map(|p| self.bind_expr(p, scope)).collect::<Result<Vec<_>>>()?;
        let order_by = spec.order_by.iter().map(|o| self.bind_sort_key(o, scope)).collect::<Result<Vec<_>>>()?;
        let frame = window_frame(spec.window_frame.as_ref(), !order_by.is_empty())?;
        let ty = match &func {
            WindowFunc::RowNumber | WindowFunc::Rank | WindowFunc::DenseRank | WindowFunc::Ntile => DataType::Int64,
            WindowFunc::PercentRank | WindowFunc::CumeDist => DataType::Float64,
            WindowFunc::Aggregate(agg) => agg_type(*agg, &args, &name)?,
            _ => args.first().map(Expr::ty).ok_or_else(|| Error::sql("42883", format!("{name} needs an argument")))?,
        };
        Ok(WindowCall { func, args, partition_by, order_by, frame, ty })
    }

    /// Binds a function call outside aggregate/window positions.
    pub(super) fn bind_function(&mut self, f: &ast::Function, scope: &Scope) -> Result<Expr> {
        let name = function_name(f);
        if f.over.is_some() {
            return Err(window_misplaced());
        }
        if aggregate_func(&name).is_some() {
            return Err(Error::sql("42803", format!("aggregate function {name} is not allowed here")));
        }
        if let ast::FunctionArguments::Subquery(query) = &f.args {
            if name != "array" {
                return Err(Error::NotSupported(format!("a subquery as the argument list of {name}")));
            }
            return self.bind_subquery(query, crate::sql::expr::SubqueryKind::Array, scope);
        }
        let mut args = Vec::new();
        for a in function_args(f) {
            args.push(self.bind_expr(a, scope)?);
        }
        match name.as_str() {
            "coalesce" => {
                let (args, ty) = self.unify_all(args, "COALESCE")?;
                Ok(Expr::Coalesce { args, ty })
            }
            "nullif" if args.len() == 2 => {
                let mut it = args.into_iter();
                let (l, r) = (it.next().unwrap_or_else(null), it.next().unwrap_or_else(null));
                let (l, r) = self.unify(l, r, "NULLIF")?;
                let ty = l.ty();
                Ok(Expr::NullIf { left: Box::new(l), right: Box::new(r), ty })
            }
            _ if crate::sql::system_catalog::is_catalog_function(&name) => {
                crate::sql::system_catalog::bind_function(&name, args, self.schema)
            }
            "nextval" | "currval" | "setval" | "lastval" => {
                let args = args
                    .into_iter()
                    .enumerate()
                    .map(|(i, a)| self.cast_to(a, if i == 0 { &DataType::Text } else { &DataType::Int64 }))
                    .collect::<Vec<_>>();
                Ok(Expr::Function { name, args, ty: DataType::Int64 })
            }
            _ => self.make_function(&name, args),
        }
    }
}

fn null() -> Expr {
    Expr::Literal(crate::sql::value::Value::Null, DataType::Unknown)
}

fn window_misplaced() -> Error {
    Error::sql("42P20", "window functions are not allowed here")
}

fn unnamed(ty: DataType) -> ScopeColumn {
    ScopeColumn { table: None, name: "?column?".into(), ty, hidden: true }
}

/// The result type of an aggregate over `args`.
pub fn agg_type(func: AggFunc, args: &[Expr], name: &str) -> Result<DataType> {
    let arg = args.first().map(Expr::ty);
    let need = || Error::sql("42883", format!("function {name}() needs an argument"));
    Ok(match func {
        AggFunc::CountStar | AggFunc::Count => DataType::Int64,
        AggFunc::Sum => match arg.ok_or_else(need)? {
            DataType::Int16 | DataType::Int32 => DataType::Int64,
            DataType::Int64 | DataType::Numeric(_) => DataType::Numeric(None),
            DataType::Float32 | DataType::Float64 => DataType::Float64,
            DataType::Interval => DataType::Interval,
            other => return Err(Error::sql("42883", format!("function sum({other}) does not exist"))),
        },
        AggFunc::Avg | AggFunc::StddevSamp | AggFunc::StddevPop | AggFunc::VarSamp | AggFunc::VarPop => {
            match arg.ok_or_else(need)? {
                t if t.is_integer() => DataType::Numeric(None),
                DataType::Numeric(_) => DataType::Numeric(None),
                DataType::Float32 | DataType::Float64 => DataType::Float64,
                DataType::Interval if func == AggFunc::Avg => DataType::Interval,
                other => return Err(Error::sql("42883", format!("function {name}({other}) does not exist"))),
            }
        }
        AggFunc::Min | AggFunc::Max | AggFunc::BitAnd | AggFunc::BitOr => arg.ok_or_else(need)?,
        AggFunc::StringAgg => DataType::Text,
        AggFunc::ArrayAgg => DataType::Array(Box::new(arg.ok_or_else(need)?)),
        AggFunc::BoolAnd | AggFunc::BoolOr => DataType::Bool,
    })
}

fn frame_bound(bound: &ast::WindowFrameBound) -> Result<FrameBound> {
    let offset = |e: &ast::Expr| -> Result<i64> {
        match e {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => n.parse().map_err(|_| Error::NotSupported(format!("frame offset {n}"))),
                other => Err(Error::NotSupported(format!("frame offset {other}"))),
            },
            other => Err(Error::NotSupported(format!("frame offset {other}"))),
        }
    };
    Ok(match bound {
        ast::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
        ast::WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
        ast::WindowFrameBound::Preceding(Some(e)) => FrameBound::Preceding(offset(e)?),
        ast::WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
        ast::WindowFrameBound::Following(Some(e)) => FrameBound::Following(offset(e)?),
    })
}

fn window_frame(frame: Option<&ast::WindowFrame>, ordered: bool) -> Result<Frame> {
    let Some(frame) = frame else {
        return Ok(Frame {
            rows: false,
            start: FrameBound::UnboundedPreceding,
            end: if ordered { FrameBound::CurrentRow } else { FrameBound::UnboundedFollowing },
        });
    };
    let rows = match frame.units {
        ast::WindowFrameUnits::Rows => true,
        ast::WindowFrameUnits::Range => false,
        ast::WindowFrameUnits::Groups => return Err(Error::NotSupported("GROUPS frames".into())),
    };
    let start = frame_bound(&frame.start_bound)?;
    let end = frame.end_bound.as_ref().map(frame_bound).transpose()?.unwrap_or(FrameBound::CurrentRow);
    if !rows
        && (matches!(start, FrameBound::Preceding(_) | FrameBound::Following(_))
            || matches!(end, FrameBound::Preceding(_) | FrameBound::Following(_)))
    {
        return Err(Error::NotSupported("RANGE frames with offsets".into()));
    }
    Ok(Frame { rows, start, end })
}
