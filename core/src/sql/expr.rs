//! Bound expressions: names resolved to column positions, every node typed.
//!
//! The binder produces [`Expr`]s from SQL; the planner rewrites them (folds
//! constants, moves predicates, remaps column positions); the executor
//! evaluates them over batches (`exec::eval`). A `Column(i)` always means
//! column `i` of the input of the plan node that holds the expression.

use std::fmt;
use std::sync::Arc;

use crate::sql::ops::{BinaryOp, UnaryOp};
use crate::sql::plan::Plan;
use crate::sql::value::{DataType, Value};

/// How a subquery's rows become a value.
#[derive(Debug, Clone)]
pub enum SubqueryKind {
    /// `(SELECT x …)`: the one value, NULL for no rows, an error for more.
    Scalar,
    /// `EXISTS (…)`.
    Exists,
    /// `expr IN (SELECT …)` or `expr = ANY (…)` with another operator.
    Any { expr: Box<Expr>, op: BinaryOp },
    /// `expr op ALL (SELECT …)`.
    All { expr: Box<Expr>, op: BinaryOp },
    /// `ARRAY(SELECT …)`: the rows' values as one array.
    Array,
}

/// A subquery inside an expression.
#[derive(Debug, Clone)]
pub struct Subquery {
    pub plan: Arc<Plan>,
    pub kind: SubqueryKind,
    /// Whether it refers to columns of enclosing queries; an uncorrelated
    /// subquery runs once per statement.
    pub correlated: bool,
}

/// A typed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Column `index` of the input batch.
    Column {
        index: usize,
        ty: DataType,
    },
    /// Column `index` of the current row of the enclosing query `depth + 1`
    /// levels up (a correlated reference).
    Outer {
        depth: usize,
        index: usize,
        ty: DataType,
    },
    Literal(Value, DataType),
    /// Statement parameter `$index+1`.
    Param {
        index: usize,
        ty: DataType,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        ty: DataType,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
        ty: DataType,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `expr IS [NOT] TRUE/FALSE`.
    IsBool {
        expr: Box<Expr>,
        value: bool,
        negated: bool,
    },
    /// `IS [NOT] DISTINCT FROM`.
    IsDistinct {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    Cast {
        expr: Box<Expr>,
        to: DataType,
    },
    Case {
        operand: Option<Box<Expr>>,
        branches: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
        ty: DataType,
    },
    Coalesce {
        args: Vec<Expr>,
        ty: DataType,
    },
    NullIf {
        left: Box<Expr>,
        right: Box<Expr>,
        ty: DataType,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Function {
        name: String,
        args: Vec<Expr>,
        ty: DataType,
    },
    /// `expr op ANY (array)` or, with `all`, `expr op ALL (array)`.
    Quantified {
        expr: Box<Expr>,
        op: BinaryOp,
        array: Box<Expr>,
        all: bool,
    },
    Subquery(Box<Subquery>),
}

impl Expr {
    pub fn literal(value: Value) -> Expr {
        let ty = crate::sql::cast::value_type(&value);
        Expr::Literal(value, ty)
    }

    pub fn column(index: usize, ty: DataType) -> Expr {
        Expr::Column { index, ty }
    }

    /// The type of the expression's value.
    pub fn ty(&self) -> DataType {
        match self {
            Expr::Column { ty, .. }
            | Expr::Outer { ty, .. }
            | Expr::Literal(_, ty)
            | Expr::Param { ty, .. }
            | Expr::Binary { ty, .. }
            | Expr::Unary { ty, .. }
            | Expr::Case { ty, .. }
            | Expr::Coalesce { ty, .. }
            | Expr::NullIf { ty, .. }
            | Expr::Function { ty, .. } => ty.clone(),
            Expr::Cast { to, .. } => to.clone(),
            Expr::And(..)
            | Expr::Or(..)
            | Expr::Not(_)
            | Expr::IsNull { .. }
            | Expr::IsBool { .. }
            | Expr::IsDistinct { .. }
            | Expr::InList { .. }
            | Expr::Quantified { .. } => DataType::Bool,
            Expr::Subquery(sub) => match &sub.kind {
                SubqueryKind::Scalar => sub.plan.output_types().into_iter().next().unwrap_or(DataType::Unknown),
                SubqueryKind::Array => {
                    DataType::Array(Box::new(sub.plan.output_types().into_iter().next().unwrap_or(DataType::Unknown)))
                }
                _ => DataType::Bool,
            },
        }
    }

    /// The expression's direct children.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column { .. } | Expr::Outer { .. } | Expr::Literal(..) | Expr::Param { .. } => vec![],
            Expr::Binary { left, right, .. }
            | Expr::And(left, right)
            | Expr::Or(left, right)
            | Expr::IsDistinct { left, right, .. }
            | Expr::NullIf { left, right, .. }
            | Expr::Quantified { expr: left, array: right, .. } => vec![left, right],
            Expr::Unary { expr, .. }
            | Expr::Not(expr)
            | Expr::IsNull { expr, .. }
            | Expr::IsBool { expr, .. }
            | Expr::Cast { expr, .. } => vec![expr],
            Expr::Case { operand, branches, otherwise, .. } => {
                let mut out: Vec<&Expr> = operand.iter().map(|e| &**e).collect();
                for (w, t) in branches {
                    out.push(w);
                    out.push(t);
                }
                out.extend(otherwise.iter().map(|e| &**e));
                out
            }
            Expr::Coalesce { args, .. } | Expr::Function { args, .. } => args.iter().collect(),
            Expr::InList { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            Expr::Subquery(sub) => match &sub.kind {
                SubqueryKind::Any { expr, .. } | SubqueryKind::All { expr, .. } => vec![expr],
                _ => vec![],
            },
        }
    }

    /// Mutable access to the direct children (same order as [`Expr::children`]).
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Expr::Column { .. } | Expr::Outer { .. } | Expr::Literal(..) | Expr::Param { .. } => vec![],
            Expr::Binary { left, right, .. }
            | Expr::And(left, right)
            | Expr::Or(left, right)
            | Expr::IsDistinct { left, right, .. }
            | Expr::NullIf { left, right, .. }
            | Expr::Quantified { expr: left, array: right, .. } => vec![left, right],
            Expr::Unary { expr, .. }
            | Expr::Not(expr)
            | Expr::IsNull { expr, .. }
            | Expr::IsBool { expr, .. }
            | Expr::Cast { expr, .. } => vec![expr],
            Expr::Case { operand, branches, otherwise, .. } => {
                let mut out: Vec<&mut Expr> = operand.iter_mut().map(|e| &mut **e).collect();
                for (w, t) in branches {
                    out.push(w);
                    out.push(t);
                }
                out.extend(otherwise.iter_mut().map(|e| &mut **e));
                out
            }
            Expr::Coalesce { args, .. } | Expr::Function { args, .. } => args.iter_mut().collect(),
            Expr::InList { expr, list, .. } => std::iter::once(&mut **expr).chain(list.iter_mut()).collect(),
            Expr::Subquery(sub) => match &mut sub.kind {
                SubqueryKind::Any { expr, .. } | SubqueryKind::All { expr, .. } => vec![expr],
                _ => vec![],
            },
        }
    }

    /// Calls `visit` on this expression and every descendant.
    pub fn walk(&self, visit: &mut impl FnMut(&Expr)) {
        visit(self);
        for child in self.children() {
            child.walk(visit);
        }
    }

    /// Rewrites every node bottom-up with `f`.
    pub fn transform(self, f: &mut impl FnMut(Expr) -> Expr) -> Expr {
        let mut expr = self;
        for child in expr.children_mut() {
            let taken = std::mem::replace(child, Expr::Literal(Value::Null, DataType::Unknown));
            *child = taken.transform(f);
        }
        f(expr)
    }

    /// The input columns this expression reads (not counting subqueries'
    /// own columns).
    pub fn columns_used(&self, out: &mut Vec<usize>) {
        self.walk(&mut |e| {
            if let Expr::Column { index, .. } = e {
                out.push(*index);
            }
        });
    }

    /// Whether the expression reads nothing from its input row, enclosing
    /// rows or parameters, and calls nothing volatile: its value is fixed.
    pub fn is_constant(&self) -> bool {
        let mut constant = true;
        self.walk(&mut |e| match e {
            Expr::Column { .. } | Expr::Outer { .. } | Expr::Param { .. } | Expr::Subquery(_) => constant = false,
            Expr::Function { name, .. } if is_volatile(name) => constant = false,
            _ => {}
        });
        constant
    }

    /// Whether the expression contains a subquery.
    pub fn has_subquery(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if matches!(e, Expr::Subquery(_)) {
                found = true;
            }
        });
        found
    }

    /// Splits a conjunction into its conjuncts.
    pub fn conjuncts(self) -> Vec<Expr> {
        match self {
            Expr::And(a, b) => {
                let mut out = a.conjuncts();
                out.extend(b.conjuncts());
                out
            }
            other => vec![other],
        }
    }

    /// Joins conjuncts with AND (`None` for none).
    pub fn and_all(mut conjuncts: Vec<Expr>) -> Option<Expr> {
        let first = if conjuncts.is_empty() { return None } else { conjuncts.remove(0) };
        Some(conjuncts.into_iter().fold(first, |acc, e| Expr::And(Box::new(acc), Box::new(e))))
    }

    /// Renumbers column references with `map` (old index → new index).
    pub fn remap_columns(self, map: &impl Fn(usize) -> usize) -> Expr {
        self.transform(&mut |e| match e {
            Expr::Column { index, ty } => Expr::Column { index: map(index), ty },
            other => other,
        })
    }
}

/// Functions whose value changes between calls with the same arguments.
pub fn is_volatile(name: &str) -> bool {
    matches!(name, "random" | "gen_random_uuid" | "nextval" | "setval" | "currval" | "clock_timestamp")
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column { index, .. } => write!(f, "#{index}"),
            Expr::Outer { depth, index, .. } => write!(f, "outer{depth}.#{index}"),
            Expr::Literal(v, _) => match v {
                Value::Text(s) => write!(f, "'{s}'"),
                other => write!(f, "{}", crate::sql::cast::format_value(other)),
            },
            Expr::Param { index, .. } => write!(f, "${}", index + 1),
            Expr::Binary { op, left, right, .. } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::Unary { op, expr, .. } => write!(f, "({} {expr})", op.symbol()),
            Expr::And(a, b) => write!(f, "({a} AND {b})"),
            Expr::Or(a, b) => write!(f, "({a} OR {b})"),
            Expr::Not(e) => write!(f, "(NOT {e})"),
            Expr::IsNull { expr, negated } => write!(f, "({expr} IS {}NULL)", if *negated { "NOT " } else { "" }),
            Expr::IsBool { expr, value, negated } => {
                write!(f, "({expr} IS {}{})", if *negated { "NOT " } else { "" }, if *value { "TRUE" } else { "FALSE" })
            }
            Expr::IsDistinct { left, right, negated } => {
                write!(f, "({left} IS {}DISTINCT FROM {right})", if *negated { "NOT " } else { "" })
            }
            Expr::Cast { expr, to } => write!(f, "CAST({expr} AS {to})"),
            Expr::Case { .. } => f.write_str("CASE …"),
            Expr::Coalesce { args, .. } => write!(f, "COALESCE({})", list(args)),
            Expr::NullIf { left, right, .. } => write!(f, "NULLIF({left}, {right})"),
            Expr::InList { expr, list: items, negated } => {
                write!(f, "({expr} {}IN ({}))", if *negated { "NOT " } else { "" }, list(items))
            }
            Expr::Function { name, args, .. } => write!(f, "{name}({})", list(args)),
            Expr::Quantified { expr, op, array, all } => {
                write!(f, "({expr} {} {}({array}))", op.symbol(), if *all { "ALL" } else { "ANY" })
            }
            Expr::Subquery(sub) => match &sub.kind {
                SubqueryKind::Array => f.write_str("ARRAY(subquery)"),
                SubqueryKind::Scalar => f.write_str("(subquery)"),
                SubqueryKind::Exists => f.write_str("EXISTS(subquery)"),
                SubqueryKind::Any { expr, op } => write!(f, "({expr} {} ANY(subquery))", op.symbol()),
                SubqueryKind::All { expr, op } => write!(f, "({expr} {} ALL(subquery))", op.symbol()),
            },
        }
    }
}

fn list(items: &[Expr]) -> String {
    items.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ")
}
