#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    homeline_core::app::serve(assignment::handle).await
}
