//! Twilio REST client over reqwest: Calls, Messages and TaskRouter.
//!
//! Every method takes the [`Deadline`] of the callback that caused it: 429
//! and 5xx answers are retried with jittered exponential backoff until the
//! deadline, never past it. Twilio's JSON error body becomes
//! [`TwilioError::Api`] with Twilio's code and the HTTP status. Updating a
//! reservation or task that is already settled is [`Settled::Already`], not an
//! error.
//!
//! Besides the typed calls the functions make, the client offers what an
//! operator's tool needs to reach any other resource with the same
//! credentials, retries and errors: [`TwilioClient::get`],
//! [`TwilioClient::post`] (with its [`Replay`]), [`TwilioClient::list`], the
//! URL builders [`TwilioClient::account_url`] and
//! [`TwilioClient::workspaces_url`], and the JSON readers [`sid_of`] and
//! [`text_of`].

mod transport;

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::config::TwilioConfig;
use crate::deadline::Deadline;
use crate::model::CallToken;
use crate::secret::Secret;
use transport::Exchange;
pub use transport::Replay;

#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// Twilio answered with an error body (`{"code","message","more_info","status"}`).
    #[error("Twilio error {code} (HTTP {status}): {message}")]
    Api {
        status: u16,
        code: u32,
        message: String,
    },
    /// The deadline passed before a definitive answer (after retries, if any).
    #[error("Twilio did not answer before the deadline")]
    DeadlineExceeded,
    /// Connection or protocol failure (after retries).
    #[error("Twilio could not be reached: {0}")]
    Transport(String),
    /// Twilio's answer could not be read.
    #[error("unexpected answer from Twilio: {0}")]
    Decode(String),
}

impl TwilioError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            TwilioError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Twilio's error code of an API error.
    pub fn code(&self) -> Option<u32> {
        match self {
            TwilioError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Twilio refused an SMS because the recipient texted STOP (21610):
    /// nothing reaches them until they text START; never retried.
    pub fn is_unsubscribed(&self) -> bool {
        self.code() == Some(UNSUBSCRIBED_RECIPIENT)
    }

    /// Twilio refused the request as it stands (a 4xx other than 429), so
    /// it did nothing: a changed request may be sent without acting twice.
    pub fn is_refusal(&self) -> bool {
        matches!(self, TwilioError::Api { status, .. } if (400..500).contains(status) && *status != 429)
    }

    /// Worth another try: Twilio was unreachable, overloaded or out of time.
    pub fn is_retryable(&self) -> bool {
        match self {
            TwilioError::DeadlineExceeded | TwilioError::Transport(_) => true,
            TwilioError::Api { status, .. } => *status == 429 || *status >= 500,
            TwilioError::Decode(_) => false,
        }
    }
}

/// The outcome of an update that may find its target already settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// This request made the change.
    Done,
    /// The reservation, task or call was already settled or gone.
    Already,
}

/// Answering machine detection for an outbound call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineDetection {
    /// `Enable` or `DetectMessageEnd`.
    pub mode: &'static str,
    pub timeout_secs: u32,
    /// With async AMD, where Twilio POSTs the verdict; `None` for sync AMD.
    pub async_callback: Option<String>,
}

/// `POST /2010-04-01/Accounts/{AC}/Calls.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    pub to: String,
    pub from: String,
    pub url: String,
    pub status_callback: String,
    /// `initiated`, `ringing`, `answered`, `completed`; sent as repeated params.
    pub status_callback_events: Vec<&'static str>,
    /// Ring time in seconds.
    pub timeout_secs: u32,
    pub machine_detection: Option<MachineDetection>,
    /// The inbound call's token, sent when `from` is that call's caller
    /// (docs/twilio.md, "Forwarded caller ID").
    pub call_token: Option<CallToken>,
}

/// `POST /v1/Workspaces/{WS}/Tasks`: a task created over REST (a callback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub workflow_sid: String,
    pub attributes: Value,
    /// `VirtualStartTime`, ISO 8601 in UTC: the task's age counts from it
    /// (docs/twilio.md, "Callbacks").
    pub virtual_start_time: String,
}

/// A task as a list of tasks shows it (lists carry no attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTask {
    pub sid: String,
    /// ISO 8601, as Twilio writes it.
    pub date_created: String,
}

/// `POST .../Calls/{CA}.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallUpdate {
    /// Run new TwiML from this URL (POST).
    Redirect(String),
    /// `Status=canceled`: stop a call that is queued or ringing.
    Cancel,
    /// `Status=completed`: hang up whatever the call's state.
    Complete,
}

/// A TaskRouter worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    pub sid: String,
    pub friendly_name: String,
    pub activity_sid: Option<String>,
    pub activity_name: Option<String>,
    /// Parsed attributes (`{}` when Twilio sent null or an empty string).
    pub attributes: Value,
    pub available: bool,
}

/// `POST .../Workers/{WK}`; `None` leaves a field as is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerUpdate {
    pub activity_sid: Option<String>,
    pub attributes: Option<Value>,
    /// `RejectPendingReservations=true`, when going unavailable.
    pub reject_pending_reservations: bool,
}

/// A TaskRouter activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityInfo {
    pub sid: String,
    pub friendly_name: String,
    pub available: bool,
}

#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    api_url: String,
    taskrouter_url: String,
    account_sid: String,
    workspace_sid: String,
    username: String,
    password: Secret,
    attempt_timeout: Duration,
}

/// Shows where the client points and as whom, never the secret.
impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient")
            .field("api_url", &self.api_url)
            .field("taskrouter_url", &self.taskrouter_url)
            .field("account_sid", &self.account_sid)
            .field("workspace_sid", &self.workspace_sid)
            .field("username", &self.username)
            .field("attempt_timeout", &self.attempt_timeout)
            .finish_non_exhaustive()
    }
}

impl TwilioClient {
    pub fn new(config: &TwilioConfig) -> Self {
        let (username, password) = config.rest_credentials();
        let http = crate::https::client_builder()
            .connect_timeout(transport::CONNECT_TIMEOUT)
            .build()
            .unwrap_or_else(|error| {
                // Only a broken TLS set-up gets here; per-request timeouts still apply.
                tracing::error!(%error, "Twilio HTTP client set-up failed; using defaults");
                crate::https::client()
            });
        Self {
            http,
            api_url: config.api_url.clone(),
            taskrouter_url: config.taskrouter_url.clone(),
            account_sid: config.account_sid.clone(),
            workspace_sid: config.workspace_sid.clone(),
            username: username.to_string(),
            password: password.clone(),
            attempt_timeout: transport::ATTEMPT_TIMEOUT,
        }
    }

    /// Caps each attempt at `timeout` (default 10 s); the deadline still bounds the whole.
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Places an outbound call; returns its call SID.
    pub async fn create_call(
        &self,
        call: &NewCall,
        deadline: Deadline,
    ) -> Result<String, TwilioError> {
        let mut form = vec![
            ("To", call.to.clone()),
            ("From", call.from.clone()),
            ("Url", call.url.clone()),
            ("Method", "POST".to_string()),
            ("StatusCallback", call.status_callback.clone()),
            ("StatusCallbackMethod", "POST".to_string()),
        ];
        form.extend(
            call.status_callback_events
                .iter()
                .map(|event| ("StatusCallbackEvent", (*event).to_string())),
        );
        form.push(("Timeout", call.timeout_secs.to_string()));
        if let Some(amd) = &call.machine_detection {
            form.push(("MachineDetection", amd.mode.to_string()));
            form.push(("MachineDetectionTimeout", amd.timeout_secs.to_string()));
            if let Some(callback) = &amd.async_callback {
                form.push(("AsyncAmd", "true".to_string()));
                form.push(("AsyncAmdStatusCallback", callback.clone()));
                form.push(("AsyncAmdStatusCallbackMethod", "POST".to_string()));
            }
        }
        if let Some(token) = &call.call_token {
            form.push(("CallToken", token.expose().to_string()));
        }
        let body = self
            .post(
                self.account_url("/Calls.json"),
                &form,
                Replay::Unsure,
                deadline,
            )
            .await?;
        sid_of(&body)
    }

    /// Redirects, cancels or hangs up a call. A call that has already ended is `Settled::Already`.
    pub async fn update_call(
        &self,
        call_sid: &str,
        update: &CallUpdate,
        deadline: Deadline,
    ) -> Result<Settled, TwilioError> {
        let form = match update {
            CallUpdate::Redirect(url) => vec![("Url", url.clone()), ("Method", "POST".to_string())],
            CallUpdate::Cancel => vec![("Status", "canceled".to_string())],
            CallUpdate::Complete => vec![("Status", "completed".to_string())],
        };
        let url = self.account_url(&format!("/Calls/{call_sid}.json"));
        settle(
            self.post(url, &form, Replay::Safe, deadline).await,
            call_settled,
        )
    }

    /// Sends an SMS; returns its message SID.
    pub async fn send_sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
        deadline: Deadline,
    ) -> Result<String, TwilioError> {
        let form = [
            ("To", to.to_string()),
            ("From", from.to_string()),
            ("Body", body.to_string()),
        ];
        let body = self
            .post(
                self.account_url("/Messages.json"),
                &form,
                Replay::Unsure,
                deadline,
            )
            .await?;
        sid_of(&body)
    }

    /// Creates a worker. A FriendlyName already taken is an API error for
    /// which [`TwilioError::is_conflict`] holds.
    pub async fn create_worker(
        &self,
        friendly_name: &str,
        attributes: &Value,
        activity_sid: Option<&str>,
        deadline: Deadline,
    ) -> Result<Worker, TwilioError> {
        let mut form = vec![
            ("FriendlyName", friendly_name.to_string()),
            ("Attributes", attributes.to_string()),
        ];
        if let Some(activity) = activity_sid {
            form.push(("ActivitySid", activity.to_string()));
        }
        let body = self
            .post(self.taskrouter("/Workers"), &form, Replay::Unsure, deadline)
            .await?;
        Worker::from_json(&body)
    }

    pub async fn fetch_worker(
        &self,
        worker_sid: &str,
        deadline: Deadline,
    ) -> Result<Worker, TwilioError> {
        let url = self.taskrouter(&format!("/Workers/{worker_sid}"));
        Worker::from_json(&self.get(url, deadline).await?)
    }

    /// The worker with this FriendlyName (fetched singly, so attributes are filled in).
    pub async fn find_worker(
        &self,
        friendly_name: &str,
        deadline: Deadline,
    ) -> Result<Option<Worker>, TwilioError> {
        let query = serde_urlencoded::to_string([("FriendlyName", friendly_name)])
            .map_err(|e| TwilioError::Decode(e.to_string()))?;
        let list = self
            .get(self.taskrouter(&format!("/Workers?{query}")), deadline)
            .await?;
        let Some(listed) = list
            .get("workers")
            .and_then(Value::as_array)
            .and_then(|workers| workers.first())
        else {
            return Ok(None);
        };
        // Lists may carry `attributes: null`; only the single fetch is complete.
        if listed.get("attributes").is_some_and(Value::is_string) {
            return Worker::from_json(listed).map(Some);
        }
        let sid = sid_of(listed)?;
        self.fetch_worker(&sid, deadline).await.map(Some)
    }

    pub async fn update_worker(
        &self,
        worker_sid: &str,
        update: &WorkerUpdate,
        deadline: Deadline,
    ) -> Result<Worker, TwilioError> {
        let mut form = Vec::new();
        if let Some(activity) = &update.activity_sid {
            form.push(("ActivitySid", activity.clone()));
        }
        if let Some(attributes) = &update.attributes {
            form.push(("Attributes", attributes.to_string()));
        }
        if update.reject_pending_reservations {
            form.push(("RejectPendingReservations", "true".to_string()));
        }
        let url = self.taskrouter(&format!("/Workers/{worker_sid}"));
        Worker::from_json(&self.post(url, &form, Replay::Safe, deadline).await?)
    }

    /// The reservation's `ReservationStatus` (`pending`, `accepted`, ...).
    pub async fn reservation_status(
        &self,
        task_sid: &str,
        reservation_sid: &str,
        deadline: Deadline,
    ) -> Result<String, TwilioError> {
        let url = self.taskrouter(&format!("/Tasks/{task_sid}/Reservations/{reservation_sid}"));
        let reservation = self.get(url, deadline).await?;
        text_of(&reservation, "reservation_status").ok_or_else(|| {
            TwilioError::Decode(format!("reservation {reservation_sid} without a status"))
        })
    }

    /// Rejects a pending reservation, moving the worker to `activity_sid`.
    /// A reservation no longer pending is `Settled::Already`.
    pub async fn reject_reservation(
        &self,
        task_sid: &str,
        reservation_sid: &str,
        activity_sid: &str,
        deadline: Deadline,
    ) -> Result<Settled, TwilioError> {
        let form = [
            ("ReservationStatus", "rejected".to_string()),
            ("WorkerActivitySid", activity_sid.to_string()),
        ];
        let url = self.taskrouter(&format!("/Tasks/{task_sid}/Reservations/{reservation_sid}"));
        settle(
            self.post(url, &form, Replay::Safe, deadline).await,
            state_settled,
        )
    }

    /// Accepts a pending reservation: its task is assigned to the worker.
    /// A reservation no longer pending is `Settled::Already`.
    pub async fn accept_reservation(
        &self,
        task_sid: &str,
        reservation_sid: &str,
        deadline: Deadline,
    ) -> Result<Settled, TwilioError> {
        let form = [("ReservationStatus", "accepted".to_string())];
        let url = self.taskrouter(&format!("/Tasks/{task_sid}/Reservations/{reservation_sid}"));
        settle(
            self.post(url, &form, Replay::Safe, deadline).await,
            state_settled,
        )
    }

    /// Completes an assigned or wrapping task, which frees the worker's
    /// capacity (docs/twilio.md, "Task completion"). A task already
    /// completed is `Settled::Already`.
    pub async fn complete_task(
        &self,
        task_sid: &str,
        reason: &str,
        deadline: Deadline,
    ) -> Result<Settled, TwilioError> {
        self.end_task(task_sid, "completed", reason, completion_settled, deadline)
            .await
    }

    /// Creates a task in the voice channel; returns its SID. Never replayed
    /// after a request that may have reached Twilio: two tasks would ring
    /// two workers for one callback.
    pub async fn create_task(
        &self,
        task: &NewTask,
        deadline: Deadline,
    ) -> Result<String, TwilioError> {
        let form = [
            ("WorkflowSid", task.workflow_sid.clone()),
            ("Attributes", task.attributes.to_string()),
            ("TaskChannel", "voice".to_string()),
            ("VirtualStartTime", task.virtual_start_time.clone()),
        ];
        let body = self
            .post(self.taskrouter("/Tasks"), &form, Replay::Unsure, deadline)
            .await?;
        sid_of(&body)
    }

    /// The tasks whose attribute `call_sid` is `call_sid`, whatever their
    /// status (TaskRouter's `EvaluateTaskAttributes` filter).
    pub async fn tasks_of_call(
        &self,
        call_sid: &str,
        deadline: Deadline,
    ) -> Result<Vec<ListedTask>, TwilioError> {
        let query = serde_urlencoded::to_string([
            (
                "EvaluateTaskAttributes",
                format!("call_sid == \"{call_sid}\""),
            ),
            ("PageSize", "20".to_string()),
        ])
        .map_err(|e| TwilioError::Decode(e.to_string()))?;
        let tasks = self
            .list(
                self.taskrouter(&format!("/Tasks?{query}")),
                "tasks",
                deadline,
            )
            .await?;
        tasks
            .iter()
            .map(|task| {
                Ok(ListedTask {
                    sid: sid_of(task)?,
                    date_created: text_of(task, "date_created").unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Cancels a task. A task no longer pending or reserved is `Settled::Already`.
    pub async fn cancel_task(
        &self,
        task_sid: &str,
        reason: &str,
        deadline: Deadline,
    ) -> Result<Settled, TwilioError> {
        self.end_task(task_sid, "canceled", reason, state_settled, deadline)
            .await
    }

    /// Moves a task to `status` (`AssignmentStatus`) with its `Reason`;
    /// `settled` says which refusals mean it is there already.
    async fn end_task(
        &self,
        task_sid: &str,
        status: &str,
        reason: &str,
        settled: fn(u16, u32, &str) -> bool,
        deadline: Deadline,
    ) -> Result<Settled, TwilioError> {
        let form = [
            ("AssignmentStatus", status.to_string()),
            ("Reason", reason.to_string()),
        ];
        let url = self.taskrouter(&format!("/Tasks/{task_sid}"));
        settle(self.post(url, &form, Replay::Safe, deadline).await, settled)
    }

    pub async fn list_activities(
        &self,
        deadline: Deadline,
    ) -> Result<Vec<ActivityInfo>, TwilioError> {
        // A workspace has a handful of activities: one page holds them all.
        let activities = self
            .list(
                self.taskrouter("/Activities?PageSize=1000"),
                "activities",
                deadline,
            )
            .await?;
        activities
            .iter()
            .map(|activity| {
                Ok(ActivityInfo {
                    sid: sid_of(activity)?,
                    friendly_name: text_of(activity, "friendly_name").unwrap_or_default(),
                    available: activity
                        .get("available")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
            })
            .collect()
    }

    /// `TWILIO_API_URL/2010-04-01/Accounts/{AC}` + `path` (the 2010 API
    /// wants `.json` after a collection or a SID: `path` brings it).
    pub fn account_url(&self, path: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}{path}",
            self.api_url, self.account_sid
        )
    }

    /// `TWILIO_TASKROUTER_URL/v1/Workspaces` + `path`: any workspace of the
    /// account, or the collection itself with an empty `path`.
    pub fn workspaces_url(&self, path: &str) -> String {
        format!("{}/v1/Workspaces{path}", self.taskrouter_url)
    }

    /// `TWILIO_TASKROUTER_URL/v1/Workspaces/{WS}` + `path`, in the configured workspace.
    fn taskrouter(&self, path: &str) -> String {
        self.workspaces_url(&format!("/{}{path}", self.workspace_sid))
    }

    /// POSTs `form` to `url` (absolute, from the URL builders); the JSON
    /// answer. `replay` says whether a failed attempt may be sent again.
    pub async fn post(
        &self,
        url: String,
        form: &[(&'static str, String)],
        replay: Replay,
        deadline: Deadline,
    ) -> Result<Value, TwilioError> {
        let exchange = Exchange {
            method: Method::POST,
            url,
            form,
            replay,
        };
        self.exchange(exchange, deadline).await
    }

    /// GETs `url` (absolute, query included); the JSON answer. Reads are
    /// always replayed on a retryable failure.
    pub async fn get(&self, url: String, deadline: Deadline) -> Result<Value, TwilioError> {
        let exchange = Exchange {
            method: Method::GET,
            url,
            form: &[],
            replay: Replay::Safe,
        };
        self.exchange(exchange, deadline).await
    }

    /// The items under `key` (`workers`, `activities`, ...) of the list page
    /// at `url`. One page only: the caller's `PageSize` decides how many.
    pub async fn list(
        &self,
        url: String,
        key: &str,
        deadline: Deadline,
    ) -> Result<Vec<Value>, TwilioError> {
        let mut page = self.get(url, deadline).await?;
        match page.get_mut(key).map(Value::take) {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(TwilioError::Decode(format!("list without `{key}`"))),
        }
    }
}

/// An update's result, with "already settled" answers (per `already`) as `Settled::Already`.
fn settle(
    result: Result<Value, TwilioError>,
    already: fn(u16, u32, &str) -> bool,
) -> Result<Settled, TwilioError> {
    match result {
        Ok(_) => Ok(Settled::Done),
        Err(TwilioError::Api {
            status,
            code,
            ref message,
        }) if already(status, code, message) => {
            tracing::debug!(status, code, message, "already settled at Twilio");
            Ok(Settled::Already)
        }
        Err(error) => Err(error),
    }
}

/// 21220 "Call is not in-progress. Cannot redirect." (or cancel/complete):
/// the call ended; 404: it is gone.
fn call_settled(status: u16, code: u32, _message: &str) -> bool {
    status == 404 || code == CALL_NOT_IN_PROGRESS
}

/// A reservation no longer pending, or a task no longer pending or reserved.
/// Codes first: 404 / 20404 (gone) and the two codes Twilio documents for a
/// reservation that is not pending (docs/twilio.md, "Reservation not
/// pending"); no page ties a code to the REST update, where 20001 (Twilio's
/// generic invalid-parameter code) is what is seen, so a 400 or 409 is also
/// settled when its message names the state: either wording seen in the wild.
fn state_settled(status: u16, code: u32, message: &str) -> bool {
    if status >= 500 {
        return false;
    }
    status == 404
        || code == NOT_FOUND
        || code == DIAL_QUEUE_NOT_PENDING
        || code == DIAL_QUEUE_GONE
        || (is_conflict_status(status) && mentions_settled_state(message))
}

/// A task that is not assigned or wrapping (any more) answers 400 "Cannot
/// complete task .. because it is not assigned or wrapping": completed
/// before, or canceled; either way nothing holds the worker's capacity.
fn completion_settled(status: u16, code: u32, message: &str) -> bool {
    state_settled(status, code, message)
        || (is_conflict_status(status) && message.to_ascii_lowercase().contains("not assigned"))
}

fn is_conflict_status(status: u16) -> bool {
    status == 400 || status == 409
}

fn mentions_settled_state(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "not pending",
        "expected state",
        "not in a pending",
        "not currently in a pending",
        "already",
    ]
    .iter()
    .any(|phrase| message.contains(phrase))
}

/// Twilio's code for updating a call that is no longer in progress.
pub const CALL_NOT_IN_PROGRESS: u32 = 21220;
/// "Attempt to send to unsubscribed recipient" (docs/twilio.md, "Carrier keywords").
pub const UNSUBSCRIBED_RECIPIENT: u32 = 21610;
/// Twilio's code for a resource that does not exist.
pub const NOT_FOUND: u32 = 20404;
/// The reservation was accepted, timed out, canceled, rejected or rescinded
/// (docs/twilio.md, "Queue TwiML").
pub const DIAL_QUEUE_NOT_PENDING: u32 = 14215;
/// The reservation could not be found or was canceled / rescinded
/// (docs/twilio.md, "Queue TwiML").
pub const DIAL_QUEUE_GONE: u32 = 14217;

impl TwilioError {
    /// Whether Twilio refused a create because the name is taken (409, or a
    /// 400 saying it already exists).
    pub fn is_conflict(&self) -> bool {
        match self {
            TwilioError::Api {
                status, message, ..
            } => *status == 409 || (*status == 400 && message.contains("already exists")),
            _ => false,
        }
    }
}

impl Worker {
    fn from_json(json: &Value) -> Result<Self, TwilioError> {
        // `attributes` is a JSON string, possibly null or empty.
        let attributes = match json.get("attributes").and_then(Value::as_str) {
            Some(raw) if !raw.trim().is_empty() => serde_json::from_str(raw)
                .map_err(|e| TwilioError::Decode(format!("worker attributes: {e}")))?,
            _ => Value::Object(Default::default()),
        };
        Ok(Worker {
            sid: sid_of(json)?,
            friendly_name: text_of(json, "friendly_name").unwrap_or_default(),
            activity_sid: text_of(json, "activity_sid"),
            activity_name: text_of(json, "activity_name"),
            attributes,
            available: json
                .get("available")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// The string `field` of a Twilio resource, if it has one.
pub fn text_of(json: &Value, field: &str) -> Option<String> {
    json.get(field).and_then(Value::as_str).map(str::to_string)
}

/// The `sid` of a Twilio resource; an answer without one is a decode error.
pub fn sid_of(json: &Value) -> Result<String, TwilioError> {
    text_of(json, "sid").ok_or_else(|| TwilioError::Decode("answer without a `sid`".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(status: u16) -> TwilioError {
        TwilioError::Api {
            status,
            code: 20001,
            message: "test".into(),
        }
    }

    #[test]
    fn only_failures_a_retry_could_fix_are_retryable() {
        assert!(TwilioError::DeadlineExceeded.is_retryable());
        assert!(TwilioError::Transport("reset".into()).is_retryable());
        assert!(api(429).is_retryable());
        assert!(api(503).is_retryable());
        assert!(!api(400).is_retryable());
        assert!(!api(404).is_retryable());
        assert!(!TwilioError::Decode("junk".into()).is_retryable());
        let unsubscribed = TwilioError::Api {
            status: 400,
            code: UNSUBSCRIBED_RECIPIENT,
            message: "Attempt to send to unsubscribed recipient".into(),
        };
        assert!(unsubscribed.is_unsubscribed() && !unsubscribed.is_retryable());
        assert!(!api(400).is_unsubscribed());
    }

    #[test]
    fn only_a_4xx_that_did_nothing_is_a_refusal() {
        assert!(api(400).is_refusal() && api(404).is_refusal());
        for not in [api(429), api(500), api(503)] {
            assert!(!not.is_refusal(), "{not}");
        }
        assert!(!TwilioError::DeadlineExceeded.is_refusal());
        assert!(!TwilioError::Transport("reset".into()).is_refusal());
    }

    #[test]
    fn worker_attributes_are_parsed_from_their_json_string() {
        let listed = |attributes: Value| {
            json!({"sid": "WK1", "friendly_name": "+15551230001", "activity_sid": "WA1",
                   "activity_name": "Available", "available": true, "attributes": attributes})
        };
        let worker = Worker::from_json(&listed(json!(r#"{"skills":["sales"]}"#))).expect("worker");
        assert_eq!(worker.attributes, json!({"skills": ["sales"]}));
        assert!(worker.available);
        for empty in [Value::Null, json!(""), json!("  ")] {
            let worker = Worker::from_json(&listed(empty.clone())).expect("worker");
            assert_eq!(worker.attributes, json!({}), "{empty}");
        }
        assert!(matches!(
            Worker::from_json(&listed(json!("{not json"))),
            Err(TwilioError::Decode(_))
        ));
        assert!(matches!(
            Worker::from_json(&json!({"friendly_name": "x"})),
            Err(TwilioError::Decode(_))
        ));
    }

    #[test]
    fn settled_answers_are_recognised_and_others_are_not() {
        assert!(call_settled(
            400,
            CALL_NOT_IN_PROGRESS,
            "Call is not in-progress. Cannot redirect."
        ));
        assert!(call_settled(
            404,
            20404,
            "The requested resource was not found"
        ));
        assert!(!call_settled(400, 21205, "Url parameter is required."));
        assert!(state_settled(
            400,
            20001,
            "Cannot cancel task WT1 in workspace WS1 for account AC1 because it is not pending or reserved."
        ));
        assert!(state_settled(
            400,
            20001,
            "Reservation WR1 is not in expected state [pending]"
        ));
        assert!(!state_settled(
            400,
            20001,
            "WorkerActivitySid is not a valid Activity"
        ));
        assert!(!state_settled(
            500,
            20500,
            "Internal Server Error, not pending"
        ));
    }

    #[test]
    fn settled_reservations_are_recognised_by_code_first_then_by_either_wording() {
        // The codes docs/twilio.md ("Reservation not pending") names for a
        // reservation no longer pending, whatever the message says.
        for code in [DIAL_QUEUE_NOT_PENDING, DIAL_QUEUE_GONE] {
            assert!(state_settled(400, code, "Bad request"), "{code}");
        }
        assert!(state_settled(
            404,
            20404,
            "The requested resource was not found"
        ));
        for wording in [
            "Reservation WR1 is not in expected state [pending]",
            "Reservation WR1 is not currently in a Pending state",
            "Cannot cancel task WT1 because it is not pending or reserved.",
        ] {
            assert!(state_settled(400, 20001, wording), "{wording}");
            assert!(state_settled(409, 20001, wording), "{wording}");
        }
        // 20001 is Twilio's generic invalid-parameter code: alone it settles nothing.
        assert!(!state_settled(400, 20001, "Invalid parameter"));
        assert!(!state_settled(
            400,
            20001,
            "WorkerActivitySid is not a valid Activity"
        ));
        // A server error is retried, never taken for a settled state.
        assert!(!state_settled(
            503,
            DIAL_QUEUE_NOT_PENDING,
            "Service Unavailable"
        ));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let config = TwilioConfig {
            account_sid: "AC1".into(),
            auth_token: Secret::new("token-secret"),
            api_key: Some(("SK1".into(), Secret::new("key-secret"))),
            api_url: "http://127.0.0.1:9".into(),
            taskrouter_url: "http://127.0.0.1:9".into(),
            workspace_sid: "WS1".into(),
            workflow_sid: "WW1".into(),
            caller_id: "+15005550006".into(),
        };
        let shown = format!("{:?}", TwilioClient::new(&config));
        assert!(shown.contains("SK1"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn conflicts_are_recognised() {
        let api = |status, message: &str| TwilioError::Api {
            status,
            code: 20001,
            message: message.into(),
        };
        assert!(api(409, "Worker already exists").is_conflict());
        assert!(api(400, "Worker with FriendlyName x already exists").is_conflict());
        assert!(!api(400, "Missing FriendlyName").is_conflict());
        assert!(!TwilioError::DeadlineExceeded.is_conflict());
    }
}
