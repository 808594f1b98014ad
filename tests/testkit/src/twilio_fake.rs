//! Twilio at the HTTP boundary: a local server that answers the REST calls
//! Homeline makes the way Twilio does, records every request, and forwards a
//! copy of each to Prism (Twilio's OpenAPI specs) to check it against the spec.
//!
//! ```ignore
//! let twilio = TwilioFake::start().await;
//! let config = twilio.config();            // TWILIO_API_URL etc. point here
//! // ... run the code under test ...
//! assert_eq!(twilio.calls_created().len(), 1);
//! twilio.assert_spec_valid();
//! ```
//!
//! State is kept simply: workers, reservations, tasks and calls. A
//! reservation, task or call the fake has not seen is taken to be live
//! (pending, pending, in progress), because tests start from webhooks that
//! name SIDs Twilio made. Settle one first with `set_*_status` to exercise the
//! "already settled" answers.
//!
//! Failure injection: `fail_next(Route::CreateCall, 2, 429)` (then the normal
//! answer), `fail_next_with(route, n, Failure::twilio(..) | Failure::raw(..))`,
//! `delay(route, d)` (the request still takes effect at once, like a slow
//! Twilio). After a client gave up on a slow answer, `idle().await` before
//! `assert_spec_valid()`.
//!
//! Calls are created only from a number the account owns (`CALLER_ID`) or
//! from an inbound caller's own number with that call's `CallToken`, while
//! the call is live: `inbound_call` makes such a call and issues its token;
//! anything else gets 400/21210 (docs/twilio.md, "Forwarded caller ID").
//!
//! Error answers follow Twilio: 401/20003 bad credentials, 404/20404 unknown
//! resource, 400/21220 updating an ended call, 400/20001 "Cannot cancel task ..
//! not pending or reserved", 400/20001 "Reservation .. is not in expected
//! state" (code unconfirmed), 409/20001 FriendlyName taken (status and code
//! unconfirmed: Twilio answers 400/20001 for a taken TaskQueue name).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::{
    ACCOUNT_SID, ACTIVITY_AVAILABLE, ACTIVITY_OFFLINE, ACTIVITY_UNAVAILABLE, AUTH_TOKEN,
    WORKSPACE_SID,
};

use crate::spec::SpecCheck;
pub use crate::spec::{PRISM_API_URL_VAR, PRISM_TASKROUTER_URL_VAR, SpecVerdict};
use crate::twilio_http::{RestRequest, Server, error_body};

/// The REST operations the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    CreateCall,
    UpdateCall,
    SendMessage,
    CreateWorker,
    ListWorkers,
    FetchWorker,
    UpdateWorker,
    UpdateReservation,
    UpdateTask,
    CreateTask,
    ListTasks,
    ListActivities,
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Form pairs in the order sent (repeated keys kept).
    pub form: Vec<(String, String)>,
    /// The HTTP Basic user name (the password is only checked, never kept).
    pub auth_user: Option<String>,
    /// Whether the Basic credentials matched the expected ones.
    pub authenticated: bool,
    pub route: Option<Route>,
    /// The status the fake answered.
    pub status: u16,
    /// The SID of the resource created or updated, when the answer had one.
    pub sid: Option<String>,
    pub spec: SpecVerdict,
}

impl RecordedRequest {
    /// The first form value of `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        first(&self.form, name)
    }

    /// Every form value of `name`, in order (e.g. `StatusCallbackEvent`).
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }

    /// The path segment after `collection`, e.g. `path_sid("Reservations")`;
    /// a `.json` suffix is dropped.
    pub fn path_sid(&self, collection: &str) -> Option<&str> {
        let mut segments = self.path.split('/');
        segments.find(|s| *s == collection)?;
        segments.next().map(|s| s.trim_end_matches(".json"))
    }

    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// An answer to inject instead of the normal one.
#[derive(Debug, Clone)]
pub struct Failure {
    status: u16,
    body: String,
    content_type: &'static str,
    retry_after: Option<u64>,
}

impl Failure {
    /// Twilio's error body for `status` with its usual code (429 → 20429, 500 → 20500, ...).
    pub fn status(status: u16) -> Self {
        let (code, message) = match status {
            400 => (20001, "Bad Request"),
            401 => (20003, "Authenticate"),
            404 => (20404, "The requested resource was not found"),
            429 => (20429, "Too Many Requests"),
            503 => (20503, "Service Unavailable"),
            _ => (20500, "Internal Server Error"),
        };
        Self::twilio(status, code, message)
    }

    /// Twilio's JSON error body with this code and message.
    pub fn twilio(status: u16, code: u32, message: &str) -> Self {
        Self {
            status,
            body: error_body(status, code, message).to_string(),
            content_type: "application/json",
            retry_after: None,
        }
    }

    /// A non-JSON body, as a load balancer in front of Twilio might send.
    pub fn raw(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_string(),
            content_type: "text/html",
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

/// A worker as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeWorker {
    pub sid: String,
    pub friendly_name: String,
    pub activity_sid: String,
    /// The JSON string Twilio stores.
    pub attributes: String,
}

impl FakeWorker {
    pub fn attributes_json(&self) -> Value {
        serde_json::from_str(&self.attributes).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone)]
struct FakeReservation {
    task_sid: String,
    worker_sid: Option<String>,
    status: String,
}

/// What the fake knows of a task besides its status.
#[derive(Debug, Clone)]
pub struct FakeTask {
    pub attributes: Value,
    /// ISO 8601.
    pub date_created: String,
    /// ISO 8601; `date_created` unless the create set it.
    pub virtual_start_time: String,
}

#[derive(Debug, Clone)]
struct FakeCall {
    to: String,
    from: String,
    status: String,
}

const CALL_ENDED: [&str; 5] = ["completed", "canceled", "busy", "failed", "no-answer"];
const DATE_2010: &str = "Wed, 25 Nov 2026 14:00:00 +0000";
const DATE_ISO: &str = "2026-11-25T14:00:00Z";

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    failures: HashMap<Route, VecDeque<Failure>>,
    delays: HashMap<Route, Duration>,
    credentials: (String, String),
    next_sid: u64,
    workers: Vec<FakeWorker>,
    reservations: HashMap<String, FakeReservation>,
    tasks: HashMap<String, String>,
    task_details: HashMap<String, FakeTask>,
    calls: HashMap<String, FakeCall>,
    /// Numbers that texted STOP: Twilio refuses every SMS to them (21610).
    opted_out: Vec<String>,
    /// `CallToken`s issued to inbound calls: token → the call's SID.
    call_tokens: HashMap<String, String>,
}

struct Inner {
    state: Mutex<State>,
    /// Why the spec check is unavailable, when it is.
    prism: Result<SpecCheck, String>,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked mid-request must not hide the next assertion.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The running fake; the server stops when it is dropped.
pub struct TwilioFake {
    inner: Arc<Inner>,
    server: Server,
}

impl TwilioFake {
    /// Starts the fake on a free 127.0.0.1 port. Prism is taken from
    /// `HOMELINE_TEST_PRISM_API_URL` / `HOMELINE_TEST_PRISM_TASKROUTER_URL`.
    pub async fn start() -> Self {
        let prism = SpecCheck::from_env();
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                credentials: (ACCOUNT_SID.to_string(), AUTH_TOKEN.to_string()),
                next_sid: 0x1000,
                ..State::default()
            }),
            prism,
        });
        let served = inner.clone();
        let server = Server::start(move |request| handle(served.clone(), request)).await;
        Self { inner, server }
    }

    /// `TWILIO_API_URL` for the code under test.
    pub fn api_url(&self) -> &str {
        self.server.url()
    }

    /// `TWILIO_TASKROUTER_URL` for the code under test (the same server).
    pub fn taskrouter_url(&self) -> &str {
        self.server.url()
    }

    /// The variables that point a configuration at this fake, for `testkit::test_config`.
    pub fn config_overrides(&self) -> [(&'static str, &str); 2] {
        [
            ("TWILIO_API_URL", self.api_url()),
            ("TWILIO_TASKROUTER_URL", self.taskrouter_url()),
        ]
    }

    /// The test configuration pointed at this fake.
    pub fn config(&self) -> homeline_core::Config {
        crate::test_config(&self.config_overrides())
    }

    /// The Basic credentials the fake accepts (default: the test account SID
    /// and auth token); others get Twilio's 401 (code 20003).
    pub fn set_credentials(&self, user: &str, password: &str) {
        self.inner.state().credentials = (user.to_string(), password.to_string());
    }

    // ---- recorded requests ----

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.state().requests.clone()
    }

    /// Requests with this method whose path ends with `pattern`; `*` in the
    /// pattern matches one path segment (`"Tasks/*/Reservations/*"`).
    pub fn requests_to(&self, method: &str, pattern: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && path_matches(&r.path, pattern))
            .collect()
    }

    /// Every request (answered or failed) to `route`.
    pub fn requests_for(&self, route: Route) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.route == Some(route))
            .collect()
    }

    /// Requests to `route` that Twilio accepted (2xx).
    fn accepted(&self, route: Route) -> Vec<RecordedRequest> {
        self.requests_for(route)
            .into_iter()
            .filter(RecordedRequest::succeeded)
            .collect()
    }

    /// Calls placed (`sid` is the new call's SID).
    pub fn calls_created(&self) -> Vec<RecordedRequest> {
        self.accepted(Route::CreateCall)
    }

    /// Accepted call updates (redirect, cancel, complete).
    pub fn call_updates(&self) -> Vec<RecordedRequest> {
        self.accepted(Route::UpdateCall)
    }

    pub fn messages_sent(&self) -> Vec<RecordedRequest> {
        self.accepted(Route::SendMessage)
    }

    pub fn workers_created(&self) -> Vec<RecordedRequest> {
        self.accepted(Route::CreateWorker)
    }

    pub fn worker_updates(&self) -> Vec<RecordedRequest> {
        self.accepted(Route::UpdateWorker)
    }

    /// Accepted reservation updates (a reject of a settled reservation is a 400 and not listed).
    pub fn reservation_updates(&self) -> Vec<RecordedRequest> {
        self.accepted(Route::UpdateReservation)
    }

    pub fn task_updates(&self) -> Vec<RecordedRequest> {
        self.accepted(Route::UpdateTask)
    }

    // ---- failure injection ----

    /// The next `n` requests to `route` get `status` with Twilio's error body
    /// (and no effect), e.g. 429 then the normal answer.
    pub fn fail_next(&self, route: Route, n: usize, status: u16) {
        self.fail_next_with(route, n, Failure::status(status));
    }

    pub fn fail_next_with(&self, route: Route, n: usize, failure: Failure) {
        let mut state = self.inner.state();
        let queue = state.failures.entry(route).or_default();
        queue.extend(std::iter::repeat_n(failure, n));
    }

    /// Every answer on `route` comes `delay` late (zero clears it). The
    /// request takes effect at once, as a slow Twilio would still act on it.
    pub fn delay(&self, route: Route, delay: Duration) {
        self.inner.state().delays.insert(route, delay);
    }

    // ---- state ----

    /// Adds a worker as if created earlier; returns its SID.
    pub fn add_worker(
        &self,
        friendly_name: &str,
        attributes: &Value,
        activity_sid: &str,
    ) -> String {
        let mut state = self.inner.state();
        let sid = state.new_sid("WK");
        state.workers.push(FakeWorker {
            sid: sid.clone(),
            friendly_name: friendly_name.to_string(),
            activity_sid: activity_sid.to_string(),
            attributes: attributes.to_string(),
        });
        sid
    }

    pub fn worker(&self, worker_sid: &str) -> Option<FakeWorker> {
        self.inner
            .state()
            .workers
            .iter()
            .find(|w| w.sid == worker_sid)
            .cloned()
    }

    pub fn workers(&self) -> Vec<FakeWorker> {
        self.inner.state().workers.clone()
    }

    /// Records that `reservation_sid` of `task_sid` was offered to `worker_sid` (pending).
    pub fn add_reservation(&self, task_sid: &str, reservation_sid: &str, worker_sid: &str) {
        self.inner.state().reservations.insert(
            reservation_sid.to_string(),
            FakeReservation {
                task_sid: task_sid.to_string(),
                worker_sid: Some(worker_sid.to_string()),
                status: "pending".to_string(),
            },
        );
    }

    /// Sets a reservation's status (`accepted`, `rejected`, `timeout`, `canceled`, ...).
    pub fn set_reservation_status(&self, task_sid: &str, reservation_sid: &str, status: &str) {
        let mut state = self.inner.state();
        let reservation = state.reservation(task_sid, reservation_sid);
        reservation.status = status.to_string();
    }

    pub fn reservation_status(&self, reservation_sid: &str) -> Option<String> {
        self.inner
            .state()
            .reservations
            .get(reservation_sid)
            .map(|r| r.status.clone())
    }

    /// Sets a task's assignment status (`pending`, `reserved`, `assigned`, `canceled`, ...).
    pub fn set_task_status(&self, task_sid: &str, status: &str) {
        self.inner
            .state()
            .tasks
            .insert(task_sid.to_string(), status.to_string());
    }

    pub fn task_status(&self, task_sid: &str) -> Option<String> {
        self.inner.state().tasks.get(task_sid).cloned()
    }

    /// Adds a pending task as if `<Enqueue>` created it at `date_created`
    /// (ISO 8601) with `attributes`, so lists that filter on them find it.
    pub fn add_task(&self, task_sid: &str, attributes: Value, date_created: &str) {
        let mut state = self.inner.state();
        state
            .tasks
            .insert(task_sid.to_string(), "pending".to_string());
        state.task_details.insert(
            task_sid.to_string(),
            FakeTask {
                attributes,
                date_created: date_created.to_string(),
                virtual_start_time: date_created.to_string(),
            },
        );
    }

    /// A task created over REST or added, by SID.
    pub fn task(&self, task_sid: &str) -> Option<FakeTask> {
        self.inner.state().task_details.get(task_sid).cloned()
    }

    /// `phone` texted STOP to the business's number: from now on every SMS
    /// to it fails as Twilio's does, with 21610 (docs/twilio.md, "Carrier
    /// keywords").
    pub fn opt_out(&self, phone: &str) {
        self.inner.state().opted_out.push(phone.to_string());
    }

    /// A customer calls the business from `from`: the call is in progress
    /// and Twilio issues its `CallToken`. Returns the call's SID and token.
    pub fn inbound_call(&self, from: &str) -> (String, String) {
        let mut state = self.inner.state();
        let sid = state.new_sid("CA");
        let token = format!("calltoken-{}", state.next_sid);
        state.calls.insert(
            sid.clone(),
            FakeCall {
                to: crate::CALLER_ID.to_string(),
                from: from.to_string(),
                status: "in-progress".to_string(),
            },
        );
        state.call_tokens.insert(token.clone(), sid.clone());
        (sid, token)
    }

    /// Sets a call's status (`ringing`, `in-progress`, `completed`, ...).
    pub fn set_call_status(&self, call_sid: &str, status: &str) {
        let mut state = self.inner.state();
        let call = state.call(call_sid);
        call.status = status.to_string();
    }

    pub fn call_status(&self, call_sid: &str) -> Option<String> {
        self.inner
            .state()
            .calls
            .get(call_sid)
            .map(|c| c.status.clone())
    }

    // ---- spec check ----

    /// Waits until every request received so far has been checked by Prism
    /// (needed after a client gave up on a slow answer).
    pub async fn idle(&self) {
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        while self
            .requests()
            .iter()
            .any(|r| r.spec == SpecVerdict::Pending)
        {
            assert!(
                tokio::time::Instant::now() < until,
                "Prism did not check the fake's requests within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Requests Prism refused or could not check.
    pub fn spec_violations(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.spec != SpecVerdict::Valid)
            .collect()
    }

    /// Panics unless every recorded request was checked by Prism and found
    /// valid; also when Prism is not configured (the check must not be skipped).
    pub fn assert_spec_valid(&self) {
        if let Err(why) = &self.inner.prism {
            panic!("Twilio spec check unavailable: {why}");
        }
        let violations = self.spec_violations();
        if violations.is_empty() {
            return;
        }
        let mut report = format!(
            "{} request(s) to Twilio break its OpenAPI spec:\n",
            violations.len()
        );
        for r in &violations {
            report.push_str(&format!("- {} {} form {:?}\n", r.method, r.path, r.form));
            match &r.spec {
                SpecVerdict::Invalid { status, reasons } => {
                    report.push_str(&format!("    Prism {status}:\n"));
                    for reason in reasons {
                        report.push_str(&format!("      {reason}\n"));
                    }
                }
                SpecVerdict::Unchecked(why) => report.push_str(&format!("    unchecked: {why}\n")),
                SpecVerdict::Pending => report.push_str(
                    "    still being checked: the client gave up on it; await `idle()` first\n",
                ),
                SpecVerdict::Valid => {}
            }
        }
        panic!("{report}");
    }
}

fn path_matches(path: &str, pattern: &str) -> bool {
    if !pattern.contains('*') {
        return path.ends_with(pattern);
    }
    let want: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let have: Vec<&str> = path.split('/').collect();
    have.len() >= want.len()
        && have[have.len() - want.len()..]
            .iter()
            .zip(&want)
            .all(|(h, w)| *w == "*" || h == w)
}

/// What the fake answers.
struct Answer {
    status: u16,
    body: String,
    content_type: &'static str,
    retry_after: Option<u64>,
    sid: Option<String>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Self {
        let sid = body.get("sid").and_then(Value::as_str).map(str::to_string);
        Self {
            status,
            body: body.to_string(),
            content_type: "application/json",
            retry_after: None,
            sid,
        }
    }

    fn error(status: u16, code: u32, message: &str) -> Self {
        Self::json(status, error_body(status, code, message))
    }

    fn not_found() -> Self {
        Self::error(404, 20404, "The requested resource was not found")
    }

    fn injected(failure: Failure) -> Self {
        Self {
            status: failure.status,
            body: failure.body,
            content_type: failure.content_type,
            retry_after: failure.retry_after,
            sid: None,
        }
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A request resolved to an operation and the SIDs in its path.
enum Target {
    CreateCall,
    UpdateCall(String),
    SendMessage,
    CreateWorker,
    ListWorkers,
    FetchWorker(String),
    UpdateWorker(String),
    UpdateReservation {
        task: String,
        reservation: String,
    },
    UpdateTask(String),
    CreateTask,
    ListTasks,
    ListActivities,
    /// Right shape, but another account or workspace.
    Elsewhere(Route),
}

impl Target {
    fn parse(method: &Method, path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let post = *method == Method::POST;
        let get = *method == Method::GET;
        let (owner_ok, target) = match segments.as_slice() {
            ["2010-04-01", "Accounts", account, rest @ ..] => {
                let target = match rest {
                    ["Calls.json"] if post => Self::CreateCall,
                    ["Calls", call] if post => Self::UpdateCall(call.strip_suffix(".json")?.into()),
                    ["Messages.json"] if post => Self::SendMessage,
                    _ => return None,
                };
                (*account == ACCOUNT_SID, target)
            }
            ["v1", "Workspaces", workspace, rest @ ..] => {
                let target = match rest {
                    ["Workers"] if post => Self::CreateWorker,
                    ["Workers"] if get => Self::ListWorkers,
                    ["Workers", worker] if get => Self::FetchWorker((*worker).into()),
                    ["Workers", worker] if post => Self::UpdateWorker((*worker).into()),
                    ["Tasks", task, "Reservations", reservation] if post => {
                        Self::UpdateReservation {
                            task: (*task).into(),
                            reservation: (*reservation).into(),
                        }
                    }
                    ["Tasks", task] if post => Self::UpdateTask((*task).into()),
                    ["Tasks"] if post => Self::CreateTask,
                    ["Tasks"] if get => Self::ListTasks,
                    ["Activities"] if get => Self::ListActivities,
                    _ => return None,
                };
                (*workspace == WORKSPACE_SID, target)
            }
            _ => return None,
        };
        Some(if owner_ok {
            target
        } else {
            Self::Elsewhere(target.route())
        })
    }

    fn route(&self) -> Route {
        match self {
            Self::CreateCall => Route::CreateCall,
            Self::UpdateCall(_) => Route::UpdateCall,
            Self::SendMessage => Route::SendMessage,
            Self::CreateWorker => Route::CreateWorker,
            Self::ListWorkers => Route::ListWorkers,
            Self::FetchWorker(_) => Route::FetchWorker,
            Self::UpdateWorker(_) => Route::UpdateWorker,
            Self::UpdateReservation { .. } => Route::UpdateReservation,
            Self::UpdateTask(_) => Route::UpdateTask,
            Self::CreateTask => Route::CreateTask,
            Self::ListTasks => Route::ListTasks,
            Self::ListActivities => Route::ListActivities,
            Self::Elsewhere(route) => *route,
        }
    }
}

async fn handle(inner: Arc<Inner>, request: RestRequest) -> Response {
    // Spawned so the request is recorded, acted on and checked even when the
    // client gives up on it (as Twilio acts on a request whose answer is late).
    let received = tokio::spawn(receive(inner, request)).await;
    let (answer, delay) = match received {
        Ok(received) => received,
        Err(e) => (
            Answer::error(500, 20500, &format!("Twilio fake failed: {e}")),
            Duration::ZERO,
        ),
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    answer.into_response()
}

/// Records and answers one request; the spec verdict is filled in when Prism answers.
async fn receive(inner: Arc<Inner>, request: RestRequest) -> (Answer, Duration) {
    let path = request.path().to_string();
    let target = Target::parse(&request.method, &path);
    let route = target.as_ref().map(Target::route);
    let query = request.query();
    let form = request.form();
    let (auth_user, password) = request.basic_auth().unzip();

    let (index, answer, delay) = {
        let mut state = inner.state();
        let authenticated = auth_user.as_deref() == Some(state.credentials.0.as_str())
            && password.as_deref() == Some(state.credentials.1.as_str());
        let injected = route.and_then(|r| state.failures.get_mut(&r)?.pop_front());
        let answer = if !authenticated {
            Answer::error(401, 20003, "Authenticate")
        } else if let Some(failure) = injected {
            Answer::injected(failure)
        } else {
            match target {
                Some(target) => state.apply(target, &query, &form),
                None => Answer::not_found(),
            }
        };
        state.requests.push(RecordedRequest {
            method: request.method.to_string(),
            path,
            query,
            form,
            auth_user,
            authenticated,
            route,
            status: answer.status,
            sid: answer.sid.clone(),
            spec: SpecVerdict::Pending,
        });
        let delay = route.and_then(|r| state.delays.get(&r).copied());
        (state.requests.len() - 1, answer, delay.unwrap_or_default())
    };
    let verdict = match &inner.prism {
        Ok(prism) => request.spec_verdict(prism).await,
        Err(why) => SpecVerdict::Unchecked(why.clone()),
    };
    inner.state().requests[index].spec = verdict;
    (answer, delay)
}

impl State {
    fn new_sid(&mut self, prefix: &str) -> String {
        self.next_sid += 1;
        crate::sid(prefix, self.next_sid)
    }

    /// The reservation, taken to be pending when first seen.
    fn reservation(&mut self, task_sid: &str, reservation_sid: &str) -> &mut FakeReservation {
        self.reservations
            .entry(reservation_sid.to_string())
            .or_insert_with(|| FakeReservation {
                task_sid: task_sid.to_string(),
                worker_sid: None,
                status: "pending".to_string(),
            })
    }

    /// The call, taken to be in progress when first seen (an inbound call).
    fn call(&mut self, call_sid: &str) -> &mut FakeCall {
        self.calls
            .entry(call_sid.to_string())
            .or_insert_with(|| FakeCall {
                to: String::new(),
                from: String::new(),
                status: "in-progress".to_string(),
            })
    }

    fn apply(
        &mut self,
        target: Target,
        query: &[(String, String)],
        form: &[(String, String)],
    ) -> Answer {
        match target {
            Target::CreateCall => self.create_call(form),
            Target::UpdateCall(sid) => self.update_call(&sid, form),
            Target::SendMessage => self.send_message(form),
            Target::CreateWorker => self.create_worker(form),
            Target::ListWorkers => self.list_workers(query),
            Target::FetchWorker(sid) => match self.workers.iter().find(|w| w.sid == sid) {
                Some(worker) => Answer::json(200, worker_json(worker, true)),
                None => Answer::not_found(),
            },
            Target::UpdateWorker(sid) => self.update_worker(&sid, form),
            Target::UpdateReservation { task, reservation } => {
                self.update_reservation(&task, &reservation, form)
            }
            Target::UpdateTask(sid) => self.update_task(&sid, form),
            Target::CreateTask => self.create_task(form),
            Target::ListTasks => self.list_tasks(query),
            Target::ListActivities => Answer::json(200, activities_json()),
            Target::Elsewhere(_) => Answer::not_found(),
        }
    }

    fn create_call(&mut self, form: &[(String, String)]) -> Answer {
        let (Some(to), Some(from)) = (first(form, "To"), first(form, "From")) else {
            return Answer::error(400, 21201, "No 'To' or 'From' number is specified");
        };
        if first(form, "Url").is_none() && first(form, "Twiml").is_none() {
            return Answer::error(400, 21205, "Url parameter is required.");
        }
        if from != crate::CALLER_ID && !self.forwards(from, first(form, "CallToken")) {
            return Answer::error(
                400,
                21210,
                &format!(
                    "The source phone number provided, {from}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio."
                ),
            );
        }
        let sid = self.new_sid("CA");
        let call = FakeCall {
            to: to.to_string(),
            from: from.to_string(),
            status: "queued".to_string(),
        };
        let body = call_json(&sid, &call);
        self.calls.insert(sid, call);
        Answer::json(201, body)
    }

    /// `token` is the `CallToken` of a live inbound call from `from`.
    fn forwards(&self, from: &str, token: Option<&str>) -> bool {
        token
            .and_then(|token| self.call_tokens.get(token))
            .and_then(|sid| self.calls.get(sid))
            .is_some_and(|call| call.from == from && !CALL_ENDED.contains(&call.status.as_str()))
    }

    fn update_call(&mut self, sid: &str, form: &[(String, String)]) -> Answer {
        let call = self.call(sid);
        if CALL_ENDED.contains(&call.status.as_str()) {
            return Answer::error(400, 21220, "Call is not in-progress. Cannot redirect.");
        }
        match first(form, "Status") {
            // Twilio leaves an answered call alone on `canceled`.
            Some("canceled") if call.status != "in-progress" => call.status = "canceled".into(),
            Some("completed") => call.status = "completed".into(),
            _ => {}
        }
        Answer::json(200, call_json(sid, call))
    }

    fn send_message(&mut self, form: &[(String, String)]) -> Answer {
        let Some(to) = first(form, "To") else {
            return Answer::error(400, 21604, "A 'To' phone number is required.");
        };
        let Some(body) = first(form, "Body") else {
            return Answer::error(400, 21602, "Message body is required.");
        };
        if self.opted_out.iter().any(|phone| phone == to) {
            return Answer::error(400, 21610, "Attempt to send to unsubscribed recipient");
        }
        let sid = self.new_sid("SM");
        Answer::json(
            201,
            json!({
                "sid": sid,
                "account_sid": ACCOUNT_SID,
                "to": to,
                "from": first(form, "From"),
                "body": body,
                "status": "queued",
                "direction": "outbound-api",
                "num_segments": "1",
                "date_created": DATE_2010,
                "date_updated": DATE_2010,
                "api_version": "2010-04-01",
                "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json"),
            }),
        )
    }

    fn create_worker(&mut self, form: &[(String, String)]) -> Answer {
        let Some(name) = first(form, "FriendlyName") else {
            return Answer::error(
                400,
                20001,
                "Missing required parameter FriendlyName in the post body",
            );
        };
        if self
            .workers
            .iter()
            .any(|w| w.friendly_name.eq_ignore_ascii_case(name))
        {
            // FriendlyName is unique (case-insensitively) in a workspace.
            return Answer::error(
                409,
                20001,
                &format!(
                    "Worker with FriendlyName {name} already exists in Workspace {WORKSPACE_SID}"
                ),
            );
        }
        let attributes = first(form, "Attributes").unwrap_or("{}");
        if serde_json::from_str::<Value>(attributes).is_err() {
            return Answer::error(400, 20001, "Attributes must be a valid JSON string");
        }
        let activity = first(form, "ActivitySid").unwrap_or(ACTIVITY_OFFLINE);
        if activity_name(activity).is_none() {
            return Answer::error(400, 20001, &format!("Activity {activity} does not exist"));
        }
        let worker = FakeWorker {
            sid: self.new_sid("WK"),
            friendly_name: name.to_string(),
            activity_sid: activity.to_string(),
            attributes: attributes.to_string(),
        };
        let body = worker_json(&worker, true);
        self.workers.push(worker);
        Answer::json(201, body)
    }

    fn list_workers(&self, query: &[(String, String)]) -> Answer {
        let name = first(query, "FriendlyName");
        let workers: Vec<Value> = self
            .workers
            .iter()
            .filter(|w| name.is_none_or(|n| w.friendly_name.eq_ignore_ascii_case(n)))
            .map(|w| worker_json(w, false))
            .collect();
        let url = format!("https://taskrouter.twilio.com/v1/Workspaces/{WORKSPACE_SID}/Workers");
        Answer::json(
            200,
            json!({
                "workers": workers,
                "meta": {
                    "page": 0,
                    "page_size": 50,
                    "first_page_url": format!("{url}?PageSize=50&Page=0"),
                    "previous_page_url": null,
                    "url": format!("{url}?PageSize=50&Page=0"),
                    "next_page_url": null,
                    "key": "workers",
                },
            }),
        )
    }

    fn update_worker(&mut self, sid: &str, form: &[(String, String)]) -> Answer {
        let activity = first(form, "ActivitySid");
        if let Some(activity) = activity
            && activity_name(activity).is_none()
        {
            return Answer::error(400, 20001, &format!("Activity {activity} does not exist"));
        }
        let reject_pending = first(form, "RejectPendingReservations") == Some("true");
        if reject_pending && activity.is_none_or(activity_available) {
            return Answer::error(
                400,
                20001,
                "RejectPendingReservations is only valid when moving to an unavailable Activity",
            );
        }
        let attributes = first(form, "Attributes");
        if attributes.is_some_and(|a| serde_json::from_str::<Value>(a).is_err()) {
            return Answer::error(400, 20001, "Attributes must be a valid JSON string");
        }
        let Some(worker) = self.workers.iter_mut().find(|w| w.sid == sid) else {
            return Answer::not_found();
        };
        if let Some(activity) = activity {
            worker.activity_sid = activity.to_string();
        }
        if let Some(attributes) = attributes {
            worker.attributes = attributes.to_string();
        }
        if let Some(name) = first(form, "FriendlyName") {
            worker.friendly_name = name.to_string();
        }
        let body = worker_json(worker, true);
        if reject_pending {
            for reservation in self.reservations.values_mut() {
                if reservation.worker_sid.as_deref() == Some(sid) && reservation.status == "pending"
                {
                    reservation.status = "rejected".to_string();
                }
            }
        }
        Answer::json(200, body)
    }

    fn update_reservation(&mut self, task: &str, sid: &str, form: &[(String, String)]) -> Answer {
        let wanted = first(form, "ReservationStatus");
        let activity = first(form, "WorkerActivitySid");
        if activity.is_some_and(|a| activity_name(a).is_none()) {
            return Answer::error(400, 20001, "WorkerActivitySid is not a valid Activity");
        }
        let reservation = self.reservation(task, sid);
        if reservation.task_sid != task {
            return Answer::not_found();
        }
        let Some(wanted) = wanted else {
            return Answer::error(400, 20001, "ReservationStatus or Instruction is required");
        };
        let allowed = match wanted {
            "accepted" | "rejected" => reservation.status == "pending",
            "completed" | "wrapping" => {
                ["accepted", "wrapping"].contains(&reservation.status.as_str())
            }
            _ => false,
        };
        if !allowed {
            let current = reservation.status.clone();
            return Answer::error(
                400,
                20001,
                // The less convenient of the wordings seen (docs/twilio.md,
                // "Reservation not pending"): no "expected state" in it.
                &format!("Reservation {sid} is not currently in a Pending state; it is {current}"),
            );
        }
        reservation.status = wanted.to_string();
        let reservation = reservation.clone();
        if wanted == "accepted" {
            // The task is the worker's now (and may be completed).
            self.tasks.insert(task.to_string(), "assigned".to_string());
        }
        if wanted == "rejected"
            && let (Some(activity), Some(worker_sid)) = (activity, &reservation.worker_sid)
            && let Some(worker) = self.workers.iter_mut().find(|w| &w.sid == worker_sid)
        {
            worker.activity_sid = activity.to_string();
        }
        Answer::json(200, reservation_json(sid, &reservation))
    }

    /// A task over REST: its attributes must be JSON, and (pessimistic, as
    /// the spec says it "can't be in the future") a `VirtualStartTime`
    /// later than now is refused.
    fn create_task(&mut self, form: &[(String, String)]) -> Answer {
        let attributes = match first(form, "Attributes").map(serde_json::from_str::<Value>) {
            None => json!({}),
            Some(Ok(value)) => value,
            Some(Err(_)) => return Answer::error(400, 20001, "Attributes is not valid JSON"),
        };
        let now = chrono::Utc::now();
        let virtual_start_time = match first(form, "VirtualStartTime") {
            None => now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            Some(at) => match chrono::DateTime::parse_from_rfc3339(at) {
                Ok(parsed) if parsed <= now => at.to_string(),
                Ok(_) => {
                    return Answer::error(400, 20001, "VirtualStartTime cannot be in the future");
                }
                Err(_) => return Answer::error(400, 20001, "VirtualStartTime is not a date"),
            },
        };
        let sid = self.new_sid("WT");
        self.tasks.insert(sid.clone(), "pending".to_string());
        let task = FakeTask {
            attributes,
            date_created: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            virtual_start_time,
        };
        let body = task_json(&sid, "pending", &task);
        self.task_details.insert(sid, task);
        Answer::json(201, body)
    }

    /// Tasks whose attributes match `EvaluateTaskAttributes` of the one
    /// form Homeline sends, `key == "value"`; like Twilio's lists, without
    /// their attributes.
    fn list_tasks(&self, query: &[(String, String)]) -> Answer {
        let wanted = first(query, "EvaluateTaskAttributes").and_then(|expr| {
            let (key, value) = expr.split_once("==")?;
            Some((
                key.trim().to_string(),
                value.trim().trim_matches('"').to_string(),
            ))
        });
        let mut tasks: Vec<Value> = self
            .task_details
            .iter()
            .filter(|(_, task)| {
                wanted.as_ref().is_none_or(|(key, value)| {
                    task.attributes.get(key).and_then(Value::as_str) == Some(value.as_str())
                })
            })
            .map(|(sid, task)| {
                let status = self.tasks.get(sid).map(String::as_str).unwrap_or("pending");
                let mut json = task_json(sid, status, task);
                json["attributes"] = Value::Null;
                json
            })
            .collect();
        tasks.sort_by(|a, b| a["sid"].as_str().cmp(&b["sid"].as_str()));
        let url = format!("https://taskrouter.twilio.com/v1/Workspaces/{WORKSPACE_SID}/Tasks");
        Answer::json(
            200,
            json!({
                "tasks": tasks,
                "meta": {
                    "page": 0,
                    "page_size": 20,
                    "first_page_url": format!("{url}?PageSize=20&Page=0"),
                    "previous_page_url": null,
                    "url": format!("{url}?PageSize=20&Page=0"),
                    "next_page_url": null,
                    "key": "tasks",
                },
            }),
        )
    }

    fn update_task(&mut self, sid: &str, form: &[(String, String)]) -> Answer {
        let status = self
            .tasks
            .entry(sid.to_string())
            .or_insert_with(|| "pending".to_string());
        match first(form, "AssignmentStatus") {
            Some("canceled") => {
                if first(form, "Reason").is_none() {
                    return Answer::error(400, 20001, "Reason is required to cancel a Task");
                }
                if status != "pending" && status != "reserved" {
                    return Answer::error(
                        400,
                        20001,
                        &format!(
                            "Cannot cancel task {sid} in workspace {WORKSPACE_SID} for account \
                             {ACCOUNT_SID} because it is not pending or reserved."
                        ),
                    );
                }
                *status = "canceled".to_string();
                for reservation in self.reservations.values_mut() {
                    if reservation.task_sid == sid && reservation.status == "pending" {
                        reservation.status = "canceled".to_string();
                    }
                }
            }
            Some("completed") => {
                if status != "assigned" && status != "wrapping" {
                    return Answer::error(
                        400,
                        20001,
                        &format!(
                            "Cannot complete task {sid} because it is not assigned or wrapping."
                        ),
                    );
                }
                *status = "completed".to_string();
            }
            Some(other) => {
                return Answer::error(
                    400,
                    20001,
                    &format!("Cannot set AssignmentStatus to {other}"),
                );
            }
            None => {}
        }
        let status = self.tasks.get(sid).cloned().unwrap_or_default();
        Answer::json(
            200,
            json!({
                "sid": sid,
                "account_sid": ACCOUNT_SID,
                "workspace_sid": WORKSPACE_SID,
                "assignment_status": status,
                "reason": first(form, "Reason"),
                "attributes": "{}",
                "date_created": DATE_ISO,
                "date_updated": DATE_ISO,
                "url": format!("https://taskrouter.twilio.com/v1/Workspaces/{WORKSPACE_SID}/Tasks/{sid}"),
            }),
        )
    }
}

fn task_json(sid: &str, status: &str, task: &FakeTask) -> Value {
    json!({
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "workspace_sid": WORKSPACE_SID,
        "assignment_status": status,
        "attributes": task.attributes.to_string(),
        "date_created": task.date_created,
        "date_updated": task.date_created,
        "virtual_start_time": task.virtual_start_time,
        "task_channel_unique_name": "voice",
        "url": format!("https://taskrouter.twilio.com/v1/Workspaces/{WORKSPACE_SID}/Tasks/{sid}"),
    })
}

const ACTIVITIES: [(&str, &str, bool); 3] = [
    (ACTIVITY_OFFLINE, "Offline", false),
    (ACTIVITY_AVAILABLE, "Available", true),
    (ACTIVITY_UNAVAILABLE, "Unavailable", false),
];

fn activity_name(sid: &str) -> Option<&'static str> {
    ACTIVITIES
        .iter()
        .find(|(s, ..)| *s == sid)
        .map(|(_, name, _)| *name)
}

fn activity_available(sid: &str) -> bool {
    ACTIVITIES
        .iter()
        .any(|(s, _, available)| *s == sid && *available)
}

fn activities_json() -> Value {
    let activities: Vec<Value> = ACTIVITIES
        .iter()
        .map(|(sid, name, available)| {
            json!({
                "sid": sid,
                "account_sid": ACCOUNT_SID,
                "workspace_sid": WORKSPACE_SID,
                "friendly_name": name,
                "available": available,
                "date_created": DATE_ISO,
                "date_updated": DATE_ISO,
                "url": format!("https://taskrouter.twilio.com/v1/Workspaces/{WORKSPACE_SID}/Activities/{sid}"),
            })
        })
        .collect();
    json!({
        "activities": activities,
        "meta": {"page": 0, "page_size": 1000, "key": "activities", "next_page_url": null},
    })
}

/// A worker as Twilio shows it; lists leave `attributes` null.
fn worker_json(worker: &FakeWorker, with_attributes: bool) -> Value {
    json!({
        "sid": worker.sid,
        "account_sid": ACCOUNT_SID,
        "workspace_sid": WORKSPACE_SID,
        "friendly_name": worker.friendly_name,
        "activity_sid": worker.activity_sid,
        "activity_name": activity_name(&worker.activity_sid),
        "available": activity_available(&worker.activity_sid),
        "attributes": if with_attributes { Value::from(worker.attributes.clone()) } else { Value::Null },
        "date_created": DATE_ISO,
        "date_updated": DATE_ISO,
        "date_status_changed": DATE_ISO,
        "url": format!("https://taskrouter.twilio.com/v1/Workspaces/{WORKSPACE_SID}/Workers/{}", worker.sid),
    })
}

fn reservation_json(sid: &str, reservation: &FakeReservation) -> Value {
    json!({
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "workspace_sid": WORKSPACE_SID,
        "task_sid": reservation.task_sid,
        "worker_sid": reservation.worker_sid,
        "reservation_status": reservation.status,
        "date_created": DATE_ISO,
        "date_updated": DATE_ISO,
        "url": format!(
            "https://taskrouter.twilio.com/v1/Workspaces/{WORKSPACE_SID}/Tasks/{}/Reservations/{sid}",
            reservation.task_sid
        ),
    })
}

fn call_json(sid: &str, call: &FakeCall) -> Value {
    json!({
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "to": call.to,
        "from": call.from,
        "status": call.status,
        "direction": "outbound-api",
        "date_created": DATE_2010,
        "date_updated": DATE_2010,
        "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_path_suffixes() {
        let path = "/v1/Workspaces/WS1/Tasks/WT1/Reservations/WR1";
        assert!(path_matches(path, "Tasks/*/Reservations/*"));
        assert!(path_matches(path, "/Reservations/WR1"));
        assert!(!path_matches(path, "Workers/*"));
        assert!(!path_matches("/a", "x/y/z/*"));
    }
}
