use std::process::ExitCode;

use clap::Parser;
use homeline_cli::{
    Cli, Command, TableCommand, provision, run_blocklist, run_report, run_voicemails, run_workers,
    table_name,
};
use homeline_core::aws::AwsEnv;
use homeline_core::store::DynamoStore;
use homeline_core::store::dynamo::create_table;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = |name: &str| std::env::var(name).ok();
    let result = async {
        match cli.command {
            Command::Workers(command) => {
                let store = DynamoStore::from_env(AwsEnv::Standard, table_name(&env)?).await;
                run_workers(command, &store, &env, &mut std::io::stdout()).await
            }
            Command::Voicemails(args) => {
                let store = DynamoStore::from_env(AwsEnv::Standard, table_name(&env)?).await;
                run_voicemails(args, &store, &env, &mut std::io::stdout()).await
            }
            Command::Blocklist(command) => {
                let store = DynamoStore::from_env(AwsEnv::Standard, table_name(&env)?).await;
                run_blocklist(command, &store, &env, &mut std::io::stdout()).await
            }
            Command::Report(args) => {
                let store = DynamoStore::from_env(AwsEnv::Standard, table_name(&env)?).await;
                let now = homeline_core::store::now_secs();
                run_report(args, &store, &env, now, &mut std::io::stdout()).await
            }
            Command::Table(TableCommand::Create) => {
                let store = DynamoStore::from_env(AwsEnv::Standard, table_name(&env)?).await;
                create_table(store.client(), store.table()).await?;
                println!("Table {} is ready.", store.table());
                Ok(())
            }
            // Twilio only: no table needed.
            Command::Provision(args) => provision::run(args, &env, &mut std::io::stdout()).await,
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
