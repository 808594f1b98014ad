//! The smallest lambda_http function: the baseline Homeline's start-up is
//! compared against in `make bench` (`tests/examples/cold_start.rs`).

use lambda_http::{Body, Error, Request, Response, run, service_fn};

async fn hello(_: Request) -> Result<Response<Body>, Error> {
    Ok(Response::new(Body::from("hello")))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
