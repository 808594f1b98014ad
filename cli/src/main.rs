//! `homeline`: the operator's tool.

mod provision;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "homeline",
    version,
    about = "Set up and run Homeline at Twilio"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Provision(provision::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Provision(args) => provision::run(args).await,
    }
}
