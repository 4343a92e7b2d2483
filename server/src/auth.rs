//! Authentication shared by the front ends: which roles may log in, the
//! secrets a login is checked against, the per-user-and-address limit on
//! failed logins, and the audit records of every attempt.
//!
//! The PostgreSQL protocol authenticates with SCRAM-SHA-256 against each
//! role's verifier (see `postgres/scram.rs`); the HTTP login checks the
//! password itself against the Argon2id hash. An unknown role, one without
//! LOGIN and one without a password all fail exactly as a wrong password
//! does (a SCRAM exchange with them runs against a mock verifier derived
//! from a per-server secret), so a client cannot probe which roles exist.
//!
//! Failed logins are counted per (role name, client host): after
//! [`FREE_FAILURES`] in a row, further attempts are refused without a
//! password check for a lockout that doubles with each failure, up to
//! [`MAX_LOCKOUT`]. A success clears the count. At most [`MAX_TRACKED`]
//! pairs are tracked; beyond that the stalest is forgotten.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustydb_core::env::{Env, Instant};
use rustydb_core::sql::Database;
use rustydb_core::sql::roles::{RoleDef, SCRAM_ITERATIONS, ScramVerifier, hmac_sha256};
use rustydb_core::{Error, Result};

use crate::audit::{AuditEvent, AuditLog};

/// Failed logins allowed in a row before lockouts start.
pub const FREE_FAILURES: u32 = 5;
/// The first lockout; each further failure doubles it.
pub const FIRST_LOCKOUT: Duration = Duration::from_secs(1);
pub const MAX_LOCKOUT: Duration = Duration::from_secs(300);
/// (role, host) pairs whose failures are remembered.
pub const MAX_TRACKED: usize = 10_000;

/// How clients prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// SCRAM-SHA-256 over the wire, passwords over HTTP (the default).
    Password,
    /// Every client is whoever it says it is (PostgreSQL's `trust`): for
    /// throwaway local setups only; the server warns at start.
    Trust,
}

impl AuthMethod {
    pub fn parse(text: &str) -> std::result::Result<AuthMethod, String> {
        match text {
            "scram-sha-256" | "password" => Ok(AuthMethod::Password),
            "trust" => Ok(AuthMethod::Trust),
            other => Err(format!("unknown auth method {other:?} (expected \"scram-sha-256\" or \"trust\")")),
        }
    }
}

/// Where a login attempt comes from, for the throttle and the audit log.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The client's host (the port is not part of its identity).
    pub host: String,
    /// The front end: "pg" or "http".
    pub via: &'static str,
}

pub struct Authenticator {
    env: Env,
    db: Arc<Database>,
    method: AuthMethod,
    throttle: Mutex<Throttle>,
    audit: Option<Arc<AuditLog>>,
    /// Keys the mock verifiers of roles that cannot log in.
    mock_secret: [u8; 32],
}

impl Authenticator {
    pub fn new(env: &Env, db: Arc<Database>, method: AuthMethod, audit: Option<Arc<AuditLog>>) -> Arc<Authenticator> {
        let mut mock_secret = [0u8; 32];
        env.random.fill(&mut mock_secret);
        Arc::new(Authenticator {
            env: env.clone(),
            db,
            method,
            throttle: Mutex::new(Throttle::default()),
            audit,
            mock_secret,
        })
    }

    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// Fails (28000) while `user` from `origin` is locked out.
    pub async fn admit(&self, user: &str, origin: &Origin) -> Result<()> {
        let now = self.env.clock.now();
        let wait = self.throttle.lock().expect("throttle lock").lockout_left(user, &origin.host, now);
        let Some(wait) = wait else { return Ok(()) };
        self.audit(AuditEvent::LoginThrottled, user, origin, "").await?;
        Err(Error::sql(
            "28000",
            format!("too many failed login attempts for user \"{user}\"; try again in {} s", wait.as_secs().max(1)),
        ))
    }

    /// The verifier a SCRAM exchange for `user` runs against: the role's
    /// own if it may log in with a password, otherwise a mock one.
    pub async fn scram_verifier(&self, user: &str) -> Result<ScramVerifier> {
        match self.login_role(user).await? {
            Some(role) => Ok(role.password.as_ref().expect("login_role has a password").scram.clone()),
            None => {
                let salt = &hmac_sha256(&self.mock_secret, user.as_bytes())[..16];
                Ok(ScramVerifier::derive(&self.mock_secret, salt, SCRAM_ITERATIONS))
            }
        }
    }

    /// Records a successful login.
    pub async fn succeeded(&self, user: &str, origin: &Origin) -> Result<()> {
        self.throttle.lock().expect("throttle lock").clear(user, &origin.host);
        self.audit(AuditEvent::Login, user, origin, "").await
    }

    /// Records a failed login; the error to answer it with.
    pub async fn failed(&self, user: &str, origin: &Origin) -> Error {
        let now = self.env.clock.now();
        self.throttle.lock().expect("throttle lock").fail(user, &origin.host, now);
        if let Err(e) = self.audit(AuditEvent::LoginFailed, user, origin, "").await {
            return e;
        }
        Error::sql("28P01", format!("password authentication failed for user \"{user}\""))
    }

    /// A fresh, unguessable SCRAM server nonce.
    pub fn server_nonce(&self) -> String {
        let mut nonce = [0u8; 18];
        self.env.random.fill(&mut nonce);
        BASE64.encode(nonce)
    }

    /// Appends to the audit log, if there is one.
    pub async fn audit(&self, event: AuditEvent, user: &str, origin: &Origin, detail: &str) -> Result<()> {
        match &self.audit {
            Some(log) => log.record(event, user, &origin.host, origin.via, detail).await,
            None => Ok(()),
        }
    }

    /// The role `user` if it may log in with a password (the HTTP login
    /// checks the password against its Argon2id hash itself, off the async
    /// workers).
    pub async fn login_role(&self, user: &str) -> Result<Option<Arc<RoleDef>>> {
        Ok(self.db.role(user).await?.filter(|role| role.login && role.password.is_some()))
    }
}

/// Failed logins per (role, host).
#[derive(Default)]
struct Throttle {
    failures: BTreeMap<(String, String), Failures>,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Throttle {
    fn lockout_left(&self, user: &str, host: &str, now: Instant) -> Option<Duration> {
        let failures = self.failures.get(&(user.to_string(), host.to_string()))?;
        let until = failures.last.saturating_add(lockout(failures.count));
        let left = until.saturating_since(now);
        (!left.is_zero()).then_some(left)
    }

    fn fail(&mut self, user: &str, host: &str, now: Instant) {
        let key = (user.to_string(), host.to_string());
        if !self.failures.contains_key(&key) && self.failures.len() >= MAX_TRACKED {
            let stalest = self.failures.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| k.clone());
            if let Some(stalest) = stalest {
                self.failures.remove(&stalest);
            }
        }
        let entry = self.failures.entry(key).or_insert(Failures { count: 0, last: now });
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
    }

    fn clear(&mut self, user: &str, host: &str) {
        self.failures.remove(&(user.to_string(), host.to_string()));
    }
}

/// How long after the last of `count` failures the next attempt waits.
fn lockout(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES).min(16);
    FIRST_LOCKOUT.saturating_mul(1 << doublings).min(MAX_LOCKOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: u64) -> Instant {
        Instant::from_nanos(millis * 1_000_000)
    }

    #[test]
    fn lockouts_start_after_the_free_failures_and_double() {
        let mut throttle = Throttle::default();
        for i in 0..FREE_FAILURES - 1 {
            throttle.fail("u", "h", at(u64::from(i)));
            assert_eq!(throttle.lockout_left("u", "h", at(u64::from(i))), None);
        }
        throttle.fail("u", "h", at(10));
        assert_eq!(throttle.lockout_left("u", "h", at(10)), Some(Duration::from_secs(1)));
        assert_eq!(throttle.lockout_left("u", "h", at(1010)), None, "the lockout ends");
        assert_eq!(throttle.lockout_left("u", "other-host", at(10)), None, "per host");
        assert_eq!(throttle.lockout_left("v", "h", at(10)), None, "per user");
        throttle.fail("u", "h", at(2000));
        assert_eq!(throttle.lockout_left("u", "h", at(2000)), Some(Duration::from_secs(2)));
        throttle.clear("u", "h");
        assert_eq!(throttle.lockout_left("u", "h", at(2000)), None);
        assert_eq!(lockout(100), MAX_LOCKOUT);
    }

    #[test]
    fn the_stalest_pair_is_forgotten_beyond_the_limit() {
        let mut throttle = Throttle::default();
        for i in 0..MAX_TRACKED as u64 + 1 {
            throttle.fail(&format!("u{i}"), "h", at(i));
        }
        assert_eq!(throttle.failures.len(), MAX_TRACKED);
        assert!(!throttle.failures.contains_key(&("u0".to_string(), "h".to_string())));
    }
}
