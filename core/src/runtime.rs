//! The Lambda loop every function runs: each event the Runtime API delivers
//! becomes the `http::Request` lambda_http would build, or a 400, and the
//! handler's response goes back in the API Gateway HTTP API (payload 2.0)
//! shape. No input panics.
//!
//! lambda_http's own conversion (`lambda_http::run`) `expect`s that the raw
//! path and query form a URI and that a body flagged base64 decodes, and
//! `unwrap`s the URL built from the Host header. Under `panic = "abort"`
//! (the release profile) one unauthenticated event with a space in its raw
//! query ends the process before any signature is checked
//! (aws-lambda-rust-runtime issues 461, 489 and 515). Here each of those
//! steps answers 400 instead; for every event lambda_http converts, the
//! request is the one it builds (the tests below compare the two on every
//! events/ fixture). `tests/tests/odd_events.rs` drives the release binaries
//! through a local Runtime API; `fuzz/` fuzzes [`into_request`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::header::{COOKIE, HOST, HeaderName, HeaderValue};
use lambda_http::http::{HeaderMap, Uri};
use lambda_http::lambda_runtime::{self, Context, LambdaEvent, service_fn};
use lambda_http::request::RequestContext;
use lambda_http::{Body, IntoResponse, Request, RequestExt, Response};
use serde_json::value::RawValue;

use crate::http::Rejection;

/// The payload format of the HttpApi integrations in template.yaml.
const PAYLOAD_VERSION: &str = "2.0";

/// Polls the Runtime API until the process ends, answering every event:
/// through `handler` when it converts, with the 400 of [`into_request`]
/// otherwise.
///
/// The event arrives as raw JSON: `RawValue` accepts any JSON document
/// (nesting depth included), so only bytes that are not JSON at all, which
/// Lambda's Invoke API refuses before they reach a function, end as an
/// invocation error reported by `lambda_runtime`.
pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        // Boxed, as lambda_http boxes it: the handlers' futures are deep
        // enough that one more layer of nesting overflows rustc's query
        // depth when the binary's `main` future is laid out.
        let answer = into_request(event.payload.get(), event.context)
            .map(|request| Box::pin(handler(request)));
        async move {
            let response = match answer {
                Ok(response) => response.await,
                Err(rejection) => {
                    tracing::warn!(reason = %rejection, "event refused before the handler");
                    rejection.into_response()
                }
            };
            Ok::<_, lambda_runtime::Error>(into_api_gateway_response(response).await)
        }
    }))
    .await
}

/// An API Gateway HTTP API (payload 2.0) event as the request lambda_http
/// builds from it: method, URI (Host, stage prefix and the raw query
/// appended verbatim), headers (cookies folded into `Cookie`, the X-Ray trace
/// id added), body (base64-decoded when flagged) and lambda_http's
/// extensions (raw path, query, path and stage parameters, request and
/// Lambda context).
///
/// `BadRequest` for anything that cannot be such an event: another JSON
/// shape or payload version, a raw path not starting with `/` or holding
/// `?` or `#` (API Gateway's raw path never does: `url` would read the rest
/// as a query or fragment, and a fragment is not signed), a Host or
/// X-Forwarded-Proto that makes no URL, a path or raw query that makes no
/// URI, a body flagged base64 that is not.
pub fn into_request(event: &str, context: Context) -> Result<Request, Rejection> {
    let event: ApiGatewayV2httpRequest = serde_json::from_str(event)
        .map_err(|_| bad("the event is not an API Gateway HTTP API request"))?;
    if event.version.as_deref() != Some(PAYLOAD_VERSION) {
        return Err(bad("the event is not an HTTP API payload 2.0 request"));
    }
    // lambda_http defaults a missing raw path to "" and then builds a URL
    // from whatever it holds.
    let raw_path = event.raw_path.unwrap_or_default();
    if !raw_path.starts_with('/') || raw_path.contains(['?', '#']) {
        return Err(bad("rawPath is not an absolute path"));
    }
    // A raw `#` would cut the query short: the rest would go unsigned.
    if event
        .raw_query_string
        .as_deref()
        .is_some_and(|q| q.contains('#'))
    {
        return Err(bad("rawQueryString holds a fragment"));
    }
    // A stage name is `[A-Za-z0-9_-]+` (or `$default`); anything else would
    // change the path the stage prefixes.
    let stage = event.request_context.stage.as_deref();
    if stage.is_some_and(|s| {
        s != "$default"
            && !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
    }) {
        return Err(bad("the stage is not a stage name"));
    }
    let uri = request_uri(
        &with_stage(stage, &raw_path),
        &event.headers,
        event.request_context.domain_name.as_deref(),
        event.raw_query_string.as_deref(),
    )?;
    // lambda_http reads the query parameters from the raw query string when
    // there is one (its parse cannot fail), not from API Gateway's
    // already-decoded `queryStringParameters`.
    let query = match &event.raw_query_string {
        Some(raw) => {
            let Ok(query) = raw.parse::<QueryMap>();
            query
        }
        None => event.query_string_parameters,
    };
    let body = match event.body.as_deref() {
        None => Body::Empty,
        Some(encoded) if event.is_base64_encoded => Body::from(
            BASE64
                .decode(encoded)
                .map_err(|_| bad("the body is flagged base64 but is not base64"))?,
        ),
        Some(text) => Body::from(text),
    };
    let mut headers = event.headers;
    if let Some(cookies) = event.cookies
        && let Ok(cookie) = HeaderValue::from_str(&cookies.join("; "))
    {
        headers.insert(COOKIE, cookie);
    }
    if let Some(trace_id) = context.xray_trace_id.as_deref()
        && let Ok(trace_id) = HeaderValue::from_str(trace_id)
    {
        headers.insert(HeaderName::from_static("x-amzn-trace-id"), trace_id);
    }

    let mut request = Request::new(body);
    *request.method_mut() = event.request_context.http.method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request
        .with_raw_http_path(raw_path)
        .with_query_string_parameters(query)
        .with_path_parameters(QueryMap::from(event.path_parameters))
        .with_stage_variables(QueryMap::from(event.stage_variables))
        .with_request_context(RequestContext::ApiGatewayV2(event.request_context))
        .with_lambda_context(context))
}

/// A handler's response as API Gateway HTTP API takes it back: text bodies
/// as text and others base64-encoded, chosen by `Content-Type` and
/// `Content-Encoding` exactly as lambda_http chooses.
pub async fn into_api_gateway_response(response: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_response().await.into_parts();
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = parts.headers;
    answer.is_base64_encoded = matches!(body, Body::Binary(_));
    // Never `Empty` after the conversion: lambda_http answers "" for no body.
    answer.body = Some(body);
    answer
}

/// lambda_http's path: the stage's name in front unless it is `$default`
/// (Homeline's stage, template.yaml) or already there.
fn with_stage(stage: Option<&str>, raw_path: &str) -> String {
    match stage {
        None | Some("$default") => raw_path.to_string(),
        Some(stage) if raw_path.starts_with(&format!("/{stage}/")) => raw_path.to_string(),
        Some(stage) => format!("/{stage}{raw_path}"),
    }
}

/// lambda_http's URI: `scheme://host` + the path as `url` normalises it,
/// or the path alone without a host, then `?` + the raw query verbatim.
fn request_uri(
    path: &str,
    headers: &HeaderMap,
    domain_name: Option<&str>,
    raw_query: Option<&str>,
) -> Result<Uri, Rejection> {
    let host = headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .or(domain_name);
    let mut uri = match host {
        // A host is `name[:port]`: anything else (a `/`, `?`, `#` or `@`)
        // would move the path into the query or the authority.
        Some(host)
            if !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c)) =>
        {
            return Err(bad("the Host header is not a host name"));
        }
        Some(host) => {
            // Only a scheme: anything else (a `#`, a `/`) would carry the
            // host, path or query into another part of the URL.
            let scheme = match headers.get("x-forwarded-proto").map(|s| s.to_str()) {
                None => "https",
                Some(Ok(scheme))
                    if scheme.eq_ignore_ascii_case("https")
                        || scheme.eq_ignore_ascii_case("http") =>
                {
                    scheme
                }
                Some(_) => return Err(bad("X-Forwarded-Proto is not http or https")),
            };
            url::Url::parse(&format!("{scheme}://{host}{path}"))
                .map_err(|_| bad("the Host or X-Forwarded-Proto header makes no URL"))?
                .to_string()
        }
        None => url::Url::parse(&format!("http://localhost{path}"))
            .map_err(|_| bad("rawPath makes no URL"))?
            .path()
            .to_string(),
    };
    if let Some(query) = raw_query.filter(|query| !query.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    Uri::try_from(uri).map_err(|_| bad("rawPath and rawQueryString make no URI"))
}

fn bad(reason: &str) -> Rejection {
    Rejection::BadRequest(reason.to_string())
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use lambda_http::http::StatusCode;
    use serde_json::{Value, json};

    use super::*;

    /// Every events/ webhook fixture: signed API Gateway events as AWS
    /// delivers them (the scheduler's tick is EventBridge's, no HTTP event).
    fn fixtures() -> Vec<(String, Value)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
        let mut fixtures: Vec<(String, Value)> = std::fs::read_dir(dir)
            .expect("events/ is readable")
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| !path.ends_with("scheduler-tick.json"))
            .map(|path| {
                let text = std::fs::read_to_string(&path).expect("a readable fixture");
                let name = path.display().to_string();
                (name, serde_json::from_str(&text).expect("a JSON fixture"))
            })
            .collect();
        fixtures.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(fixtures.len() > 10, "the events/ fixtures are there");
        fixtures
    }

    fn base_event() -> Value {
        let (_, event) = fixtures()
            .into_iter()
            .find(|(name, _)| name.ends_with("intake-sms-on.json"))
            .expect("the intake-sms-on fixture");
        event
    }

    fn edited(edit: impl FnOnce(&mut Value)) -> Value {
        let mut event = base_event();
        edit(&mut event);
        event
    }

    fn without_host(event: &mut Value) {
        if let Some(headers) = event["headers"].as_object_mut() {
            headers.remove("host");
        }
    }

    fn convert(event: &Value) -> Result<Request, Rejection> {
        into_request(&event.to_string(), Context::default())
    }

    /// Our request against lambda_http's for an event it converts.
    fn assert_same_as_lambda_http(what: &str, event: &Value) {
        let text = event.to_string();
        let theirs = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: lambda_http does not convert it: {e}"));
        let ours = into_request(&text, Context::default())
            .unwrap_or_else(|rejection| panic!("{what}: refused: {rejection}"));
        assert_eq!(ours.method(), theirs.method(), "{what}");
        assert_eq!(ours.uri(), theirs.uri(), "{what}");
        assert_eq!(ours.version(), theirs.version(), "{what}");
        assert_eq!(ours.headers(), theirs.headers(), "{what}");
        assert_eq!(ours.body(), theirs.body(), "{what}");
        assert_eq!(ours.raw_http_path(), theirs.raw_http_path(), "{what}");
        assert_eq!(
            ours.query_string_parameters(),
            theirs.query_string_parameters(),
            "{what}"
        );
        assert_eq!(ours.path_parameters(), theirs.path_parameters(), "{what}");
        assert_eq!(ours.stage_variables(), theirs.stage_variables(), "{what}");
        assert_eq!(
            serde_json::to_value(ours.request_context()).expect("serializable"),
            serde_json::to_value(theirs.request_context()).expect("serializable"),
            "{what}"
        );
    }

    #[test]
    fn every_fixture_converts_as_lambda_http_converts_it() {
        for (name, event) in fixtures() {
            assert_same_as_lambda_http(&name, &event);
        }
    }

    #[test]
    fn valid_variations_convert_as_lambda_http_converts_them() {
        let variations = [
            (
                "a named stage",
                edited(|e| e["requestContext"]["stage"] = json!("prod")),
            ),
            (
                "a named stage already in the path",
                edited(|e| {
                    e["requestContext"]["stage"] = json!("prod");
                    e["rawPath"] = json!("/prod/intake/sms");
                }),
            ),
            ("no Host header", edited(without_host)),
            (
                "no host at all",
                edited(|e| {
                    without_host(e);
                    e["requestContext"]["domainName"] = Value::Null;
                }),
            ),
            (
                "raw UTF-8 in the raw query",
                edited(|e| e["rawQueryString"] = json!("n=José")),
            ),
            (
                "plain http",
                edited(|e| e["headers"]["x-forwarded-proto"] = json!("http")),
            ),
            ("cookies", edited(|e| e["cookies"] = json!(["a=1", "b=2"]))),
            ("no body", edited(|e| e["body"] = Value::Null)),
            (
                "a plain-text body",
                edited(|e| {
                    e["isBase64Encoded"] = json!(false);
                    e["body"] = json!("Body=on+sales&From=%2B15551230001");
                }),
            ),
            (
                "escapes a re-encoder would change",
                edited(|e| {
                    e["rawQueryString"] = json!("to=%2B1555&m=a+b%20c&t=%7E&l=%2b&k=1&k=2&e=")
                }),
            ),
            (
                "a path the URL parser re-encodes",
                edited(|e| e["rawPath"] = json!("/intake/sms/a b/é")),
            ),
            (
                "path parameters and stage variables",
                edited(|e| {
                    e["pathParameters"] = json!({"step": "menu"});
                    e["stageVariables"] = json!({"tier": "live"});
                }),
            ),
        ];
        for (what, event) in variations {
            assert_same_as_lambda_http(what, &event);
        }
    }

    #[test]
    fn events_lambda_http_panics_on_are_bad_requests() {
        let odd = [
            (
                "a space in the raw query",
                edited(|e| e["rawQueryString"] = json!("to=a b")),
            ),
            (
                "a body flagged base64 that is not",
                edited(|e| e["body"] = json!("not base64!")),
            ),
            (
                "a malformed Host",
                edited(|e| e["headers"]["host"] = json!("bad host[:x")),
            ),
            (
                "a malformed X-Forwarded-Proto",
                edited(|e| e["headers"]["x-forwarded-proto"] = json!("ht tp")),
            ),
        ];
        for (what, event) in odd {
            // The reason this module exists: under `panic = "abort"` each of
            // these ends the process.
            let text = event.to_string();
            let upstream = catch_unwind(AssertUnwindSafe(|| lambda_http::request::from_str(&text)));
            assert!(upstream.is_err(), "{what}: lambda_http no longer panics");
            assert!(
                matches!(convert(&event), Err(Rejection::BadRequest(_))),
                "{what}: not a bad request"
            );
        }
    }

    #[test]
    fn what_is_no_http_api_request_is_a_bad_request() {
        let mut rest_api = base_event();
        rest_api["version"] = json!("1.0");
        rest_api["httpMethod"] = json!("POST");
        let odd = [
            ("a REST API event", rest_api),
            ("no version", edited(|e| e["version"] = Value::Null)),
            (
                "no requestContext",
                edited(|e| e["requestContext"] = Value::Null),
            ),
            ("no rawPath", edited(|e| e["rawPath"] = Value::Null)),
            (
                "a relative rawPath",
                edited(|e| e["rawPath"] = json!("intake/sms")),
            ),
            (
                "a fragment in rawPath",
                edited(|e| e["rawPath"] = json!("/intake/sms#x")),
            ),
            (
                "a query in rawPath",
                edited(|e| e["rawPath"] = json!("/intake/sms?a=1")),
            ),
            (
                "a Host that would move the path into the query (found by fuzzing)",
                edited(|e| e["headers"]["host"] = json!("homeline.example.com?")),
            ),
            (
                "a stage that would move the path into the query (found by fuzzing)",
                edited(|e| e["requestContext"]["stage"] = json!("o\u{0}?")),
            ),
            (
                "a fragment in rawQueryString (found by fuzzing)",
                edited(|e| e["rawQueryString"] = json!("a=1#b")),
            ),
            (
                "an X-Forwarded-Proto that would hide the query in a fragment (found by fuzzing)",
                edited(|e| e["headers"]["x-forwarded-proto"] = json!("x://h/#")),
            ),
            (
                "a Host with a user part",
                edited(|e| e["headers"]["host"] = json!("evil@homeline.example.com")),
            ),
            (
                "a header no HTTP carries",
                edited(|e| e["headers"]["x-odd"] = json!("a\nb")),
            ),
            (
                "an unknown method",
                edited(|e| e["requestContext"]["http"]["method"] = json!("PO ST")),
            ),
            ("an object", json!({"hello": 1})),
            ("an array", json!([])),
            ("null", Value::Null),
            ("a number", json!(42)),
        ];
        for (what, event) in odd {
            assert!(
                matches!(convert(&event), Err(Rejection::BadRequest(_))),
                "{what}: not a bad request"
            );
        }
        // As text: a `Value` this deep overflows the test thread's stack.
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        for text in [deep.as_str(), "not JSON"] {
            assert!(matches!(
                into_request(text, Context::default()),
                Err(Rejection::BadRequest(_))
            ));
        }
    }

    #[test]
    fn the_trace_id_of_the_invocation_becomes_a_header() {
        let mut context = Context::default();
        context.xray_trace_id = Some("Root=1-6745a000-0123456789abcdef01234567".into());
        let request = into_request(&base_event().to_string(), context).expect("converts");
        assert_eq!(
            request
                .headers()
                .get("x-amzn-trace-id")
                .map(|v| v.as_bytes()),
            Some(&b"Root=1-6745a000-0123456789abcdef01234567"[..])
        );
        assert_eq!(
            request.lambda_context().xray_trace_id.as_deref(),
            Some("Root=1-6745a000-0123456789abcdef01234567")
        );
    }

    #[tokio::test]
    async fn responses_take_the_http_api_shape() {
        let twiml = into_api_gateway_response(crate::http::twiml("<Response/>")).await;
        assert_eq!(twiml.status_code, 200);
        assert!(!twiml.is_base64_encoded);
        assert_eq!(twiml.body, Some(Body::Text("<Response/>".into())));
        assert_eq!(
            twiml.headers.get("content-type").map(|v| v.as_bytes()),
            Some(&b"text/xml"[..])
        );

        // lambda_http answers an empty body as empty text, too.
        let empty = into_api_gateway_response(crate::http::no_content()).await;
        assert_eq!(
            (empty.status_code, empty.body),
            (204, Some(Body::Text(String::new())))
        );

        let refused =
            into_api_gateway_response(Rejection::BadRequest("no".into()).into_response()).await;
        assert_eq!(
            refused.status_code,
            i64::from(StatusCode::BAD_REQUEST.as_u16())
        );

        let mut binary = Response::new(Body::from(vec![0u8, 159, 146, 150]));
        binary
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("audio/wav"));
        let binary = into_api_gateway_response(binary).await;
        assert!(binary.is_base64_encoded);
        assert_eq!(binary.body, Some(Body::Binary(vec![0, 159, 146, 150])));
        let wire = serde_json::to_value(&binary).expect("serializable");
        assert_eq!(wire["body"], "AJ+Slg==");
    }
}
