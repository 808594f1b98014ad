//! lambda_http glue shared by every function: the request as Twilio signed it,
//! and the responses Twilio expects.
//!
//! The signed URL is `PUBLIC_BASE_URL` + raw path + `?` + raw query, never
//! the URI lambda_http reconstructs (API Gateway's host is not the one
//! Twilio called). Form pairs are kept as a list, in order, so nothing is lost
//! before the signature is checked.

use lambda_http::{Body, Request, Response};

use crate::config::Config;

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
        let _ = self;
        todo!("http")
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
    /// Raw body (already base64-decoded).
    pub body: Vec<u8>,
    pub signature: Option<String>,
    /// `I-Twilio-Idempotency-Token`: present on Twilio's retries.
    pub idempotency_token: Option<String>,
}

impl TwilioRequest {
    /// Parses the event without checking the signature.
    pub fn parse(event: &Request) -> Result<Self, Rejection> {
        let _ = event;
        todo!("http")
    }

    /// The URL Twilio signed: `public_base_url` + raw path (+ `?` raw query).
    pub fn signed_url(&self, public_base_url: &str) -> String {
        let _ = public_base_url;
        todo!("http")
    }

    /// First value of a form parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        let _ = name;
        todo!("http")
    }

    /// A form parameter that must be present and non-empty (400 naming it otherwise).
    pub fn require(&self, name: &str) -> Result<&str, Rejection> {
        let _ = name;
        todo!("http")
    }

    /// First value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        let _ = name;
        todo!("http")
    }

    /// A query parameter that must be present and non-empty (400 naming it otherwise).
    pub fn require_query(&self, name: &str) -> Result<&str, Rejection> {
        let _ = name;
        todo!("http")
    }
}

/// Parses the event and checks its signature against the configured base URL
/// and auth token. `Forbidden` on a bad or missing signature.
pub fn verified(event: &Request, config: &Config) -> Result<TwilioRequest, Rejection> {
    let _ = (event, config);
    todo!("http")
}

/// 200 `text/xml` TwiML.
pub fn twiml(xml: impl Into<String>) -> Response<Body> {
    let _ = xml.into();
    todo!("http")
}

/// 200 `application/json`.
pub fn json(value: &serde_json::Value) -> Response<Body> {
    let _ = value;
    todo!("http")
}

/// 204 with no body.
pub fn no_content() -> Response<Body> {
    todo!("http")
}
