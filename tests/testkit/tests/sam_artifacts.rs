//! What `sam build` produced is what AWS will run: each function's arm64
//! `bootstrap`, started as Lambda starts it (a Runtime API to poll, the
//! `AWS_LAMBDA_*` variables, `provided.al2023`'s glibc), answers every
//! events/ fixture of its function with the declared status and body; the
//! provisioner answers a custom-resource request at its response URL.
//!
//! The artifacts are aarch64 ELF files, run here under `qemu-aarch64` with
//! Debian's arm64 glibc (`libc6-arm64-cross`), against DynamoDB Local and the
//! Twilio fake. `make sam-build` builds them, then runs this test with
//! `HOMELINE_SAM_BUILD_DIR` set; it is ignored in the ordinary test run
//! because the arm64 build alone takes minutes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use testkit::fixtures;
use testkit::response_url::ResponseUrl;
use testkit::twilio_fake::TwilioFake;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc};

const BUILD_DIR_VAR: &str = "HOMELINE_SAM_BUILD_DIR";
/// Where `libc6-arm64-cross` puts the arm64 loader and glibc.
const ARM64_SYSROOT: &str = "/usr/aarch64-linux-gnu";
/// Emulated start-up and first requests are slow; this only bounds a hang.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// What the function posted back for one invocation.
#[derive(Debug)]
enum Outcome {
    Response(Value),
    Error(String),
}

/// The part of the Lambda Runtime API a function uses: it polls `next` for
/// an event and posts the response (or an error) back.
struct RuntimeApi {
    events: Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    function: String,
}

async fn next_invocation(State(api): State<Arc<RuntimeApi>>) -> impl IntoResponse {
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
    (StatusCode::OK, headers, event.to_string())
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

/// One built function running under qemu against its own Runtime API.
struct RunningArtifact {
    events: mpsc::UnboundedSender<(String, Value)>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    process: Child,
    invocations: u32,
    function: String,
}

impl RunningArtifact {
    async fn start(bootstrap: &Path, function: &str, env: &HashMap<String, String>) -> Self {
        let (events, events_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
        let api = Arc::new(RuntimeApi {
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
            function: function.to_string(),
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
            .with_state(api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the Runtime API");
        let address = listener.local_addr().expect("bound");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let process = Command::new("qemu-aarch64")
            .arg("-L")
            .arg(ARM64_SYSROOT)
            .arg(bootstrap)
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
            .unwrap_or_else(|e| {
                panic!("qemu-aarch64 does not start ({e}); `make sam-build` installs qemu-user")
            });
        Self {
            events,
            outcomes,
            process,
            invocations: 0,
            function: function.to_string(),
        }
    }

    /// Hands the function one event and waits for what it posts back.
    async fn invoke(&mut self, event: Value) -> Outcome {
        self.invocations += 1;
        let request_id = format!("00000000-0000-4000-8000-{:012}", self.invocations);
        self.events
            .send((request_id, event))
            .expect("the Runtime API is up");
        match tokio::time::timeout(ANSWER_TIMEOUT, self.outcomes.recv()).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => panic!("{}: the Runtime API stopped", self.function),
            Err(_) => {
                let exited = self.process.try_wait().ok().flatten();
                panic!(
                    "{}: no answer within {ANSWER_TIMEOUT:?} (process exit: {exited:?})",
                    self.function
                )
            }
        }
    }
}

/// SAM names each artifact folder after the function's logical id, which
/// scripts/check-template.py holds to the binary's name: `amd-result` is
/// built into `AmdResultFunction/bootstrap`.
fn artifact(build_dir: &Path, function: &str) -> PathBuf {
    let logical_id: String = function
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    build_dir
        .join(format!("{logical_id}Function"))
        .join("bootstrap")
}

/// An aarch64 ELF executable: the machine Lambda's arm64 functions run on.
fn assert_arm64_elf(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{} is not there ({e}): run `make sam-build`",
            path.display()
        )
    });
    assert!(
        bytes.len() > 20 && bytes.starts_with(b"\x7fELF"),
        "{} is not an ELF file",
        path.display()
    );
    // e_machine (offset 18, little-endian): 0xB7 is EM_AARCH64.
    let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    assert_eq!(machine, 0xB7, "{} is not built for arm64", path.display());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the arm64 artifacts of `sam build`: run `make sam-build`"]
async fn every_built_arm64_function_answers_its_fixtures() {
    let build_dir =
        PathBuf::from(std::env::var(BUILD_DIR_VAR).unwrap_or_else(|_| {
            panic!("set {BUILD_DIR_VAR} to sam build's output (.aws-sam/build)")
        }));
    let twilio = TwilioFake::start().await;
    let store = testkit::dynamo::fresh_store().await;
    fixtures::seed_world(&store, &twilio).await;

    let mut env = testkit::test_env();
    for (name, value) in twilio.config_overrides() {
        env.insert(name.to_string(), value.to_string());
    }
    env.insert("TABLE_NAME".into(), store.table().to_string());
    env.insert(
        "AWS_ENDPOINT_URL_DYNAMODB".into(),
        testkit::dynamo::dynamodb_url(),
    );
    for (name, value) in [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ] {
        env.insert(name.into(), value.into());
    }

    // Every function up at once, and the fixtures in catalogue order: a later
    // one builds on an earlier one's effect (an attempt the assignment opened).
    let all = fixtures::all();
    let mut running: BTreeMap<&str, RunningArtifact> = BTreeMap::new();
    for fixture in &all {
        if !running.contains_key(fixture.function) {
            let bootstrap = artifact(&build_dir, fixture.function);
            assert_arm64_elf(&bootstrap);
            let artifact = RunningArtifact::start(&bootstrap, fixture.function, &env).await;
            running.insert(fixture.function, artifact);
        }
    }
    assert_eq!(running.len(), 6, "fixtures cover all six functions");
    for fixture in &all {
        let function = running.get_mut(fixture.function).expect("started above");
        match function.invoke(fixture.webhook.event()).await {
            Outcome::Response(response) => {
                let (status, body) = testkit::events::decode_response(&response);
                fixture.assert_answer("from the arm64 artifact", status, &body);
            }
            Outcome::Error(error) => panic!("{}: the function failed: {error}", fixture.name),
        }
    }
    twilio.idle().await;
    twilio.assert_spec_valid();

    // The provisioner, on a Delete with no number taken over: SUCCESS, PUT
    // to the response URL, nothing asked of Twilio.
    let responses = ResponseUrl::start().await;
    let bootstrap = artifact(&build_dir, "provisioner");
    assert_arm64_elf(&bootstrap);
    let mut provisioner = RunningArtifact::start(&bootstrap, "provisioner", &env).await;
    let request = json!({
        "RequestType": "Delete",
        "ResponseURL": responses.url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/homeline/1",
        "RequestId": "00000000-0000-4000-8000-000000000001",
        "LogicalResourceId": "Provisioning",
        "PhysicalResourceId": "arn:aws:cloudformation:us-east-1:123456789012:stack/homeline/1/Provisioning",
        "ResourceType": "Custom::TwilioProvisioning",
        "ResourceProperties": {},
    });
    if let Outcome::Error(error) = provisioner.invoke(request).await {
        panic!("provisioner: the function failed: {error}");
    }
    let puts = responses.puts();
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert_eq!(puts[0].body["Status"], "SUCCESS", "{:?}", puts[0].body);
}
