#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::serve(taskrouter_events::handle).await
}
