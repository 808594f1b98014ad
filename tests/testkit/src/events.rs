//! Signed API Gateway HTTP API (payload format 2.0) events, shaped as AWS
//! delivers Twilio's webhooks: form bodies base64-encoded with
//! `isBase64Encoded: true`, `rawPath` and `rawQueryString` as requested, and
//! `X-Twilio-Signature` computed with [`AUTH_TOKEN`] over
//! [`PUBLIC_BASE_URL`] + path + query.
//!
//! The `host` header is API Gateway's own domain, not `PUBLIC_BASE_URL`, as
//! behind a custom domain: a function that signed lambda_http's rebuilt URI
//! instead of the public one fails against these events.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use homeline_core::signature;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::{AUTH_TOKEN, PUBLIC_BASE_URL};

/// API Gateway's execute-api domain in the events' `host` header.
pub const API_GATEWAY_HOST: &str = "abc123defg.execute-api.us-east-1.amazonaws.com";
/// A token other than [`AUTH_TOKEN`]: signatures made with it are well-formed but wrong.
pub const WRONG_AUTH_TOKEN: &str = "54321";

/// How the event's `X-Twilio-Signature` is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Computed with [`AUTH_TOKEN`], as Twilio would.
    Valid,
    /// Computed with [`WRONG_AUTH_TOKEN`].
    Wrong,
    /// No header at all.
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
enum Payload {
    Form(Vec<(String, String)>),
    Json(Value),
}

/// A webhook Twilio sends to Homeline, built into an API Gateway event.
/// Start with [`Webhook::form`] or [`Webhook::json`].
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    path: String,
    query: Vec<(String, String)>,
    payload: Payload,
    signing: Signing,
    idempotency_token: Option<String>,
}

impl Webhook {
    /// A form POST to `path` with `params` (in this order), validly signed.
    pub fn form(path: &str, params: &[(&str, &str)]) -> Self {
        Self::new(path, Payload::Form(pairs(params)))
    }

    /// A JSON POST to `path`; `bodySHA256` is added to the query, validly signed.
    pub fn json(path: &str, body: &Value) -> Self {
        Self::new(path, Payload::Json(body.clone()))
    }

    fn new(path: &str, payload: Payload) -> Self {
        Self {
            path: path.to_string(),
            query: Vec::new(),
            payload,
            signing: Signing::Valid,
            idempotency_token: None,
        }
    }

    /// The path Twilio calls (no query).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Query parameters of the URL Twilio calls (part of the signed URL).
    pub fn query(mut self, query: &[(&str, &str)]) -> Self {
        self.query = pairs(query);
        self
    }

    pub fn signing(mut self, signing: Signing) -> Self {
        self.signing = signing;
        self
    }

    /// Marks the request as Twilio's retry (`I-Twilio-Idempotency-Token`).
    pub fn idempotency_token(mut self, token: &str) -> Self {
        self.idempotency_token = Some(token.to_string());
        self
    }

    /// `rawQueryString` as API Gateway passes it (no `?`; empty when none).
    pub fn raw_query(&self) -> String {
        let mut query = self.query.clone();
        if let Payload::Json(body) = &self.payload {
            query.push((
                signature::BODY_SHA256_PARAM.to_string(),
                signature::body_sha256(body.to_string().as_bytes()),
            ));
        }
        encode(&query)
    }

    /// The URL Twilio requested and signed.
    pub fn url(&self) -> String {
        match self.raw_query().as_str() {
            "" => format!("{PUBLIC_BASE_URL}{}", self.path),
            query => format!("{PUBLIC_BASE_URL}{}?{query}", self.path),
        }
    }

    /// The `X-Twilio-Signature` value, `None` for [`Signing::Missing`].
    pub fn signature(&self) -> Option<String> {
        let token = match self.signing {
            Signing::Valid => AUTH_TOKEN,
            Signing::Wrong => WRONG_AUTH_TOKEN,
            Signing::Missing => return None,
        };
        let params = match &self.payload {
            Payload::Form(params) => params.as_slice(),
            Payload::Json(_) => &[],
        };
        Some(signature::compute(token, &self.url(), params))
    }

    /// The API Gateway HTTP API payload 2.0 event.
    pub fn event(&self) -> Value {
        let (content_type, body, is_base64) = match &self.payload {
            Payload::Form(params) => (
                "application/x-www-form-urlencoded",
                BASE64.encode(encode(params)),
                true,
            ),
            Payload::Json(body) => ("application/json", body.to_string(), false),
        };
        let mut headers = json!({
            "content-type": content_type,
            "host": API_GATEWAY_HOST,
            "user-agent": "TwilioProxy/1.1",
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            "x-amzn-trace-id": "Root=1-6745a000-0123456789abcdef01234567",
        });
        if let Some(signature) = self.signature() {
            headers["x-twilio-signature"] = json!(signature);
        }
        if let Some(token) = &self.idempotency_token {
            headers["i-twilio-idempotency-token"] = json!(token);
        }
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": self.path,
            "rawQueryString": self.raw_query(),
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123defg",
                "domainName": API_GATEWAY_HOST,
                "domainPrefix": "abc123defg",
                "http": {
                    "method": "POST",
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.10",
                    "userAgent": "TwilioProxy/1.1"
                },
                "requestId": "Cx1AbiYAIAMEb2Q=",
                "routeKey": "$default",
                "stage": "$default",
                "time": "25/Nov/2026:14:00:00 +0000",
                "timeEpoch": 1795615200000u64
            },
            "body": body,
            "isBase64Encoded": is_base64
        })
    }

    /// The event as the function receives it, through lambda_http's own parser.
    pub fn request(&self) -> Request {
        request(&self.event())
    }
}

/// A GET of `path` as Twilio fetches `<Play>` media: no body, no signature.
pub fn get_event(path: &str) -> Value {
    let mut event = Webhook::form(path, &[]).event();
    event["requestContext"]["http"]["method"] = json!("GET");
    event["body"] = Value::Null;
    event["isBase64Encoded"] = json!(false);
    if let Some(headers) = event["headers"].as_object_mut() {
        headers.remove("content-type");
        headers.remove("x-twilio-signature");
    }
    event
}

/// A validly signed form POST event (see [`Webhook`]).
pub fn form_event(path: &str, query: &[(&str, &str)], params: &[(&str, &str)]) -> Value {
    Webhook::form(path, params).query(query).event()
}

/// [`form_event`] as the function receives it.
pub fn form_request(path: &str, query: &[(&str, &str)], params: &[(&str, &str)]) -> Request {
    Webhook::form(path, params).query(query).request()
}

/// [`form_request`] signed with the wrong token: must be refused with 403.
pub fn badly_signed_form_request(
    path: &str,
    query: &[(&str, &str)],
    params: &[(&str, &str)],
) -> Request {
    Webhook::form(path, params)
        .query(query)
        .signing(Signing::Wrong)
        .request()
}

/// [`form_request`] without `X-Twilio-Signature`: must be refused with 403.
pub fn unsigned_form_request(
    path: &str,
    query: &[(&str, &str)],
    params: &[(&str, &str)],
) -> Request {
    Webhook::form(path, params)
        .query(query)
        .signing(Signing::Missing)
        .request()
}

/// A validly signed JSON POST event, `bodySHA256` appended to `query`.
pub fn json_event(path: &str, query: &[(&str, &str)], body: &Value) -> Value {
    Webhook::json(path, body).query(query).event()
}

/// [`json_event`] as the function receives it.
pub fn json_request(path: &str, query: &[(&str, &str)], body: &Value) -> Request {
    Webhook::json(path, body).query(query).request()
}

/// Any API Gateway event (e.g. one edited after signing) through
/// `lambda_http::request::from_str`, as the Lambda runtime does.
pub fn request(event: &Value) -> Request {
    match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(e) => panic!("lambda_http does not accept the test event: {e}"),
    }
}

/// A response body as text (empty for no body), for assertions.
pub fn body_text(response: &Response<Body>) -> String {
    // `Body` derefs to its bytes; `Empty` to none.
    String::from_utf8_lossy(response.body()).into_owned()
}

/// Status and body text of an API Gateway (payload 2.0) response as a Lambda
/// returns it (`statusCode`, `body`, `isBase64Encoded`).
pub fn decode_response(response: &Value) -> (u16, String) {
    let status = response["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or_else(|| panic!("no statusCode in {response}"));
    let body = response["body"].as_str().unwrap_or_default();
    let body = if response["isBase64Encoded"].as_bool() == Some(true) {
        let bytes = BASE64
            .decode(body)
            .unwrap_or_else(|e| panic!("body is not base64 ({e}): {response}"));
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        body.to_string()
    };
    (status, body)
}

/// Name/value pairs as owned strings, the shape `signature` and `http` use.
pub fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn encode(pairs: &[(String, String)]) -> String {
    match serde_urlencoded::to_string(pairs) {
        Ok(encoded) => encoded,
        Err(e) => panic!("test pairs cannot be form-encoded: {e}"),
    }
}
