#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    homeline_core::app::serve(amd_result::handle).await
}
