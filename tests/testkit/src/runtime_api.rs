//! A local stand-in for the Lambda Runtime API, and a function binary
//! started against it as Lambda starts one: the `AWS_LAMBDA_*` variables,
//! a Runtime API to poll, each event handed over and what the function
//! posts back (its response, or an error it reports) collected.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use homeline_core::store::DynamoStore;
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc};

use crate::twilio_fake::TwilioFake;

/// Emulated start-up and first requests are slow; this only bounds a hang.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// What the function posted back for one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    Error(String),
}

/// The part of the Lambda Runtime API a function uses: it polls `next` for
/// an event and posts the response (or an error) back.
struct RuntimeApi {
    events: Mutex<mpsc::UnboundedReceiver<(String, String)>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    function: String,
    /// When the function first asked for an event (its init was done), and
    /// the CPU time it had used by then.
    first_poll: OnceLock<(Instant, Option<Duration>)>,
    /// The function's process id, once spawned.
    pid: OnceLock<u32>,
}

async fn next_invocation(State(api): State<Arc<RuntimeApi>>) -> impl IntoResponse {
    api.first_poll.get_or_init(|| {
        let now = Instant::now();
        (now, api.pid.get().and_then(|pid| cpu_time(*pid)))
    });
    // Like Lambda, hold the poll open until there is an event.
    let Some((request_id, event)) = api.events.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() + 15_000)
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    let header_values = [
        ("lambda-runtime-aws-request-id", request_id),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            format!(
                "arn:aws:lambda:us-east-1:123456789012:function:homeline-{}",
                api.function
            ),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-6745a000-0123456789abcdef01234567".to_string(),
        ),
    ];
    for (name, value) in header_values {
        headers.insert(name, value.parse().expect("header value"));
    }
    (StatusCode::OK, headers, event)
}

async fn invocation_response(
    State(api): State<Arc<RuntimeApi>>,
    UrlPath(_request_id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    let outcome = match serde_json::from_slice(&body) {
        Ok(response) => Outcome::Response(response),
        Err(e) => Outcome::Error(format!(
            "response is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )),
    };
    let _ = api.outcomes.send(outcome);
    StatusCode::ACCEPTED
}

async fn reported_error(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> StatusCode {
    let _ = api
        .outcomes
        .send(Outcome::Error(String::from_utf8_lossy(&body).into_owned()));
    StatusCode::ACCEPTED
}

/// The folder holding release builds of `functions`: the one named by
/// `HOMELINE_FUNCTION_BINARIES`, or the workspace's release build, brought
/// up to date first.
pub fn release_binaries(functions: &[&str]) -> PathBuf {
    if let Some(dir) = std::env::var_os("HOMELINE_FUNCTION_BINARIES") {
        return PathBuf::from(dir);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/testkit is inside the workspace")
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build
        .current_dir(&workspace)
        .args(["build", "--release", "--bins"]);
    for function in functions {
        build.args(["-p", function]);
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "cargo build --release failed: {status}");
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from)
        .join("release")
}

/// The environment a function needs besides the `AWS_LAMBDA_*` variables:
/// the test configuration pointed at `twilio`, and `store`'s table on
/// DynamoDB Local.
pub fn function_env(twilio: &TwilioFake, store: &DynamoStore) -> HashMap<String, String> {
    let mut env = crate::test_env();
    for (name, value) in twilio.config_overrides() {
        env.insert(name.to_string(), value.to_string());
    }
    env.insert("TABLE_NAME".into(), store.table().to_string());
    env.insert(
        "AWS_ENDPOINT_URL_DYNAMODB".into(),
        crate::dynamo::dynamodb_url(),
    );
    for (name, value) in [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ] {
        env.insert(name.into(), value.into());
    }
    env
}

/// One function process running against its own Runtime API.
pub struct RunningFunction {
    // First, so it is killed on drop before `events` closes: a closed
    // Runtime API makes a polling function panic (a missing header).
    process: Child,
    events: mpsc::UnboundedSender<(String, String)>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    invocations: u32,
    function: String,
    api: Arc<RuntimeApi>,
    spawned_at: Instant,
}

impl RunningFunction {
    /// Spawns `command` (the function binary, or an emulator running it)
    /// with only `env` and the variables Lambda sets, polling a Runtime API
    /// of its own on 127.0.0.1.
    pub async fn start(
        mut command: Command,
        function: &str,
        env: &HashMap<String, String>,
    ) -> Self {
        let (events, events_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
        let api = Arc::new(RuntimeApi {
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
            function: function.to_string(),
            first_poll: OnceLock::new(),
            pid: OnceLock::new(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/error",
                post(reported_error),
            )
            .route("/2018-06-01/runtime/init/error", post(reported_error))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the Runtime API");
        let address = listener.local_addr().expect("bound");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let spawned_at = Instant::now();
        let process = command
            .env_clear()
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("homeline-{function}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]0123")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{function}: {command:?} does not start ({e})"));
        if let Some(pid) = process.id() {
            let _ = api.pid.set(pid);
        }
        Self {
            events,
            outcomes,
            process,
            invocations: 0,
            function: function.to_string(),
            api,
            spawned_at,
        }
    }

    /// When the process was spawned: the start of a cold start.
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// When the process first polled for an event (its init was done), if
    /// it has.
    pub fn first_poll(&self) -> Option<Instant> {
        self.api.first_poll.get().map(|(at, _)| *at)
    }

    /// The CPU time the process had used when it first polled (Linux only).
    pub fn first_poll_cpu(&self) -> Option<Duration> {
        self.api.first_poll.get().and_then(|(_, cpu)| *cpu)
    }

    /// The CPU time the process has used so far (Linux only).
    pub fn cpu_time(&self) -> Option<Duration> {
        self.api.pid.get().and_then(|pid| cpu_time(*pid))
    }

    /// Hands the function one event and waits for what it posts back.
    /// Panics, with the exit status, when the process ends instead.
    pub async fn invoke(&mut self, event: Value) -> Outcome {
        self.invoke_text(event.to_string()).await
    }

    /// [`Self::invoke`] with the event's text as given, JSON or not.
    pub async fn invoke_text(&mut self, event: String) -> Outcome {
        self.invocations += 1;
        let request_id = format!("00000000-0000-4000-8000-{:012}", self.invocations);
        self.events
            .send((request_id, event))
            .expect("the Runtime API is up");
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, async {
            tokio::select! {
                outcome = self.outcomes.recv() => Ok(outcome),
                exit = self.process.wait() => Err(exit),
            }
        });
        match answer.await {
            Ok(Ok(Some(outcome))) => outcome,
            Ok(Ok(None)) => panic!("{}: the Runtime API stopped", self.function),
            Ok(Err(exit)) => panic!(
                "{}: the process ended on invocation {} instead of answering: {}",
                self.function,
                self.invocations,
                describe(exit)
            ),
            Err(_) => panic!("{}: no answer within {ANSWER_TIMEOUT:?}", self.function),
        }
    }
}

/// CPU time (user and system) used by the live threads of process `pid`, in
/// nanoseconds from Linux's `/proc/<pid>/task/*/schedstat`: on a busy machine
/// it varies far less than the time on the clock.
fn cpu_time(pid: u32) -> Option<Duration> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        // A thread that ended meanwhile has no file any more.
        if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) {
            total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(Duration::from_nanos(total))
}

fn describe(exit: std::io::Result<ExitStatus>) -> String {
    match exit {
        Ok(status) => status.to_string(),
        Err(e) => format!("cannot wait for it ({e})"),
    }
}
