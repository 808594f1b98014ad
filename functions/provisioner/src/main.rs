#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    provisioner::serve().await
}
