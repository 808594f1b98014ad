use std::process::ExitCode;

use clap::Parser;
use homeline_cli::{Cli, Command, run_workers, table_name};
use shared::store::DynamoStore;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = |name: &str| std::env::var(name).ok();
    let result = async {
        let store = DynamoStore::from_env(table_name(&env)?).await;
        match cli.command {
            Command::Workers(command) => {
                run_workers(command, &store, &env, &mut std::io::stdout()).await
            }
        }
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
