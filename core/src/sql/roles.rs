//! Roles: who may log in, with which password, and whether they bypass
//! privilege checks; and the statements CREATE, ALTER and DROP ROLE.
//!
//! A role is a catalog object ([`RoleDef`]), so role changes commit and roll
//! back with their transaction. A password is never stored, only secrets
//! derived from it with a salt from the Env's random source:
//! - an **Argon2id** hash, checked when a client hands over the password
//!   itself (the HTTP login);
//! - a **SCRAM-SHA-256 verifier** (RFC 5802/7677, as PostgreSQL stores it),
//!   against which the wire protocol's SCRAM exchange checks a proof of the
//!   password without the password crossing the network.
//!
//! Sessions of the embedded library have no user: whoever opened the files
//! owns the database and acts as a superuser. The server bootstraps the
//! superuser [`BOOTSTRAP_SUPERUSER`] on a database without roles and runs
//! every session as the role that logged in.

use std::num::NonZeroU32;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use sqlparser::ast;

use crate::env::Random;
use crate::sql::binder::{ident_name, object_name};
use crate::sql::catalog::Schema;
use crate::sql::exec::ExecContext;
use crate::sql::session::QueryResult;
use crate::{Error, Result};

/// The superuser the server creates on a database without roles; it can
/// neither be dropped nor lose SUPERUSER or LOGIN.
pub const BOOTSTRAP_SUPERUSER: &str = "rustydb";
/// PBKDF2 rounds of new SCRAM verifiers (PostgreSQL's default).
pub const SCRAM_ITERATIONS: u32 = 4096;
const SALT_BYTES: usize = 16;
/// Longer passwords are refused: Argon2 and PBKDF2 take time in their length.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// One role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleDef {
    pub name: String,
    pub superuser: bool,
    /// Whether it may start a session.
    pub login: bool,
    /// `None`: password logins always fail.
    pub password: Option<PasswordSecrets>,
}

/// What is kept of a password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordSecrets {
    /// The Argon2id hash as a PHC string (`$argon2id$v=19$…`).
    pub argon2id: String,
    pub scram: ScramVerifier,
}

/// A SCRAM-SHA-256 verifier: enough to check a client's proof and to prove
/// the server knew it, not enough to log in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScramVerifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl PasswordSecrets {
    /// Derives both secrets of `password`, each with its own fresh salt.
    pub fn derive(password: &str, random: &dyn Random) -> Result<PasswordSecrets> {
        if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
            return Err(Error::sql("22023", format!("a password must be 1 to {MAX_PASSWORD_BYTES} bytes long")));
        }
        let mut argon2_salt = [0u8; SALT_BYTES];
        random.fill(&mut argon2_salt);
        let mut scram_salt = [0u8; SALT_BYTES];
        random.fill(&mut scram_salt);
        Self::derive_salted(password, &argon2_salt, &scram_salt)
    }

    fn derive_salted(password: &str, argon2_salt: &[u8], scram_salt: &[u8]) -> Result<PasswordSecrets> {
        let hash = argon2::Argon2::default()
            .hash_password_with_salt(password.as_bytes(), argon2_salt)
            .map_err(|e| Error::Corrupt(format!("argon2id hashing failed: {e}")))?;
        let scram = ScramVerifier::derive(password.as_bytes(), scram_salt, SCRAM_ITERATIONS);
        Ok(PasswordSecrets { argon2id: hash.to_string(), scram })
    }

    /// Secrets no login matches (of a password longer than any accepted),
    /// checked against when a role does not exist so that its logins take
    /// as long as real ones and timing does not tell which roles exist.
    pub fn unmatchable() -> &'static PasswordSecrets {
        static SECRETS: std::sync::OnceLock<PasswordSecrets> = std::sync::OnceLock::new();
        SECRETS.get_or_init(|| {
            let password = "x".repeat(MAX_PASSWORD_BYTES + 1);
            Self::derive_salted(&password, b"rustydb-unmatchable", b"rustydb-unmatchable")
                .expect("argon2id hashes a fixed input")
        })
    }

    /// Whether `password` is the one these secrets were derived from.
    pub fn verify(&self, password: &str) -> bool {
        let Ok(hash) = argon2::password_hash::phc::PasswordHash::new(&self.argon2id) else {
            return false;
        };
        argon2::Argon2::default().verify_password(password.as_bytes(), &hash).is_ok()
    }
}

impl ScramVerifier {
    /// The verifier of `password` (RFC 5802: SaltedPassword = PBKDF2 of the
    /// password; StoredKey = H(HMAC(SaltedPassword, "Client Key"));
    /// ServerKey = HMAC(SaltedPassword, "Server Key")).
    pub fn derive(password: &[u8], salt: &[u8], iterations: u32) -> ScramVerifier {
        let iterations = iterations.max(1);
        let salted = salted_password(password, salt, iterations);
        let client_key = hmac_sha256(&salted, b"Client Key");
        ScramVerifier {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// The client's side of the exchange (for simulated and test clients):
    /// the ClientProof of `password` for `auth_message`, and the
    /// ServerSignature a genuine server answers with.
    pub fn client_proof(password: &[u8], salt: &[u8], iterations: u32, auth_message: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let salted = salted_password(password, salt, iterations.max(1));
        let client_key = hmac_sha256(&salted, b"Client Key");
        let signature = hmac_sha256(&sha256(&client_key), auth_message);
        let proof = client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
        (proof, hmac_sha256(&hmac_sha256(&salted, b"Server Key"), auth_message))
    }

    /// Whether `proof` (the client's ClientProof for `auth_message`) shows
    /// it knows the password: ClientKey = proof XOR HMAC(StoredKey,
    /// AuthMessage) must hash to StoredKey.
    pub fn verify_proof(&self, auth_message: &[u8], proof: &[u8]) -> bool {
        let signature = hmac_sha256(&self.stored_key, auth_message);
        if proof.len() != signature.len() {
            return false;
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        constant_time_eq(&sha256(&client_key), &self.stored_key)
    }

    /// ServerSignature: proves to the client that the server held the verifier.
    pub fn server_signature(&self, auth_message: &[u8]) -> Vec<u8> {
        hmac_sha256(&self.server_key, auth_message)
    }
}

fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let rounds = NonZeroU32::new(iterations).expect("at least one round");
    let mut salted = [0u8; 32];
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, rounds, salt, password, &mut salted);
    salted
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref().to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who runs a statement: a role of the catalog, or the embedded owner.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `None` for the embedded library's owner.
    pub name: Option<String>,
    pub superuser: bool,
}

impl Actor {
    /// The actor for a session of `user` under `schema`; fails if the role
    /// was dropped while the session was open.
    pub fn of(user: Option<&str>, schema: &Schema) -> Result<Actor> {
        let Some(name) = user else {
            return Ok(Actor { name: None, superuser: true });
        };
        match schema.roles.get(name) {
            Some(role) => Ok(Actor { name: Some(name.to_string()), superuser: role.superuser }),
            None => Err(Error::sql("28000", format!("role \"{name}\" does not exist"))),
        }
    }

    pub(crate) fn require_superuser(&self, what: &str) -> Result<()> {
        if self.superuser { Ok(()) } else { Err(permission_denied(what)) }
    }
}

pub fn permission_denied(what: &str) -> Error {
    Error::sql("42501", format!("permission denied to {what}"))
}

/// CREATE ROLE name [[WITH] LOGIN | SUPERUSER | PASSWORD '…' …].
pub async fn create_role(create: &ast::CreateRole, schema: &Schema, ctx: &mut ExecContext) -> Result<QueryResult> {
    ctx.actor.clone().require_superuser("create role")?;
    reject_unsupported_create_options(create)?;
    for name in &create.names {
        let name = object_name(name)?;
        if schema.roles.contains_key(&name) {
            if create.if_not_exists {
                continue;
            }
            return Err(Error::sql("42710", format!("role \"{name}\" already exists")));
        }
        let mut role = RoleDef {
            name,
            superuser: create.superuser.unwrap_or(false),
            login: create.login.unwrap_or(false),
            password: None,
        };
        if let Some(password) = &create.password {
            role.password = password_secrets(password, ctx)?;
        }
        ctx.db.catalog.put_role(&mut ctx.txn, &role).await?;
    }
    Ok(QueryResult::command("CREATE ROLE"))
}

fn reject_unsupported_create_options(create: &ast::CreateRole) -> Result<()> {
    let unsupported = [
        (create.inherit.is_some(), "INHERIT"),
        (create.bypassrls.is_some(), "BYPASSRLS"),
        (create.create_db.is_some(), "CREATEDB"),
        (create.create_role.is_some(), "CREATEROLE"),
        (create.replication.is_some(), "REPLICATION"),
        (create.connection_limit.is_some(), "CONNECTION LIMIT"),
        (create.valid_until.is_some(), "VALID UNTIL"),
        (!create.in_role.is_empty() || !create.in_group.is_empty(), "IN ROLE (role membership)"),
        (!create.role.is_empty() || !create.user.is_empty() || !create.admin.is_empty(), "role membership"),
        (create.authorization_owner.is_some(), "AUTHORIZATION"),
    ];
    match unsupported.iter().find(|(set, _)| *set) {
        Some((_, option)) => Err(Error::NotSupported(format!("the role option {option}"))),
        None => Ok(()),
    }
}

/// ALTER ROLE name [WITH] options: a superuser may change any option of any
/// role; every role may change its own password.
pub async fn alter_role(
    name: &ast::Ident,
    operation: &ast::AlterRoleOperation,
    schema: &Schema,
    ctx: &mut ExecContext,
) -> Result<QueryResult> {
    let name = ident_name(name);
    let actor = ctx.actor.clone();
    let Some(existing) = schema.roles.get(&name) else {
        return Err(Error::sql("42704", format!("role \"{name}\" does not exist")));
    };
    let ast::AlterRoleOperation::WithOptions { options } = operation else {
        return Err(Error::NotSupported(format!("ALTER ROLE {operation}")));
    };
    let only_own_password = actor.name.as_deref() == Some(name.as_str())
        && options.iter().all(|o| matches!(o, ast::RoleOption::Password(_)));
    if !only_own_password {
        actor.require_superuser("alter role")?;
    }
    let mut role = RoleDef::clone(existing);
    for option in options {
        match option {
            ast::RoleOption::Login(login) => role.login = *login,
            ast::RoleOption::SuperUser(superuser) => role.superuser = *superuser,
            ast::RoleOption::Password(password) => role.password = password_secrets(password, ctx)?,
            other => return Err(Error::NotSupported(format!("the role option {other}"))),
        }
    }
    if role.name == BOOTSTRAP_SUPERUSER && !(role.superuser && role.login) {
        return Err(permission_denied("remove SUPERUSER or LOGIN from the bootstrap superuser"));
    }
    ctx.db.catalog.put_role(&mut ctx.txn, &role).await?;
    Ok(QueryResult::command("ALTER ROLE"))
}

/// DROP ROLE [IF EXISTS] names: refused while a role owns a relation or
/// holds privileges on one (as PostgreSQL does), and for the current user
/// and the bootstrap superuser.
pub async fn drop_roles(
    if_exists: bool,
    names: &[ast::ObjectName],
    schema: &Schema,
    ctx: &mut ExecContext,
) -> Result<QueryResult> {
    let actor = ctx.actor.clone();
    actor.require_superuser("drop role")?;
    for name in names {
        let name = object_name(name)?;
        if !schema.roles.contains_key(&name) {
            if if_exists {
                continue;
            }
            return Err(Error::sql("42704", format!("role \"{name}\" does not exist")));
        }
        if name == BOOTSTRAP_SUPERUSER {
            return Err(permission_denied("drop the bootstrap superuser"));
        }
        if actor.name.as_deref() == Some(name.as_str()) {
            return Err(Error::sql("55006", "current user cannot be dropped"));
        }
        if let Some(relation) = crate::sql::privileges::relation_depending_on(schema, &name) {
            return Err(Error::sql(
                "2BP01",
                format!(
                    "role \"{name}\" cannot be dropped because some objects depend on it (relation \"{relation}\")"
                ),
            ));
        }
        ctx.db.catalog.delete_role(&mut ctx.txn, &name).await?;
    }
    Ok(QueryResult::command("DROP ROLE"))
}

fn password_secrets(password: &ast::Password, ctx: &ExecContext) -> Result<Option<PasswordSecrets>> {
    match password {
        ast::Password::NullPassword => Ok(None),
        ast::Password::Password(ast::Expr::Value(value)) => match &value.value {
            ast::Value::SingleQuotedString(text) => {
                Ok(Some(PasswordSecrets::derive(text, ctx.db.env.random.as_ref())?))
            }
            ast::Value::Null => Ok(None),
            other => Err(Error::sql("42601", format!("a password must be a string literal, not {other}"))),
        },
        ast::Password::Password(other) => {
            Err(Error::sql("42601", format!("a password must be a string literal, not {other}")))
        }
    }
}

/// Parses `sql` holding PostgreSQL's `CREATE USER` (sqlparser reads that
/// spelling with another dialect's grammar): as `CREATE ROLE` with LOGIN
/// unless NOLOGIN is given. `None` if `sql` has no CREATE USER.
pub fn parse_create_user(sql: &str) -> Option<Result<Vec<ast::Statement>>> {
    use sqlparser::keywords::Keyword;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let mut tokens = Tokenizer::new(&dialect, sql).tokenize().ok()?;
    // Whether each CREATE ROLE/USER, in order, was spelled USER.
    let mut spelled_user = Vec::new();
    let mut previous_word: Option<Keyword> = None;
    for token in &mut tokens {
        let keyword = match token {
            Token::Word(word) => word.keyword,
            Token::Whitespace(_) => continue,
            _ => Keyword::NoKeyword,
        };
        if previous_word == Some(Keyword::CREATE) && matches!(keyword, Keyword::USER | Keyword::ROLE) {
            spelled_user.push(keyword == Keyword::USER);
            if keyword == Keyword::USER {
                *token = Token::make_keyword("ROLE");
            }
        }
        previous_word = Some(keyword);
    }
    if !spelled_user.contains(&true) {
        return None;
    }
    let text: String = tokens.iter().map(ToString::to_string).collect();
    let mut statements = match crate::sql::session::parse(&text) {
        Ok(statements) => statements,
        Err(e) => return Some(Err(e)),
    };
    let mut spelled = spelled_user.into_iter();
    for statement in &mut statements {
        if let ast::Statement::CreateRole(create) = statement
            && spelled.next() == Some(true)
        {
            create.login.get_or_insert(true);
        }
    }
    Some(Ok(statements))
}

/// The bootstrap superuser, with `password`.
pub fn bootstrap_superuser(password: &str, random: &dyn Random) -> Result<RoleDef> {
    Ok(RoleDef {
        name: BOOTSTRAP_SUPERUSER.into(),
        superuser: true,
        login: true,
        password: Some(PasswordSecrets::derive(password, random)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's example exchange (user "user", password "pencil").
    #[test]
    fn scram_verifier_checks_the_rfc_7677_example_proof() {
        use base64_decode as b64;
        let salt = b64("W22ZaJ0SNY7soEsUEjb6gQ==");
        let verifier = ScramVerifier::derive(b"pencil", &salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
                            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
                            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let proof = b64("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        assert!(verifier.verify_proof(auth_message.as_bytes(), &proof));
        let (client_proof, server_signature) =
            ScramVerifier::client_proof(b"pencil", &salt, 4096, auth_message.as_bytes());
        assert_eq!(client_proof, proof);
        assert_eq!(server_signature, verifier.server_signature(auth_message.as_bytes()));
        assert_eq!(
            verifier.server_signature(auth_message.as_bytes()),
            b64("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        );

        let mut wrong = proof.clone();
        wrong[0] ^= 1;
        assert!(!verifier.verify_proof(auth_message.as_bytes(), &wrong));
        assert!(!verifier.verify_proof(auth_message.as_bytes(), &proof[1..]));
    }

    #[test]
    fn argon2id_secrets_verify_only_their_password() {
        let random = TestRandom(std::sync::Mutex::new(crate::env::SplitMix64::new(7)));
        let secrets = PasswordSecrets::derive("correct horse", &random).unwrap();
        assert!(secrets.argon2id.starts_with("$argon2id$"));
        assert!(secrets.verify("correct horse"));
        assert!(!secrets.verify("correct horsE"));
        assert!(PasswordSecrets::derive("", &random).is_err());
        let unmatchable = PasswordSecrets::unmatchable();
        assert!(unmatchable.argon2id.starts_with("$argon2id$"), "a real hash, so checking it takes real time");
        assert!(!unmatchable.verify("") && !unmatchable.verify("x"));
    }

    struct TestRandom(std::sync::Mutex<crate::env::SplitMix64>);

    impl Random for TestRandom {
        fn next_u64(&self) -> u64 {
            self.0.lock().unwrap().next_u64()
        }
    }

    fn base64_decode(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for c in text.bytes().filter(|&c| c != b'=') {
            bits = (bits << 6) | ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
            }
        }
        out
    }
}
