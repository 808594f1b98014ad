//! The real functions behind the stand-in: each webhook becomes a signed API
//! Gateway event and is handed to the function's `handle` in-process, with
//! the real `DynamoStore` on DynamoDB Local.

use std::sync::Arc;
use std::time::Instant;

use homeline_core::Deadline;
use homeline_core::app::App;
use homeline_core::routes::Function;
use homeline_core::store::{DynamoStore, Store, at_instant, now_secs};
use lambda_http::{Body, Request, Response};
use testkit::events::{Webhook, body_text};

use crate::cost::Invocations;
use crate::{Endpoints, MediaReply, Reply};

pub struct Homeline {
    app: App<DynamoStore>,
    /// Each function's invocations and how long they took.
    invocations: Arc<Invocations>,
}

impl Homeline {
    pub fn new(app: App<DynamoStore>, invocations: Arc<Invocations>) -> Self {
        Self { app, invocations }
    }
}

/// Hands `request` to the real `handle` of `function`.
pub async fn handle<S: Store>(function: Function, app: App<S>, request: Request) -> Response<Body> {
    match function {
        Function::Intake => intake::handle(app, request).await,
        Function::Inbound => inbound::handle(app, request).await,
        Function::Assignment => assignment::handle(app, request).await,
        Function::AmdResult => amd_result::handle(app, request).await,
        Function::DialStatus => dial_status::handle(app, request).await,
        Function::TaskrouterEvents => taskrouter_events::handle(app, request).await,
    }
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

impl Endpoints for Homeline {
    fn call(
        &self,
        path: String,
        query: Vec<(String, String)>,
        params: Vec<(String, String)>,
    ) -> Reply<'_> {
        let app = self.app.clone();
        let invocations = self.invocations.clone();
        Box::pin(async move {
            let request = Webhook::form(&path, &pairs(&params))
                .query(&pairs(&query))
                .request();
            let Some(function) = Function::serving(&path) else {
                return (404, format!("no function serves {path}"));
            };
            // Spawned so that a panicking function is an HTTP 500 (as a
            // crashed Lambda is to Twilio), not the end of the simulation;
            // the spawned task keeps the simulated clock.
            let started = Instant::now();
            let handled =
                tokio::spawn(at_instant(now_secs(), handle(function, app, request))).await;
            invocations.record(function.binary(), started.elapsed());
            match handled {
                Ok(response) => (response.status().as_u16(), body_text(&response)),
                Err(e) => (500, format!("function panicked: {e}")),
            }
        })
    }

    fn tick(&self, event: String) -> Reply<'_> {
        let app = self.app.clone();
        let invocations = self.invocations.clone();
        Box::pin(async move {
            let run = async move {
                let deadline = Deadline::after(scheduler::RUN_BUDGET);
                scheduler::handle(&app, &event, deadline).await
            };
            let started = Instant::now();
            let ran = tokio::spawn(at_instant(now_secs(), run)).await;
            invocations.record("scheduler", started.elapsed());
            match ran {
                Ok(result) => (200, result.to_string()),
                Err(e) => (500, format!("scheduler panicked: {e}")),
            }
        })
    }

    fn media(&self, path: String) -> MediaReply<'_> {
        let app = self.app.clone();
        let invocations = self.invocations.clone();
        Box::pin(async move {
            let function = Function::serving(&path)?;
            let request = testkit::events::request(&testkit::events::get_event(&path));
            let started = Instant::now();
            let response = handle(function, app, request).await;
            invocations.record(function.binary(), started.elapsed());
            (response.status() == 200).then(|| response.body().to_vec())
        })
    }
}
