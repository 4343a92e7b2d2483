//! Privileges on tables and views: who owns each relation, what GRANT gave
//! to whom, and the check every statement passes before it runs.
//!
//! Each table and view carries an [`Acl`] in its catalog entry: its owner
//! (the role that created it) and the privileges granted to roles or to
//! PUBLIC. Superusers pass every check; an owner holds every privilege on
//! its relations and alone (with superusers) may alter, drop, index or
//! GRANT on them. Relations created before roles existed, or by the
//! embedded library, have no owner: only superusers act on them unless
//! privileges are granted.
//!
//! The check reads the statement's syntax tree, before binding: each
//! relation a statement names needs SELECT, except the target of a write,
//! which needs INSERT, UPDATE or DELETE (and SELECT too when the statement
//! reads it through WHERE or RETURNING, as in PostgreSQL). A view's SELECT
//! privilege covers what it reads: creating a view needs SELECT on every
//! relation its query names.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use sqlparser::ast;

use crate::sql::binder::object_name;
use crate::sql::catalog::Schema;
use crate::sql::exec::ExecContext;
use crate::sql::roles::{Actor, permission_denied};
use crate::sql::session::QueryResult;
use crate::{Error, Result};

/// The grantee name standing for every role.
pub const PUBLIC: &str = "public";

/// One privilege on a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Privilege {
    Select,
    Insert,
    Update,
    Delete,
    Truncate,
    References,
    Trigger,
}

const ALL: [Privilege; 7] = [
    Privilege::Select,
    Privilege::Insert,
    Privilege::Update,
    Privilege::Delete,
    Privilege::Truncate,
    Privilege::References,
    Privilege::Trigger,
];

impl Privilege {
    pub fn name(self) -> &'static str {
        match self {
            Privilege::Select => "SELECT",
            Privilege::Insert => "INSERT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
            Privilege::Truncate => "TRUNCATE",
            Privilege::References => "REFERENCES",
            Privilege::Trigger => "TRIGGER",
        }
    }

    /// Its letter in PostgreSQL's ACL text.
    pub fn letter(self) -> char {
        match self {
            Privilege::Select => 'r',
            Privilege::Insert => 'a',
            Privilege::Update => 'w',
            Privilege::Delete => 'd',
            Privilege::Truncate => 'D',
            Privilege::References => 'x',
            Privilege::Trigger => 't',
        }
    }
}

/// Owner and grants of one relation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Acl {
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub grants: BTreeMap<String, BTreeSet<Privilege>>,
}

impl Acl {
    /// The ACL of a relation `actor` creates.
    pub fn owned_by(actor: &Actor) -> Acl {
        Acl { owner: actor.name.clone(), grants: BTreeMap::new() }
    }

    fn owned_by_actor(&self, actor: &Actor) -> bool {
        actor.superuser || (actor.name.is_some() && self.owner == actor.name)
    }

    fn allows(&self, actor: &Actor, privilege: Privilege) -> bool {
        let granted = |grantee: &str| self.grants.get(grantee).is_some_and(|p| p.contains(&privilege));
        self.owned_by_actor(actor) || granted(PUBLIC) || actor.name.as_deref().is_some_and(granted)
    }

    fn mentions(&self, role: &str) -> bool {
        self.owner.as_deref() == Some(role) || self.grants.contains_key(role)
    }

    /// The ACL as PostgreSQL's `aclitem[]` text (`pg_class.relacl`):
    /// `grantee=privileges/grantor`, the owner first with every privilege,
    /// PUBLIC as an empty grantee; `None` while nothing was granted (the
    /// default privileges). `owner` stands in for a relation without one.
    pub fn items(&self, owner: &str) -> Option<Vec<String>> {
        if self.grants.is_empty() {
            return None;
        }
        let owner = self.owner.as_deref().unwrap_or(owner);
        let item = |grantee: &str, privileges: &mut dyn Iterator<Item = Privilege>| {
            let mut letters: Vec<Privilege> = privileges.collect();
            letters.sort_by_key(|p| ACL_ORDER.iter().position(|q| q == p));
            let letters: String = letters.into_iter().map(Privilege::letter).collect();
            let grantee = if grantee == PUBLIC { "" } else { grantee };
            format!("{grantee}={letters}/{owner}")
        };
        let mut items = vec![item(owner, &mut ALL.into_iter())];
        for (grantee, privileges) in &self.grants {
            items.push(item(grantee, &mut privileges.iter().copied()));
        }
        Some(items)
    }
}

/// The order PostgreSQL prints privilege letters in (`arwdDxt`).
const ACL_ORDER: [Privilege; 7] = [
    Privilege::Insert,
    Privilege::Select,
    Privilege::Update,
    Privilege::Delete,
    Privilege::Truncate,
    Privilege::References,
    Privilege::Trigger,
];

/// Fails with 42501 unless `actor` may run `statement` against `schema`.
pub fn check(statement: &ast::Statement, schema: &Schema, actor: &Actor) -> Result<()> {
    if actor.superuser {
        return Ok(());
    }
    let mut needed = Needs::default();
    needed.statement(statement, schema)?;
    for (relation, privilege) in &needed.privileges {
        if let Some(acl) = acl_of(schema, relation)
            && !acl.allows(actor, *privilege)
        {
            return Err(denied_on(schema, relation));
        }
    }
    for relation in &needed.ownership {
        if let Some(acl) = acl_of(schema, relation)
            && !acl.owned_by_actor(actor)
        {
            return Err(Error::sql("42501", format!("must be owner of {} {relation}", kind_of(schema, relation))));
        }
    }
    if let Some(what) = needed.superuser {
        return Err(permission_denied(what));
    }
    Ok(())
}

/// Fails with 42501 unless `actor` holds `privilege` on `relation` (for
/// access that is not a statement, such as a change stream).
pub fn require(schema: &Schema, actor: &Actor, relation: &str, privilege: Privilege) -> Result<()> {
    match acl_of(schema, relation) {
        Some(acl) if !acl.allows(actor, privilege) => Err(denied_on(schema, relation)),
        _ => Ok(()),
    }
}

/// What one statement needs.
#[derive(Default)]
struct Needs {
    privileges: BTreeSet<(String, Privilege)>,
    /// Relations the actor must own.
    ownership: BTreeSet<String>,
    /// Set when only a superuser may run the statement.
    superuser: Option<&'static str>,
}

impl Needs {
    fn statement(&mut self, statement: &ast::Statement, schema: &Schema) -> Result<()> {
        match statement {
            ast::Statement::Explain { statement, .. } => self.statement(statement, schema)?,
            ast::Statement::Insert(insert) => {
                let target = crate::sql::dml::insert_table_name(insert)?;
                self.write(statement, &target, Privilege::Insert, insert.returning.is_some())?;
                if let Some(ast::OnInsert::OnConflict(conflict)) = &insert.on
                    && matches!(conflict.action, ast::OnConflictAction::DoUpdate(_))
                {
                    self.privileges.insert((target, Privilege::Update));
                }
            }
            ast::Statement::Update(update) => {
                if let ast::TableFactor::Table { name, .. } = &update.table.relation {
                    let reads = update.selection.is_some() || update.returning.is_some();
                    self.write(statement, &object_name(name)?, Privilege::Update, reads)?;
                }
            }
            ast::Statement::Delete(delete) => {
                if let ast::TableFactor::Table { name, .. } = &crate::sql::dml::delete_from(delete)?.relation {
                    let reads = delete.selection.is_some() || delete.returning.is_some();
                    self.write(statement, &object_name(name)?, Privilege::Delete, reads)?;
                }
            }
            ast::Statement::Copy { source: ast::CopySource::Table { table_name, .. }, to, .. } => {
                let privilege = if *to { Privilege::Select } else { Privilege::Insert };
                self.privileges.insert((object_name(table_name)?, privilege));
            }
            ast::Statement::Truncate(truncate) => {
                for target in &truncate.table_names {
                    self.privileges.insert((object_name(&target.name)?, Privilege::Truncate));
                }
            }
            ast::Statement::CreateIndex(create) => {
                self.ownership.insert(object_name(&create.table_name)?);
            }
            ast::Statement::AlterTable(alter) => {
                self.ownership.insert(object_name(&alter.name)?);
            }
            ast::Statement::Drop { object_type, names, .. } => self.drop(*object_type, names, schema)?,
            // CREATE TABLE … AS reads what its query names.
            ast::Statement::CreateTable(create) if create.query.is_some() => {
                self.reads(statement, Some(&object_name(&create.name)?))?
            }
            ast::Statement::CreateSequence { .. } | ast::Statement::CreateTable(_) => {}
            // Role statements and GRANT check their own rules.
            ast::Statement::CreateRole(_)
            | ast::Statement::AlterRole { .. }
            | ast::Statement::Grant(_)
            | ast::Statement::Revoke(_) => {}
            // Queries, COPY (query) TO, CREATE VIEW: read what they name.
            other => self.reads(other, None)?,
        }
        Ok(())
    }

    /// A write to `target`: `privilege` on it, SELECT on it when `reads`,
    /// SELECT on every other relation the statement names.
    fn write(&mut self, statement: &ast::Statement, target: &str, privilege: Privilege, reads: bool) -> Result<()> {
        self.privileges.insert((target.to_string(), privilege));
        if reads {
            self.privileges.insert((target.to_string(), Privilege::Select));
        }
        self.reads(statement, Some(target))
    }

    /// SELECT on every relation `statement` names; the first mention of
    /// `write_target` is the write itself.
    fn reads(&mut self, statement: &ast::Statement, write_target: Option<&str>) -> Result<()> {
        let mut names = Vec::new();
        let _ = ast::visit_relations(statement, |name| {
            names.push(object_name(name));
            ControlFlow::<()>::Continue(())
        });
        let mut skip = write_target;
        for name in names {
            let name = name?;
            if skip == Some(name.as_str()) {
                skip = None;
                continue;
            }
            self.privileges.insert((name, Privilege::Select));
        }
        Ok(())
    }

    fn drop(&mut self, kind: ast::ObjectType, names: &[ast::ObjectName], schema: &Schema) -> Result<()> {
        for name in names {
            let name = object_name(name)?;
            match kind {
                ast::ObjectType::Table | ast::ObjectType::View => {
                    self.ownership.insert(name);
                }
                ast::ObjectType::Index => {
                    if let Some(index) = schema.indexes.get(&name) {
                        self.ownership.insert(index.table.clone());
                    }
                }
                ast::ObjectType::Sequence => match schema.sequences.get(&name).and_then(|s| s.owned_by.clone()) {
                    Some(column) => {
                        let table = column.split('.').next().unwrap_or_default().to_string();
                        self.ownership.insert(table);
                    }
                    None => self.superuser = Some("drop a sequence no table owns"),
                },
                // DROP ROLE checks its own rules.
                _ => {}
            }
        }
        Ok(())
    }
}

fn acl_of<'a>(schema: &'a Schema, relation: &str) -> Option<&'a Acl> {
    schema.tables.get(relation).map(|t| &t.acl).or_else(|| schema.views.get(relation).map(|v| &v.acl))
}

fn kind_of(schema: &Schema, relation: &str) -> &'static str {
    if schema.views.contains_key(relation) { "view" } else { "table" }
}

fn denied_on(schema: &Schema, relation: &str) -> Error {
    Error::sql("42501", format!("permission denied for {} {relation}", kind_of(schema, relation)))
}

/// A relation `role` owns or holds privileges on, if any (DROP ROLE refuses then).
pub fn relation_depending_on(schema: &Schema, role: &str) -> Option<String> {
    let tables = schema.tables.values().filter(|t| t.acl.mentions(role)).map(|t| t.name.clone());
    let views = schema.views.values().filter(|v| v.acl.mentions(role)).map(|v| v.name.clone());
    tables.chain(views).next()
}

/// GRANT privileges ON relations TO roles.
pub async fn grant(grant: &ast::Grant, schema: &Schema, ctx: &mut ExecContext) -> Result<QueryResult> {
    if grant.with_grant_option || grant.as_grantor.is_some() || grant.granted_by.is_some() {
        return Err(Error::NotSupported("WITH GRANT OPTION and GRANTED BY".into()));
    }
    let change = AclChange::parse(&grant.privileges, grant.objects.as_ref(), &grant.grantees, schema)?;
    change
        .apply(schema, ctx, |acl, grantee, privileges| {
            acl.grants.entry(grantee.to_string()).or_default().extend(privileges.iter().copied());
        })
        .await?;
    Ok(QueryResult::command("GRANT"))
}

/// REVOKE privileges ON relations FROM roles.
pub async fn revoke(revoke: &ast::Revoke, schema: &Schema, ctx: &mut ExecContext) -> Result<QueryResult> {
    if revoke.grant_option_for || revoke.granted_by.is_some() {
        return Err(Error::NotSupported("GRANT OPTION FOR and GRANTED BY".into()));
    }
    let change = AclChange::parse(&revoke.privileges, revoke.objects.as_ref(), &revoke.grantees, schema)?;
    change
        .apply(schema, ctx, |acl, grantee, privileges| {
            if let Some(held) = acl.grants.get_mut(grantee) {
                held.retain(|p| !privileges.contains(p));
                if held.is_empty() {
                    acl.grants.remove(grantee);
                }
            }
        })
        .await?;
    Ok(QueryResult::command("REVOKE"))
}

/// The parsed parts of a GRANT or REVOKE.
struct AclChange {
    privileges: Vec<Privilege>,
    relations: Vec<String>,
    grantees: Vec<String>,
}

impl AclChange {
    fn parse(
        privileges: &ast::Privileges,
        objects: Option<&ast::GrantObjects>,
        grantees: &[ast::Grantee],
        schema: &Schema,
    ) -> Result<AclChange> {
        let privileges = match privileges {
            ast::Privileges::All { .. } => ALL.to_vec(),
            ast::Privileges::Actions(actions) => actions.iter().map(privilege_of).collect::<Result<_>>()?,
        };
        let relations = match objects {
            Some(ast::GrantObjects::Tables(names)) => names.iter().map(object_name).collect::<Result<_>>()?,
            Some(ast::GrantObjects::AllTablesInSchema { schemas }) if schemas.iter().all(is_public_schema) => {
                schema.tables.keys().chain(schema.views.keys()).cloned().collect()
            }
            Some(other) => return Err(Error::NotSupported(format!("GRANT and REVOKE ON {other}"))),
            None => return Err(Error::NotSupported("GRANT and REVOKE of role membership".into())),
        };
        let grantees = grantees.iter().map(|g| grantee_name(g, schema)).collect::<Result<_>>()?;
        Ok(AclChange { privileges, relations, grantees })
    }

    /// Applies `edit` to each relation's ACL for each grantee; the actor
    /// must own every relation.
    async fn apply(
        &self,
        schema: &Schema,
        ctx: &mut ExecContext,
        edit: impl Fn(&mut Acl, &str, &[Privilege]),
    ) -> Result<()> {
        let actor = ctx.actor.clone();
        for relation in &self.relations {
            if let Some(table) = schema.tables.get(relation) {
                let mut table = crate::sql::catalog::TableDef::clone(table);
                self.edit_acl(&mut table.acl, &actor, relation, &edit)?;
                ctx.db.catalog.put_table(&mut ctx.txn, &table).await?;
            } else if let Some(view) = schema.views.get(relation) {
                let mut view = crate::sql::catalog::ViewDef::clone(view);
                self.edit_acl(&mut view.acl, &actor, relation, &edit)?;
                ctx.db.catalog.put_view(&mut ctx.txn, &view).await?;
            } else {
                return Err(Error::sql("42P01", format!("relation \"{relation}\" does not exist")));
            }
        }
        Ok(())
    }

    fn edit_acl(
        &self,
        acl: &mut Acl,
        actor: &Actor,
        relation: &str,
        edit: &impl Fn(&mut Acl, &str, &[Privilege]),
    ) -> Result<()> {
        if !acl.owned_by_actor(actor) {
            return Err(Error::sql("42501", format!("must be owner of relation {relation} to grant or revoke on it")));
        }
        for grantee in &self.grantees {
            edit(acl, grantee, &self.privileges);
        }
        Ok(())
    }
}

fn privilege_of(action: &ast::Action) -> Result<Privilege> {
    let whole_table = |columns: &Option<Vec<ast::Ident>>| match columns {
        None => Ok(()),
        Some(_) => Err(Error::NotSupported("column privileges".into())),
    };
    match action {
        ast::Action::Select { columns } => whole_table(columns).map(|()| Privilege::Select),
        ast::Action::Insert { columns } => whole_table(columns).map(|()| Privilege::Insert),
        ast::Action::Update { columns } => whole_table(columns).map(|()| Privilege::Update),
        ast::Action::References { columns } => whole_table(columns).map(|()| Privilege::References),
        ast::Action::Delete => Ok(Privilege::Delete),
        ast::Action::Truncate => Ok(Privilege::Truncate),
        ast::Action::Trigger => Ok(Privilege::Trigger),
        other => Err(Error::NotSupported(format!("the privilege {other}"))),
    }
}

fn is_public_schema(name: &ast::ObjectName) -> bool {
    object_name(name).is_ok_and(|n| n == "public")
}

fn grantee_name(grantee: &ast::Grantee, schema: &Schema) -> Result<String> {
    if matches!(grantee.grantee_type, ast::GranteesType::Public) {
        return Ok(PUBLIC.into());
    }
    let name = match &grantee.name {
        Some(ast::GranteeName::ObjectName(name)) => object_name(name)?,
        _ => return Err(Error::NotSupported(format!("the grantee {grantee}"))),
    };
    if name == PUBLIC {
        return Ok(name);
    }
    if !schema.roles.contains_key(&name) {
        return Err(Error::sql("42704", format!("role \"{name}\" does not exist")));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_items_read_as_postgresql_prints_them() {
        let mut acl = Acl { owner: Some("owner".into()), grants: BTreeMap::new() };
        assert_eq!(acl.items("rustydb"), None, "default privileges are NULL");
        acl.grants.insert("alice".into(), BTreeSet::from([Privilege::Select, Privilege::Insert, Privilege::Trigger]));
        acl.grants.insert(PUBLIC.into(), BTreeSet::from([Privilege::Select]));
        let items = acl.items("rustydb").unwrap();
        assert_eq!(items, ["owner=arwdDxt/owner", "alice=art/owner", "=r/owner"]);
        acl.owner = None;
        assert_eq!(acl.items("rustydb").unwrap()[0], "rustydb=arwdDxt/rustydb");
    }
}
