//! Binding expressions: names to columns, literals to values, operators and
//! functions to typed nodes with the implicit casts PostgreSQL applies.

use std::sync::Arc;

use sqlparser::ast;

use super::scope::Scope;
use super::{Binder, ident_name, types};
use crate::sql::cast::common_type;
use crate::sql::expr::{Expr, Subquery, SubqueryKind};
use crate::sql::ops::{self, BinaryOp, UnaryOp};
use crate::sql::value::{DataType, Interval, Value};
use crate::sql::{cast, functions};
use crate::{Error, Result};

impl Binder<'_> {
    /// Binds `e` against `scope` (and the enclosing queries' scopes).
    pub fn bind_expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        if let Some(bound) = self.bind_grouped(e, scope)? {
            return Ok(bound);
        }
        match e {
            ast::Expr::Identifier(ident) => self.bind_column(None, &ident_name(ident), scope),
            ast::Expr::CompoundIdentifier(parts) => self.bind_compound(parts, scope),
            ast::Expr::Value(v) => self.bind_value(&v.value),
            ast::Expr::Nested(inner) => self.bind_expr(inner, scope),
            ast::Expr::Collate { expr, collation } => {
                byte_order_collation(collation)?;
                self.bind_expr(expr, scope)
            }
            ast::Expr::BinaryOp { left, op, right } => self.bind_binary_ast(left, op, right, scope),
            ast::Expr::UnaryOp { op, expr } => self.bind_unary(*op, expr, scope),
            ast::Expr::IsNull(x) => Ok(Expr::IsNull { expr: Box::new(self.bind_expr(x, scope)?), negated: false }),
            ast::Expr::IsNotNull(x) => Ok(Expr::IsNull { expr: Box::new(self.bind_expr(x, scope)?), negated: true }),
            ast::Expr::IsTrue(x) => self.bind_is_bool(x, true, false, scope),
            ast::Expr::IsNotTrue(x) => self.bind_is_bool(x, true, true, scope),
            ast::Expr::IsFalse(x) => self.bind_is_bool(x, false, false, scope),
            ast::Expr::IsNotFalse(x) => self.bind_is_bool(x, false, true, scope),
            ast::Expr::IsUnknown(x) => {
                let inner = self.bind_bool(x, scope)?;
                Ok(Expr::IsNull { expr: Box::new(inner), negated: false })
            }
            ast::Expr::IsNotUnknown(x) => {
                let inner = self.bind_bool(x, scope)?;
                Ok(Expr::IsNull { expr: Box::new(inner), negated: true })
            }
            ast::Expr::IsDistinctFrom(a, b) => self.bind_distinct(a, b, false, scope),
            ast::Expr::IsNotDistinctFrom(a, b) => self.bind_distinct(a, b, true, scope),
            ast::Expr::Between { expr, negated, low, high } => self.bind_between(expr, *negated, low, high, scope),
            ast::Expr::In { expr, target, negated, .. } => match target {
                ast::InTarget::List(list) => self.bind_in_list(expr, list, *negated, scope),
                ast::InTarget::Subquery(subquery) => {
                    let bound = self.bind_subquery_any(expr, BinaryOp::Eq, subquery, scope, false)?;
                    Ok(if *negated { Expr::Not(Box::new(bound)) } else { bound })
                }
                other => Err(Error::NotSupported(format!("IN {other}"))),
            },
            ast::Expr::Like { negated, expr, pattern, escape_char, any: false } => {
                self.bind_like(expr, pattern, escape_char.as_deref(), *negated, false, scope)
            }
            ast::Expr::ILike { negated, expr, pattern, escape_char, any: false } => {
                self.bind_like(expr, pattern, escape_char.as_deref(), *negated, true, scope)
            }
            ast::Expr::Cast { expr, data_type, .. } => self.bind_cast(expr, data_type, scope),
            ast::Expr::TypedString(ts) => {
                let to = types::data_type(&ts.data_type)?;
                let text = string_value(&ts.value.value)?;
                Ok(Expr::Literal(cast::cast(Value::Text(text), &to)?, to))
            }
            ast::Expr::Case { operand, conditions, else_result, .. } => {
                self.bind_case(operand.as_deref(), conditions, else_result.as_deref(), scope)
            }
            ast::Expr::Function(f) => self.bind_function(f, scope),
            ast::Expr::Exists { subquery, negated } => {
                let sub = self.bind_subquery(subquery, SubqueryKind::Exists, scope)?;
                Ok(if *negated { Expr::Not(Box::new(sub)) } else { sub })
            }
            ast::Expr::Subquery(query) => self.bind_subquery(query, SubqueryKind::Scalar, scope),
            ast::Expr::AnyOp { left, compare_op, right, .. } => {
                self.bind_any_all(left, compare_op, right, false, scope)
            }
            ast::Expr::AllOp { left, compare_op, right } => self.bind_any_all(left, compare_op, right, true, scope),
            other => self.bind_special_form(other, scope),
        }
    }

    /// `expr::type`; a `reg*` type looks names up in the catalog.
    fn bind_cast(&mut self, expr: &ast::Expr, data_type: &ast::DataType, scope: &Scope) -> Result<Expr> {
        let inner = self.bind_expr(expr, scope)?;
        if let Some(kind) = types::reg_type(data_type) {
            return crate::sql::system_catalog::reg_cast(kind, inner, self.schema);
        }
        let to = types::data_type(data_type)?;
        Ok(self.cast_to(inner, &to))
    }

    /// SQL's special syntax for functions (EXTRACT, SUBSTRING … FROM,
    /// POSITION … IN, TRIM …), intervals and arrays.
    fn bind_special_form(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        match e {
            ast::Expr::Extract { field, expr, .. } => {
                let arg = self.bind_expr(expr, scope)?;
                let field = Expr::Literal(Value::Text(field.to_string().to_lowercase()), DataType::Text);
                self.make_function("extract", vec![field, arg])
            }
            ast::Expr::Substring { expr, substring_from, substring_for, .. } => {
                let mut args = vec![self.bind_expr(expr, scope)?];
                args.push(match substring_from {
                    Some(from) => self.bind_expr(from, scope)?,
                    None => Expr::literal(Value::Int(1)),
                });
                if let Some(count) = substring_for {
                    args.push(self.bind_expr(count, scope)?);
                }
                self.make_function("substring", args)
            }
            ast::Expr::Position { expr, r#in } => {
                let args = vec![self.bind_expr(r#in, scope)?, self.bind_expr(expr, scope)?];
                self.make_function("strpos", args)
            }
            ast::Expr::Trim { expr, trim_where, trim_what, .. } => {
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![self.bind_expr(expr, scope)?];
                if let Some(what) = trim_what {
                    args.push(self.bind_expr(what, scope)?);
                }
                self.make_function(name, args)
            }
            ast::Expr::Ceil { expr, .. } => {
                let arg = self.bind_expr(expr, scope)?;
                self.make_function("ceil", vec![arg])
            }
            ast::Expr::Floor { expr, .. } => {
                let arg = self.bind_expr(expr, scope)?;
                self.make_function("floor", vec![arg])
            }
            ast::Expr::Interval(interval) => self.bind_interval(interval),
            ast::Expr::Array(array) => {
                let items: Vec<Expr> = array.elem.iter().map(|x| self.bind_expr(x, scope)).collect::<Result<_>>()?;
                self.make_function("array", items)
            }
            ast::Expr::CompoundFieldAccess { root, access_chain } => self.bind_subscripts(root, access_chain, scope),
            other => Err(Error::NotSupported(format!("expression {other}"))),
        }
    }

    /// `table.column` or `schema.table.column`.
    fn bind_compound(&mut self, parts: &[ast::Ident], scope: &Scope) -> Result<Expr> {
        let names: Vec<String> = parts.iter().map(ident_name).collect();
        match names.as_slice() {
            [table, column] | [_, table, column] => self.bind_column(Some(table), column, scope),
            _ => Err(Error::NotSupported(format!("column reference {}", names.join(".")))),
        }
    }

    /// Binds `e` and requires a boolean (a NULL literal counts).
    pub fn bind_bool(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        let bound = self.bind_expr(e, scope)?;
        self.require_bool(bound, "argument of WHERE")
    }

    pub(super) fn require_bool(&mut self, bound: Expr, what: &str) -> Result<Expr> {
        match bound.ty() {
            DataType::Bool => Ok(bound),
            DataType::Unknown => Ok(self.cast_to(bound, &DataType::Bool)),
            other => Err(Error::sql("42804", format!("{what} must be type boolean, not type {other}"))),
        }
    }

    fn bind_column(&mut self, table: Option<&str>, name: &str, scope: &Scope) -> Result<Expr> {
        if let Some(index) = scope.resolve(table, name)? {
            return self.local_column(index, scope);
        }
        for (depth, outer) in self.outer.iter().rev().enumerate() {
            if let Some(index) = outer.resolve(table, name)? {
                self.outer_refs += 1;
                return Ok(Expr::Outer { depth, index, ty: outer.columns[index].ty.clone() });
            }
        }
        if let Some(t) = table
            && !scope.has_table(t)
            && !self.outer.iter().any(|s| s.has_table(t))
        {
            return Err(Error::sql("42P01", format!("missing FROM-clause entry for table \"{t}\"")));
        }
        Err(Error::sql("42703", format!("column \"{name}\" does not exist")))
    }

    fn bind_value(&mut self, v: &ast::Value) -> Result<Expr> {
        Ok(match v {
            ast::Value::Number(text, _) => Expr::literal(types::number_literal(text)?),
            ast::Value::SingleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s)
            | ast::Value::NationalStringLiteral(s)
            | ast::Value::UnicodeStringLiteral(s) => Expr::Literal(Value::Text(s.clone()), DataType::Unknown),
            ast::Value::DollarQuotedString(s) => Expr::Literal(Value::Text(s.value.clone()), DataType::Unknown),
            ast::Value::Boolean(b) => Expr::literal(Value::Bool(*b)),
            ast::Value::Null => Expr::Literal(Value::Null, DataType::Unknown),
            ast::Value::Placeholder(p) => {
                let index = p
                    .strip_prefix('$')
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| Error::sql("42P02", format!("there is no parameter {p}")))?
                    - 1;
                self.note_param(index, &DataType::Unknown);
                Expr::Param { index, ty: self.params[index].clone() }
            }
            other => return Err(Error::NotSupported(format!("literal {other}"))),
        })
    }

    /// Casts `e` to `to` unless it already has that type. A parameter of
    /// unknown type takes the type instead.
    pub fn cast_to(&mut self, e: Expr, to: &DataType) -> Expr {
        if e.ty() == *to || *to == DataType::Unknown {
            return e;
        }
        if let Expr::Param { index, ty: DataType::Unknown } = e {
            self.note_param(index, to);
            return Expr::Param { index, ty: to.clone() };
        }
        Expr::Cast { expr: Box::new(e), to: to.clone() }
    }

    /// Casts both operands to their common type (for comparisons, CASE,
    /// UNION …); an error names `what` when there is none.
    pub fn unify(&mut self, a: Expr, b: Expr, what: &str) -> Result<(Expr, Expr)> {
        let (ta, tb) = (a.ty(), b.ty());
        let common = common_type(&ta, &tb)
            .ok_or_else(|| Error::sql("42804", format!("{what} types {ta} and {tb} cannot be matched")))?;
        Ok((self.cast_to(a, &common), self.cast_to(b, &common)))
    }

    /// Casts every expression to the common type of all of them.
    pub fn unify_all(&mut self, exprs: Vec<Expr>, what: &str) -> Result<(Vec<Expr>, DataType)> {
        let mut common = DataType::Unknown;
        for e in &exprs {
            let ty = e.ty();
            common = common_type(&common, &ty)
                .ok_or_else(|| Error::sql("42804", format!("{what} types {common} and {ty} cannot be matched")))?;
        }
        if common == DataType::Unknown && exprs.iter().any(|e| matches!(e, Expr::Literal(Value::Text(_), _))) {
            common = DataType::Text;
        }
        let exprs = exprs.into_iter().map(|e| self.cast_to(e, &common)).collect();
        Ok((exprs, common))
    }

    fn bind_binary_ast(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        scope: &Scope,
    ) -> Result<Expr> {
        use ast::BinaryOperator as B;
        match op {
            B::And | B::Or => {
                let l = self.bind_expr(left, scope)?;
                let l = self.require_bool(l, &format!("argument of {op}"))?;
                let r = self.bind_expr(right, scope)?;
                let r = self.require_bool(r, &format!("argument of {op}"))?;
                return Ok(if matches!(op, B::And) {
                    Expr::And(Box::new(l), Box::new(r))
                } else {
                    Expr::Or(Box::new(l), Box::new(r))
                });
            }
            _ => {}
        }
        if let Some((case_insensitive, negated)) = regex_operator(op) {
            let mut args = vec![self.bind_expr(left, scope)?, self.bind_expr(right, scope)?];
            if case_insensitive {
                args.push(Expr::Literal(crate::sql::value::Value::Text("i".into()), DataType::Text));
            }
            let matched = self.make_function("regexp_like", args)?;
            return Ok(if negated { Expr::Not(Box::new(matched)) } else { matched });
        }
        let op = binary_op(op)?;
        let l = self.bind_expr(left, scope)?;
        let r = self.bind_expr(right, scope)?;
        self.make_binary(op, l, r)
    }

    /// Builds `l op r` with PostgreSQL's operand coercions.
    pub fn make_binary(&mut self, op: BinaryOp, l: Expr, r: Expr) -> Result<Expr> {
        let (l, r) = if is_comparison(op) { self.unify(l, r, "operator")? } else { self.coerce_arithmetic(op, l, r) };
        let ty = ops::binary_type(op, &l.ty(), &r.ty())?;
        Ok(Expr::Binary { op, left: Box::new(l), right: Box::new(r), ty })
    }

    /// Gives untyped operands (NULL, string literals, parameters) the other
    /// side's type, as PostgreSQL resolves `unknown`.
    fn coerce_arithmetic(&mut self, op: BinaryOp, l: Expr, r: Expr) -> (Expr, Expr) {
        let (tl, tr) = (l.ty(), r.ty());
        let text_like =
            matches!(op, BinaryOp::Concat | BinaryOp::Like | BinaryOp::NotLike | BinaryOp::ILike | BinaryOp::NotILike);
        let target_for_unknown = |other: &DataType| -> DataType {
            if text_like || *other == DataType::Unknown {
                DataType::Text
            } else if matches!(other, DataType::Date | DataType::Timestamp | DataType::TimestampTz)
                && matches!(op, BinaryOp::Add | BinaryOp::Sub)
            {
                DataType::Interval
            } else {
                other.clone()
            }
        };
        match (tl == DataType::Unknown, tr == DataType::Unknown) {
            (true, false) => {
                let to = target_for_unknown(&tr);
                (self.cast_to(l, &to), r)
            }
            (false, true) => {
                let to = target_for_unknown(&tl);
                (l, self.cast_to(r, &to))
            }
            (true, true) => {
                let to = if text_like { DataType::Text } else { DataType::Int32 };
                (self.cast_to(l, &to), self.cast_to(r, &to))
            }
            (false, false) => (l, r),
        }
    }

    fn bind_unary(&mut self, op: ast::UnaryOperator, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        match op {
            ast::UnaryOperator::Not => {
                let inner = self.bind_expr(e, scope)?;
                Ok(Expr::Not(Box::new(self.require_bool(inner, "argument of NOT")?)))
            }
            ast::UnaryOperator::Minus => {
                if let ast::Expr::Value(v) = e
                    && let ast::Value::Number(text, _) = &v.value
                {
                    return Ok(Expr::literal(types::number_literal(&format!("-{text}"))?));
                }
                self.make_unary(UnaryOp::Neg, e, scope)
            }
            ast::UnaryOperator::Plus => self.make_unary(UnaryOp::Plus, e, scope),
            ast::UnaryOperator::BitwiseNot => self.make_unary(UnaryOp::BitNot, e, scope),
            other => Err(Error::NotSupported(format!("operator {other}"))),
        }
    }

    fn make_unary(&mut self, op: UnaryOp, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        let mut inner = self.bind_expr(e, scope)?;
        if inner.ty() == DataType::Unknown {
            inner = self.cast_to(inner, &DataType::Int32);
        }
        let ty = ops::unary_type(op, &inner.ty())?;
        Ok(Expr::Unary { op, expr: Box::new(inner), ty })
    }

    fn bind_is_bool(&mut self, e: &ast::Expr, value: bool, negated: bool, scope: &Scope) -> Result<Expr> {
        let inner = self.bind_expr(e, scope)?;
        let inner = self.require_bool(inner, "argument of IS TRUE")?;
        Ok(Expr::IsBool { expr: Box::new(inner), value, negated })
    }

    fn bind_distinct(&mut self, a: &ast::Expr, b: &ast::Expr, negated: bool, scope: &Scope) -> Result<Expr> {
        let (l, r) = (self.bind_expr(a, scope)?, self.bind_expr(b, scope)?);
        let (l, r) = self.unify(l, r, "IS DISTINCT FROM")?;
        Ok(Expr::IsDistinct { left: Box::new(l), right: Box::new(r), negated })
    }

    fn bind_between(
        &mut self,
        e: &ast::Expr,
        negated: bool,
        low: &ast::Expr,
        high: &ast::Expr,
        scope: &Scope,
    ) -> Result<Expr> {
        let x = self.bind_expr(e, scope)?;
        let lo = self.bind_expr(low, scope)?;
        let hi = self.bind_expr(high, scope)?;
        if negated {
            let below = self.make_binary(BinaryOp::Lt, x.clone(), lo)?;
            let above = self.make_binary(BinaryOp::Gt, x, hi)?;
            Ok(Expr::Or(Box::new(below), Box::new(above)))
        } else {
            let from = self.make_binary(BinaryOp::GtEq, x.clone(), lo)?;
            let to = self.make_binary(BinaryOp::LtEq, x, hi)?;
            Ok(Expr::And(Box::new(from), Box::new(to)))
        }
    }

    fn bind_in_list(&mut self, e: &ast::Expr, list: &[ast::Expr], negated: bool, scope: &Scope) -> Result<Expr> {
        let mut all = vec![self.bind_expr(e, scope)?];
        for item in list {
            all.push(self.bind_expr(item, scope)?);
        }
        let (mut all, _) = self.unify_all(all, "IN")?;
        let expr = all.remove(0);
        Ok(Expr::InList { expr: Box::new(expr), list: all, negated })
    }

    fn bind_like(
        &mut self,
        e: &ast::Expr,
        pattern: &ast::Expr,
        escape: Option<&ast::Expr>,
        negated: bool,
        insensitive: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        if let Some(escape) = escape {
            let is_default = matches!(escape, ast::Expr::Value(v) if matches!(&v.value, ast::Value::SingleQuotedString(s) if s == "\\"));
            if !is_default {
                return Err(Error::NotSupported("LIKE … ESCAPE with a character other than backslash".into()));
            }
        }
        let op = match (insensitive, negated) {
            (false, false) => BinaryOp::Like,
            (false, true) => BinaryOp::NotLike,
            (true, false) => BinaryOp::ILike,
            (true, true) => BinaryOp::NotILike,
        };
        let l = self.bind_expr(e, scope)?;
        let r = self.bind_expr(pattern, scope)?;
        let l = if l.ty().is_text() { l } else { self.cast_to(l, &DataType::Text) };
        let r = if r.ty().is_text() { r } else { self.cast_to(r, &DataType::Text) };
        self.make_binary(op, l, r)
    }

    fn bind_case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
        scope: &Scope,
    ) -> Result<Expr> {
        let mut results = Vec::new();
        let mut whens = Vec::new();
        let operand = operand.map(|o| self.bind_expr(o, scope)).transpose()?;
        for cw in conditions {
            let when = self.bind_expr(&cw.condition, scope)?;
            let when = match &operand {
                Some(op) => self.make_binary(BinaryOp::Eq, op.clone(), when)?,
                None => self.require_bool(when, "argument of CASE/WHEN")?,
            };
            whens.push(when);
            results.push(self.bind_expr(&cw.result, scope)?);
        }
        let has_else = else_result.is_some();
        if let Some(e) = else_result {
            results.push(self.bind_expr(e, scope)?);
        }
        let (mut results, ty) = self.unify_all(results, "CASE")?;
        let otherwise = if has_else { results.pop().map(Box::new) } else { None };
        let branches = whens.into_iter().zip(results).collect();
        // The operand is folded into each WHEN (`operand = value`).
        Ok(Expr::Case { operand: None, branches, otherwise, ty })
    }

    fn bind_interval(&mut self, interval: &ast::Interval) -> Result<Expr> {
        let text = match interval.value.as_ref() {
            ast::Expr::Value(v) => string_value(&v.value)?,
            other => return Err(Error::NotSupported(format!("INTERVAL {other}"))),
        };
        let text = match &interval.leading_field {
            Some(field) if interval.last_field.is_none() && !text.chars().any(|c| c.is_alphabetic()) => {
                format!("{text} {field}")
            }
            _ => text,
        };
        let value: Interval = cast::parse_interval(&text)?;
        Ok(Expr::Literal(Value::Interval(value), DataType::Interval))
    }

    /// Binds a subquery whose rows become a value of `kind`.
    pub(super) fn bind_subquery(&mut self, query: &ast::Query, kind: SubqueryKind, scope: &Scope) -> Result<Expr> {
        let refs_before = self.outer_refs;
        let outer_scope = self.output_scope(scope);
        self.outer.push(outer_scope);
        let saved_agg = self.agg.take();
        let saved_window = self.window.take();
        let bound = self.bind_query(query);
        self.agg = saved_agg;
        self.window = saved_window;
        self.outer.pop();
        let bound = bound?;
        let correlated = self.outer_refs > refs_before;
        if matches!(
            kind,
            SubqueryKind::Scalar | SubqueryKind::Array | SubqueryKind::Any { .. } | SubqueryKind::All { .. }
        ) && bound.names.len() != 1
        {
            return Err(Error::sql("42601", "subquery must return only one column"));
        }
        let kind = match kind {
            SubqueryKind::Any { expr, op } => {
                let (expr, _) = self.unify_with_plan(*expr, &bound)?;
                SubqueryKind::Any { expr: Box::new(expr), op }
            }
            SubqueryKind::All { expr, op } => {
                let (expr, _) = self.unify_with_plan(*expr, &bound)?;
                SubqueryKind::All { expr: Box::new(expr), op }
            }
            other => other,
        };
        let plan = self.cast_single_column(bound, &kind)?;
        Ok(Expr::Subquery(Box::new(Subquery { plan: Arc::new(plan), kind, correlated })))
    }

    /// Casts the left operand of `x op ANY (subquery)` to the common type.
    fn unify_with_plan(&mut self, expr: Expr, bound: &super::BoundQuery) -> Result<(Expr, DataType)> {
        let sub_ty = bound.types()[0].clone();
        let common = common_type(&expr.ty(), &sub_ty)
            .ok_or_else(|| Error::sql("42883", format!("operator does not exist: {} = {sub_ty}", expr.ty())))?;
        Ok((self.cast_to(expr, &common), common))
    }

    /// Makes the subquery's single column the type its comparison needs.
    fn cast_single_column(&mut self, bound: super::BoundQuery, kind: &SubqueryKind) -> Result<crate::sql::plan::Plan> {
        let target = match kind {
            SubqueryKind::Any { expr, .. } | SubqueryKind::All { expr, .. } => expr.ty(),
            _ => return Ok(bound.plan),
        };
        let sub_ty = bound.types()[0].clone();
        if sub_ty == target {
            return Ok(bound.plan);
        }
        let column = self.cast_to(Expr::column(0, sub_ty), &target);
        Ok(crate::sql::plan::Plan::Project { input: Box::new(bound.plan), exprs: vec![column] })
    }

    fn bind_subquery_any(
        &mut self,
        e: &ast::Expr,
        op: BinaryOp,
        query: &ast::Query,
        scope: &Scope,
        all: bool,
    ) -> Result<Expr> {
        let left = Box::new(self.bind_expr(e, scope)?);
        let kind = if all { SubqueryKind::All { expr: left, op } } else { SubqueryKind::Any { expr: left, op } };
        self.bind_subquery(query, kind, scope)
    }

    fn bind_any_all(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        all: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let op = binary_op(op)?;
        match right {
            ast::Expr::Subquery(query) => self.bind_subquery_any(left, op, query, scope, all),
            ast::Expr::Nested(inner) if matches!(**inner, ast::Expr::Subquery(_)) => {
                self.bind_any_all(left, &ast_op(op), inner, all, scope)
            }
            array => self.bind_quantified_array(left, op, array, all, scope),
        }
    }

    /// `x op ANY (array)` / `x op ALL (array)`: `x` and the elements are
    /// compared in their common type; an untyped literal (`'{1,2}'`) is read
    /// as an array of `x`'s type.
    fn bind_quantified_array(
        &mut self,
        left: &ast::Expr,
        op: BinaryOp,
        array: &ast::Expr,
        all: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let x = self.bind_expr(left, scope)?;
        let array = self.bind_expr(array, scope)?;
        let element = match array.ty() {
            DataType::Array(element) => *element,
            DataType::Unknown => x.ty(),
            other => {
                return Err(Error::sql(
                    "42809",
                    format!("op ANY/ALL (array) requires an array on the right, not {other}"),
                ));
            }
        };
        let common = common_type(&x.ty(), &element).ok_or_else(|| {
            Error::sql("42883", format!("operator does not exist: {} {} {element}", x.ty(), op.symbol()))
        })?;
        let common = if common == DataType::Unknown { DataType::Text } else { common };
        let x = self.cast_to(x, &common);
        let array = self.cast_to(array, &DataType::Array(Box::new(common)));
        Ok(Expr::Quantified { expr: Box::new(x), op, array: Box::new(array), all })
    }

    /// `array[i]` (and `array[i][j]…`, each subscript applied in turn).
    fn bind_subscripts(&mut self, root: &ast::Expr, chain: &[ast::AccessExpr], scope: &Scope) -> Result<Expr> {
        let mut value = self.bind_expr(root, scope)?;
        for access in chain {
            let ast::AccessExpr::Subscript(ast::Subscript::Index { index }) = access else {
                return Err(Error::NotSupported(format!("field access or array slice {access}")));
            };
            let DataType::Array(element) = value.ty() else {
                return Err(Error::sql(
                    "42804",
                    format!("cannot subscript type {} because it is not an array", value.ty()),
                ));
            };
            let index = self.bind_expr(index, scope)?;
            let index = self.cast_to(index, &DataType::Int64);
            value = Expr::Function { name: "array_subscript".into(), args: vec![value, index], ty: *element };
        }
        Ok(value)
    }

    /// A scalar function call with type-checked arguments.
    pub fn make_function(&mut self, name: &str, args: Vec<Expr>) -> Result<Expr> {
        let args = match name {
            "greatest" | "least" | "array" => self.unify_all(args, name)?.0,
            // Parameters that are integers: an untyped NULL is one.
            "format_type" => args.into_iter().map(|a| self.cast_to(a, &DataType::Int64)).collect(),
            _ => args
                .into_iter()
                .map(|a| if a.ty() == DataType::Unknown { self.cast_to(a, &DataType::Text) } else { a })
                .collect(),
        };
        let types: Vec<DataType> = args.iter().map(Expr::ty).collect();
        let ty = if name == "array" {
            DataType::Array(Box::new(types.first().cloned().unwrap_or(DataType::Text)))
        } else {
            functions::return_type(name, &types)?
        };
        Ok(Expr::Function { name: name.to_string(), args, ty })
    }
}

/// The text of a string literal.
pub fn string_value(v: &ast::Value) -> Result<String> {
    match v {
        ast::Value::SingleQuotedString(s)
        | ast::Value::EscapedStringLiteral(s)
        | ast::Value::NationalStringLiteral(s) => Ok(s.clone()),
        ast::Value::DollarQuotedString(s) => Ok(s.value.clone()),
        other => Err(Error::sql("42601", format!("expected a string literal, found {other}"))),
    }
}

fn is_comparison(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq)
}

/// The engine's operator for a parsed one.
/// Text compares by bytes (the `C` collation, which `pg_database` reports
/// as the default), so `COLLATE "C"`, `"POSIX"`, `"ucs_basic"` and
/// `"default"` (also `pg_catalog.default`, which psql sends) change nothing;
/// any other collation is not supported.
fn byte_order_collation(collation: &ast::ObjectName) -> Result<()> {
    let name = collation.0.last().map(|part| part.to_string().trim_matches('"').to_string()).unwrap_or_default();
    if matches!(name.as_str(), "C" | "POSIX" | "ucs_basic" | "default") {
        Ok(())
    } else {
        Err(Error::NotSupported(format!("collation {collation} (text compares bytewise, as collation \"C\")")))
    }
}

/// For the POSIX regular expression operators (`~`, `~*`, `!~`, `!~*`,
/// also spelled `OPERATOR(pg_catalog.~)`): (case-insensitive, negated).
fn regex_operator(op: &ast::BinaryOperator) -> Option<(bool, bool)> {
    use ast::BinaryOperator as B;
    match op {
        B::PGRegexMatch => Some((false, false)),
        B::PGRegexIMatch => Some((true, false)),
        B::PGRegexNotMatch => Some((false, true)),
        B::PGRegexNotIMatch => Some((true, true)),
        B::PGCustomBinaryOperator(parts) => match parts.as_slice() {
            [schema, op] if schema == "pg_catalog" => regex_operator(&match op.as_str() {
                "~" => B::PGRegexMatch,
                "~*" => B::PGRegexIMatch,
                "!~" => B::PGRegexNotMatch,
                "!~*" => B::PGRegexNotIMatch,
                _ => return None,
            }),
            _ => None,
        },
        _ => None,
    }
}

pub fn binary_op(op: &ast::BinaryOperator) -> Result<BinaryOp> {
    use ast::BinaryOperator as B;
    Ok(match op {
        B::Plus => BinaryOp::Add,
        B::Minus => BinaryOp::Sub,
        B::Multiply => BinaryOp::Mul,
        B::Divide => BinaryOp::Div,
        B::Modulo => BinaryOp::Mod,
        B::PGExp => BinaryOp::Pow,
        B::Eq => BinaryOp::Eq,
        B::NotEq => BinaryOp::NotEq,
        B::Lt => BinaryOp::Lt,
        B::LtEq => BinaryOp::LtEq,
        B::Gt => BinaryOp::Gt,
        B::GtEq => BinaryOp::GtEq,
        B::StringConcat => BinaryOp::Concat,
        B::BitwiseAnd => BinaryOp::BitAnd,
        B::BitwiseOr => BinaryOp::BitOr,
        B::PGBitwiseXor | B::BitwiseXor => BinaryOp::BitXor,
        B::PGBitwiseShiftLeft => BinaryOp::ShiftLeft,
        B::PGBitwiseShiftRight => BinaryOp::ShiftRight,
        B::PGLikeMatch => BinaryOp::Like,
        B::PGILikeMatch => BinaryOp::ILike,
        B::PGNotLikeMatch => BinaryOp::NotLike,
        B::PGNotILikeMatch => BinaryOp::NotILike,
        B::Arrow => BinaryOp::JsonGet,
        B::LongArrow => BinaryOp::JsonGetText,
        other => return Err(Error::NotSupported(format!("operator {other}"))),
    })
}

fn ast_op(op: BinaryOp) -> ast::BinaryOperator {
    use ast::BinaryOperator as B;
    match op {
        BinaryOp::Eq => B::Eq,
        BinaryOp::NotEq => B::NotEq,
        BinaryOp::Lt => B::Lt,
        BinaryOp::LtEq => B::LtEq,
        BinaryOp::Gt => B::Gt,
        _ => B::GtEq,
    }
}
