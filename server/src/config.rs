//! Server settings: defaults, overridden by a TOML file, then by
//! environment variables, then by command-line flags (the binary applies
//! the last two; this file owns the names and the parsing).

use serde::Deserialize;

/// Every setting of `rustydb server`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The data directory (created on first start).
    pub data: String,
    /// Where the PostgreSQL protocol listens.
    pub pg_addr: String,
    /// Where HTTP listens.
    pub http_addr: String,
    /// A tracing filter: `info`, `debug`, `rustydb_server=trace` …
    pub log: String,
    /// The buffer pool's size in MiB (PostgreSQL's `shared_buffers` defaults to 128 MB too).
    pub buffer_pool_mib: u32,
    /// How clients authenticate: "scram-sha-256" (passwords; the default)
    /// or "trust" (anyone is whoever they claim; loopback only).
    pub auth: String,
    /// A PEM certificate chain for TLS on the PostgreSQL protocol; with
    /// `tls_key`, clients that ask for TLS get it. Empty: no TLS.
    pub tls_cert: String,
    /// The PEM private key of `tls_cert`.
    pub tls_key: String,
}

/// The buffer pool sizes the server accepts, in MiB.
pub const BUFFER_POOL_MIB: std::ops::RangeInclusive<u32> = 1..=65_536;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data: "rustydb-data".into(),
            pg_addr: "127.0.0.1:5432".into(),
            http_addr: "127.0.0.1:8080".into(),
            log: "info".into(),
            buffer_pool_mib: 128,
            auth: "scram-sha-256".into(),
            tls_cert: String::new(),
            tls_key: String::new(),
        }
    }
}

/// Environment variables and the setting each overrides.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("RUSTYDB_DATA", "data"),
    ("RUSTYDB_PG_ADDR", "pg_addr"),
    ("RUSTYDB_HTTP_ADDR", "http_addr"),
    ("RUSTYDB_LOG", "log"),
    ("RUSTYDB_BUFFER_POOL_MIB", "buffer_pool_mib"),
    ("RUSTYDB_AUTH", "auth"),
    ("RUSTYDB_TLS_CERT", "tls_cert"),
    ("RUSTYDB_TLS_KEY", "tls_key"),
];

impl ServerConfig {
    /// Parses a TOML config file's text; unknown keys are errors.
    pub fn from_toml(text: &str) -> Result<ServerConfig, String> {
        let config: ServerConfig = toml::from_str(text).map_err(|e| format!("invalid config: {e}"))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if !BUFFER_POOL_MIB.contains(&self.buffer_pool_mib) {
            return Err(format!(
                "buffer_pool_mib must be between {} and {}, not {}",
                BUFFER_POOL_MIB.start(),
                BUFFER_POOL_MIB.end(),
                self.buffer_pool_mib
            ));
        }
        self.auth_method()?;
        Ok(())
    }

    /// The parsed `auth` setting.
    pub fn auth_method(&self) -> Result<crate::auth::AuthMethod, String> {
        crate::auth::AuthMethod::parse(&self.auth)
    }

    /// The TLS certificate and key files, if TLS is configured; both or
    /// neither must be set (checked here, as settings arrive one at a time).
    pub fn tls_files(&self) -> Result<Option<(&str, &str)>, String> {
        match (self.tls_cert.is_empty(), self.tls_key.is_empty()) {
            (true, true) => Ok(None),
            (false, false) => Ok(Some((&self.tls_cert, &self.tls_key))),
            _ => Err("tls_cert and tls_key go together: set both or neither".into()),
        }
    }

    /// Buffer pool frames (4 KiB pages) for `buffer_pool_mib`.
    pub fn buffer_pool_frames(&self) -> usize {
        self.buffer_pool_mib as usize * 256
    }

    /// Sets one setting by name (from an environment variable or a flag).
    pub fn set(&mut self, name: &str, value: String) -> Result<(), String> {
        match name {
            "data" => self.data = value,
            "pg_addr" => self.pg_addr = value,
            "http_addr" => self.http_addr = value,
            "log" => self.log = value,
            "auth" => self.auth = value,
            "tls_cert" => self.tls_cert = value,
            "tls_key" => self.tls_key = value,
            "buffer_pool_mib" => {
                self.buffer_pool_mib =
                    value.parse().map_err(|_| format!("buffer_pool_mib: {value:?} is not a whole number of MiB"))?;
            }
            other => return Err(format!("unknown setting {other}")),
        }
        self.check()
    }

    /// Splits `HOST:PORT`, with a clear error for anything else.
    pub fn split_addr(addr: &str) -> Result<(String, u16), String> {
        let (host, port) = addr.rsplit_once(':').ok_or_else(|| format!("{addr}: expected HOST:PORT"))?;
        let port = port.parse().map_err(|_| format!("{addr}: invalid port {port:?}"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("{addr}: missing host"));
        }
        Ok((host.to_string(), port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_override_defaults_and_unknown_keys_fail() {
        let config = ServerConfig::from_toml("data = \"/tmp/x\"\npg_addr = \"127.0.0.1:6000\"").unwrap();
        assert_eq!(config.data, "/tmp/x");
        assert_eq!(config.http_addr, ServerConfig::default().http_addr);
        assert!(ServerConfig::from_toml("colour = 1").is_err());
        assert!(ServerConfig::from_toml("buffer_pool_mib = 0").is_err());
        assert_eq!(ServerConfig::from_toml("buffer_pool_mib = 2").unwrap().buffer_pool_frames(), 512);
        assert!(ServerConfig::from_toml("data = 3").is_err());
        assert!(ServerConfig::from_toml("auth = \"md5\"").is_err());
        assert!(ServerConfig::from_toml("auth = \"trust\"").is_ok());
    }

    #[test]
    fn addresses_split_or_fail_clearly() {
        assert_eq!(ServerConfig::split_addr("127.0.0.1:5432").unwrap(), ("127.0.0.1".into(), 5432));
        assert_eq!(ServerConfig::split_addr("[::1]:5").unwrap(), ("::1".into(), 5));
        assert!(ServerConfig::split_addr("localhost").is_err());
        assert!(ServerConfig::split_addr("h:99999").is_err());
    }
}
