//! The floor `scripts/bench` compares every function's cold start with: the
//! smallest `lambda_http` function (cargo-lambda's template), answering every
//! request with a fixed body.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

async fn hello(_: Request) -> Result<Response<Body>, Error> {
    let response = Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Body::from("Hello, world!"))
        .map_err(Box::new)?;
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
