//! Twilio REST client over reqwest: Calls, Messages and TaskRouter.
//!
//! Every method takes the [`Deadline`] of the callback that caused it: 429
//! and 5xx answers are retried with jittered exponential backoff until the
//! deadline, never past it. Twilio's JSON error body becomes
//! [`TwilioError::Api`] with Twilio's code and the HTTP status. Updating a
//! reservation or task that is already settled is [`Settled::Already`], not an
//! error.

use serde_json::Value;

use crate::config::TwilioConfig;
use crate::deadline::Deadline;

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

#[derive(Debug, Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    api_url: String,
    taskrouter_url: String,
    account_sid: String,
    workspace_sid: String,
    username: String,
    password: String,
}

impl TwilioClient {
    pub fn new(config: &TwilioConfig) -> Self {
        let (username, password) = config.rest_credentials();
        Self {
            http: reqwest::Client::new(),
            api_url: config.api_url.clone(),
            taskrouter_url: config.taskrouter_url.clone(),
            account_sid: config.account_sid.clone(),
            workspace_sid: config.workspace_sid.clone(),
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    /// Places an outbound call; returns its call SID.
    pub async fn create_call(
        &self,
        call: &NewCall,
        deadline: Deadline,
    ) -> Result<String, TwilioError> {
        let _ = (
            call,
            deadline,
            &self.http,
            &self.api_url,
            &self.account_sid,
            &self.username,
            &self.password,
        );
        todo!("twilio client")
    }

    /// Redirects, cancels or hangs up a call. A call that has already ended is `Settled::Already`.
    pub async fn update_call(
        &self,
        call_sid: &str,
        update: &CallUpdate,
        deadline: Deadline,
    ) -> Result<Settled, TwilioError> {
        let _ = (call_sid, update, deadline);
        todo!("twilio client")
    }

    /// Sends an SMS; returns its message SID.
    pub async fn send_sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
        deadline: Deadline,
    ) -> Result<String, TwilioError> {
        let _ = (from, to, body, deadline);
        todo!("twilio client")
    }

    pub async fn create_worker(
        &self,
        friendly_name: &str,
        attributes: &Value,
        activity_sid: Option<&str>,
        deadline: Deadline,
    ) -> Result<Worker, TwilioError> {
        let _ = (
            friendly_name,
            attributes,
            activity_sid,
            deadline,
            &self.taskrouter_url,
            &self.workspace_sid,
        );
        todo!("twilio client")
    }

    pub async fn fetch_worker(
        &self,
        worker_sid: &str,
        deadline: Deadline,
    ) -> Result<Worker, TwilioError> {
        let _ = (worker_sid, deadline);
        todo!("twilio client")
    }

    /// The worker with this FriendlyName (fetched singly, so attributes are filled in).
    pub async fn find_worker(
        &self,
        friendly_name: &str,
        deadline: Deadline,
    ) -> Result<Option<Worker>, TwilioError> {
        let _ = (friendly_name, deadline);
        todo!("twilio client")
    }

    pub async fn update_worker(
        &self,
        worker_sid: &str,
        update: &WorkerUpdate,
        deadline: Deadline,
    ) -> Result<Worker, TwilioError> {
        let _ = (worker_sid, update, deadline);
        todo!("twilio client")
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
        let _ = (task_sid, reservation_sid, activity_sid, deadline);
        todo!("twilio client")
    }

    /// Cancels a task. A task no longer pending or reserved is `Settled::Already`.
    pub async fn cancel_task(
        &self,
        task_sid: &str,
        reason: &str,
        deadline: Deadline,
    ) -> Result<Settled, TwilioError> {
        let _ = (task_sid, reason, deadline);
        todo!("twilio client")
    }

    pub async fn list_activities(
        &self,
        deadline: Deadline,
    ) -> Result<Vec<ActivityInfo>, TwilioError> {
        let _ = deadline;
        todo!("twilio client")
    }
}
