//! `dial-status`: the worker leg's status callback. Busy, no answer, failed
//! or canceled while the attempt is undecided: a miss (reject with the
//! unavailable activity, count it). Completed: close the attempt, or, still
//! undecided, a miss (the worker hung up). The SIP response code is kept.

use homeline_core::App;
use homeline_core::domain::attempt::LegCallback;
use homeline_core::domain::attempt::{CallStatus, LegEvent};
use homeline_core::http::{self, Rejection, TwilioRequest};
use homeline_core::routes::Budget;
use homeline_core::service::attempt as service;
use homeline_core::store::Store;
use homeline_core::twiml::Response as Twiml;
use lambda_http::{Body, Request, Response};

pub async fn handle<S: Store>(app: App<S>, event: Request) -> Response<Body> {
    let deadline = Budget::Webhook.deadline();
    let request = match http::verified(&event, &app.config) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    let (leg, event) = match parse(&request) {
        Ok(parsed) => parsed,
        Err(rejection) => return rejection.into_response(),
    };
    match service::leg_event(&app, &leg, event, deadline).await {
        // Twilio ignores the body of a status callback; an empty document is valid anywhere.
        Ok(_) => http::twiml(Twiml::new().to_xml()),
        Err(error) => http::store_failure(&error, &leg),
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
    Ok((http::leg_callback(request)?, event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeline_core::domain::attempt::dialing;
    use homeline_core::model::{Attempt, AttemptState};
    use homeline_core::store::{AttemptStore, MemoryStore};
    use testkit::events::{badly_signed_form_request, form_request};
    use testkit::{sid, test_config};

    async fn seeded(state: AttemptState) -> App<MemoryStore> {
        let app = App::new(test_config(&[]), MemoryStore::new());
        let (wr, wt, wk) = (sid("WR", 1), sid("WT", 1), sid("WK", 1));
        let attempt = Attempt {
            state,
            outcome: Some("human".into()),
            ..dialing(&wr, &wt, &wk, "+15551230001", "sales", None, 0)
        };
        assert!(
            app.store
                .create_attempt(&attempt)
                .await
                .expect("test setup")
                .applied()
        );
        app
    }

    async fn post(app: &App<MemoryStore>, params: &[(&str, &str)]) -> u16 {
        let (wt, wr) = (sid("WT", 1), sid("WR", 1));
        let query = [("TaskSid", wt.as_str()), ("ReservationSid", wr.as_str())];
        let response = handle(app.clone(), form_request("/dial-status", &query, params)).await;
        response.status().as_u16()
    }

    async fn stored(app: &App<MemoryStore>) -> Attempt {
        app.store
            .get_attempt(&sid("WT", 1), &sid("WR", 1))
            .await
            .expect("test setup")
            .expect("test setup")
    }

    #[tokio::test]
    async fn completed_closes_a_bridged_attempt_with_its_sip_code() {
        let app = seeded(AttemptState::Bridging).await;
        let call = sid("CA", 1);
        let params = [
            ("CallSid", call.as_str()),
            ("CallStatus", "completed"),
            ("SipResponseCode", "200"),
        ];
        assert_eq!(post(&app, &params).await, 200);
        let a = stored(&app).await;
        assert_eq!(a.state, AttemptState::Completed);
        assert_eq!(a.sip_response_code, Some(200));
        assert_eq!(a.call_sid, Some(call.clone()));
        assert_eq!(a.outcome.as_deref(), Some("human"));
        // Twice: nothing changes.
        assert_eq!(post(&app, &params).await, 200);
        assert_eq!(stored(&app).await, a);
    }

    #[tokio::test]
    async fn a_status_for_an_unknown_attempt_is_acknowledged_and_ignored() {
        let app = App::new(test_config(&[]), MemoryStore::new());
        assert_eq!(post(&app, &[("CallStatus", "busy")]).await, 200);
        assert!(
            app.store
                .list_attempts(&sid("WT", 1))
                .await
                .expect("store works")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn progress_events_change_nothing() {
        let app = seeded(AttemptState::Dialing).await;
        assert_eq!(post(&app, &[("CallStatus", "ringing")]).await, 200);
        assert_eq!(stored(&app).await.state, AttemptState::Dialing);
    }

    #[tokio::test]
    async fn malformed_callbacks_are_400() {
        let app = seeded(AttemptState::Dialing).await;
        assert_eq!(post(&app, &[("CallStatus", "exploded")]).await, 400);
        assert_eq!(post(&app, &[]).await, 400);
        assert_eq!(
            post(&app, &[("CallStatus", "busy"), ("SipResponseCode", "4x6")]).await,
            400
        );
        assert_eq!(stored(&app).await.state, AttemptState::Dialing);
    }

    #[tokio::test]
    async fn bad_signature_is_403_and_changes_nothing() {
        let app = seeded(AttemptState::Dialing).await;
        let (wt, wr) = (sid("WT", 1), sid("WR", 1));
        let query = [("TaskSid", wt.as_str()), ("ReservationSid", wr.as_str())];
        let request = badly_signed_form_request("/dial-status", &query, &[("CallStatus", "busy")]);
        assert_eq!(handle(app.clone(), request).await.status().as_u16(), 403);
        assert_eq!(stored(&app).await.state, AttemptState::Dialing);
    }
}
