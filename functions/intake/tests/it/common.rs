//! Webhooks from the worker line, as Twilio signs them.

use homeline_core::App;
use homeline_core::store::Store;
use lambda_http::Request;
use testkit::events::{self, body_text};

pub const ANA: &str = "+15551230001";
pub const STRANGER: &str = "+15559990000";
pub const MESSAGE_SID: &str = "SM00000000000000000000000000000001";
pub const CALL_SID: &str = "CA00000000000000000000000000000001";

/// An SMS from `from` to the worker line.
pub fn sms(from: &str, body: &str) -> Request {
    events::form_request(
        "/intake/sms",
        &[],
        &[
            ("MessageSid", MESSAGE_SID),
            ("AccountSid", testkit::ACCOUNT_SID),
            ("From", from),
            ("To", testkit::CALLER_ID),
            ("Body", body),
            ("NumMedia", "0"),
        ],
    )
}

/// A voice-menu request from `from` to `path` (with `Digits` when pressed).
pub fn call(path: &str, query: &[(&str, &str)], from: &str, digits: Option<&str>) -> Request {
    let mut params = vec![
        ("CallSid", CALL_SID),
        ("AccountSid", testkit::ACCOUNT_SID),
        ("From", from),
        ("To", testkit::CALLER_ID),
        ("CallStatus", "in-progress"),
        ("Direction", "inbound"),
    ];
    if let Some(digits) = digits {
        params.push(("Digits", digits));
    }
    events::form_request(path, query, &params)
}

/// The handler's status and body.
pub async fn answer<S: Store>(app: &App<S>, request: Request) -> (u16, String) {
    let response = intake::handle(app.clone(), request).await;
    (response.status().as_u16(), body_text(&response))
}
