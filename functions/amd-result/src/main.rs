#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::serve(amd_result::handle).await
}
