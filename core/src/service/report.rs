//! The admins' reports from the call records: `stats` (today so far),
//! `who` (on duty now) and the daily [`digest`].

use chrono::{Datelike as _, TimeZone as _, Timelike as _};

use super::call_record;
use super::follow_up::{SMS_TIME, SendError};
use super::worker as workers;
use crate::app::App;
use crate::deadline::Deadline;
use crate::domain::report::{self, texts};
use crate::store::{Marker, Store, StoreError, at_most_once};

/// `stats`: the figures of the local day of `now` (Unix seconds) so far.
pub async fn stats<S: Store>(app: &App<S>, now: i64) -> Result<String, StoreError> {
    let day = call_record::day(app.config.time_zone, now);
    let summary = call_record::summary(&app.store, &day).await?;
    let open = app.store.list_follow_ups().await?.len();
    Ok(texts::stats(&summary, open))
}

/// `who`: the workers on duty now.
pub async fn who<S: Store>(app: &App<S>) -> Result<String, StoreError> {
    Ok(texts::who(&app.store.list_workers().await?))
}

/// What one digest run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestRun {
    /// The local day whose digest is due (`None`: none is yet).
    pub day: Option<String>,
    /// SMS sent in this run (an earlier run's are not sent again).
    pub sent: usize,
    /// SMS that failed; their claims were given back for the next run.
    pub failed: usize,
}

/// Texts the digest of the local day of `now` (Unix seconds) to each admin
/// once that day's digest minute has come (see [`report::digest_minute`]):
/// once per day and admin, so overlapping or repeated runs send nothing
/// twice, and a failed SMS is tried again by the next run.
pub async fn digest<S: Store>(
    app: &App<S>,
    now: i64,
    deadline: Deadline,
) -> Result<DigestRun, StoreError> {
    let config = &app.config;
    let utc = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    let local = config.time_zone.from_utc_datetime(&utc.naive_utc());
    let closing = config
        .business_hours
        .as_ref()
        .and_then(|hours| hours.closing(local.weekday()));
    let minute = local.hour() * 60 + local.minute();
    if report::digest_minute(config.digest_time, closing).is_none_or(|at| minute < at) {
        return Ok(DigestRun::default());
    }
    let day = call_record::day(config.time_zone, now);
    let mut run = DigestRun {
        day: Some(day.clone()),
        ..DigestRun::default()
    };
    // Every minute after the digest's time: read the figures only while
    // someone is still owed them.
    let mut owed = Vec::new();
    for to in &config.admin_numbers {
        if !(Marker::DigestSent { day: &day, to })
            .is_claimed(&app.store)
            .await?
        {
            owed.push(to);
        }
    }
    if owed.is_empty() {
        return Ok(run);
    }
    let summary = call_record::summary(&app.store, &day).await?;
    let open = app.store.list_follow_ups().await?.len();
    let names: Vec<(String, String)> = app
        .store
        .list_workers()
        .await?
        .into_iter()
        .map(|w| (w.phone, w.name))
        .collect();
    let label = local.format("%a %-d %b").to_string();
    let text = texts::digest(&label, &summary, open, &names);
    for to in owed {
        if deadline.remaining() < SMS_TIME {
            // The next minute's run sends the rest.
            break;
        }
        let marker = Marker::DigestSent { day: &day, to };
        let send = async {
            workers::text(app, to, &text, deadline)
                .await
                .map_err(SendError::Twilio)
        };
        match at_most_once(&app.store, &marker, |_| true, send).await {
            Ok(Some(_)) => {
                tracing::info!(day, to, "digest sent");
                run.sent += 1;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(day, to, %error, "digest not sent");
                run.failed += 1;
            }
        }
    }
    Ok(run)
}
