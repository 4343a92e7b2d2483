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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data: "rustydb-data".into(),
            pg_addr: "127.0.0.1:5432".into(),
            http_addr: "127.0.0.1:8080".into(),
            log: "info".into(),
        }
    }
}

/// Environment variables and the setting each overrides.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("RUSTYDB_DATA", "data"),
    ("RUSTYDB_PG_ADDR", "pg_addr"),
    ("RUSTYDB_HTTP_ADDR", "http_addr"),
    ("RUSTYDB_LOG", "log"),
];

impl ServerConfig {
    /// Parses a TOML config file's text; unknown keys are errors.
    pub fn from_toml(text: &str) -> Result<ServerConfig, String> {
        toml::from_str(text).map_err(|e| format!("invalid config: {e}"))
    }

    /// Sets one setting by name (from an environment variable or a flag).
    pub fn set(&mut self, name: &str, value: String) -> Result<(), String> {
        match name {
            "data" => self.data = value,
            "pg_addr" => self.pg_addr = value,
            "http_addr" => self.http_addr = value,
            "log" => self.log = value,
            other => return Err(format!("unknown setting {other}")),
        }
        Ok(())
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
        assert!(ServerConfig::from_toml("data = 3").is_err());
    }

    #[test]
    fn addresses_split_or_fail_clearly() {
        assert_eq!(ServerConfig::split_addr("127.0.0.1:5432").unwrap(), ("127.0.0.1".into(), 5432));
        assert_eq!(ServerConfig::split_addr("[::1]:5").unwrap(), ("::1".into(), 5));
        assert!(ServerConfig::split_addr("localhost").is_err());
        assert!(ServerConfig::split_addr("h:99999").is_err());
    }
}
