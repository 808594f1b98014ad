//! The coverage guard's job: every scheduler run, during business hours,
//! texts `ADMIN_NUMBERS` about each menu skill nobody covers, once per
//! `COVERAGE_ALERT_MINS` window and admin (`domain::coverage` decides).

use super::call_record;
use super::follow_up::{SMS_TIME, SendError};
use super::worker as workers;
use crate::app::App;
use crate::deadline::Deadline;
use crate::domain::coverage;
use crate::store::{Marker, Store, StoreError, at_most_once};

/// What one coverage run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageRun {
    /// Menu skills nobody covered (empty when the line is closed or alerts are off).
    pub uncovered: Vec<String>,
    /// SMS sent in this run (an earlier run's are not sent again).
    pub sent: usize,
    /// SMS that failed; their claims were given back for the next run.
    pub failed: usize,
    /// The deadline came first; the next run sends the rest.
    pub cut_short: bool,
}

/// Alerts the admins about the skills nobody covers at `now` (Unix seconds).
/// Without `BUSINESS_HOURS` there is no time anyone is expected on duty, so
/// no alert is sent.
pub async fn alert<S: Store>(
    app: &App<S>,
    now: i64,
    deadline: Deadline,
) -> Result<CoverageRun, StoreError> {
    let config = &app.config;
    let open = config
        .business_hours
        .as_ref()
        .is_some_and(|hours| hours.is_open_at(now));
    let Some(window) = coverage::window(open, config.coverage_alert_mins, now) else {
        return Ok(CoverageRun::default());
    };
    let profiles = app.store.list_workers().await?;
    let skills = coverage::uncovered(&config.skills, &profiles, now);
    let mut run = CoverageRun {
        uncovered: skills.iter().map(|s| s.to_string()).collect(),
        ..CoverageRun::default()
    };
    if skills.is_empty() || config.admin_numbers.is_empty() {
        return Ok(run);
    }
    let since = coverage::counted_since(config.coverage_alert_mins, window);
    // The window before may have begun yesterday (local): read both days.
    let mut records = Vec::new();
    for day in call_record::days_until(config.time_zone, now, 2) {
        records.extend(app.store.list_call_records(&day).await?);
    }
    for skill in skills {
        let callers = coverage::sent_to_voicemail(&records, skill, since);
        let text = coverage::alert_text(skill, &callers);
        for to in &config.admin_numbers {
            let marker = Marker::CoverageAlerted { skill, window, to };
            if marker.is_claimed(&app.store).await? {
                continue;
            }
            if deadline.remaining() < SMS_TIME {
                run.cut_short = true;
                return Ok(run);
            }
            let send = async {
                workers::text(app, to, &text, deadline)
                    .await
                    .map_err(SendError::Twilio)
            };
            match at_most_once(&app.store, &marker, |_| true, send).await {
                Ok(Some(_)) => {
                    tracing::info!(skill, to, "coverage alert sent");
                    run.sent += 1;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(skill, to, %error, "coverage alert not sent");
                    run.failed += 1;
                }
            }
        }
    }
    Ok(run)
}
