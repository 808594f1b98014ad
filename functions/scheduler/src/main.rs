#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scheduler::serve().await
}
