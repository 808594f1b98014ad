#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::serve(dial_status::handle).await
}
