//! `dial-status`: the worker leg's status callback. Busy, no answer, failed
//! or canceled while the attempt is undecided: a miss (reject with the
//! unavailable activity, count it). Completed: close the attempt, or, still
//! undecided, a miss (the worker hung up). The SIP response code is kept.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::Deadline;
use shared::domain::attempt::{CallStatus, LegEvent};
use shared::http::{self, Rejection, TwilioRequest};
use shared::leg::{self, LegCallback};
use shared::store::Store;
use shared::twiml::Response as Twiml;

pub async fn handle<S: Store>(app: App<S>, event: Request) -> Response<Body> {
    let deadline = Deadline::after(leg::CALL_WEBHOOK_BUDGET);
    let request = match http::verified(&event, &app.config) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    let (leg, event) = match parse(&request) {
        Ok(parsed) => parsed,
        Err(rejection) => return rejection.into_response(),
    };
    match leg::handle_event(&app, &leg, &event, deadline).await {
        // Twilio ignores the body of a status callback; an empty document is valid anywhere.
        Ok(_) => http::twiml(Twiml::new().to_xml()),
        Err(error) => leg::store_failure(&error, &leg),
    }
}

fn parse(request: &TwilioRequest) -> Result<(LegCallback, LegEvent), Rejection> {
    let value = request.require("CallStatus")?;
    let status = CallStatus::parse(value)
        .ok_or_else(|| Rejection::BadRequest(format!("CallStatus {value:?} is not known")))?;
    let sip_response_code = match request.param("SipResponseCode").filter(|s| !s.is_empty()) {
        None => None,
        Some(code) => Some(code.parse::<u16>().map_err(|_| {
            Rejection::BadRequest(format!("SipResponseCode {code:?} is not a number"))
        })?),
    };
    let event = LegEvent::Status {
        status,
        sip_response_code,
    };
    Ok((LegCallback::from_request(request)?, event))
}
