//! `rustydb`: the command-line entry point. Binaries choose the Env: this one
//! wires the simulator (`rustydb sim`), the server on the production Env
//! (`rustydb server`) and the SQL client (`rustydb sql`).

mod repl;
mod server;
mod sim;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "rustydb", version, about = "RustyDB: a SQL database built to be simulated")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a simulation scenario for one seed or a range of seeds.
    Sim(sim::SimArgs),
    /// Serve a data directory over the PostgreSQL protocol and HTTP.
    Server(server::ServerArgs),
    /// A SQL client: connect to a server, or open a data directory (--data).
    Sql(repl::SqlArgs),
}

/// mimalloc: the engine allocates per value and glibc's allocator cost a
/// third of the run time in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Sim(args) => sim::run(&args),
        Command::Server(args) => server::run(args),
        Command::Sql(args) => repl::run(args),
    }
}
