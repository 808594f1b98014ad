//! Idempotent create-or-update of everything Homeline needs at Twilio (the
//! `homeline provision` command, and the stack's custom resource in
//! [`custom_resource`]): the TaskRouter workspace with its event
//! callback, the activities, one task queue per skill plus the queue nobody
//! matches, the workflow, and the webhooks of the Twilio numbers.
//!
//! Every resource is looked up first (by FriendlyName, or by PhoneNumber);
//! one that matches is left alone, one that differs is updated with only the
//! differing parameters, one that is missing is created. A dry run makes the
//! same look-ups (GETs only) and reports what it would do.
//!
//! Requests go through [`TwilioClient`] (auth, retries, deadline, typed
//! errors); the URLs Twilio is pointed at come from [`routes::paths`].

use std::fmt;

use homeline_core::Secret;
use homeline_core::config::{DEFAULT_API_URL, DEFAULT_TASKROUTER_URL, TwilioConfig};
use homeline_core::deadline::Deadline;
use homeline_core::domain::answers;
use homeline_core::domain::inbound;
use homeline_core::domain::returning::{LAST_WORKER_ATTRIBUTE, RETURNING_ATTRIBUTE};
use homeline_core::routes::{Budget, paths};
use homeline_core::service::callback::CALLBACK_TYPE;
use homeline_core::twilio::{Replay, TwilioClient, TwilioError, sid_of, text_of};
use serde_json::{Value, json};

pub mod custom_resource;
pub mod takeover;

/// Twilio's account, REST credentials and base URLs from `env` (a lookup of
/// trimmed, non-empty values), or the name of the missing variable. The
/// workspace, workflow and caller ID are left empty: provisioning makes them.
pub fn credentials(env: &dyn Fn(&str) -> Option<String>) -> Result<TwilioConfig, &'static str> {
    let required = |name: &'static str| env(name).ok_or(name);
    let api_key = match (env("TWILIO_API_KEY"), env("TWILIO_API_SECRET")) {
        (Some(key), Some(secret)) => Some((key, Secret::new(secret))),
        (Some(_), None) => return Err("TWILIO_API_SECRET"),
        _ => None,
    };
    let auth_token = Secret::new(match &api_key {
        Some(_) => String::new(),
        None => required("TWILIO_AUTH_TOKEN")?,
    });
    Ok(TwilioConfig {
        account_sid: required("TWILIO_ACCOUNT_SID")?,
        auth_token,
        api_key,
        api_url: env("TWILIO_API_URL").unwrap_or_else(|| DEFAULT_API_URL.into()),
        taskrouter_url: env("TWILIO_TASKROUTER_URL")
            .unwrap_or_else(|| DEFAULT_TASKROUTER_URL.into()),
        workspace_sid: String::new(),
        workflow_sid: String::new(),
        caller_id: String::new(),
    })
}

/// A workspace FriendlyName: 1 to 64 characters, trimmed.
pub fn workspace_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err("must have 1 to 64 characters".into());
    }
    Ok(name.to_string())
}

/// An http(s) base URL without a trailing slash.
pub fn base_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match host {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(url.to_string()),
        _ => Err(format!(
            "{url:?} is not an http(s) URL such as https://abc.execute-api.us-east-1.amazonaws.com"
        )),
    }
}

/// The workspace events the taskrouter-events function handles; the others
/// would only cost Lambda invocations.
pub const EVENTS: [&str; 9] = [
    "task-queue.entered",
    // A target's timeout may move the task to the nobody queue with this
    // event alone (docs/twilio.md, "Queue moved vs entered").
    "task-queue.moved",
    "task.canceled",
    // The call ended and the task holds the worker's capacity until
    // completed (docs/twilio.md, "Task completion").
    "task.wrapup",
    "workflow.timeout",
    "reservation.canceled",
    "reservation.timeout",
    "reservation.rescinded",
    "worker.activity.update",
];

/// FriendlyName of the queue no worker matches (skills cannot contain spaces).
pub const NOBODY_QUEUE_NAME: &str = "No one available";
/// An explicit expression nobody satisfies: a blank one matches every worker.
pub const NOBODY_TARGET_WORKERS: &str = "1 == 2";
/// Seconds on top of ring time + AMD before TaskRouter gives up on a
/// reservation: the whisper and press-1 (up to 20 s), Twilio's extra ring
/// seconds and the `<Dial><Queue>` hand-over must all fit.
pub const RESERVATION_MARGIN_SECS: u32 = 30;
/// Seconds past the wait's own end before the skill queue's target times
/// out. `MAX_WAIT_SECS` alone decides how long a caller waits: the wait URL
/// makes its last offer then `<Leave/>`s, and the caller is noticed at the
/// next heartbeat. The workflow's timeout only catches a caller whose wait
/// URL stopped answering; were it to come first, the nobody queue would send
/// the caller to voicemail mid-wait, before the last offer.
pub const QUEUE_BACKSTOP_MARGIN_SECS: u32 = 30;
/// The skill queue target's timeout for `MAX_WAIT_SECS`: the wait, its last
/// offer, one heartbeat (a hold stretch) and [`QUEUE_BACKSTOP_MARGIN_SECS`].
pub fn queue_backstop_secs(max_wait_secs: u32) -> u32 {
    let heartbeat = u32::try_from(inbound::HOLD_STRETCH_SECS).unwrap_or(u32::MAX);
    max_wait_secs
        .saturating_add(inbound::LAST_OFFER_SECS)
        .saturating_add(heartbeat)
        .saturating_add(QUEUE_BACKSTOP_MARGIN_SECS)
}
/// Seconds a task may sit in the nobody queue, past its skill queue's
/// timeout, before TaskRouter cancels it (the workflow's last target timing
/// out). Homeline redirects the caller and cancels the task itself at once;
/// this ends a task whose cancel failed, which would otherwise wait for its
/// 24 h TTL (docs/twilio.md, "Nobody-available workflow").
pub const NOBODY_GRACE_SECS: u32 = 120;
/// The nobody target's timeout for a skill queue's timeout: like every
/// target's, it counts from the task's creation.
pub fn nobody_timeout_secs(queue_timeout_secs: u32) -> u32 {
    queue_timeout_secs + NOBODY_GRACE_SECS
}

/// [`Desired::sticky_secs`] for `STICKY_DAYS` and `STICKY_SECS`: none when
/// returning callers are off (`STICKY_DAYS=0`).
pub fn sticky_secs(sticky_days: u32, sticky_secs: u32) -> Option<u32> {
    (sticky_days > 0).then_some(sticky_secs)
}

/// A workspace has a handful of each resource: one page holds them all.
const PAGE: &str = "PageSize=1000";

/// What Twilio should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// FriendlyName of the workspace and of its workflow.
    pub workspace_name: String,
    /// `PUBLIC_BASE_URL`, no trailing slash.
    pub base_url: String,
    pub skills: Vec<String>,
    /// The number customers call (E.164).
    pub customer_number: String,
    /// The number workers text (and call, when it is a separate number).
    pub worker_number: String,
    pub reservation_timeout_secs: u32,
    /// `MAX_WAIT_SECS`, as the functions read it: the skill queue's timeout
    /// is its backstop ([`queue_backstop_secs`]).
    pub max_wait_secs: u32,
    /// `STICKY_SECS` when returning callers are on (`STICKY_DAYS` > 0): how
    /// long the workflow offers a returning caller to their last worker.
    pub sticky_secs: Option<u32>,
    /// The stack's static fallback answers (output `FallbackBaseUrl`), no
    /// trailing slash: Twilio turns to them when Homeline fails.
    pub fallback_url: Option<String>,
    /// FALLBACK_NUMBER (E.164): the voice fallback forwards callers there
    /// before taking a message (the stack's `FallbackNumber` must match).
    pub fallback_number: Option<String>,
}

impl Desired {
    /// TaskReservationTimeout for a ring time and an AMD time.
    pub fn reservation_timeout(ring_secs: u32, amd_secs: u32) -> u32 {
        ring_secs + amd_secs + RESERVATION_MARGIN_SECS
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The workspace's `EventCallbackUrl`, with the retries of a failed
    /// connection (`Budget::connection_overrides`).
    fn event_callback(&self) -> Param {
        Param::text(
            "EventCallbackUrl",
            "event_callback_url",
            format!(
                "{}{}",
                self.url(paths::TASKROUTER_EVENTS),
                Budget::Event.connection_overrides()
            ),
        )
    }

    /// The workflow's `AssignmentCallbackUrl`.
    fn assignment_callback(&self) -> Param {
        Param::text(
            "AssignmentCallbackUrl",
            "assignment_callback_url",
            self.url(paths::ASSIGNMENT),
        )
    }

    /// The workflow's `FallbackAssignmentCallbackUrl`: a static reject with
    /// the unavailable activity (docs/twilio.md, "Fallback URLs").
    fn fallback_assignment_callback(&self) -> Option<Param> {
        let base = self.fallback_url.as_ref()?;
        Some(Param::text(
            "FallbackAssignmentCallbackUrl",
            "fallback_assignment_callback_url",
            format!("{base}/assignment"),
        ))
    }

    /// A number's `VoiceFallbackUrl` and `SmsFallbackUrl` (with their methods).
    fn number_fallbacks(&self, sms: bool) -> Vec<Param> {
        let Some(base) = &self.fallback_url else {
            return Vec::new();
        };
        let voice = if self.fallback_number.is_some() {
            "voice-forward"
        } else {
            "voice"
        };
        let mut params = vec![
            Param::text(
                "VoiceFallbackUrl",
                "voice_fallback_url",
                format!("{base}/{voice}"),
            ),
            Param::text("VoiceFallbackMethod", "voice_fallback_method", "POST"),
        ];
        if sms {
            params.push(Param::text(
                "SmsFallbackUrl",
                "sms_fallback_url",
                format!("{base}/sms"),
            ));
            params.push(Param::text(
                "SmsFallbackMethod",
                "sms_fallback_method",
                "POST",
            ));
        }
        params
    }

    /// The workflow configuration: each skill's queue while a worker of it is
    /// available, then the nobody queue until [`NOBODY_GRACE_SECS`] later;
    /// `queue` gives each skill's queue SID, `nobody` the nobody queue's.
    /// With returning callers on ([`Desired::sticky_secs`]), a returning
    /// caller's task (TaskAttributes `returning`) first tries the worker it
    /// names (`last_worker_sid`) in the skill's queue, then everyone:
    /// docs/twilio.md, "Returning callers". A skill's queue offers its
    /// workers highest answer score first, then longest idle
    /// ([`answers::ORDER_BY`]; docs/twilio.md, "Ordering workers").
    pub fn workflow_configuration(&self, queue: impl Fn(&str) -> String, nobody: &str) -> Value {
        let backstop = queue_backstop_secs(self.max_wait_secs);
        let everyone = |skill: &str| {
            vec![
                json!({
                    "queue": queue(skill),
                    "timeout": backstop,
                    "skip_if": "workers.available == 0",
                    "order_by": answers::ORDER_BY,
                }),
                json!({"queue": nobody, "timeout": nobody_timeout_secs(backstop)}),
            ]
        };
        let filter = |name: String, expression: String, targets: Vec<Value>| json!({"filter_friendly_name": name, "expression": expression, "targets": targets});
        // A callback first (its skill fits the plain filter too): the
        // skill's queue only, no timeout, never the nobody queue, since
        // nobody waits on the line (docs/twilio.md, "Callbacks"). The
        // task's own TTL bounds it.
        let mut filters: Vec<Value> = self
            .skills
            .iter()
            .map(|skill| {
                filter(
                    format!("{skill} (callback)"),
                    format!("type == '{CALLBACK_TYPE}' AND skill == '{skill}'"),
                    vec![json!({"queue": queue(skill), "order_by": answers::ORDER_BY})],
                )
            })
            .collect();
        if let Some(sticky_secs) = self.sticky_secs {
            // First: a filter matches the first one that fits, and a
            // returning caller's task fits its skill's plain filter too.
            filters.extend(self.skills.iter().map(|skill| {
                let known = json!({
                    "queue": queue(skill),
                    "known_worker_sid": format!("task.{LAST_WORKER_ATTRIBUTE}"),
                    "timeout": sticky_secs,
                    // No reservation at once (the worker is busy or off
                    // duty): everyone, without waiting for nobody.
                    "skip_if": "1==1",
                });
                let targets = std::iter::once(known).chain(everyone(skill)).collect();
                filter(
                    format!("{skill} (returning)"),
                    format!("skill == '{skill}' AND {RETURNING_ATTRIBUTE} == true"),
                    targets,
                )
            }));
        }
        filters.extend(self.skills.iter().map(|skill| {
            filter(
                skill.clone(),
                format!("skill == '{skill}'"),
                everyone(skill),
            )
        }));
        json!({"task_routing": {"filters": filters, "default_filter": {"queue": nobody}}})
    }

    /// Webhooks per number. With one number for both, customers' calls go to
    /// [`paths::INBOUND`] and workers use SMS only ([`paths::INTAKE_SMS`]): a voice call
    /// cannot tell a worker's "on sales" from a customer's call before the menu.
    fn number_webhooks(&self) -> Vec<(&str, Vec<Param>)> {
        let voice = |path: &str| {
            vec![
                Param::text("VoiceUrl", "voice_url", self.url(path)),
                Param::text("VoiceMethod", "voice_method", "POST"),
            ]
        };
        // The customer call's end, for a caller who hung up in voicemail
        // without a message (docs/twilio.md, "Number status callback").
        let ended = vec![
            Param::text(
                "StatusCallback",
                "status_callback",
                self.url(paths::INBOUND_CALL_ENDED),
            ),
            Param::text("StatusCallbackMethod", "status_callback_method", "POST"),
        ];
        let sms = vec![
            Param::text("SmsUrl", "sms_url", self.url(paths::INTAKE_SMS)),
            Param::text("SmsMethod", "sms_method", "POST"),
        ];
        if self.customer_number == self.worker_number {
            let mut both = voice(paths::INBOUND);
            both.extend(ended);
            both.extend(sms);
            both.extend(self.number_fallbacks(true));
            vec![(self.customer_number.as_str(), both)]
        } else {
            let mut customer = voice(paths::INBOUND);
            customer.extend(ended);
            customer.extend(self.number_fallbacks(false));
            let mut worker = voice(paths::INTAKE_VOICE);
            worker.extend(sms);
            worker.extend(self.number_fallbacks(true));
            vec![
                (self.customer_number.as_str(), customer),
                (self.worker_number.as_str(), worker),
            ]
        }
    }
}

/// One form parameter Homeline sets, with the JSON field Twilio reports it in.
#[derive(Debug, Clone, PartialEq)]
struct Param {
    name: &'static str,
    field: &'static str,
    want: Want,
}

#[derive(Debug, Clone, PartialEq)]
enum Want {
    Text(String),
    Number(u32),
    /// A comma-separated list whose order does not matter (EventsFilter).
    List(Vec<String>),
    /// A TaskRouter expression: spacing does not matter.
    Expression(String),
    /// A JSON document sent as a string: compared as JSON, not as text.
    Json(Value),
}

impl Param {
    fn text(name: &'static str, field: &'static str, value: impl Into<String>) -> Self {
        Self {
            name,
            field,
            want: Want::Text(value.into()),
        }
    }

    fn form_value(&self) -> String {
        match &self.want {
            Want::Text(s) | Want::Expression(s) => s.clone(),
            Want::Number(n) => n.to_string(),
            Want::List(items) => items.join(","),
            Want::Json(value) => value.to_string(),
        }
    }

    /// Whether `resource` (Twilio's JSON) already has the wanted value.
    fn holds(&self, resource: &Value) -> bool {
        let current = resource.get(self.field);
        match &self.want {
            Want::Text(want) => current.and_then(Value::as_str) == Some(want),
            Want::Number(want) => current.and_then(Value::as_u64) == Some(u64::from(*want)),
            Want::List(want) => current.and_then(Value::as_str).is_some_and(|have| {
                let mut have: Vec<&str> = have
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
                have.sort_unstable();
                want.sort_unstable();
                have == want
            }),
            Want::Expression(want) => current
                .and_then(Value::as_str)
                .is_some_and(|have| squeeze(have) == squeeze(want)),
            Want::Json(want) => current
                .and_then(Value::as_str)
                .and_then(|have| serde_json::from_str::<Value>(have).ok())
                .is_some_and(|have| &have == want),
        }
    }
}

fn squeeze(expression: &str) -> String {
    expression.split_whitespace().collect()
}

/// What provisioning did (or, in a dry run, would do) to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Unchanged,
    Create,
    /// The form parameters that differed.
    Update(Vec<&'static str>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// e.g. `task queue "sales"`.
    pub resource: String,
    pub change: Change,
    /// Known unless a dry run would create it.
    pub sid: Option<String>,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sid = self.sid.as_deref().unwrap_or("new");
        match &self.change {
            Change::Unchanged => write!(f, "unchanged  {} ({sid})", self.resource),
            Change::Create => write!(f, "create     {} ({sid})", self.resource),
            Change::Update(fields) => {
                write!(
                    f,
                    "update     {} ({sid}): {}",
                    self.resource,
                    fields.join(", ")
                )
            }
        }
    }
}

/// The SIDs the SAM template takes as parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sids {
    pub workspace: String,
    pub workflow: String,
    pub activity_available: String,
    pub activity_offline: String,
    pub activity_unavailable: String,
    pub no_worker_queue: String,
}

impl Sids {
    /// `sam deploy --parameter-overrides` text, with the template's parameter names.
    pub fn parameter_overrides(&self, skills: &[String]) -> String {
        format!(
            "TwilioWorkspaceSid={} TwilioWorkflowSid={} TwilioActivityAvailableSid={} \
             TwilioActivityOfflineSid={} TwilioActivityUnavailableSid={} NoWorkerQueueSid={} \
             Skills={}",
            self.workspace,
            self.workflow,
            self.activity_available,
            self.activity_offline,
            self.activity_unavailable,
            self.no_worker_queue,
            skills.join(",")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub steps: Vec<Step>,
    /// Every SID, unless a dry run found something still to create.
    pub sids: Option<Sids>,
    /// Things Homeline cannot fix itself, for the operator.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    #[error(
        "{0} is not a phone number of this Twilio account: buy it or port it first \
         (Console > Phone Numbers)"
    )]
    NumberNotFound(String),
    #[error(
        "activity {name:?} exists with available={have}; Homeline needs available={want} and \
         Twilio cannot change it: rename or delete that activity"
    )]
    Activity {
        name: &'static str,
        have: bool,
        want: bool,
    },
}

/// The activities Homeline uses, with their availability.
const ACTIVITIES: [(&str, bool); 3] = [
    ("Offline", false),
    ("Available", true),
    ("Unavailable", false),
];

/// Twilio accepts only GET and POST; an unset method was Twilio's POST.
fn method_or_post(method: &str) -> String {
    if method.eq_ignore_ascii_case("GET") {
        "GET".into()
    } else {
        "POST".into()
    }
}

/// A number's voice and SMS webhooks as they were before Homeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NumberWebhooks {
    pub sid: String,
    pub phone_number: String,
    pub voice_url: String,
    pub voice_method: String,
    pub sms_url: String,
    pub sms_method: String,
    /// Provision sets fallbacks too (the stack's static answers, which go
    /// with the stack), so they are given back as well.
    pub voice_fallback_url: String,
    pub voice_fallback_method: String,
    pub sms_fallback_url: String,
    pub sms_fallback_method: String,
    /// Provision sets the customer number's status callback too.
    pub status_callback: String,
    pub status_callback_method: String,
}

impl NumberWebhooks {
    /// Whether these are Homeline's own webhooks under `base_url` (the number
    /// was taken over before): nothing of the business's to give back.
    pub fn are_homeline_s(&self, base_url: &str) -> bool {
        [&self.voice_url, &self.sms_url]
            .iter()
            .any(|url| url.starts_with(&format!("{base_url}/")))
    }
}

/// Provisions through one client; a dry run only reads.
pub struct Provisioner {
    client: TwilioClient,
    dry_run: bool,
    deadline: Deadline,
}

impl Provisioner {
    /// `credentials` needs the account, the REST credentials and the base
    /// URLs; its workspace, workflow and caller ID are not used.
    pub fn new(credentials: &TwilioConfig, dry_run: bool, deadline: Deadline) -> Self {
        Self {
            client: TwilioClient::new(credentials),
            dry_run,
            deadline,
        }
    }

    pub async fn run(&self, desired: &Desired) -> Result<Outcome, ProvisionError> {
        let mut outcome = Outcome::default();
        // Numbers are bought, not provisioned: check them before changing anything.
        let numbers = self.find_numbers(desired, &mut outcome.warnings).await?;
        self.run_after_numbers(desired, numbers, outcome).await
    }

    /// The webhooks each number of `desired` has now, before [`Self::run`]
    /// points them at Homeline: what to give back when Homeline goes.
    pub async fn number_webhooks(
        &self,
        desired: &Desired,
    ) -> Result<Vec<NumberWebhooks>, ProvisionError> {
        let numbers = self.find_numbers(desired, &mut Vec::new()).await?;
        numbers
            .iter()
            .map(|n| {
                let field = |name: &str| text_of(n, name).unwrap_or_default();
                Ok(NumberWebhooks {
                    sid: sid_of(n)?,
                    phone_number: field("phone_number"),
                    voice_url: field("voice_url"),
                    voice_method: field("voice_method"),
                    sms_url: field("sms_url"),
                    sms_method: field("sms_method"),
                    voice_fallback_url: field("voice_fallback_url"),
                    voice_fallback_method: field("voice_fallback_method"),
                    sms_fallback_url: field("sms_fallback_url"),
                    sms_fallback_method: field("sms_fallback_method"),
                    status_callback: field("status_callback"),
                    status_callback_method: field("status_callback_method"),
                })
            })
            .collect()
    }

    /// Sets a number's webhooks back to `previous`; `false` when the number
    /// is no longer this account's (released meanwhile: nothing to give back).
    pub async fn restore(&self, previous: &NumberWebhooks) -> Result<bool, ProvisionError> {
        let url = resource_url(
            &self.client.account_url("/IncomingPhoneNumbers"),
            Some(&previous.sid),
        );
        let form = [
            ("VoiceUrl", previous.voice_url.clone()),
            ("VoiceMethod", method_or_post(&previous.voice_method)),
            ("SmsUrl", previous.sms_url.clone()),
            ("SmsMethod", method_or_post(&previous.sms_method)),
            ("VoiceFallbackUrl", previous.voice_fallback_url.clone()),
            (
                "VoiceFallbackMethod",
                method_or_post(&previous.voice_fallback_method),
            ),
            ("SmsFallbackUrl", previous.sms_fallback_url.clone()),
            (
                "SmsFallbackMethod",
                method_or_post(&previous.sms_fallback_method),
            ),
            ("StatusCallback", previous.status_callback.clone()),
            (
                "StatusCallbackMethod",
                method_or_post(&previous.status_callback_method),
            ),
        ];
        match self
            .client
            .post(url, &form, Replay::Safe, self.deadline)
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.status() == Some(404) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// The account's resource for each number of `desired`, in
    /// [`Desired::number_webhooks`] order; a TwiML App that overrides a
    /// number's URLs is a warning.
    async fn find_numbers(
        &self,
        desired: &Desired,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Value>, ProvisionError> {
        let mut numbers = Vec::new();
        for (number, _) in desired.number_webhooks() {
            let url = self.client.account_url(&format!(
                "/IncomingPhoneNumbers.json?{}",
                query("PhoneNumber", number)
            ));
            let found = self.list(&url, "incoming_phone_numbers").await?;
            let Some(resource) = found
                .into_iter()
                .find(|n| text_of(n, "phone_number").as_deref() == Some(number))
            else {
                return Err(ProvisionError::NumberNotFound(number.to_string()));
            };
            for (field, kind) in [
                ("voice_application_sid", "voice"),
                ("sms_application_sid", "SMS"),
            ] {
                if let Some(app) = text_of(&resource, field).filter(|s| !s.is_empty()) {
                    warnings.push(format!(
                        "{number} sends {kind} to TwiML App {app}, which overrides its {kind} URL: \
                         remove the app from the number in the Twilio Console"
                    ));
                }
            }
            numbers.push(resource);
        }
        Ok(numbers)
    }

    /// [`Self::run`] once the numbers are known to be the account's.
    async fn run_after_numbers(
        &self,
        desired: &Desired,
        numbers: Vec<Value>,
        mut outcome: Outcome,
    ) -> Result<Outcome, ProvisionError> {
        let workspaces = self
            .list(
                &self.client.workspaces_url(&format!(
                    "?{}&{PAGE}",
                    query("FriendlyName", &desired.workspace_name)
                )),
                "workspaces",
            )
            .await?;
        let found = named(&workspaces, &desired.workspace_name).cloned();
        // An activity Homeline cannot use stops the run before anything changes.
        let mut activities = match &found {
            Some(existing) => {
                let url = self
                    .client
                    .workspaces_url(&format!("/{}/Activities", sid_of(existing)?));
                self.list_in(Some(url), "activities").await?
            }
            None => Vec::new(),
        };
        check_activities(&activities)?;
        let (step, workspace) = self
            .ensure(
                format!("workspace {:?}", desired.workspace_name),
                found.as_ref(),
                &self.client.workspaces_url(""),
                &[
                    Param::text("FriendlyName", "friendly_name", &desired.workspace_name),
                    desired.event_callback(),
                    Param {
                        name: "EventsFilter",
                        field: "events_filter",
                        want: Want::List(EVENTS.iter().map(|e| e.to_string()).collect()),
                    },
                ],
            )
            .await?;
        outcome.steps.push(step);
        // Inside a workspace a dry run has yet to create, everything is new.
        let workspace_sid = workspace.as_ref().and_then(|w| text_of(w, "sid"));
        let scoped = |path: &str| {
            workspace_sid
                .as_ref()
                .map(|ws| self.client.workspaces_url(&format!("/{ws}{path}")))
        };
        if found.is_none() {
            // A new workspace comes with default activities.
            activities = self.list_in(scoped("/Activities"), "activities").await?;
            check_activities(&activities)?;
        }
        let mut activity_sids = Vec::new();
        for (name, available) in ACTIVITIES {
            let step = self
                .ensure_activity(name, available, &activities, scoped("/Activities"))
                .await?;
            activity_sids.push(step.sid.clone());
            outcome.steps.push(step);
        }
        let unavailable = activity_sids[2].clone();

        // TimeoutActivitySid cannot be given at creation: set it once the
        // activity exists (a dry run's new workspace has its create step already).
        if workspace.is_some() {
            let timeout_activity = Param::text(
                "TimeoutActivitySid",
                "timeout_activity_sid",
                unavailable.clone().unwrap_or_default(),
            );
            let (step, _) = self
                .ensure(
                    format!("workspace {:?} timeout activity", desired.workspace_name),
                    workspace.as_ref(),
                    &self.client.workspaces_url(""),
                    &[timeout_activity],
                )
                .await?;
            outcome.steps.push(step);
        }

        let queues = self.list_in(scoped("/TaskQueues"), "task_queues").await?;
        let mut queue_sids: Vec<(String, Option<String>)> = Vec::new();
        let wanted_queues = desired
            .skills
            .iter()
            .map(|skill| (skill.as_str(), format!("skills HAS '{skill}'")))
            .chain([(NOBODY_QUEUE_NAME, NOBODY_TARGET_WORKERS.to_string())]);
        for (name, target) in wanted_queues {
            let (step, _) = self
                .ensure(
                    format!("task queue {name:?}"),
                    named(&queues, name),
                    &scoped("/TaskQueues").unwrap_or_default(),
                    &[
                        Param::text("FriendlyName", "friendly_name", name),
                        Param {
                            name: "TargetWorkers",
                            field: "target_workers",
                            want: Want::Expression(target),
                        },
                    ],
                )
                .await?;
            queue_sids.push((name.to_string(), step.sid.clone()));
            outcome.steps.push(step);
        }
        let queue_sid = |name: &str| {
            queue_sids
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, sid)| sid.clone())
                .unwrap_or_else(|| format!("<new queue {name}>"))
        };
        let nobody = queue_sid(NOBODY_QUEUE_NAME);
        let configuration = desired.workflow_configuration(queue_sid, &nobody);

        let workflows = self.list_in(scoped("/Workflows"), "workflows").await?;
        let (workflow, _) = self
            .ensure(
                format!("workflow {:?}", desired.workspace_name),
                named(&workflows, &desired.workspace_name),
                &scoped("/Workflows").unwrap_or_default(),
                &[
                    Param::text("FriendlyName", "friendly_name", &desired.workspace_name),
                    desired.assignment_callback(),
                    Param {
                        name: "TaskReservationTimeout",
                        field: "task_reservation_timeout",
                        want: Want::Number(desired.reservation_timeout_secs),
                    },
                    Param {
                        name: "Configuration",
                        field: "configuration",
                        want: Want::Json(configuration),
                    },
                ]
                .into_iter()
                .chain(desired.fallback_assignment_callback())
                .collect::<Vec<_>>(),
            )
            .await?;
        let workflow_sid = workflow.sid.clone();
        outcome.steps.push(workflow);

        for (resource, webhooks) in numbers.iter().zip(desired.number_webhooks()) {
            let (step, _) = self
                .ensure(
                    format!("number {}", webhooks.0),
                    Some(resource),
                    &self.client.account_url("/IncomingPhoneNumbers"),
                    &webhooks.1,
                )
                .await?;
            outcome.steps.push(step);
        }

        let nobody_sid = queue_sids
            .iter()
            .find(|(n, _)| n == NOBODY_QUEUE_NAME)
            .and_then(|(_, sid)| sid.clone());
        outcome.sids = match (workspace_sid, workflow_sid, &activity_sids[..], nobody_sid) {
            (
                Some(workspace),
                Some(workflow),
                [Some(offline), Some(available), Some(unavailable)],
                Some(no_worker_queue),
            ) => Some(Sids {
                workspace,
                workflow,
                activity_available: available.clone(),
                activity_offline: offline.clone(),
                activity_unavailable: unavailable.clone(),
                no_worker_queue,
            }),
            _ => None,
        };
        Ok(outcome)
    }

    /// Leaves `existing` alone when it holds every param, updates the
    /// differing ones, or creates it under `collection`. Returns the step and
    /// the resource as Twilio now has it (`None` only for a dry-run create).
    async fn ensure(
        &self,
        resource: String,
        existing: Option<&Value>,
        collection: &str,
        params: &[Param],
    ) -> Result<(Step, Option<Value>), ProvisionError> {
        let Some(existing) = existing else {
            if self.dry_run {
                let step = Step {
                    resource,
                    change: Change::Create,
                    sid: None,
                };
                return Ok((step, None));
            }
            let form: Vec<(&'static str, String)> =
                params.iter().map(|p| (p.name, p.form_value())).collect();
            let url = resource_url(collection, None);
            // A replayed create could make a second workspace or queue.
            let created = self
                .client
                .post(url, &form, Replay::Unsure, self.deadline)
                .await?;
            tracing::info!(resource, sid = ?text_of(&created, "sid"), "created");
            let step = Step {
                resource,
                change: Change::Create,
                sid: Some(sid_of(&created)?),
            };
            return Ok((step, Some(created)));
        };
        let sid = sid_of(existing)?;
        let differing: Vec<&Param> = params.iter().filter(|p| !p.holds(existing)).collect();
        let change = if differing.is_empty() {
            Change::Unchanged
        } else {
            Change::Update(differing.iter().map(|p| p.name).collect())
        };
        let mut current = existing.clone();
        if !differing.is_empty() && !self.dry_run {
            let form: Vec<(&'static str, String)> =
                differing.iter().map(|p| (p.name, p.form_value())).collect();
            let url = resource_url(collection, Some(&sid));
            current = self
                .client
                .post(url, &form, Replay::Safe, self.deadline)
                .await?;
            tracing::info!(resource, sid, fields = ?change, "updated");
        }
        let step = Step {
            resource,
            change,
            sid: Some(sid),
        };
        Ok((step, Some(current)))
    }

    async fn ensure_activity(
        &self,
        name: &'static str,
        available: bool,
        activities: &[Value],
        collection: Option<String>,
    ) -> Result<Step, ProvisionError> {
        let resource = format!("activity {name:?}");
        if let Some(existing) = named(activities, name) {
            return Ok(Step {
                resource,
                change: Change::Unchanged,
                sid: Some(sid_of(existing)?),
            });
        }
        let sid = match collection {
            Some(url) if !self.dry_run => {
                let form = [
                    ("FriendlyName", name.to_string()),
                    ("Available", available.to_string()),
                ];
                let created = self
                    .client
                    .post(url, &form, Replay::Unsure, self.deadline)
                    .await?;
                Some(sid_of(&created)?)
            }
            _ => None,
        };
        Ok(Step {
            resource,
            change: Change::Create,
            sid,
        })
    }

    /// The items under `key` of one list page.
    async fn list(&self, url: &str, key: &str) -> Result<Vec<Value>, ProvisionError> {
        Ok(self
            .client
            .list(url.to_string(), key, self.deadline)
            .await?)
    }

    /// A workspace-scoped list; empty when the workspace is still to be created.
    async fn list_in(
        &self,
        collection: Option<String>,
        key: &str,
    ) -> Result<Vec<Value>, ProvisionError> {
        match collection {
            Some(url) => self.list(&format!("{url}?{PAGE}"), key).await,
            None => Ok(Vec::new()),
        }
    }
}

/// Availability is fixed when an activity is created: one named like
/// Homeline's but with the other availability cannot be used or fixed.
fn check_activities(activities: &[Value]) -> Result<(), ProvisionError> {
    for (name, want) in ACTIVITIES {
        if let Some(activity) = named(activities, name) {
            let have = activity
                .get("available")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if have != want {
                return Err(ProvisionError::Activity { name, have, want });
            }
        }
    }
    Ok(())
}

/// A collection's URL, or one resource's; the 2010 API wants `.json`.
fn resource_url(collection: &str, sid: Option<&str>) -> String {
    let suffix = if collection.contains("/2010-04-01/") {
        ".json"
    } else {
        ""
    };
    match sid {
        Some(sid) => format!("{collection}/{sid}{suffix}"),
        None => format!("{collection}{suffix}"),
    }
}

/// The resource whose FriendlyName is exactly `name`.
fn named<'a>(resources: &'a [Value], name: &str) -> Option<&'a Value> {
    resources
        .iter()
        .find(|r| text_of(r, "friendly_name").as_deref() == Some(name))
}

fn query(name: &str, value: &str) -> String {
    serde_urlencoded::to_string([(name, value)]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeline_core::config::MAX_WAIT_SECS_RANGE;
    use homeline_core::routes::ROUTES;

    fn desired(customer: &str, worker: &str) -> Desired {
        Desired {
            workspace_name: "Homeline".into(),
            base_url: "https://h.example.com".into(),
            skills: vec!["sales".into(), "support".into()],
            customer_number: customer.into(),
            worker_number: worker.into(),
            reservation_timeout_secs: Desired::reservation_timeout(20, 5),
            max_wait_secs: 180,
            sticky_secs: None,
            fallback_url: None,
            fallback_number: None,
        }
    }

    #[test]
    fn fallbacks_are_set_on_both_numbers_and_the_workflow() {
        let mut two = desired("+15550000001", "+15550000002");
        assert!(two.fallback_assignment_callback().is_none());
        assert!(two.number_fallbacks(true).is_empty());
        let base = "https://f.example.com/fallback";
        two.fallback_url = Some(base.into());
        let values = |params: &[Param]| -> Vec<(&'static str, String)> {
            params.iter().map(|p| (p.name, p.form_value())).collect()
        };
        let numbers = two.number_webhooks();
        let customer = values(&numbers[0].1);
        let worker = values(&numbers[1].1);
        for number in [&customer, &worker] {
            assert!(number.contains(&("VoiceFallbackUrl", format!("{base}/voice"))));
            assert!(number.contains(&("VoiceFallbackMethod", "POST".into())));
        }
        assert!(worker.contains(&("SmsFallbackUrl", format!("{base}/sms"))));
        assert!(!customer.iter().any(|(name, _)| *name == "SmsFallbackUrl"));
        assert_eq!(
            two.fallback_assignment_callback().map(|p| p.form_value()),
            Some(format!("{base}/assignment"))
        );
        two.fallback_number = Some("+15005550006".into());
        let numbers = two.number_webhooks();
        assert!(
            values(&numbers[0].1).contains(&("VoiceFallbackUrl", format!("{base}/voice-forward")))
        );
        let one = Desired {
            customer_number: "+15550000001".into(),
            worker_number: "+15550000001".into(),
            ..two
        };
        let shared = values(&one.number_webhooks()[0].1);
        assert!(shared.contains(&("SmsFallbackUrl", format!("{base}/sms"))));
    }

    #[test]
    fn webhooks_under_the_base_url_are_homeline_s() {
        let webhooks = |voice: &str, sms: &str| NumberWebhooks {
            sid: "PN1".into(),
            phone_number: "+15550000001".into(),
            voice_url: voice.into(),
            voice_method: "POST".into(),
            sms_url: sms.into(),
            sms_method: "POST".into(),
            voice_fallback_url: String::new(),
            voice_fallback_method: "POST".into(),
            sms_fallback_url: String::new(),
            sms_fallback_method: "POST".into(),
            status_callback: String::new(),
            status_callback_method: "POST".into(),
        };
        let base = "https://h.example.com";
        assert!(webhooks("https://h.example.com/inbound", "").are_homeline_s(base));
        assert!(webhooks("", "https://h.example.com/intake/sms").are_homeline_s(base));
        assert!(!webhooks("https://demo.twilio.com/welcome/voice/", "").are_homeline_s(base));
        assert!(!webhooks("https://h.example.com.evil/inbound", "").are_homeline_s(base));
        assert_eq!(method_or_post("get"), "GET");
        assert_eq!(method_or_post(""), "POST");
    }

    #[test]
    fn reservation_timeout_exceeds_ring_and_amd() {
        assert!(Desired::reservation_timeout(20, 5) > 25);
        assert_eq!(Desired::reservation_timeout(60, 59), 149);
    }

    #[test]
    fn the_backstop_comes_after_the_wait_s_own_leave() {
        for max_wait in [
            *MAX_WAIT_SECS_RANGE.start(),
            180,
            *MAX_WAIT_SECS_RANGE.end(),
        ] {
            let leave_noticed = u64::from(max_wait)
                + u64::from(inbound::LAST_OFFER_SECS)
                + inbound::HOLD_STRETCH_SECS;
            assert!(u64::from(queue_backstop_secs(max_wait)) > leave_noticed);
        }
        let mut longer = desired("+15550000001", "+15550000001");
        longer.max_wait_secs = 600;
        let config = longer.workflow_configuration(|skill| format!("WQ-{skill}"), "WQ-nobody");
        let targets = &config["task_routing"]["filters"][2]["targets"];
        assert_eq!(targets[0]["timeout"], queue_backstop_secs(600));
        assert_eq!(
            targets[1]["timeout"],
            nobody_timeout_secs(queue_backstop_secs(600))
        );
    }

    #[test]
    fn workflow_tries_the_skill_queue_then_the_nobody_queue() {
        let config = desired("+15550000001", "+15550000001")
            .workflow_configuration(|skill| format!("WQ-{skill}"), "WQ-nobody");
        let filters = &config["task_routing"]["filters"];
        assert_eq!(filters.as_array().map(Vec::len), Some(4));
        assert_eq!(filters[2]["expression"], "skill == 'sales'");
        assert_eq!(
            filters[3]["targets"],
            json!([
                {"queue": "WQ-support", "timeout": 240, "skip_if": "workers.available == 0",
                 "order_by": "worker.answer_score DESC"},
                {"queue": "WQ-nobody", "timeout": 360},
            ])
        );
        assert_eq!(
            config["task_routing"]["default_filter"],
            json!({"queue": "WQ-nobody"})
        );
    }

    #[test]
    fn a_callback_waits_in_its_skill_s_queue_and_never_reaches_the_nobody_queue() {
        let config = desired("+15550000001", "+15550000001")
            .workflow_configuration(|skill| format!("WQ-{skill}"), "WQ-nobody");
        let filters = &config["task_routing"]["filters"];
        assert_eq!(
            filters[0],
            json!({
                "filter_friendly_name": "sales (callback)",
                "expression": "type == 'callback' AND skill == 'sales'",
                "targets": [{"queue": "WQ-sales", "order_by": "worker.answer_score DESC"}],
            })
        );
        assert_eq!(
            filters[1]["targets"],
            json!([{"queue": "WQ-support", "order_by": "worker.answer_score DESC"}])
        );
    }

    #[test]
    fn a_returning_caller_tries_their_last_worker_first_then_everyone() {
        let mut sticky = desired("+15550000001", "+15550000001");
        sticky.sticky_secs = Some(20);
        let config = sticky.workflow_configuration(|skill| format!("WQ-{skill}"), "WQ-nobody");
        let plain = desired("+15550000001", "+15550000001")
            .workflow_configuration(|skill| format!("WQ-{skill}"), "WQ-nobody");
        let filters = config["task_routing"]["filters"]
            .as_array()
            .expect("filters");
        let plain_filters = plain["task_routing"]["filters"]
            .as_array()
            .expect("filters");
        // Callback filters, then returning filters (the first filter that
        // fits wins), then the plain filters exactly as without stickiness.
        assert_eq!(filters.len(), 6);
        assert_eq!(filters[..2], plain_filters[..2]);
        assert_eq!(filters[4..], plain_filters[2..]);
        assert_eq!(
            filters[3],
            json!({
                "filter_friendly_name": "support (returning)",
                "expression": "skill == 'support' AND returning == true",
                "targets": [
                    {
                        "queue": "WQ-support",
                        "known_worker_sid": "task.last_worker_sid",
                        "timeout": 20,
                        "skip_if": "1==1",
                    },
                    {"queue": "WQ-support", "timeout": 240, "skip_if": "workers.available == 0",
                     "order_by": "worker.answer_score DESC"},
                    {"queue": "WQ-nobody", "timeout": 360},
                ],
            })
        );
        assert_eq!(
            filters[2]["expression"],
            "skill == 'sales' AND returning == true"
        );
        assert_eq!(sticky_secs(0, 20), None);
        assert_eq!(sticky_secs(1, 20), Some(20));
    }

    #[test]
    fn one_number_takes_customer_voice_and_worker_sms() {
        let one = desired("+15550000001", "+15550000001");
        let shared = one.number_webhooks();
        assert_eq!(shared.len(), 1);
        let values: Vec<(&str, String)> = shared[0]
            .1
            .iter()
            .map(|p| (p.name, p.form_value()))
            .collect();
        assert!(values.contains(&("VoiceUrl", "https://h.example.com/inbound".into())));
        assert!(values.contains(&("SmsUrl", "https://h.example.com/intake/sms".into())));

        let two = desired("+15550000001", "+15550000002");
        let separate = two.number_webhooks();
        assert_eq!(separate.len(), 2);
        let worker: Vec<String> = separate[1].1.iter().map(Param::form_value).collect();
        assert!(worker.contains(&"https://h.example.com/intake/voice".to_string()));
        assert!(
            !separate[0].1.iter().any(|p| p.name == "SmsUrl"),
            "the customer number's SMS is left alone"
        );
    }

    /// Every route the table says is set on a number, the workspace or the
    /// workflow (`called_as` = `resource: Parameter`) is set by provisioning
    /// to that route, and provisioning sets no other URL.
    #[test]
    fn the_urls_set_at_twilio_are_the_routes_table_s() {
        let two = desired("+15550000001", "+15550000002");
        let numbers = two.number_webhooks();
        let set: Vec<(&str, Param)> = numbers[0]
            .1
            .iter()
            .map(|p| ("customer number", p.clone()))
            .chain(numbers[1].1.iter().map(|p| ("worker number", p.clone())))
            .chain([
                ("workspace", two.event_callback()),
                ("workflow", two.assignment_callback()),
            ])
            .filter(|(_, p)| p.name.ends_with("Url") || p.name == "StatusCallback")
            .collect();
        let configured: Vec<(&str, &str, String)> = ROUTES
            .iter()
            .filter_map(|r| {
                let (resource, name) = r.called_as.split_once(": ")?;
                let overrides = r.budget.connection_overrides();
                Some((resource, name, format!("{}{overrides}", two.url(r.path))))
            })
            .collect();
        let provisioned: Vec<(&str, &str, String)> = set
            .iter()
            .map(|(resource, p)| (*resource, p.name, p.form_value()))
            .collect();
        for route in &configured {
            assert!(provisioned.contains(route), "not provisioned: {route:?}");
        }
        for url in &provisioned {
            assert!(configured.contains(url), "not in the routes table: {url:?}");
        }
    }

    #[test]
    fn comparisons_ignore_what_twilio_may_reformat() {
        let events = Param {
            name: "EventsFilter",
            field: "events_filter",
            want: Want::List(vec!["a.b".into(), "c.d".into()]),
        };
        assert!(events.holds(&json!({"events_filter": "c.d, a.b"})));
        assert!(!events.holds(&json!({"events_filter": "a.b"})));
        assert!(!events.holds(&json!({"events_filter": null})));

        let target = Param {
            name: "TargetWorkers",
            field: "target_workers",
            want: Want::Expression("1 == 2".into()),
        };
        assert!(target.holds(&json!({"target_workers": "1==2"})));
        assert!(!target.holds(&json!({"target_workers": "1==1"})));

        let config = Param {
            name: "Configuration",
            field: "configuration",
            want: Want::Json(json!({"a": [1, 2]})),
        };
        assert!(config.holds(&json!({"configuration": "{ \"a\" : [1,2] }"})));
        assert!(!config.holds(&json!({"configuration": "{\"a\":[2,1]}"})));

        let timeout = Param {
            name: "TaskReservationTimeout",
            field: "task_reservation_timeout",
            want: Want::Number(55),
        };
        assert!(timeout.holds(&json!({"task_reservation_timeout": 55})));
        assert!(!timeout.holds(&json!({"task_reservation_timeout": 120})));
    }

    #[test]
    fn overrides_name_every_template_parameter() {
        let sids = Sids {
            workspace: "WS1".into(),
            workflow: "WW1".into(),
            activity_available: "WA1".into(),
            activity_offline: "WA2".into(),
            activity_unavailable: "WA3".into(),
            no_worker_queue: "WQ1".into(),
        };
        assert_eq!(
            sids.parameter_overrides(&["sales".into(), "support".into()]),
            "TwilioWorkspaceSid=WS1 TwilioWorkflowSid=WW1 TwilioActivityAvailableSid=WA1 \
             TwilioActivityOfflineSid=WA2 TwilioActivityUnavailableSid=WA3 NoWorkerQueueSid=WQ1 \
             Skills=sales,support"
        );
    }
}
