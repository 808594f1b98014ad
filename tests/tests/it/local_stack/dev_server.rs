//! `make dev` (scripts/dev.sh) serves all six functions on 127.0.0.1 at the
//! same paths as in AWS, and every events/ fixture passes through its
//! function's real Lambda entry point under cargo-lambda's emulator
//! (`cargo lambda invoke --data-file`), answering the status it should.
//!
//! Needs the local stack (`scripts/local-stack.sh run -- ...`): DynamoDB
//! Local's jar, Prism for the spec check and cargo-lambda on PATH.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use homeline_core::store::DynamoStore;
use serde_json::Value;
use testkit::fixtures::{self, Fixture};
use testkit::twilio_fake::TwilioFake;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// `scripts/dev.sh` in its own process group, stopped (with DynamoDB Local
/// and every function) when dropped.
struct DevServer {
    child: Child,
}

impl DevServer {
    fn start(env_file: &Path, port: u16, ddb_port: u16, db_dir: &Path, log: &Path) -> Self {
        let log = std::fs::File::create(log).expect("log file");
        let child = Command::new("setsid")
            .arg(root().join("scripts/dev.sh"))
            .env("DEV_PORT", port.to_string())
            .env("DEV_DYNAMODB_PORT", ddb_port.to_string())
            .env("DEV_ENV_FILE", env_file)
            .env("DEV_DB_DIR", db_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("scripts/dev.sh starts");
        Self { child }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

async fn wait_until_up(url: &str, log: &Path) {
    let started = Instant::now();
    let client = homeline_core::https::client();
    // The first start compiles every function.
    while started.elapsed() < Duration::from_secs(600) {
        if client.get(url).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "make dev did not come up at {url}; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// The fixture as Twilio would send it through a tunnel to `make dev`.
async fn post_over_http(base: &str, fixture: &Fixture) -> (u16, String) {
    let event = fixture.webhook.event();
    let mut url = format!("{base}{}", event["rawPath"].as_str().expect("rawPath"));
    if let Some(query) = event["rawQueryString"].as_str().filter(|q| !q.is_empty()) {
        url = format!("{url}?{query}");
    }
    let body = match event["isBase64Encoded"].as_bool() {
        Some(true) => base64::engine::general_purpose::STANDARD
            .decode(event["body"].as_str().expect("body"))
            .expect("base64 body"),
        _ => event["body"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec(),
    };
    let mut request = homeline_core::https::client().post(url).body(body);
    for (name, value) in event["headers"].as_object().expect("headers") {
        if name != "host" {
            request = request.header(name.as_str(), value.as_str().expect("header value"));
        }
    }
    let response = request.send().await.expect("make dev answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The fixture's answer through `cargo lambda invoke`.
fn invoke(port: u16, fixture: &Fixture) -> (u16, String) {
    testkit::events::decode_response(&invoke_file(port, fixture.function, fixture.name))
}

/// `cargo lambda invoke <function> --data-file events/<name>.json`: the
/// function's result.
fn invoke_file(port: u16, function: &str, name: &str) -> Value {
    let file = root().join("events").join(format!("{name}.json"));
    let output = Command::new("cargo")
        .current_dir(root())
        .args(["lambda", "invoke", function, "--data-file"])
        .arg(&file)
        .args([
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
            "--output-format",
            "json",
        ])
        .output()
        .expect("cargo lambda invoke runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo lambda invoke {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{name}: not a JSON response ({e}): {stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn make_dev_serves_every_function_and_every_fixture_passes_the_emulator() {
    let ddb_url_present = std::env::var(testkit::dynamo::DYNAMODB_URL_VAR).is_ok();
    assert!(
        ddb_url_present,
        "run under scripts/local-stack.sh run -- (or make test)"
    );
    let twilio = TwilioFake::start().await;
    let work = std::env::temp_dir().join(format!("homeline-dev-test-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work dir");
    let table = format!("dev-test-{}", std::process::id());
    let mut env = testkit::test_env();
    for (name, value) in twilio.config_overrides() {
        env.insert(name.to_string(), value.to_string());
    }
    env.insert("TABLE_NAME".into(), table.clone());
    let env_file = work.join(".env");
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&env_file, text).expect("env file");

    let (port, ddb_port) = (free_port(), free_port());
    let log = work.join("dev.log");
    let _server = DevServer::start(&env_file, port, ddb_port, &work.join("db"), &log);
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&base, &log).await;
    // dev.sh creates the table before it starts serving.
    let store = DynamoStore::local(&format!("http://127.0.0.1:{ddb_port}"), table);
    fixtures::seed_world(&store, &twilio).await;

    let all = fixtures::all();
    let functions: std::collections::BTreeSet<&str> = all.iter().map(|f| f.function).collect();
    assert_eq!(
        functions.len(),
        6,
        "fixtures cover all six functions: {functions:?}"
    );
    for fixture in &all {
        let (status, body) = post_over_http(&base, fixture).await;
        fixture.assert_answer("over HTTP", status, &body);
        let (status, body) = invoke(port, fixture);
        fixture.assert_answer("through the emulator", status, &body);
    }
    // The scheduler's tick: a run's report (its time is before every
    // follow-up and cooldown the fixtures started, so none is due; with no
    // BUSINESS_HOURS set, no skill counts as uncovered).
    let report = invoke_file(port, "scheduler", fixtures::SCHEDULER_TICK);
    assert_eq!(
        report,
        serde_json::json!({
            "escalation": { "due": 0, "sent": 0, "failed": 0, "cut_short": false },
            "late_announcements": { "due": 0, "failed": 0 },
            "callbacks": { "retried": 0, "failed": 0 },
            "digest": { "day": null, "sent": 0, "failed": 0 },
            "cooldowns": { "due": 0, "moved": 0, "failed": 0, "cut_short": false },
            "untils": { "due": 0, "moved": 0, "failed": 0, "cut_short": false },
            "off_at_close": { "due": 0, "moved": 0, "failed": 0, "cut_short": false },
            "coverage": { "uncovered": [], "sent": 0, "failed": 0, "cut_short": false },
        })
    );
    twilio.idle().await;
    twilio.assert_spec_valid();
}
