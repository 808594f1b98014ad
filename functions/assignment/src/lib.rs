//! `assignment`: TaskRouter's assignment callback. Records the attempt, rings
//! the worker's phone with answering machine detection and answers `{}` at
//! once, leaving the reservation pending; the worker leg's webhooks
//! (`amd-result`, `dial-status`) settle it.
//!
//! The phone is WorkerAttributes `contact_uri`; without one, the profile whose
//! `worker_sid` is the offered worker (profiles are keyed by phone, so this
//! lists the roster: fine for a small business, and only a fallback).

use homeline_core::App;
use homeline_core::domain::attempt::{Customer, dialing};
use homeline_core::domain::returning::LAST_WORKER_ATTRIBUTE;
use homeline_core::http::{self, Rejection, TwilioRequest};
use homeline_core::model::{Attempt, CallToken, TaskKind};
use homeline_core::phone;
use homeline_core::routes::Budget;
use homeline_core::service::{self, attempt::Answer};
use homeline_core::store::{Store, now_secs};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

pub async fn handle<S: Store>(app: App<S>, event: Request) -> Response<Body> {
    let deadline = Budget::Assignment.deadline();
    let request = match http::verified(&event, &app.config) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    let offer = match Offer::parse(&request) {
        Ok(offer) => offer,
        Err(rejection) => return rejection.into_response(),
    };
    let phone = match offer.contact_phone.clone() {
        Some(phone) => Some(phone),
        None => service::worker::phone_of(&app, &offer.worker_sid).await,
    };
    let now = now_secs();
    let attempt = Attempt {
        // Remembered when the worker answers (returning callers).
        caller: offer.customer.number.clone(),
        returning: offer.returning,
        // The answer's wait runs from here (the wait estimate).
        queued_at: offer.task_age_secs.map(|age| now.saturating_sub(age)),
        kind: offer.kind.clone(),
        ..dialing(
            &offer.reservation_sid,
            &offer.task_sid,
            &offer.worker_sid,
            phone.as_deref().unwrap_or_default(),
            &offer.skill,
            offer.caller_call_sid,
            now,
        )
    };
    match service::attempt::offer(&app, attempt, offer.customer, deadline).await {
        Answer::Pending => http::json(&json!({})),
        Answer::Reject(activity) => reject(service::activity_sid(&app.config.activities, activity)),
    }
}

/// The assignment callback's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub reservation_sid: String,
    pub task_sid: String,
    pub worker_sid: String,
    /// WorkerAttributes `contact_uri` (E.164; `tel:` allowed), when valid.
    pub contact_phone: Option<String>,
    pub skill: String,
    /// TaskAttributes `call_sid`: the caller's call.
    pub caller_call_sid: Option<String>,
    /// TaskAttributes `last_worker_sid` names this worker: the caller is
    /// theirs from a recent call (returning callers).
    pub returning: bool,
    /// TaskAttributes `from` (TaskRouter's, the caller's number) and
    /// `call_token` (inbound's, under `WORKER_CALLER_ID=caller`).
    pub customer: Customer,
    /// `TaskAge`: seconds since the task was created, when readable.
    pub task_age_secs: Option<i64>,
    /// A waiting caller, or a callback (TaskAttributes `type` and the rest
    /// `service::callback` wrote).
    pub kind: TaskKind,
}

impl Offer {
    pub fn parse(request: &TwilioRequest) -> Result<Self, Rejection> {
        let worker = json_param(request, "WorkerAttributes");
        let task = json_param(request, "TaskAttributes");
        let text = |v: &Value, key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let worker_sid = request.require("WorkerSid")?.to_string();
        Ok(Self {
            reservation_sid: request.require("ReservationSid")?.to_string(),
            task_sid: request.require("TaskSid")?.to_string(),
            returning: text(&task, LAST_WORKER_ATTRIBUTE).is_some_and(|last| last == worker_sid),
            worker_sid,
            contact_phone: text(&worker, "contact_uri")
                .and_then(|uri| phone::normalize(uri.strip_prefix("tel:").unwrap_or(&uri)).ok()),
            skill: text(&task, "skill").unwrap_or_else(|| "a customer".to_string()),
            caller_call_sid: text(&task, "call_sid"),
            kind: service::callback::kind_of(&task),
            customer: Customer {
                number: text(&task, "from"),
                call_token: text(&task, "call_token")
                    .as_deref()
                    .and_then(CallToken::parse),
            },
            task_age_secs: request
                .param("TaskAge")
                .and_then(|age| age.trim().parse::<i64>().ok())
                .filter(|age| *age >= 0),
        })
    }
}

/// A JSON attribute string; missing or malformed reads as `{}` (the fields
/// that matter are checked one by one).
fn json_param(request: &TwilioRequest, name: &str) -> Value {
    request
        .param(name)
        .and_then(|raw| serde_json::from_str(raw).ok())
        .unwrap_or_else(|| json!({}))
}

fn reject(activity_sid: &str) -> Response<Body> {
    http::json(&json!({"instruction": "reject", "activity_sid": activity_sid}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeline_core::model::{Attempt, AttemptState, WorkerProfile};
    use homeline_core::service::attempt::new_call;
    use homeline_core::service::worker::phone_of;
    use homeline_core::store::{AttemptStore, MemoryStore, WorkerStore};
    use homeline_core::twilio::{MachineDetection, NewCall};
    use std::time::Duration;
    use testkit::events::{badly_signed_form_request, body_text, form_request};
    use testkit::{ACTIVITY_OFFLINE, CALLER_ID, sid, test_config};

    fn params(worker_attributes: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AccountSid", testkit::ACCOUNT_SID.to_string()),
            ("WorkspaceSid", testkit::WORKSPACE_SID.to_string()),
            ("ReservationSid", sid("WR", 1)),
            ("TaskSid", sid("WT", 1)),
            ("WorkerSid", sid("WK", 1)),
            ("WorkerAttributes", worker_attributes.to_string()),
            (
                "TaskAttributes",
                format!(r#"{{"skill":"sales","call_sid":"{}"}}"#, sid("CA", 9)),
            ),
            ("TaskAge", "30".to_string()),
        ]
    }

    /// The attempt the callback recorded.
    async fn stored(app: &App<MemoryStore>) -> Attempt {
        app.store
            .get_attempt(&sid("WT", 1), &sid("WR", 1))
            .await
            .expect("test setup")
            .expect("recorded")
    }

    fn request(worker_attributes: &str) -> Request {
        let owned = params(worker_attributes);
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form_request("/assignment", &[], &pairs)
    }

    fn sample() -> Attempt {
        let (wr, wt, wk) = (sid("WR", 1), sid("WT", 1), sid("WK", 1));
        dialing(&wr, &wt, &wk, "+15551230001", "sales", None, 1)
    }

    fn app(mode: &str) -> App<MemoryStore> {
        App::new(test_config(&[("ANSWER_MODE", mode)]), MemoryStore::new())
    }

    #[tokio::test]
    async fn no_phone_rejects_with_the_offline_activity_and_counts_a_miss() {
        let app = app("hybrid");
        let response = handle(app.clone(), request(r#"{"skills":["sales"]}"#)).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.headers()["content-type"]
                .to_str()
                .expect("test setup"),
            "application/json"
        );
        let body: Value = serde_json::from_str(&body_text(&response)).expect("test setup");
        assert_eq!(
            body,
            json!({"instruction": "reject", "activity_sid": ACTIVITY_OFFLINE})
        );
        let attempt = stored(&app).await;
        assert_eq!(attempt.state, AttemptState::Missed);
        assert_eq!(attempt.outcome.as_deref(), Some("no-phone"));
        assert_eq!(attempt.caller_call_sid, Some(sid("CA", 9)));
    }

    /// A state store that cannot be reached (nothing listens on port 9):
    /// the attempt cannot be recorded, the worker must still go off duty (no
    /// cooldown can be stored), or every worker is offered the task again
    /// and again while it lasts.
    #[tokio::test]
    async fn a_store_outage_rejects_with_the_offline_activity() {
        let store = homeline_core::store::DynamoStore::local("http://127.0.0.1:9", "outage");
        let app = App::new(test_config(&[]), store);
        let response = handle(app, request(r#"{"contact_uri":"+15551230001"}"#)).await;
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = serde_json::from_str(&body_text(&response)).expect("test setup");
        assert_eq!(
            body,
            json!({"instruction": "reject", "activity_sid": ACTIVITY_OFFLINE})
        );
    }

    #[tokio::test]
    async fn a_repeated_callback_answers_empty_without_calling_again() {
        // The client points at a closed port: any Twilio request would fail
        // and turn the answer into a reject.
        let app = app("hybrid");
        let first = Attempt {
            call_sid: Some(sid("CA", 1)),
            state: AttemptState::Answered,
            ..sample()
        };
        assert!(
            app.store
                .create_attempt(&first)
                .await
                .expect("test setup")
                .applied()
        );
        let response = handle(app.clone(), request(r#"{"contact_uri":"+15551230001"}"#)).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(body_text(&response), "{}");
        let stored = app
            .store
            .get_attempt(&sid("WT", 1), &sid("WR", 1))
            .await
            .expect("test setup");
        assert_eq!(stored, Some(first));
    }

    #[tokio::test]
    async fn the_task_s_age_dates_the_caller_s_queueing() {
        let app = app("hybrid");
        let now = 1_796_317_200;
        let offer = handle(app.clone(), request(r#"{"contact_uri":"+15551230001"}"#));
        homeline_core::store::at_instant(now, offer).await;
        assert_eq!(stored(&app).await.queued_at, Some(now - 30), "TaskAge 30");
    }

    #[tokio::test]
    async fn bad_signature_is_403_and_writes_nothing() {
        let app = app("hybrid");
        let owned = params(r#"{"contact_uri":"+15551230001"}"#);
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = handle(
            app.clone(),
            badly_signed_form_request("/assignment", &[], &pairs),
        )
        .await;
        assert_eq!(response.status().as_u16(), 403);
        assert!(
            app.store
                .list_attempts(&sid("WT", 1))
                .await
                .expect("test setup")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn missing_reservation_is_400() {
        let app = app("hybrid");
        let response = handle(
            app.clone(),
            form_request("/assignment", &[], &[("TaskSid", &sid("WT", 1))]),
        )
        .await;
        assert_eq!(response.status().as_u16(), 400);
    }

    #[tokio::test]
    async fn the_phone_falls_back_to_the_profile_of_the_worker() {
        let app = app("hybrid");
        let mut profile = WorkerProfile::new("+15551230002", "Bo", vec!["sales".into()]);
        profile.worker_sid = Some(sid("WK", 1));
        assert!(
            app.store
                .put_worker(&profile)
                .await
                .expect("test setup")
                .applied()
        );
        assert_eq!(
            phone_of(&app, &sid("WK", 1)).await.as_deref(),
            Some("+15551230002")
        );
        assert_eq!(phone_of(&app, &sid("WK", 2)).await, None);
    }

    /// By default the phone gives up (ring + AMD + the press-1 prompt) well
    /// before TaskRouter's default 120 s reservation timeout (docs/twilio.md,
    /// "Pitfall: ring time vs reservation timeout").
    #[test]
    fn the_worker_leg_ends_before_the_reservation_times_out() {
        let config = test_config(&[]);
        let leg = config.ring_timeout + config.amd_timeout + config.press1_timeout;
        assert!(leg < Duration::from_secs(60), "{leg:?}");
    }

    #[test]
    fn offer_reads_contact_uri_and_task_attributes() {
        let owned = params(r#"{"contact_uri":"tel:+1 (555) 123-0001"}"#);
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let request =
            TwilioRequest::parse(&form_request("/assignment", &[], &pairs)).expect("test setup");
        let offer = Offer::parse(&request).expect("test setup");
        assert_eq!(offer.contact_phone.as_deref(), Some("+15551230001"));
        assert_eq!(offer.skill, "sales");
        assert_eq!(offer.caller_call_sid, Some(sid("CA", 9)));
        for bad in ["not json", r#"{"contact_uri":"client:ann"}"#, "{}"] {
            let owned = params(bad);
            let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let request = TwilioRequest::parse(&form_request("/assignment", &[], &pairs))
                .expect("test setup");
            assert_eq!(
                Offer::parse(&request).expect("test setup").contact_phone,
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn the_customer_and_their_call_token_are_read_from_the_task_and_never_printed() {
        let mut owned = params("{}");
        owned.retain(|(k, _)| *k != "TaskAttributes");
        owned.push((
            "TaskAttributes",
            r#"{"skill":"sales","from":"+15557654321","call_token":"tok-9c1d-distinct"}"#.into(),
        ));
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let request =
            TwilioRequest::parse(&form_request("/assignment", &[], &pairs)).expect("test setup");
        let offer = Offer::parse(&request).expect("test setup");
        assert_eq!(offer.customer.number.as_deref(), Some("+15557654321"));
        assert_eq!(
            offer.customer.call_token.as_ref().map(CallToken::expose),
            Some("tok-9c1d-distinct")
        );
        assert!(!format!("{offer:?}").contains("tok-9c1d"), "{offer:?}");
    }

    #[test]
    fn the_call_carries_the_signed_leg_urls_and_amd() {
        let attempt = sample();
        let q = format!("TaskSid={}&ReservationSid={}", sid("WT", 1), sid("WR", 1));
        let base = testkit::PUBLIC_BASE_URL;
        let hybrid = new_call(&test_config(&[]), &attempt);
        assert_eq!(
            hybrid,
            NewCall {
                to: "+15551230001".into(),
                from: CALLER_ID.into(),
                url: format!("{base}/amd-result?{q}"),
                status_callback: format!("{base}/dial-status?{q}"),
                status_callback_events: Vec::new(),
                timeout_secs: 20,
                machine_detection: Some(MachineDetection {
                    mode: "Enable",
                    timeout_secs: 5,
                    async_callback: Some(format!("{base}/amd-result/verdict?{q}")),
                }),
                call_token: None,
            }
        );
        let sync = new_call(&test_config(&[("ANSWER_MODE", "sync")]), &attempt);
        assert_eq!(
            sync.machine_detection.expect("test setup").async_callback,
            None
        );
    }
}
