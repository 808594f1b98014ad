//! The real functions behind the stand-in: each webhook becomes a signed API
//! Gateway event and is handed to the function's `handle` in-process, with
//! the real `DynamoStore` on DynamoDB Local.

use homeline_core::app::App;
use homeline_core::store::DynamoStore;
use testkit::events::{Webhook, body_text};

use crate::{Endpoints, Reply};

pub struct Homeline {
    app: App<DynamoStore>,
}

impl Homeline {
    pub fn new(app: App<DynamoStore>) -> Self {
        Self { app }
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
        Box::pin(async move {
            let request = Webhook::form(&path, &pairs(&params))
                .query(&pairs(&query))
                .request();
            let name = path.trim_start_matches('/').split('/').next().unwrap_or("");
            // Spawned so that a panicking function is an HTTP 500 (as a
            // crashed Lambda is to Twilio), not the end of the simulation.
            let handled = match name {
                "intake" => tokio::spawn(intake::handle(app, request)).await,
                "inbound" => tokio::spawn(inbound::handle(app, request)).await,
                "assignment" => tokio::spawn(assignment::handle(app, request)).await,
                "amd-result" => tokio::spawn(amd_result::handle(app, request)).await,
                "dial-status" => tokio::spawn(dial_status::handle(app, request)).await,
                "taskrouter-events" => tokio::spawn(taskrouter_events::handle(app, request)).await,
                _ => return (404, format!("no function serves {path}")),
            };
            match handled {
                Ok(response) => (response.status().as_u16(), body_text(&response)),
                Err(e) => (500, format!("function panicked: {e}")),
            }
        })
    }
}
