//! `scheduler`: the product's clock. An EventBridge schedule in
//! `template.yaml` invokes it every minute with the standard scheduled-event
//! payload; each run escalates the follow-ups nobody claimed within
//! `FOLLOW_UP_ESCALATE_MINS` to `ADMIN_NUMBERS` (`service::follow_up::escalate`);
//! announces the missed calls of callers who hung up in voicemail without a
//! message once no message can be on its way (`service::follow_up::announce_late`);
//! and, once the day's business hours end (or at `DIGEST_TIME`), texts them
//! the day's digest (`service::report::digest`); and puts workers whose miss
//! cooldown is over back to Available (`service::worker::end_cooldowns`);
//! makes the workers' pending `until`s whose time has come, texting each
//! worker once (`service::worker::make_untils`); at closing time takes
//! everyone still on duty off and tells them, once per worker and closing
//! (`OFF_AT_CLOSE`, `service::worker::off_at_close`); and, during business
//! hours, texts the admins about each skill nobody covers, once per
//! `COVERAGE_ALERT_MINS` (`service::coverage::alert`); and creates the
//! second callback task of each caller the first callback missed
//! `CALLBACK_RETRY_MINS` before, once (`service::callback::retry_due`).
//!
//! Each run is idempotent and bounded: every SMS sits behind a once-marker,
//! so a run that overlaps the next one, or a retried invocation, sends
//! nothing twice; a run stops before its deadline and leaves the rest to
//! the next minute. The run's clock is the event's `time`, so a retry
//! decides as the first try did. Any other event is answered, logged and
//! does nothing.

use std::time::Duration;

use homeline_core::service::{callback, coverage, follow_up, report, worker};
use homeline_core::store::{DynamoStore, Store, StoreError};
use homeline_core::{App, Deadline};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// A run may take this long at most; the function's timeout is longer.
pub const RUN_BUDGET: Duration = Duration::from_secs(40);

pub async fn serve() -> Result<(), lambda_runtime::Error> {
    homeline_core::telemetry::init();
    let app: App<DynamoStore> = App::from_env().await.inspect_err(|error| {
        tracing::error!(%error, "configuration is incomplete; fix the function's environment");
    })?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        let app = app.clone();
        async move {
            // Never past the invocation's own deadline, nor past the budget.
            let remaining = event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            let deadline = Deadline::after(remaining.min(RUN_BUDGET));
            Ok::<_, lambda_runtime::Error>(handle(&app, event.payload.get(), deadline).await)
        }
    }))
    .await
}

/// The time (Unix seconds) of an EventBridge scheduled event, or why the
/// event is not one.
pub fn tick_time(event: &str) -> Result<i64, String> {
    let event: Value = serde_json::from_str(event).map_err(|e| format!("not JSON: {e}"))?;
    let field = |name: &str| event.get(name).and_then(Value::as_str);
    if field("detail-type") != Some("Scheduled Event") || field("source") != Some("aws.events") {
        return Err("not an EventBridge scheduled event".into());
    }
    let time = field("time").ok_or("the event has no time")?;
    chrono::DateTime::parse_from_rfc3339(time)
        .map(|t| t.timestamp())
        .map_err(|e| format!("time {time:?}: {e}"))
}

/// One run: what it did, as the invocation's result (and the log's).
pub async fn handle<S: Store>(app: &App<S>, event: &str, deadline: Deadline) -> Value {
    let now = match tick_time(event) {
        Ok(now) => now,
        Err(reason) => {
            tracing::warn!(%reason, "event ignored");
            return json!({ "ignored": reason });
        }
    };
    // Each job on its own: one failing leaves the other to run. The next
    // minute's run tries a failed one again.
    let escalation = match follow_up::escalate(app, now, deadline).await {
        Ok(run) => {
            tracing::info!(?run, "escalation run");
            json!({
                "due": run.due,
                "sent": run.sent,
                "failed": run.failed,
                "cut_short": run.cut_short,
            })
        }
        Err(error) => {
            tracing::error!(%error, "escalation not run");
            json!({ "error": error.to_string() })
        }
    };
    let late_announcements = match follow_up::announce_late(app, now, deadline).await {
        Ok(run) => {
            tracing::info!(?run, "late announcements run");
            json!({ "due": run.due, "failed": run.failed })
        }
        Err(error) => {
            tracing::error!(%error, "late announcements not run");
            json!({ "error": error.to_string() })
        }
    };
    let digest = match report::digest(app, now, deadline).await {
        Ok(run) => {
            tracing::info!(?run, "digest run");
            json!({ "day": run.day, "sent": run.sent, "failed": run.failed })
        }
        Err(error) => {
            tracing::error!(%error, "digest not run");
            json!({ "error": error.to_string() })
        }
    };
    let cooldowns = sweep("cooldowns", worker::end_cooldowns(app, now, deadline).await);
    // Before closing: an `on … until` due at the closing minute is told
    // once, as asked, and closing finds them off.
    let untils = sweep("untils", worker::make_untils(app, now, deadline).await);
    let off_at_close = sweep(
        "off at close",
        worker::off_at_close(app, now, deadline).await,
    );
    // After the duty jobs: a worker back this minute covers their skills.
    let coverage = match coverage::alert(app, now, deadline).await {
        Ok(run) => {
            tracing::info!(?run, "coverage run");
            json!({
                "uncovered": run.uncovered,
                "sent": run.sent,
                "failed": run.failed,
                "cut_short": run.cut_short,
            })
        }
        Err(error) => {
            tracing::error!(%error, "coverage not checked");
            json!({ "error": error.to_string() })
        }
    };
    let callbacks = match callback::retry_due(app, now, deadline).await {
        Ok(run) => {
            tracing::info!(?run, "callback retry run");
            json!({ "retried": run.retried, "failed": run.failed })
        }
        Err(error) => {
            tracing::error!(%error, "callback retries not run");
            json!({ "error": error.to_string() })
        }
    };
    json!({
        "escalation": escalation,
        "late_announcements": late_announcements,
        "callbacks": callbacks,
        "digest": digest,
        "cooldowns": cooldowns,
        "untils": untils,
        "off_at_close": off_at_close,
        "coverage": coverage,
    })
}

/// A job over worker profiles, as the report shows it; the next run
/// retries a failure.
fn sweep(job: &str, result: Result<worker::Sweep, StoreError>) -> Value {
    match result {
        Ok(run) => {
            tracing::info!(?run, job, "profiles swept");
            json!({
                "due": run.due,
                "moved": run.moved,
                "failed": run.failed,
                "cut_short": run.cut_short,
            })
        }
        Err(error) => {
            tracing::error!(%error, job, "profiles not swept");
            json!({ "error": error.to_string() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_scheduled_event_is_a_tick() {
        let tick = r#"{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-12-03T17:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/homeline-scheduler"],"detail":{}}"#;
        assert_eq!(tick_time(tick), Ok(1_796_317_200));
        for odd in [
            "",
            "[]",
            "null",
            r#"{"detail-type":"Scheduled Event","source":"aws.events"}"#,
            r#"{"detail-type":"Scheduled Event","source":"aws.events","time":"noon"}"#,
            r#"{"detail-type":"Object Created","source":"aws.s3","time":"2026-12-03T17:00:00Z"}"#,
            r#"{"requestContext":{},"rawPath":"/inbound"}"#,
        ] {
            assert!(tick_time(odd).is_err(), "{odd}");
        }
    }
}
