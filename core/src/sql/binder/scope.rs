//! Name scopes: which columns a name can mean at one point of a query.

use crate::sql::value::DataType;
use crate::{Error, Result};

/// One column visible by name.
#[derive(Debug, Clone)]
pub struct ScopeColumn {
    /// The table or alias it belongs to (`None` for derived columns).
    pub table: Option<String>,
    pub name: String,
    pub ty: DataType,
    /// Hidden from `*` and from unqualified lookup (the right-hand copy of a
    /// USING / NATURAL join column).
    pub hidden: bool,
}

/// The columns of a plan's output, by name.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    pub fn new(columns: Vec<ScopeColumn>) -> Scope {
        Scope { columns }
    }

    /// Columns of table `table` named `names` with `types`.
    pub fn of_table(table: &str, names: &[String], types: &[DataType]) -> Scope {
        let columns = names
            .iter()
            .zip(types)
            .map(|(name, ty)| ScopeColumn {
                table: Some(table.to_string()),
                name: name.clone(),
                ty: ty.clone(),
                hidden: false,
            })
            .collect();
        Scope { columns }
    }

    /// The scope of `self` joined with `other` (other's columns after).
    pub fn join(mut self, other: Scope) -> Scope {
        self.columns.extend(other.columns);
        self
    }

    /// Finds `name` (optionally qualified by `table`): `Ok(None)` if absent,
    /// an error if ambiguous.
    pub fn resolve(&self, table: Option<&str>, name: &str) -> Result<Option<usize>> {
        let mut found = None;
        for (i, column) in self.columns.iter().enumerate() {
            let table_matches = match table {
                Some(t) => column.table.as_deref() == Some(t),
                None => !column.hidden,
            };
            if table_matches && column.name == name {
                if found.is_some() {
                    return Err(Error::sql("42702", format!("column reference \"{name}\" is ambiguous")));
                }
                found = Some(i);
            }
        }
        Ok(found)
    }

    /// Whether some column belongs to `table`.
    pub fn has_table(&self, table: &str) -> bool {
        self.columns.iter().any(|c| c.table.as_deref() == Some(table))
    }
}
