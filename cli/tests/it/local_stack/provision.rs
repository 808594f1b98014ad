//! `homeline provision` against a local stand-in for Twilio's provisioning
//! endpoints (workspaces, activities, task queues, workflows, incoming phone
//! numbers). The stand-in keeps state like Twilio, records every request and
//! forwards a copy to Prism so each is checked against Twilio's OpenAPI spec.
//!
//! Run under `scripts/local-stack.sh run -- cargo test -p homeline provision`.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use testkit::spec::{PRISM_API_URL_VAR, PRISM_TASKROUTER_URL_VAR, SpecCheck};
use testkit::twilio_http::{RestRequest, Server};
use testkit::{ACCOUNT_SID, AUTH_TOKEN};

const BASE: &str = "https://abc.execute-api.us-east-1.amazonaws.com";
const CUSTOMER: &str = "+15005550006";
const WORKER: &str = "+15005550007";
/// The workspace events the taskrouter-events function handles, sorted.
const EVENTS_SORTED: &str = "reservation.canceled,reservation.rescinded,reservation.timeout,\
                             task-queue.entered,task-queue.moved,task.canceled,task.wrapup,\
                             worker.activity.update,workflow.timeout";

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    form: Vec<(String, String)>,
    /// `Err` with Prism's reasons when the request breaks the spec.
    spec: Result<(), String>,
}

impl Recorded {
    fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn names(&self) -> Vec<&str> {
        self.form.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn is_write(&self) -> bool {
        self.method != "GET"
    }

    /// A POST to a collection (no SID after it).
    fn is_create(&self) -> bool {
        self.method == "POST" && collection_and_sid(&self.path).1.is_none()
    }
}

#[derive(Default)]
struct State {
    /// Resources as Twilio shows them, under their collection path (no `.json`).
    resources: Vec<(String, Value)>,
    requests: Vec<Recorded>,
    next_sid: u64,
}

impl State {
    fn new_sid(&mut self, prefix: &str) -> String {
        self.next_sid += 1;
        testkit::sid(prefix, self.next_sid)
    }

    fn insert(&mut self, collection: &str, resource: Value) {
        self.resources.push((collection.to_string(), resource));
    }
}

struct Stand {
    state: Arc<Mutex<State>>,
    server: Server,
}

impl Stand {
    /// Starts the stand-in with the account's two numbers, webhooks unset.
    async fn start() -> Self {
        for var in [PRISM_API_URL_VAR, PRISM_TASKROUTER_URL_VAR] {
            assert!(
                std::env::var(var).is_ok(),
                "{var} is not set: run under `scripts/local-stack.sh run -- cargo test -p homeline \
                 provision` so every request is checked against Twilio's OpenAPI spec"
            );
        }
        let state = Arc::new(Mutex::new(State {
            next_sid: 0x100,
            ..State::default()
        }));
        let served = state.clone();
        let server = Server::start(move |request| handle(served.clone(), request)).await;
        let stand = Self { state, server };
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

    fn add_number(&self, number: &str) {
        let mut state = self.state();
        let sid = state.new_sid("PN");
        state.insert(
            &format!("/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers"),
            json!({
                "sid": sid, "account_sid": ACCOUNT_SID, "phone_number": number,
                "friendly_name": number, "voice_url": "https://demo.twilio.com/welcome/voice/",
                "voice_method": "POST", "sms_url": "https://demo.twilio.com/welcome/sms/reply",
                "sms_method": "POST", "voice_application_sid": null, "sms_application_sid": null,
            }),
        );
    }

    /// A workspace made earlier by hand, with these activities; its SID.
    fn add_workspace(&self, name: &str, activities: &[(&str, bool)]) -> String {
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
    fn edit(&self, suffix: &str, name: &str, field: &str, value: Value) {
        let mut state = self.state();
        let (_, resource) = state
            .resources
            .iter_mut()
            .find(|(c, r)| c.ends_with(suffix) && r["friendly_name"] == name)
            .expect("resource to edit");
        resource[field] = value;
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    fn clear_requests(&self) {
        self.state().requests.clear();
    }

    fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_write)
            .collect()
    }

    fn creates_under(&self, collection_suffix: &str) -> Vec<Recorded> {
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
    fn resources(&self, suffix: &str) -> Vec<Value> {
        self.state()
            .resources
            .iter()
            .filter(|(c, _)| c.ends_with(suffix))
            .map(|(_, r)| r.clone())
            .collect()
    }

    fn named(&self, suffix: &str, name: &str) -> Value {
        self.resources(suffix)
            .into_iter()
            .find(|r| r["friendly_name"] == name)
            .unwrap_or_else(|| panic!("no {suffix} named {name}"))
    }

    fn number(&self, number: &str) -> Value {
        self.resources("/IncomingPhoneNumbers")
            .into_iter()
            .find(|r| r["phone_number"] == number)
            .expect("number")
    }

    fn assert_spec_valid(&self) {
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

    /// Runs the real binary against this stand-in.
    async fn provision(&self, extra: &[&str]) -> Run {
        self.provision_with_env(extra, &[("TWILIO_AUTH_TOKEN", AUTH_TOKEN)])
            .await
    }

    async fn provision_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_homeline"));
        command
            .env_clear()
            .env("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
            .env("TWILIO_API_URL", self.server.url())
            .env("TWILIO_TASKROUTER_URL", self.server.url())
            .envs(env.iter().copied())
            .arg("provision");
        for (flag, default) in [
            ("--base-url", BASE),
            ("--skills", "sales,support"),
            ("--customer-number", CUSTOMER),
        ] {
            if !extra.contains(&flag) {
                command.args([flag, default]);
            }
        }
        let output = command.args(extra).output().await.expect("run homeline");
        Run {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Self {
        assert!(
            self.success,
            "homeline provision failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// `Name=value` pairs of the parameter-overrides line (the last line).
    fn overrides(&self) -> Vec<(String, String)> {
        let line = self.stdout.lines().last().unwrap_or_default();
        line.split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// `(collection, Some(sid))` for `/v1/Workspaces/WS1/TaskQueues/WQ1`.
fn collection_and_sid(path: &str) -> (String, Option<String>) {
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
    testkit::twilio_http::error(status.as_u16(), code, message)
}

async fn handle(state: Arc<Mutex<State>>, request: RestRequest) -> Response {
    let spec = check_spec(&request).await;
    let form = request.form();
    let query = request.query();
    let mut state = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    state.requests.push(Recorded {
        method: request.method.to_string(),
        path: request.path().to_string(),
        form: form.clone(),
        spec,
    });
    let credentials = request.basic_auth();
    if credentials
        .as_ref()
        .map(|(user, password)| (user.as_str(), password.as_str()))
        != Some((ACCOUNT_SID, AUTH_TOKEN))
    {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let (collection, sid) = collection_and_sid(request.path());
    let Some((prefix, key)) = kind(&collection) else {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        );
    };
    match (request.method, sid) {
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
async fn check_spec(request: &RestRequest) -> Result<(), String> {
    match request
        .spec_verdict(&SpecCheck::from_env()?)
        .await
        .violation()
    {
        None => Ok(()),
        Some(violation) => Err(violation),
    }
}

#[tokio::test]
async fn first_run_creates_everything_with_spec_valid_requests() {
    let twilio = Stand::start().await;
    let run = twilio.provision(&[]).await.ok();

    let workspace_created = twilio.creates_under("/v1/Workspaces");
    assert_eq!(workspace_created.len(), 1, "{:#?}", twilio.requests());
    let create = &workspace_created[0];
    assert_eq!(create.param("FriendlyName"), Some("Homeline"));
    assert_eq!(
        create.param("EventCallbackUrl"),
        Some(format!("{BASE}/taskrouter-events").as_str())
    );
    let mut events: Vec<&str> = create
        .param("EventsFilter")
        .unwrap_or_default()
        .split(',')
        .collect();
    events.sort_unstable();
    assert_eq!(events.join(","), EVENTS_SORTED);

    let workspace = twilio.named("/v1/Workspaces", "Homeline");
    let unavailable = twilio.named("/Activities", "Unavailable");
    assert_eq!(
        workspace["timeout_activity_sid"], unavailable["sid"],
        "workers whose reservation times out go Unavailable"
    );
    assert_eq!(unavailable["available"], false);

    let queues = twilio.creates_under("/TaskQueues");
    let targets: Vec<(Option<&str>, Option<&str>)> = queues
        .iter()
        .map(|q| (q.param("FriendlyName"), q.param("TargetWorkers")))
        .collect();
    assert_eq!(
        targets,
        vec![
            (Some("sales"), Some("skills HAS 'sales'")),
            (Some("support"), Some("skills HAS 'support'")),
            (Some("No one available"), Some("1 == 2")),
        ]
    );

    let workflows = twilio.creates_under("/Workflows");
    assert_eq!(workflows.len(), 1);
    let workflow = &workflows[0];
    assert_eq!(
        workflow.param("AssignmentCallbackUrl"),
        Some(format!("{BASE}/assignment").as_str())
    );
    let reservation_timeout: u32 = workflow
        .param("TaskReservationTimeout")
        .and_then(|t| t.parse().ok())
        .expect("TaskReservationTimeout");
    assert!(
        reservation_timeout > 20 + 5,
        "ring 20 s + AMD 5 s must fit: {reservation_timeout}"
    );
    let config: Value =
        serde_json::from_str(workflow.param("Configuration").unwrap_or_default()).expect("JSON");
    let sales = twilio.named("/TaskQueues", "sales")["sid"].clone();
    let nobody = twilio.named("/TaskQueues", "No one available")["sid"].clone();
    let filter = &config["task_routing"]["filters"][0];
    assert_eq!(filter["expression"], "skill == 'sales'");
    assert_eq!(filter["targets"][0]["queue"], sales);
    assert_eq!(filter["targets"][0]["skip_if"], "workers.available == 0");
    assert!(filter["targets"][0]["timeout"].as_u64().is_some());
    assert_eq!(filter["targets"][1]["queue"], nobody);
    assert_eq!(config["task_routing"]["default_filter"]["queue"], nobody);

    let number = twilio.number(CUSTOMER);
    assert_eq!(number["voice_url"], format!("{BASE}/inbound"));
    assert_eq!(number["sms_url"], format!("{BASE}/intake/sms"));
    assert_eq!(
        twilio.number(WORKER)["voice_url"],
        "https://demo.twilio.com/welcome/voice/",
        "a number not named is left alone"
    );

    let overrides = run.overrides();
    let value = |name: &str| {
        overrides
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Value::from(v.as_str()))
            .unwrap_or_else(|| panic!("{name} missing from {overrides:?}"))
    };
    assert_eq!(value("TwilioWorkspaceSid"), workspace["sid"]);
    assert_eq!(
        value("TwilioWorkflowSid"),
        twilio.named("/Workflows", "Homeline")["sid"]
    );
    assert_eq!(
        value("TwilioActivityAvailableSid"),
        twilio.named("/Activities", "Available")["sid"]
    );
    assert_eq!(
        value("TwilioActivityOfflineSid"),
        twilio.named("/Activities", "Offline")["sid"]
    );
    assert_eq!(value("TwilioActivityUnavailableSid"), unavailable["sid"]);
    assert_eq!(value("NoWorkerQueueSid"), nobody);
    assert_eq!(value("Skills"), "sales,support");
    assert_eq!(overrides.len(), 7, "{}", run.stdout);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn second_run_makes_no_create_and_no_write() {
    let twilio = Stand::start().await;
    let first = twilio.provision(&[]).await.ok();
    assert!(!twilio.writes().is_empty());
    twilio.clear_requests();

    let second = twilio.provision(&[]).await.ok();
    let requests = twilio.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| !r.is_create()),
        "second run created: {requests:#?}"
    );
    assert_eq!(
        twilio.writes().len(),
        0,
        "second run wrote: {:#?}",
        twilio.writes()
    );
    assert_eq!(second.overrides(), first.overrides());
    assert!(
        second
            .stdout
            .lines()
            .filter(|l| l.starts_with("unchanged"))
            .count()
            >= 9
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn changed_base_url_updates_only_what_references_it() {
    let twilio = Stand::start().await;
    twilio.provision(&[]).await.ok();
    twilio.clear_requests();
    let moved = "https://calls.example.org";
    twilio.provision(&["--base-url", moved]).await.ok();

    let writes = twilio.writes();
    assert!(writes.iter().all(|r| !r.is_create()), "{writes:#?}");
    let mut changed: Vec<(String, Vec<&str>)> = writes
        .iter()
        .map(|r| {
            (
                collection_and_sid(&r.path)
                    .0
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string(),
                r.names(),
            )
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        vec![
            (
                "IncomingPhoneNumbers".to_string(),
                vec!["VoiceUrl", "SmsUrl"]
            ),
            ("Workflows".to_string(), vec!["AssignmentCallbackUrl"]),
            ("Workspaces".to_string(), vec!["EventCallbackUrl"]),
        ]
    );
    assert_eq!(
        twilio.named("/v1/Workspaces", "Homeline")["event_callback_url"],
        format!("{moved}/taskrouter-events")
    );
    assert_eq!(
        twilio.number(CUSTOMER)["voice_url"],
        format!("{moved}/inbound")
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn dry_run_only_reads_and_prints_the_plan() {
    let twilio = Stand::start().await;
    let plan = twilio.provision(&["--dry-run"]).await.ok();
    assert!(twilio.writes().is_empty(), "{:#?}", twilio.writes());
    assert!(twilio.resources("/v1/Workspaces").is_empty());
    assert!(plan.stdout.contains("Dry run"), "{}", plan.stdout);
    for line in [
        "create     workspace \"Homeline\"",
        "create     task queue \"sales\"",
        "create     task queue \"No one available\"",
        "create     workflow \"Homeline\"",
        "update     number +15005550006",
    ] {
        assert!(
            plan.stdout.contains(line),
            "{line:?} not in:\n{}",
            plan.stdout
        );
    }
    assert!(
        plan.stdout.contains("run without --dry-run"),
        "{}",
        plan.stdout
    );

    // Once provisioned, a dry run with a new skill plans just that.
    twilio.provision(&[]).await.ok();
    twilio.clear_requests();
    let plan = twilio
        .provision(&["--dry-run", "--skills", "sales,support,billing"])
        .await
        .ok();
    assert!(twilio.writes().is_empty(), "{:#?}", twilio.writes());
    assert!(
        plan.stdout.contains("create     task queue \"billing\""),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("update     workflow \"Homeline\""),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("Configuration"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("unchanged  task queue \"sales\""),
        "{}",
        plan.stdout
    );
    assert!(
        twilio
            .resources("/TaskQueues")
            .iter()
            .all(|q| q["friendly_name"] != "billing")
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn separate_worker_number_gets_the_voice_menu() {
    let twilio = Stand::start().await;
    twilio
        .provision(&["--worker-number", "(500) 555-0007"])
        .await
        .ok();
    let customer = twilio.number(CUSTOMER);
    let worker = twilio.number(WORKER);
    assert_eq!(customer["voice_url"], format!("{BASE}/inbound"));
    assert_eq!(
        customer["sms_url"], "https://demo.twilio.com/welcome/sms/reply",
        "the customer number's SMS is not ours to route"
    );
    assert_eq!(worker["voice_url"], format!("{BASE}/intake/voice"));
    assert_eq!(worker["sms_url"], format!("{BASE}/intake/sms"));
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn errors_name_the_problem_and_never_show_the_token() {
    let twilio = Stand::start().await;

    let missing = twilio.provision_with_env(&[], &[]).await;
    assert!(!missing.success);
    assert!(
        missing.stderr.contains("TWILIO_AUTH_TOKEN is not set"),
        "{}",
        missing.stderr
    );
    assert!(
        twilio.requests().is_empty(),
        "nothing is sent without credentials"
    );

    let token = "not-the-token-0123456789";
    let refused = twilio
        .provision_with_env(&[], &[("TWILIO_AUTH_TOKEN", token)])
        .await;
    assert!(!refused.success);
    assert!(refused.stderr.contains("20003"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("Authenticate"),
        "{}",
        refused.stderr
    );
    for output in [&refused.stdout, &refused.stderr] {
        assert!(!output.contains(token), "the token leaked: {output}");
    }

    let unknown = twilio
        .provision(&["--customer-number", "+15005550099"])
        .await;
    assert!(!unknown.success);
    assert!(
        unknown
            .stderr
            .contains("+15005550099 is not a phone number of this Twilio account"),
        "{}",
        unknown.stderr
    );

    let bad = twilio.provision(&["--base-url", "abc.example.com"]).await;
    assert!(!bad.success);
    assert!(bad.stderr.contains("--base-url"), "{}", bad.stderr);
}

#[tokio::test]
async fn an_older_workspace_gets_the_missing_activities_and_is_reused() {
    let twilio = Stand::start().await;
    // Workspaces made before 2018 came with Idle/Busy/Reserved/Offline.
    let workspace = twilio.add_workspace(
        "Homeline",
        &[
            ("Idle", true),
            ("Busy", false),
            ("Reserved", false),
            ("Offline", false),
        ],
    );
    let run = twilio.provision(&[]).await.ok();
    assert!(
        twilio.creates_under("/v1/Workspaces").is_empty(),
        "the workspace is reused"
    );
    assert_eq!(
        twilio.creates_under("/Activities").len(),
        2,
        "{:#?}",
        twilio.requests()
    );
    let activities = twilio.creates_under("/Activities");
    let available = activities
        .iter()
        .find(|r| r.param("FriendlyName") == Some("Available"))
        .expect("Available created");
    assert_eq!(available.param("Available"), Some("true"));
    let unavailable = activities
        .iter()
        .find(|r| r.param("FriendlyName") == Some("Unavailable"))
        .expect("Unavailable created");
    assert_eq!(unavailable.param("Available"), Some("false"));
    assert!(
        run.stdout
            .contains(&format!("TwilioWorkspaceSid={workspace} ")),
        "{}",
        run.stdout
    );
    assert_eq!(
        twilio.named("/v1/Workspaces", "Homeline")["timeout_activity_sid"],
        twilio.named("/Activities", "Unavailable")["sid"]
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_nobody_queue_opened_to_everyone_is_closed_again() {
    let twilio = Stand::start().await;
    twilio.provision(&[]).await.ok();
    // An omitted TargetWorkers matches every worker (docs/twilio.md, "Pitfall:
    // blank TargetWorkers").
    twilio.edit(
        "/TaskQueues",
        "No one available",
        "target_workers",
        json!("1==1"),
    );
    twilio.clear_requests();
    let run = twilio.provision(&[]).await.ok();
    let writes = twilio.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0].names(), vec!["TargetWorkers"]);
    assert_eq!(
        twilio.named("/TaskQueues", "No one available")["target_workers"],
        "1 == 2"
    );
    assert!(
        run.stdout
            .contains("update     task queue \"No one available\""),
        "{}",
        run.stdout
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn an_available_activity_that_is_not_available_stops_provisioning() {
    let twilio = Stand::start().await;
    twilio.add_workspace("Homeline", &[("Offline", false), ("Available", false)]);
    let run = twilio.provision(&[]).await;
    assert!(!run.success);
    assert!(
        run.stderr.contains("activity \"Available\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("available=false"), "{}", run.stderr);
    assert!(
        twilio.writes().is_empty(),
        "nothing changes: {:#?}",
        twilio.writes()
    );
}

#[tokio::test]
async fn fallbacks_point_both_numbers_and_the_workflow_at_the_static_answers() {
    let twilio = Stand::start().await;
    let fallback = "https://fb.execute-api.us-east-1.amazonaws.com/fallback";
    let flags = [
        "--worker-number",
        "(500) 555-0007",
        "--fallback-url",
        fallback,
        "--fallback-number",
        "+15005550010",
    ];
    let run = twilio.provision(&flags).await.ok();
    let customer = twilio.number(CUSTOMER);
    let worker = twilio.number(WORKER);
    for number in [&customer, &worker] {
        assert_eq!(
            number["voice_fallback_url"],
            format!("{fallback}/voice-forward")
        );
        assert_eq!(number["voice_fallback_method"], "POST");
    }
    assert_eq!(worker["sms_fallback_url"], format!("{fallback}/sms"));
    assert_eq!(worker["sms_fallback_method"], "POST");
    let workflow = twilio.named("/Workflows", "Homeline");
    assert_eq!(
        workflow["fallback_assignment_callback_url"],
        format!("{fallback}/assignment")
    );
    assert!(
        run.stdout.contains("FallbackNumber=+15005550010"),
        "{}",
        run.stdout
    );
    twilio.assert_spec_valid();

    twilio.clear_requests();
    twilio.provision(&flags).await.ok();
    assert!(twilio.writes().is_empty(), "{:#?}", twilio.writes());

    let missing = twilio.provision(&[]).await.ok();
    assert!(
        missing.stderr.contains("--fallback-url"),
        "{}",
        missing.stderr
    );
}
