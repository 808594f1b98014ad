//! No input kills a function process. Each of the six release binaries
//! (`panic = "abort"`, as Lambda runs them: a panic there ends the process,
//! where a debug build's unwinding would only report an error) is started
//! against a local Lambda Runtime API and handed, one after another, events
//! Twilio never sends: a raw query with a space or raw UTF-8, a path with
//! odd bytes, a body flagged base64 that is not, a malformed Host, missing
//! fields, a 6 MB body, a REST API (v1) event, JSON that is no HTTP request
//! at all, a bad signature. Each must be answered 400 or 403 (not reported
//! as an error, not a crash), text that is not JSON reported as an error,
//! and then the same processes answer every events/ fixture as the
//! catalogue declares.
//!
//! Needs DynamoDB Local: `scripts/local-stack.sh run -- cargo test -p
//! homeline-tests --test it odd_events`. The binaries come from `cargo build
//! --release`, run by the test itself (a no-op when they are fresh), unless
//! `HOMELINE_FUNCTION_BINARIES` names a folder of already built ones.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use testkit::events::decode_response;
use testkit::fixtures::{self, Fixture};
use testkit::runtime_api::{Outcome, RunningFunction, function_env, release_binaries};
use testkit::twilio_fake::TwilioFake;
use tokio::process::Command;

const FUNCTIONS: [&str; 6] = [
    "intake",
    "inbound",
    "assignment",
    "amd-result",
    "dial-status",
    "taskrouter-events",
];
/// The most Lambda hands a function synchronously is 6 MB (payload and all).
const LARGE_BODY_BYTES: usize = 6_000_000;

/// An event Twilio never sends (as the text the Runtime API delivers), and
/// the status the function must answer it with: `None` for text that is not
/// JSON, which only `lambda_runtime` sees and reports as an invocation error
/// (Lambda's Invoke API refuses such a payload before any function).
struct OddEvent {
    what: &'static str,
    event: String,
    status: Option<u16>,
}

fn odd(what: &'static str, event: Value, status: u16) -> OddEvent {
    OddEvent {
        what,
        event: event.to_string(),
        status: Some(status),
    }
}

/// `valid` (a signed fixture of the function) changed in one place each
/// time, then shapes that are no HTTP API request at all.
fn odd_events(valid: &Value) -> Vec<OddEvent> {
    let path = valid["rawPath"].as_str().expect("fixtures have a rawPath");
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut event = valid.clone();
        edit(&mut event);
        event
    };
    let mut rest_api = edited(&|e| {
        e["version"] = json!("1.0");
        e["httpMethod"] = json!("POST");
        e["path"] = json!(path);
        e["resource"] = json!(path);
    });
    if let Some(event) = rest_api.as_object_mut() {
        event.remove("rawPath");
        event.remove("rawQueryString");
    }
    vec![
        odd(
            "a space in the raw query",
            edited(&|e| e["rawQueryString"] = json!("to=a b")),
            400,
        ),
        odd(
            "raw UTF-8 in the raw query",
            edited(&|e| e["rawQueryString"] = json!("name=José")),
            403,
        ),
        odd(
            "a space, raw UTF-8, DEL and a broken escape in the path",
            edited(&|e| e["rawPath"] = json!(format!("{path}/a b/é\u{7f}%zz"))),
            403,
        ),
        odd(
            "a fragment in the path",
            edited(&|e| e["rawPath"] = json!(format!("{path}#x"))),
            400,
        ),
        odd(
            "a path without its leading /",
            edited(&|e| e["rawPath"] = json!(path.trim_start_matches('/'))),
            400,
        ),
        odd(
            "a body flagged base64 that is not",
            edited(&|e| {
                e["isBase64Encoded"] = json!(true);
                e["body"] = json!("From=+1555 not base64!");
            }),
            400,
        ),
        odd(
            "a malformed Host header",
            edited(&|e| e["headers"]["host"] = json!("bad host[:x")),
            400,
        ),
        odd(
            "a malformed X-Forwarded-Proto header",
            edited(&|e| e["headers"]["x-forwarded-proto"] = json!("ht tp")),
            400,
        ),
        odd(
            "a header value API Gateway cannot carry",
            edited(&|e| e["headers"]["x-odd"] = json!("a\nb")),
            400,
        ),
        odd(
            "a bad signature",
            edited(&|e| e["headers"]["x-twilio-signature"] = json!("bm90IGl0")),
            403,
        ),
        odd(
            "no requestContext",
            edited(&|e| e["requestContext"] = Value::Null),
            400,
        ),
        odd(
            "only the version and the route",
            json!({"version": "2.0", "rawPath": path, "requestContext": {"http": {"method": "POST"}}}),
            403,
        ),
        odd(
            "a 6 MB form body",
            edited(&|e| {
                e["isBase64Encoded"] = json!(false);
                e["body"] = json!(format!("Body={}", "a".repeat(LARGE_BODY_BYTES)));
            }),
            403,
        ),
        odd("a REST API (payload 1.0) event", rest_api, 400),
        odd("a JSON object that is no request", json!({"hello": 1}), 400),
        odd("an empty JSON array", json!([]), 400),
        odd("JSON null", Value::Null, 400),
        odd("a JSON string", json!("POST /intake/sms"), 400),
        OddEvent {
            what: "JSON nested 10 000 deep",
            // As text: a `Value` this deep overflows the test's stack.
            event: format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)),
            status: Some(400),
        },
        OddEvent {
            what: "text that is not JSON",
            event: "POST /intake/sms HTTP/1.1".to_string(),
            status: None,
        },
    ]
}

async fn answer(function: &mut RunningFunction, event: String) -> Result<(u16, String), String> {
    match function.invoke_text(event).await {
        Outcome::Response(response) => Ok(decode_response(&response)),
        Outcome::Error(error) => Err(error),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_function_process_survives_odd_events_then_answers_its_fixtures() {
    let binaries = release_binaries(&FUNCTIONS);
    let twilio = TwilioFake::start().await;
    let store = testkit::dynamo::fresh_store().await;
    fixtures::seed_world(&store, &twilio).await;
    let env = function_env(&twilio, &store);

    let all = fixtures::all();
    let mut running: BTreeMap<&str, RunningFunction> = BTreeMap::new();
    for function in FUNCTIONS {
        let binary = binaries.join(function);
        assert!(binary.is_file(), "{} is not built", binary.display());
        running.insert(
            function,
            RunningFunction::start(Command::new(&binary), function, &env).await,
        );
    }

    let mut wrong = Vec::new();
    for function in FUNCTIONS {
        let fixture: &Fixture = all
            .iter()
            .find(|fixture| fixture.function == function)
            .expect("every function has a fixture");
        let process = running.get_mut(function).expect("started above");
        for odd in odd_events(&fixture.webhook.event()) {
            match (answer(process, odd.event).await, odd.status) {
                (Ok((status, _)), Some(expected)) if status == expected => {}
                (Err(_), None) => {}
                (Ok((status, body)), expected) => wrong.push(format!(
                    "{function}, {}: answered {status} {body:?}, not {expected:?}",
                    odd.what
                )),
                (Err(error), Some(expected)) => wrong.push(format!(
                    "{function}, {}: reported an error instead of answering {expected}: {error}",
                    odd.what
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The same processes, in catalogue order (a later fixture builds on an
    // earlier one's effect).
    for fixture in &all {
        let process = running.get_mut(fixture.function).expect("started above");
        match answer(process, fixture.webhook.event().to_string()).await {
            Ok((status, body)) => fixture.assert_answer("after the odd events", status, &body),
            Err(error) => panic!("{}: the function failed: {error}", fixture.name),
        }
    }
    twilio.idle().await;
    twilio.assert_spec_valid();
}
