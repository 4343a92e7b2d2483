//! The one error type of `rustydb-sim`: problems with the simulator's input.
//! (What a simulated run finds wrong is a verdict, not an error: see `run.rs`.)

/// Errors loading or validating a scenario.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot read scenario {path}: {source}")]
    ReadScenario { path: String, source: std::io::Error },
    /// The TOML is malformed or has an unknown key; `message` names the line.
    #[error("scenario {path}: {message}")]
    ParseScenario { path: String, message: String },
    /// A value is out of range.
    #[error("scenario {path}: `{key}` {problem}")]
    InvalidScenario { path: String, key: String, problem: String },
    #[error("scenario {path}: unknown workload `{workload}` (known: {known})")]
    UnknownWorkload { path: String, workload: String, known: String },
}
