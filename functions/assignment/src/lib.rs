//! `assignment`: see DESIGN.md.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::store::Store;

pub async fn handle<S: Store>(app: App<S>, event: Request) -> Response<Body> {
    let _ = (app, event);
    todo!("assignment")
}
