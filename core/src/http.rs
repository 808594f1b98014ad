//! lambda_http glue shared by every function: the request as Twilio signed it,
//! and the responses Twilio expects.
//!
//! The signed URL is `PUBLIC_BASE_URL` + raw path + `?` + raw query, never
//! the URI lambda_http reconstructs (API Gateway's host is not the one
//! Twilio called). Form pairs are kept as a list, in order, so nothing is lost
//! before the signature is checked.

use lambda_http::http::header::{CONTENT_TYPE, HeaderValue};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

use crate::config::Config;
use crate::domain::attempt::LegCallback;
use crate::signature;
use crate::store::StoreError;

/// Header carrying Twilio's request signature.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
/// Header Twilio sets on a retried webhook.
pub const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";

/// Why a request is refused before any work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// 400: the request cannot be read, or a required parameter is missing.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 403: missing or wrong `X-Twilio-Signature`.
    #[error("forbidden: bad or missing X-Twilio-Signature")]
    Forbidden,
}

impl Rejection {
    pub fn into_response(self) -> Response<Body> {
        match self {
            Rejection::BadRequest(reason) => {
                text(StatusCode::BAD_REQUEST, format!("bad request: {reason}"))
            }
            // No detail: a prober learns nothing about what was checked.
            Rejection::Forbidden => text(StatusCode::FORBIDDEN, "forbidden".to_string()),
        }
    }
}

/// A webhook request from Twilio, parsed (and, from [`verified`], authenticated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioRequest {
    /// Raw path, e.g. `/intake/voice/menu`.
    pub path: String,
    /// Raw query string without `?`, exactly as received.
    pub raw_query: Option<String>,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Decoded form pairs, in order (empty for a JSON body).
    pub form: Vec<(String, String)>,
    /// `Content-Type: application/json`: signed through `bodySHA256`, not form pairs.
    pub json: bool,
    /// Raw body (already base64-decoded).
    pub body: Vec<u8>,
    pub signature: Option<String>,
    /// `I-Twilio-Idempotency-Token`: present on Twilio's retries.
    pub idempotency_token: Option<String>,
}

impl TwilioRequest {
    /// Parses the event without checking the signature.
    pub fn parse(event: &Request) -> Result<Self, Rejection> {
        let path = event_path(event).to_string();
        // For API Gateway v2 lambda_http appends `rawQueryString` verbatim to
        // the URI (tested in tests/http_events.rs).
        let raw_query = event
            .uri()
            .query()
            .filter(|q| !q.is_empty())
            .map(str::to_string);
        let query = match &raw_query {
            Some(raw) => decode_pairs(raw.as_bytes())
                .ok_or_else(|| Rejection::BadRequest("query string is not valid".to_string()))?,
            None => Vec::new(),
        };
        // lambda_http has already base64-decoded the body when `isBase64Encoded`.
        let body = event.body().to_vec();
        let json = is_json(event.headers());
        let form = if json {
            if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
                return Err(Rejection::BadRequest("body is not JSON".to_string()));
            }
            Vec::new()
        } else {
            decode_pairs(&body)
                .ok_or_else(|| Rejection::BadRequest("body is not a form".to_string()))?
        };
        Ok(Self {
            path,
            raw_query,
            query,
            form,
            json,
            body,
            signature: header(event.headers(), SIGNATURE_HEADER),
            idempotency_token: header(event.headers(), IDEMPOTENCY_HEADER),
        })
    }

    /// The URL Twilio signed: `public_base_url` + raw path (+ `?` raw query).
    pub fn signed_url(&self, public_base_url: &str) -> String {
        let base = public_base_url.trim_end_matches('/');
        match &self.raw_query {
            Some(query) => format!("{base}{}?{query}", self.path),
            None => format!("{base}{}", self.path),
        }
    }

    /// Checks the signature against the URL Twilio called, with the account's
    /// primary auth token: the body hash for a JSON body, the form pairs
    /// otherwise. `Forbidden` on a missing or wrong signature.
    pub fn verify(self, public_base_url: &str, auth_token: &str) -> Result<Self, Rejection> {
        let Some(signature) = self.signature.as_deref() else {
            tracing::warn!(path = %self.path, reason = "missing X-Twilio-Signature", "request refused");
            return Err(Rejection::Forbidden);
        };
        let url = self.signed_url(public_base_url);
        let (valid, reason) = if self.json {
            let valid = signature::is_valid_json(auth_token, &url, &self.body, signature);
            (valid, "JSON body signature or bodySHA256 mismatch")
        } else {
            let valid = signature::is_valid(auth_token, &url, &self.form, signature);
            (valid, "signature mismatch")
        };
        if valid {
            Ok(self)
        } else {
            tracing::warn!(path = %self.path, reason, "request refused");
            Err(Rejection::Forbidden)
        }
    }

    /// First value of a form parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        first(&self.form, name)
    }

    /// A form parameter that must be present and non-empty (400 naming it otherwise).
    pub fn require(&self, name: &str) -> Result<&str, Rejection> {
        required(self.param(name), "form parameter", name)
    }

    /// First value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }

    /// A query parameter that must be present and non-empty (400 naming it otherwise).
    pub fn require_query(&self, name: &str) -> Result<&str, Rejection> {
        required(self.query(name), "query parameter", name)
    }
}

/// Parses the event and checks its signature against the configured base URL
/// and auth token. `Forbidden` on a bad or missing signature.
pub fn verified(event: &Request, config: &Config) -> Result<TwilioRequest, Rejection> {
    let request = TwilioRequest::parse(event).inspect_err(|rejection| {
        tracing::warn!(path = %event.raw_http_path(), reason = %rejection, "request refused");
    })?;
    request.verify(&config.public_base_url, config.twilio.auth_token.expose())
}

/// The attempt a leg webhook is about, from its signed query, and the leg's
/// call SID from the form (every call webhook carries `CallSid`).
pub fn leg_callback(request: &TwilioRequest) -> Result<LegCallback, Rejection> {
    Ok(LegCallback {
        task_sid: request.require_query("TaskSid")?.to_string(),
        reservation_sid: request.require_query("ReservationSid")?.to_string(),
        call_sid: request
            .param("CallSid")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    })
}

/// 503 for a state store failure: Twilio logs it; nothing was decided.
pub fn store_failure(error: &StoreError, leg: &LegCallback) -> Response<Body> {
    tracing::error!(%error, reservation_sid = %leg.reservation_sid, task_sid = %leg.task_sid,
        "state store failed; nothing decided");
    let mut response = Response::new(Body::Text("state store unavailable".into()));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

/// Whether `event` is a GET of `path`: media Twilio fetches for `<Play>`,
/// unsigned, answered before any signature check because it reads and
/// writes nothing.
pub fn is_get_of(event: &Request, path: &str) -> bool {
    event.method() == lambda_http::http::Method::GET
        && event_path(event).trim_end_matches('/') == path
}

/// API Gateway v2's `rawPath`; lambda_http's URI path may carry the stage or
/// be re-encoded. Only other event sources lack it.
fn event_path(event: &Request) -> &str {
    match event.raw_http_path() {
        "" => event.uri().path(),
        raw => raw,
    }
}

/// 200 with a media file that never changes within a deploy: Twilio caches
/// `<Play>` media by the standard HTTP caching headers.
pub fn media(content_type: &'static str, bytes: &'static [u8]) -> Response<Body> {
    let mut response =
        with_content_type(StatusCode::OK, content_type, Body::Binary(bytes.to_vec()));
    response.headers_mut().insert(
        lambda_http::http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}

/// 200 `text/xml` TwiML.
pub fn twiml(xml: impl Into<String>) -> Response<Body> {
    with_content_type(StatusCode::OK, "text/xml", Body::Text(xml.into()))
}

/// 200 `application/json`.
pub fn json(value: &serde_json::Value) -> Response<Body> {
    // `Value`'s Display is its compact JSON and cannot fail.
    with_content_type(
        StatusCode::OK,
        "application/json",
        Body::Text(value.to_string()),
    )
}

/// 204 with no body.
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

fn text(status: StatusCode, message: String) -> Response<Body> {
    with_content_type(status, "text/plain; charset=utf-8", Body::Text(message))
}

fn with_content_type(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Form and query pairs, decoded, in order, empty values kept. `None` when
/// the raw text is not UTF-8. (A `%xx` escape that decodes to invalid UTF-8
/// becomes U+FFFD, which then fails the signature check: Twilio never sends one.)
fn decode_pairs(raw: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(raw).ok()?;
    serde_urlencoded::from_str(text).ok()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn required<'a>(value: Option<&'a str>, kind: &str, name: &str) -> Result<&'a str, Rejection> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Rejection::BadRequest(format!("missing {kind} {name}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::tests::pairs;

    const BASE: &str = "https://homeline.example.com";
    const TOKEN: &str = "12345";

    /// A request as lambda_http hands it over: URI rebuilt by lambda_http,
    /// raw path in an extension.
    fn request(uri: &str, raw_path: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder
            .body(Body::from(body.to_vec()))
            .expect("valid test request")
            .with_raw_http_path(raw_path)
    }

    fn form(uri: &str, raw_path: &str, body: &str) -> Request {
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        request(uri, raw_path, &headers, body.as_bytes())
    }

    fn body_of(response: &Response<Body>) -> &str {
        std::str::from_utf8(response.body()).expect("utf-8 body")
    }

    fn content_type(response: &Response<Body>) -> Option<&str> {
        response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    #[test]
    fn raw_path_wins_over_the_rebuilt_uri() {
        let event = form(
            "https://abc.execute-api.aws/prod/intake/voice",
            "/intake/voice",
            "",
        );
        let parsed = TwilioRequest::parse(&event).expect("parses");
        assert_eq!(parsed.path, "/intake/voice");
    }

    #[test]
    fn uri_path_is_the_fallback_without_raw_path() {
        let event = form("https://h/inbound/sms", "", "");
        assert_eq!(
            TwilioRequest::parse(&event).expect("parses").path,
            "/inbound/sms"
        );
    }

    #[test]
    fn raw_query_is_kept_verbatim_and_decoded_in_order() {
        let event = form("https://h/cb?b=%2B1%20x&a=&b=2", "/cb", "");
        let parsed = TwilioRequest::parse(&event).expect("parses");
        assert_eq!(parsed.raw_query.as_deref(), Some("b=%2B1%20x&a=&b=2"));
        assert_eq!(parsed.query, pairs(&[("b", "+1 x"), ("a", ""), ("b", "2")]));
        assert_eq!(parsed.query("b"), Some("+1 x"));
        assert_eq!(parsed.query("a"), Some(""));
    }

    #[test]
    fn no_query_and_empty_query_are_none() {
        for uri in ["https://h/cb", "https://h/cb?"] {
            let parsed = TwilioRequest::parse(&form(uri, "/cb", "")).expect("parses");
            assert_eq!(parsed.raw_query, None, "{uri}");
            assert!(parsed.query.is_empty());
        }
    }

    #[test]
    fn form_pairs_keep_order_repeats_and_empty_values() {
        let body = "To=%2B15005550006&Body=&StatusCallbackEvent=ringing&StatusCallbackEvent=answered&Say=hi+there";
        let parsed = TwilioRequest::parse(&form("https://h/cb", "/cb", body)).expect("parses");
        assert_eq!(
            parsed.form,
            pairs(&[
                ("To", "+15005550006"),
                ("Body", ""),
                ("StatusCallbackEvent", "ringing"),
                ("StatusCallbackEvent", "answered"),
                ("Say", "hi there"),
            ])
        );
        assert!(!parsed.json);
        assert_eq!(parsed.body, body.as_bytes());
    }

    #[test]
    fn non_utf8_form_body_is_a_bad_request() {
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        let event = request("https://h/cb", "/cb", &headers, b"Body=\xff\xfe");
        assert!(matches!(
            TwilioRequest::parse(&event),
            Err(Rejection::BadRequest(_))
        ));
    }

    #[test]
    fn json_body_is_kept_raw_and_must_be_json() {
        let headers = [("content-type", "Application/JSON; charset=utf-8")];
        let ok = request("https://h/cb", "/cb", &headers, br#"{"a": 1}"#);
        let parsed = TwilioRequest::parse(&ok).expect("parses");
        assert!(parsed.json);
        assert!(parsed.form.is_empty());
        assert_eq!(parsed.body, br#"{"a": 1}"#);

        let broken = request("https://h/cb", "/cb", &headers, b"a=1");
        assert_eq!(
            TwilioRequest::parse(&broken),
            Err(Rejection::BadRequest("body is not JSON".to_string()))
        );
    }

    #[test]
    fn twilio_headers_are_read_case_insensitively() {
        let headers = [
            ("X-Twilio-Signature", "abc="),
            ("I-Twilio-Idempotency-Token", "tok-1"),
        ];
        let parsed =
            TwilioRequest::parse(&request("https://h/cb", "/cb", &headers, b"")).expect("parses");
        assert_eq!(parsed.signature.as_deref(), Some("abc="));
        assert_eq!(parsed.idempotency_token.as_deref(), Some("tok-1"));
        let bare = TwilioRequest::parse(&form("https://h/cb", "/cb", "")).expect("parses");
        assert_eq!((bare.signature, bare.idempotency_token), (None, None));
    }

    #[test]
    fn signed_url_is_base_plus_raw_path_and_query() {
        let with_query =
            TwilioRequest::parse(&form("https://other/x?b=1&a=%20", "/intake/voice", ""))
                .expect("parses");
        assert_eq!(
            with_query.signed_url(BASE),
            "https://homeline.example.com/intake/voice?b=1&a=%20"
        );
        assert_eq!(
            with_query.signed_url("https://homeline.example.com/"),
            "https://homeline.example.com/intake/voice?b=1&a=%20"
        );
        let without =
            TwilioRequest::parse(&form("https://other/x", "/assignment", "")).expect("parses");
        assert_eq!(
            without.signed_url(BASE),
            "https://homeline.example.com/assignment"
        );
    }

    fn signed_form(path_and_query: &str, params: &[(&str, &str)], token: &str) -> Request {
        let url = format!("{BASE}{path_and_query}");
        let signature = signature::compute(token, &url, &pairs(params));
        let body = serde_urlencoded::to_string(params).expect("encodable");
        let raw_path = path_and_query.split('?').next().unwrap_or_default();
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-twilio-signature", signature.as_str()),
        ];
        request(
            &format!("https://apigw.internal{path_and_query}"),
            raw_path,
            &headers,
            body.as_bytes(),
        )
    }

    #[test]
    fn verify_accepts_the_signed_form() {
        let params = [("CallSid", "CA1"), ("Digits", ""), ("From", "+15551234567")];
        let event = signed_form("/intake/voice/menu?skill=sales", &params, TOKEN);
        let parsed = TwilioRequest::parse(&event).expect("parses");
        let verified = parsed
            .clone()
            .verify(BASE, TOKEN)
            .expect("signature is valid");
        assert_eq!(verified, parsed);
    }

    #[test]
    fn verify_refuses_other_token_base_or_params() {
        let params = [("CallSid", "CA1"), ("Digits", "1")];
        let event = signed_form("/intake/voice/menu?skill=sales", &params, TOKEN);
        let parsed = TwilioRequest::parse(&event).expect("parses");
        assert_eq!(
            parsed.clone().verify(BASE, "12346"),
            Err(Rejection::Forbidden)
        );
        assert_eq!(
            parsed
                .clone()
                .verify("https://elsewhere.example.com", TOKEN),
            Err(Rejection::Forbidden)
        );
        let mut tampered = parsed;
        tampered.form[1].1 = "2".to_string();
        assert_eq!(tampered.verify(BASE, TOKEN), Err(Rejection::Forbidden));
    }

    #[test]
    fn verify_refuses_a_missing_signature() {
        let parsed = TwilioRequest::parse(&form("https://h/cb", "/cb", "a=1")).expect("parses");
        assert_eq!(parsed.verify(BASE, TOKEN), Err(Rejection::Forbidden));
    }

    #[test]
    fn verify_checks_json_bodies_by_hash() {
        let body = br#"{"EventType":"x"}"#;
        let path_and_query = format!("/events?bodySHA256={}", signature::body_sha256(body));
        let signature = signature::compute(TOKEN, &format!("{BASE}{path_and_query}"), &[]);
        let headers = [
            ("content-type", "application/json"),
            ("x-twilio-signature", signature.as_str()),
        ];
        let uri = format!("https://h{path_and_query}");
        let good = TwilioRequest::parse(&request(&uri, "/events", &headers, body)).expect("parses");
        assert!(good.verify(BASE, TOKEN).is_ok());
        let other = br#"{"EventType":"y"}"#;
        let tampered =
            TwilioRequest::parse(&request(&uri, "/events", &headers, other)).expect("parses");
        assert_eq!(tampered.verify(BASE, TOKEN), Err(Rejection::Forbidden));
    }

    #[test]
    fn require_names_the_missing_parameter() {
        let parsed =
            TwilioRequest::parse(&form("https://h/cb?skill=", "/cb", "CallSid=CA1&Digits="))
                .expect("parses");
        assert_eq!(parsed.param("CallSid"), Some("CA1"));
        assert_eq!(parsed.require("CallSid"), Ok("CA1"));
        assert_eq!(parsed.param("Digits"), Some(""));
        assert_eq!(
            parsed.require("Digits"),
            Err(Rejection::BadRequest(
                "missing form parameter Digits".to_string()
            ))
        );
        assert_eq!(
            parsed.require("To"),
            Err(Rejection::BadRequest(
                "missing form parameter To".to_string()
            ))
        );
        assert_eq!(
            parsed.require_query("skill"),
            Err(Rejection::BadRequest(
                "missing query parameter skill".to_string()
            ))
        );
    }

    #[test]
    fn twiml_response_is_200_text_xml() {
        let response = twiml("<Response/>");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(content_type(&response), Some("text/xml"));
        assert_eq!(body_of(&response), "<Response/>");
    }

    #[test]
    fn json_response_is_200_application_json() {
        let response = json(&serde_json::json!({"instruction": "accept"}));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(content_type(&response), Some("application/json"));
        assert_eq!(body_of(&response), r#"{"instruction":"accept"}"#);
    }

    #[test]
    fn no_content_is_204_without_body() {
        let response = no_content();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(response.body().is_empty());
    }

    #[test]
    fn rejections_become_400_with_reason_and_403_without_detail() {
        let bad =
            Rejection::BadRequest("missing form parameter CallSid".to_string()).into_response();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert_eq!(content_type(&bad), Some("text/plain; charset=utf-8"));
        assert_eq!(body_of(&bad), "bad request: missing form parameter CallSid");
        let forbidden = Rejection::Forbidden.into_response();
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        assert_eq!(body_of(&forbidden), "forbidden");
    }
}
