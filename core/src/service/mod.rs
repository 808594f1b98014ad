//! The service layer: each function of Homeline parses its request, calls a
//! service here, and renders what comes back. A service reads the state a
//! decision needs, asks the pure domain, performs the one write that decision
//! makes, and carries out its intents through the Twilio client.
//!
//! Each state machine has one executor: [`attempt::execute`] is the only
//! writer of attempts, [`worker::apply`] the only writer of worker profiles,
//! [`follow_up`] the only writer of follow-ups, [`call_record`] of call records.
//! The domain names activities and leg stops; the translations into
//! TaskRouter SIDs and REST updates are here.

pub mod attempt;
pub mod blocklist;
pub mod call_record;
pub mod callback;
pub mod caller;
pub mod coverage;
pub mod estimate;
pub mod follow_up;
pub mod report;
pub mod returning;
pub mod task;
pub mod worker;

use crate::config::{Activities, Config};
use crate::domain::attempt::LegStop;
use crate::domain::inbound::GENERAL_MAILBOX;
use crate::domain::worker::MoveWorker;
use crate::model::Activity;
use crate::routes::paths;
use crate::twilio::{CallUpdate, WorkerUpdate};

/// The TaskRouter activity SID of `activity`.
pub fn activity_sid(activities: &Activities, activity: Activity) -> &str {
    match activity {
        Activity::Available => &activities.available,
        Activity::Offline => &activities.offline,
        Activity::Unavailable => &activities.unavailable,
    }
}

/// The activity a TaskRouter activity SID stands for, if Homeline knows it.
pub fn activity_of(activities: &Activities, activity_sid: &str) -> Option<Activity> {
    [
        Activity::Available,
        Activity::Offline,
        Activity::Unavailable,
    ]
    .into_iter()
    .find(|a| self::activity_sid(activities, *a) == activity_sid)
}

/// The Workers update that moves a worker (`activity_sid` is the SID of
/// `move_to.activity`); attributes (skills) are kept.
pub fn worker_update(move_to: MoveWorker, activity_sid: &str) -> WorkerUpdate {
    WorkerUpdate {
        activity_sid: Some(activity_sid.to_string()),
        attributes: None,
        reject_pending_reservations: move_to.reject_pending,
    }
}

/// The mailbox of a task's `skill`: its own when the skill is configured,
/// else the general one.
pub fn mailbox(config: &Config, skill: Option<String>) -> String {
    skill
        .filter(|s| config.has_skill(s))
        .unwrap_or_else(|| GENERAL_MAILBOX.to_string())
}

/// Where a caller nobody can take is redirected: `inbound`'s voicemail
/// prompt for `mailbox`.
pub fn voicemail_url(config: &Config, mailbox: &str) -> String {
    let query = serde_urlencoded::to_string([("skill", mailbox)]).unwrap_or_default();
    config.url(&format!("{}?{query}", paths::INBOUND_VOICEMAIL))
}

/// Where a caller who pressed 1 while waiting is redirected: `inbound`'s
/// question about the number to call back, for `skill`.
pub fn callback_url(config: &Config, skill: &str) -> String {
    let query = serde_urlencoded::to_string([("skill", skill)]).unwrap_or_default();
    config.url(&format!("{}?{query}", paths::INBOUND_CALLBACK))
}

/// The Calls update that stops a leg.
pub fn call_update(stop: LegStop) -> CallUpdate {
    match stop {
        LegStop::Cancel => CallUpdate::Cancel,
        LegStop::Complete => CallUpdate::Complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::worker::OFF_DUTY;

    #[test]
    fn activities_map_both_ways() {
        let activities = Activities {
            available: "WA1".into(),
            offline: "WA2".into(),
            unavailable: "WA3".into(),
        };
        for activity in [
            Activity::Available,
            Activity::Offline,
            Activity::Unavailable,
        ] {
            let sid = activity_sid(&activities, activity);
            assert_eq!(activity_of(&activities, sid), Some(activity));
        }
        assert_eq!(activity_of(&activities, "WA9"), None);
    }

    #[test]
    fn going_off_duty_keeps_the_attributes() {
        let update = worker_update(OFF_DUTY, "WA5");
        assert_eq!(update.activity_sid.as_deref(), Some("WA5"));
        assert!(update.reject_pending_reservations);
        assert_eq!(update.attributes, None, "attributes (skills) are kept");
    }

    #[test]
    fn ringing_legs_are_canceled_answered_ones_hung_up() {
        assert_eq!(call_update(LegStop::Cancel), CallUpdate::Cancel);
        assert_eq!(call_update(LegStop::Complete), CallUpdate::Complete);
    }
}
