//! Twilio's provisioning endpoints at the HTTP boundary (workspaces,
//! activities, task queues, workflows, incoming phone numbers), for
//! `homeline provision` and the provisioner function alike. The stand-in
//! keeps state like Twilio, records every request and forwards a copy to
//! Prism so each is checked against Twilio's OpenAPI spec (run under
//! `scripts/local-stack.sh run -- ...`). `fail_next` makes the next write
//! answer a Twilio error.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::spec::{PRISM_API_URL_VAR, PRISM_TASKROUTER_URL_VAR, SpecCheck, SpecVerdict};
use crate::{ACCOUNT_SID, AUTH_TOKEN};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

/// The account's two numbers, webhooks pointing at Twilio's demo.
pub const CUSTOMER: &str = "+15005550006";
pub const WORKER: &str = "+15005550007";
/// The business's own status callback on its numbers, before Homeline.
pub const BUSINESS_STATUS_CALLBACK: &str = "https://business.example.com/calls/ended";
/// The voice fallback each number had before Homeline (a TwiML Bin of the
/// business's); its SMS fallback was empty.
pub const BUSINESS_FALLBACK: &str =
    "https://handler.twilio.com/twiml/EH00000000000000000000000000000001";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub form: Vec<(String, String)>,
    /// `Err` with Prism's reasons when the request breaks the spec.
    pub spec: Result<(), String>,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn names(&self) -> Vec<&str> {
        self.form.iter().map(|(k, _)| k.as_str()).collect()
    }

    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }

    /// A POST to a collection (no SID after it).
    pub fn is_create(&self) -> bool {
        self.method == "POST" && collection_and_sid(&self.path).1.is_none()
    }
}

#[derive(Default)]
struct State {
    /// Resources as Twilio shows them, under their collection path (no `.json`).
    resources: Vec<(String, Value)>,
    requests: Vec<Recorded>,
    next_sid: u64,
    /// Twilio errors the next writes answer, in order.
    failures: std::collections::VecDeque<(StatusCode, u32, String)>,
}

impl State {
    pub fn new_sid(&mut self, prefix: &str) -> String {
        self.next_sid += 1;
        crate::sid(prefix, self.next_sid)
    }

    pub fn insert(&mut self, collection: &str, resource: Value) {
        self.resources.push((collection.to_string(), resource));
    }
}

pub struct ProvisioningStandIn {
    pub url: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ProvisioningStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ProvisioningStandIn {
    /// Starts the stand-in with the account's two numbers, webhooks unset.
    pub async fn start() -> Self {
        for var in [PRISM_API_URL_VAR, PRISM_TASKROUTER_URL_VAR] {
            assert!(
                std::env::var(var).is_ok(),
                "{var} is not set: run under `scripts/local-stack.sh run -- cargo test ...` so every \
                 request is checked against Twilio's OpenAPI spec"
            );
        }
        let state = Arc::new(Mutex::new(State {
            next_sid: 0x100,
            ..State::default()
        }));
        let stand_state = state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr: SocketAddr = listener.local_addr().expect("local address");
        let app = Router::new().fallback(handle).with_state(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("stand-in serves");
        });
        let stand = Self {
            url: format!("http://{addr}"),
            state: stand_state,
            server,
        };
        for number in [CUSTOMER, WORKER] {
            stand.add_number(number);
        }
        stand
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_number(&self, number: &str) {
        let mut state = self.state();
        let sid = state.new_sid("PN");
        state.insert(
            &format!("/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers"),
            json!({
                "sid": sid, "account_sid": ACCOUNT_SID, "phone_number": number,
                "friendly_name": number, "voice_url": "https://demo.twilio.com/welcome/voice/",
                "voice_method": "POST", "sms_url": "https://demo.twilio.com/welcome/sms/reply",
                "sms_method": "POST", "voice_application_sid": null, "sms_application_sid": null,
                "voice_fallback_url": BUSINESS_FALLBACK, "voice_fallback_method": "POST",
                "sms_fallback_url": "", "sms_fallback_method": "POST",
                "status_callback": BUSINESS_STATUS_CALLBACK, "status_callback_method": "GET",
            }),
        );
    }

    /// A workspace made earlier by hand, with these activities; its SID.
    pub fn add_workspace(&self, name: &str, activities: &[(&str, bool)]) -> String {
        let mut state = self.state();
        let workspace = state.new_sid("WS");
        state.insert(
            "/v1/Workspaces",
            json!({"sid": workspace, "friendly_name": name}),
        );
        for (activity, available) in activities {
            let sid = state.new_sid("WA");
            state.insert(
                &format!("/v1/Workspaces/{workspace}/Activities"),
                json!({"sid": sid, "friendly_name": activity, "available": available}),
            );
        }
        workspace
    }

    /// Changes a field of the resource named `name`, as someone in the Console might.
    pub fn edit(&self, suffix: &str, name: &str, field: &str, value: Value) {
        let mut state = self.state();
        let (_, resource) = state
            .resources
            .iter_mut()
            .find(|(c, r)| c.ends_with(suffix) && r["friendly_name"] == name)
            .expect("resource to edit");
        resource[field] = value;
    }

    /// The next write (a POST) answers this Twilio error instead of acting.
    pub fn fail_next(&self, status: u16, code: u32, message: &str) {
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        self.state()
            .failures
            .push_back((status, code, message.to_string()));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_write)
            .collect()
    }

    pub fn creates_under(&self, collection_suffix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.is_create()
                    && r.path
                        .trim_end_matches(".json")
                        .ends_with(collection_suffix)
            })
            .collect()
    }

    /// The resources of collections whose path ends with `suffix`.
    pub fn resources(&self, suffix: &str) -> Vec<Value> {
        self.state()
            .resources
            .iter()
            .filter(|(c, _)| c.ends_with(suffix))
            .map(|(_, r)| r.clone())
            .collect()
    }

    pub fn named(&self, suffix: &str, name: &str) -> Value {
        self.resources(suffix)
            .into_iter()
            .find(|r| r["friendly_name"] == name)
            .unwrap_or_else(|| panic!("no {suffix} named {name}"))
    }

    pub fn number(&self, number: &str) -> Value {
        self.resources("/IncomingPhoneNumbers")
            .into_iter()
            .find(|r| r["phone_number"] == number)
            .expect("number")
    }

    pub fn assert_spec_valid(&self) {
        let broken: Vec<String> = self
            .requests()
            .iter()
            .filter_map(|r| {
                r.spec
                    .as_ref()
                    .err()
                    .map(|why| format!("{} {} {:?}: {why}", r.method, r.path, r.form))
            })
            .collect();
        assert!(
            broken.is_empty(),
            "requests break Twilio's spec:\n{}",
            broken.join("\n")
        );
    }
}

/// `(collection, Some(sid))` for `/v1/Workspaces/WS1/TaskQueues/WQ1`.
pub fn collection_and_sid(path: &str) -> (String, Option<String>) {
    let path = path.trim_end_matches(".json");
    let (head, last) = path.rsplit_once('/').unwrap_or(("", path));
    let is_sid = last.len() == 34 && last[2..].chars().all(|c| c.is_ascii_hexdigit());
    if is_sid {
        (head.to_string(), Some(last.to_string()))
    } else {
        (path.to_string(), None)
    }
}

/// The SID prefix and list key of a collection.
fn kind(collection: &str) -> Option<(&'static str, &'static str)> {
    let last = collection.rsplit('/').next()?;
    Some(match last {
        "Workspaces" => ("WS", "workspaces"),
        "Activities" => ("WA", "activities"),
        "TaskQueues" => ("WQ", "task_queues"),
        "Workflows" => ("WW", "workflows"),
        "IncomingPhoneNumbers" => ("PN", "incoming_phone_numbers"),
        _ => return None,
    })
}

/// `EventCallbackUrl` -> `event_callback_url`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A form value as Twilio would show it in JSON.
fn typed(field: &str, value: &str) -> Value {
    match field {
        "available" => Value::Bool(value == "true"),
        "task_reservation_timeout" => value.parse::<u64>().map_or(json!(value), Value::from),
        _ => Value::from(value),
    }
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({"code": code, "message": message, "status": status.as_u16(),
                      "more_info": format!("https://www.twilio.com/docs/errors/{code}")});
    (status, axum::Json(body)).into_response()
}
async fn handle(
    AxumState(state): AxumState<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let spec = check_spec(&method, &uri, &headers, &body).await;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let mut state = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    state.requests.push(Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        form: form.clone(),
        spec,
    });
    let expected = format!("{ACCOUNT_SID}:{AUTH_TOKEN}");
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    if credentials.as_deref() != Some(expected.as_bytes()) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    if method == Method::POST
        && let Some((status, code, message)) = state.failures.pop_front()
    {
        return error(status, code, &message);
    }
    let (collection, sid) = collection_and_sid(uri.path());
    let Some((prefix, key)) = kind(&collection) else {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        );
    };
    match (method, sid) {
        (Method::GET, None) => {
            let items: Vec<Value> = state
                .resources
                .iter()
                .filter(|(c, _)| *c == collection)
                .map(|(_, r)| r)
                .filter(|r| {
                    query.iter().all(|(name, value)| match name.as_str() {
                        "FriendlyName" | "PhoneNumber" => r[snake(name)] == value.as_str(),
                        _ => true,
                    })
                })
                .cloned()
                .collect();
            let body = json!({key: items, "meta": {"page": 0, "page_size": 1000, "key": key, "next_page_url": null}});
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        (Method::POST, None) => {
            if kind(&collection).is_some_and(|(p, _)| p == "PN") {
                return error(
                    StatusCode::BAD_REQUEST,
                    21452,
                    "buying numbers is not provisioning",
                );
            }
            let new_sid = state.new_sid(prefix);
            let mut resource = json!({"sid": new_sid, "account_sid": ACCOUNT_SID});
            match prefix {
                "WQ" => resource["target_workers"] = json!("1==1"),
                "WW" => resource["task_reservation_timeout"] = json!(120),
                _ => {}
            }
            for (name, value) in &form {
                let field = snake(name);
                resource[&field] = typed(&field, value);
            }
            if prefix == "WS" {
                // A new workspace comes with these activities; Offline is its timeout activity.
                let activities = format!("{collection}/{new_sid}/Activities");
                let mut offline = String::new();
                for (name, available) in [
                    ("Offline", false),
                    ("Available", true),
                    ("Unavailable", false),
                ] {
                    let sid = state.new_sid("WA");
                    if name == "Offline" {
                        offline = sid.clone();
                    }
                    state.insert(
                        &activities,
                        json!({"sid": sid, "friendly_name": name, "available": available}),
                    );
                }
                resource["timeout_activity_sid"] = json!(offline);
                resource["default_activity_sid"] = json!(offline);
            }
            state.insert(&collection, resource.clone());
            (StatusCode::CREATED, axum::Json(resource)).into_response()
        }
        (Method::POST, Some(sid)) => {
            let Some((_, resource)) = state
                .resources
                .iter_mut()
                .find(|(c, r)| *c == collection && r["sid"] == sid.as_str())
            else {
                return error(
                    StatusCode::NOT_FOUND,
                    20404,
                    "The requested resource was not found",
                );
            };
            for (name, value) in &form {
                let field = snake(name);
                resource[&field] = typed(&field, value);
            }
            (StatusCode::OK, axum::Json(resource.clone())).into_response()
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed"),
    }
}

/// Prism's verdict on a copy of the request.
async fn check_spec(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), String> {
    match SpecCheck::from_env()?
        .verdict(method, uri, headers, body)
        .await
    {
        SpecVerdict::Valid => Ok(()),
        SpecVerdict::Invalid { status, reasons } => {
            Err(format!("Prism {status}: {}", reasons.join("; ")))
        }
        SpecVerdict::Unchecked(why) => Err(why),
        SpecVerdict::Pending => Err("Prism did not answer".into()),
    }
}
