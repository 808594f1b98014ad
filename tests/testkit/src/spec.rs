//! The spec check every Twilio stand-in shares: a copy of each request it
//! receives goes to the Prism mock server of its API (Twilio's OpenAPI specs,
//! started by `scripts/local-stack.sh run`), whose answer is the verdict.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri, header};
use serde_json::Value;
use tokio::sync::Semaphore;

/// Environment variables naming the Prism mock servers (set by `scripts/local-stack.sh run`).
pub const PRISM_API_URL_VAR: &str = "HOMELINE_TEST_PRISM_API_URL";
pub const PRISM_TASKROUTER_URL_VAR: &str = "HOMELINE_TEST_PRISM_TASKROUTER_URL";

/// Prism's verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecVerdict {
    Valid,
    /// Prism refused the request (422 body, or 401/404/405 for auth, path or method).
    Invalid {
        status: u16,
        reasons: Vec<String>,
    },
    /// The request could not be checked (Prism not configured or not answering).
    Unchecked(String),
    /// Prism has not answered yet (see `TwilioFake::idle`).
    Pending,
}

impl SpecVerdict {
    /// Why the request is not known to be valid; `None` when Prism found it valid.
    pub fn violation(&self) -> Option<String> {
        match self {
            SpecVerdict::Valid => None,
            SpecVerdict::Invalid { status, reasons } => Some(format!(
                "breaks Twilio's spec (Prism {status}): {}",
                reasons.join("; ")
            )),
            SpecVerdict::Unchecked(why) => Some(why.clone()),
            SpecVerdict::Pending => Some("Prism did not answer".into()),
        }
    }
}

/// Where the two Prism servers are.
#[derive(Debug, Clone)]
pub struct SpecCheck {
    http: reqwest::Client,
    api_url: String,
    taskrouter_url: String,
    /// Checks in flight at once: `make simulate` at `SIM_SCALE=10` sends
    /// Prism hundreds of copies at once (a follow-up texts every worker of
    /// its skill), more connections than Prism accepts.
    in_flight: Arc<Semaphore>,
}

/// Prism's share: enough to keep it busy, few enough that it answers all.
const IN_FLIGHT: usize = 16;

impl SpecCheck {
    /// From the local stack's environment; `Err` says how to start it, so a
    /// test that needs the check never skips it silently.
    pub fn from_env() -> Result<Self, String> {
        match (
            std::env::var(PRISM_API_URL_VAR),
            std::env::var(PRISM_TASKROUTER_URL_VAR),
        ) {
            (Ok(api_url), Ok(taskrouter_url)) => Ok(Self {
                // Node closes an idle keep-alive connection after 5 s; one
                // taken from the pool just then fails the send. Idle
                // connections are dropped well before, and a failed send is
                // tried again (Prism only validates: nothing is done twice).
                http: homeline_core::https::client_builder()
                    .pool_idle_timeout(std::time::Duration::from_secs(1))
                    .build()
                    .map_err(|e| format!("HTTP client for Prism: {e}"))?,
                api_url: api_url.trim_end_matches('/').to_string(),
                taskrouter_url: taskrouter_url.trim_end_matches('/').to_string(),
                in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
            }),
            _ => Err(format!(
                "{PRISM_API_URL_VAR} / {PRISM_TASKROUTER_URL_VAR} are not set: run the tests \
                 under `scripts/local-stack.sh run -- cargo test ...` so every Twilio request \
                 is checked against Twilio's OpenAPI spec"
            )),
        }
    }

    /// Sends a copy of the request to the Prism of its API and reads the verdict.
    pub async fn verdict(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> SpecVerdict {
        let base = if uri.path().starts_with("/2010-04-01/") {
            &self.api_url
        } else {
            &self.taskrouter_url
        };
        let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
        let copy = || {
            let mut copy = self
                .http
                .request(method.clone(), format!("{base}{path_and_query}"))
                .body(body.clone());
            for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
                if let Some(value) = headers.get(&name) {
                    copy = copy.header(name, value);
                }
            }
            copy
        };
        // Never closed, so a permit always comes.
        let _permit = self.in_flight.acquire().await;
        let sent = match copy().send().await {
            Err(e) if e.is_request() || e.is_connect() => copy().send().await,
            sent => sent,
        };
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                let cause = std::error::Error::source(&e).map(ToString::to_string);
                return SpecVerdict::Unchecked(format!(
                    "Prism at {base} did not answer: {e} ({})",
                    cause.unwrap_or_default()
                ));
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match status {
            200..=399 => SpecVerdict::Valid,
            400..=499 => SpecVerdict::Invalid {
                status,
                reasons: prism_reasons(&text),
            },
            _ => SpecVerdict::Unchecked(format!("Prism answered {status}: {text}")),
        }
    }
}

/// Prism's 422 body lists `validation: [{location, message}]`; other refusals
/// carry a `title`/`detail`.
fn prism_reasons(text: &str) -> Vec<String> {
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return vec![text.to_string()];
    };
    let listed: Vec<String> = body
        .get("validation")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let location = item
                        .get("location")
                        .and_then(Value::as_array)
                        .map(|parts| {
                            parts
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    let message = item.get("message").and_then(Value::as_str).unwrap_or("");
                    format!("{location}: {message}")
                })
                .collect()
        })
        .unwrap_or_default();
    if !listed.is_empty() {
        return listed;
    }
    let title = body.get("title").and_then(Value::as_str).unwrap_or("");
    let detail = body.get("detail").and_then(Value::as_str).unwrap_or("");
    vec![format!("{title}: {detail}")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prism_reasons_are_listed() {
        let body = r#"{"title":"Invalid request","status":422,"validation":[{"location":["body","ReservationStatus"],"severity":"Error","code":"enum","message":"must be equal to one of the allowed values"}]}"#;
        assert_eq!(
            prism_reasons(body),
            vec!["body.ReservationStatus: must be equal to one of the allowed values"]
        );
        assert_eq!(
            prism_reasons(r#"{"title":"Route not resolved","detail":"no path"}"#),
            vec!["Route not resolved: no path"]
        );
    }
}
