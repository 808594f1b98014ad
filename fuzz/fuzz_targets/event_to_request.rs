//! The Lambda event → request conversion and the signature check, on any
//! input: each run takes one events/ fixture (a signed API Gateway HTTP API
//! event), applies arbitrary edits (fields set to any text or removed,
//! headers added, the base64 flag flipped, the whole event replaced by any
//! text or nested in arrays), and converts it as the Lambda loop does.
//!
//! Beyond "no panic": an accepted event keeps its raw path, raw query and
//! body as sent; an unedited fixture verifies (unless it is the one signed
//! with the wrong token); and whatever parses verifies
//! once signed over its own URL and form (the check agrees with the signer).

#![no_main]

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use homeline_core::http::TwilioRequest;
use homeline_core::runtime::into_request;
use homeline_core::signature;
use lambda_http::{Context, RequestExt};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// What the events/ fixtures are signed with (testkit's test values).
const PUBLIC_BASE_URL: &str = "https://homeline.example.com";
const AUTH_TOKEN: &str = "12345";

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Field {
    Version,
    RawPath,
    RawQuery,
    Body,
    Host,
    ForwardedProto,
    Signature,
    ContentType,
    Stage,
    DomainName,
    Method,
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Set(Field, String),
    Remove(Field),
    Base64(bool),
    Header(String, String),
    Cookies(Vec<String>),
    NestInArrays(u8),
    Replace(String),
}

/// Each events/ webhook fixture by file name, in name order (the
/// scheduler's tick is EventBridge's, no HTTP event).
fn fixtures() -> &'static [(String, Value)] {
    static FIXTURES: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
        let mut events: Vec<(String, Value)> = std::fs::read_dir(dir)
            .expect("events/ is beside fuzz/")
            .map(|entry| entry.expect("readable").path())
            .filter(|path| !path.ends_with("scheduler-tick.json"))
            .map(|path| {
                let text = std::fs::read_to_string(&path).expect("text");
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                (
                    name,
                    serde_json::from_str(&text).expect("fixtures are JSON"),
                )
            })
            .collect();
        events.sort_by(|a, b| a.0.cmp(&b.0));
        events
    })
}

fn slot(event: &mut Value, field: Field) -> Option<&mut Value> {
    let (object, key) = match field {
        Field::Version => (event.as_object_mut()?, "version"),
        Field::RawPath => (event.as_object_mut()?, "rawPath"),
        Field::RawQuery => (event.as_object_mut()?, "rawQueryString"),
        Field::Body => (event.as_object_mut()?, "body"),
        Field::Host => (event.get_mut("headers")?.as_object_mut()?, "host"),
        Field::ForwardedProto => (
            event.get_mut("headers")?.as_object_mut()?,
            "x-forwarded-proto",
        ),
        Field::Signature => (
            event.get_mut("headers")?.as_object_mut()?,
            "x-twilio-signature",
        ),
        Field::ContentType => (event.get_mut("headers")?.as_object_mut()?, "content-type"),
        Field::Stage => (event.get_mut("requestContext")?.as_object_mut()?, "stage"),
        Field::DomainName => (
            event.get_mut("requestContext")?.as_object_mut()?,
            "domainName",
        ),
        Field::Method => (
            event
                .get_mut("requestContext")?
                .get_mut("http")?
                .as_object_mut()?,
            "method",
        ),
    };
    Some(object.entry(key).or_insert(Value::Null))
}

fn apply(event: &mut Value, edit: Edit) {
    match edit {
        Edit::Set(field, text) => {
            if let Some(value) = slot(event, field) {
                *value = Value::String(text);
            }
        }
        Edit::Remove(field) => {
            if let Some(value) = slot(event, field) {
                *value = Value::Null;
            }
        }
        Edit::Base64(flag) => {
            if let Some(object) = event.as_object_mut() {
                object.insert("isBase64Encoded".into(), Value::Bool(flag));
            }
        }
        Edit::Header(name, value) => {
            if let Some(headers) = event.get_mut("headers").and_then(Value::as_object_mut) {
                headers.insert(name, Value::String(value));
            }
        }
        Edit::Cookies(cookies) => {
            if let Some(object) = event.as_object_mut() {
                object.insert("cookies".into(), cookies.into());
            }
        }
        Edit::NestInArrays(depth) => {
            for _ in 0..depth {
                *event = Value::Array(vec![event.take()]);
            }
        }
        Edit::Replace(text) => {
            *event = serde_json::from_str(&text).unwrap_or(Value::String(text));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Unstructured::new(data);
    let fixtures = fixtures();
    let Ok(index) = input.choose_index(fixtures.len()) else {
        return;
    };
    let Ok(edits) = input.arbitrary::<Vec<Edit>>() else {
        return;
    };
    let (name, fixture) = &fixtures[index];
    let unedited = edits.is_empty();
    // The one fixture signed with the wrong token.
    let signed = !name.contains("bad-signature");
    let mut event = fixture.clone();
    // Nesting past serde_json's recursion limit (128) shows nothing new; far
    // past it, the harness's own serialising and dropping overflow the stack.
    let mut nested = 0u32;
    for edit in edits {
        let edit = match edit {
            Edit::NestInArrays(depth) => {
                let depth = u32::from(depth).min(300 - nested);
                nested += depth;
                Edit::NestInArrays(u8::try_from(depth).unwrap_or(u8::MAX))
            }
            other => other,
        };
        apply(&mut event, edit);
    }
    let text = event.to_string();

    let Ok(request) = into_request(&text, Context::default()) else {
        assert!(!unedited, "a fixture was refused");
        return;
    };
    // `path` is the serde alias of `rawPath` in aws_lambda_events.
    let raw_path = event["rawPath"].as_str().or(event["path"].as_str());
    assert_eq!(request.raw_http_path(), raw_path.unwrap_or_default());
    if let Some(raw_query) = event["rawQueryString"].as_str().filter(|q| !q.is_empty()) {
        assert_eq!(request.uri().query(), Some(raw_query));
    }
    let sent = event["body"].as_str().map(|body| {
        if event["isBase64Encoded"] == Value::Bool(true) {
            BASE64.decode(body).expect("accepted, so it decodes")
        } else {
            body.as_bytes().to_vec()
        }
    });
    assert_eq!(request.body().to_vec(), sent.unwrap_or_default());

    let Ok(parsed) = TwilioRequest::parse(&request) else {
        return;
    };
    let verified = parsed.clone().verify(PUBLIC_BASE_URL, AUTH_TOKEN);
    if unedited {
        assert_eq!(verified.is_ok(), signed, "{name} verified wrongly");
    }
    if !parsed.json {
        let url = parsed.signed_url(PUBLIC_BASE_URL);
        let resigned = TwilioRequest {
            signature: Some(signature::compute(AUTH_TOKEN, &url, &parsed.form)),
            ..parsed
        };
        assert!(
            resigned.verify(PUBLIC_BASE_URL, AUTH_TOKEN).is_ok(),
            "a request signed over its own URL and form did not verify"
        );
    }
});
