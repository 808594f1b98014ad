//! TaskRouter workspace events: what each one asks of Homeline.

use crate::model::Activity;

/// How a reservation ended without a decision on the worker's leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationEnd {
    Canceled,
    Timeout,
    Rescinded,
}

impl ReservationEnd {
    /// Written as the attempt's outcome; `timeout` is also the miss reason.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationEnd::Canceled => "reservation-canceled",
            ReservationEnd::Timeout => "timeout",
            ReservationEnd::Rescinded => "reservation-rescinded",
        }
    }
}

/// A workspace event, reduced to what Homeline acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRouterEvent {
    /// The task reached the queue nobody serves, or its workflow gave up:
    /// send the caller to voicemail, then cancel the task.
    NobodyAvailable {
        task_sid: String,
        /// TaskAttributes `call_sid`: the caller's call.
        call_sid: Option<String>,
        /// TaskAttributes `skill`.
        skill: Option<String>,
    },
    /// The task is gone: close every open attempt. Unless the caller hung
    /// up, they may still wait in the queue (TaskRouter cancels tasks for
    /// other reasons, e.g. the max assignment count): send them to voicemail.
    TaskCanceled {
        task_sid: String,
        /// The caller still to send to voicemail (`None`: they hung up).
        waiting: Option<WaitingCaller>,
    },
    /// The call ended and the task is wrapping up: complete it, so it no
    /// longer holds the worker's capacity.
    TaskWrapup { task_sid: String },
    /// One reservation is over: close its attempt if still open.
    ReservationEnded {
        task_sid: String,
        reservation_sid: String,
        end: ReservationEnd,
    },
    /// A worker's activity changed in TaskRouter.
    WorkerActivity {
        worker_sid: String,
        /// WorkerAttributes `contact_uri` in E.164: the profile's key.
        phone: Option<String>,
        /// `None` for an activity Homeline does not know.
        activity: Option<Activity>,
    },
    /// An event Homeline has no use for.
    Ignored { event_type: String },
}

/// The caller of a task, from its TaskAttributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingCaller {
    /// `call_sid`: the caller's call.
    pub call_sid: String,
    /// `skill`: whose voicemail they reach.
    pub skill: Option<String>,
}

/// `TaskCanceledReason` of a task canceled because its caller hung up (the
/// only value Twilio's docs show; docs/twilio.md, "Tasks canceled by
/// TaskRouter").
const CALLER_HUNG_UP: &str = "hangup";

/// A required event parameter is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event_type} lacks {param}")]
pub struct MissingParam {
    pub event_type: String,
    pub param: &'static str,
}

/// Classifies an event from its form parameters (`param` looks one up;
/// `activity_of` names the activity of a TaskRouter activity SID).
pub fn classify<'a>(
    param: impl Fn(&str) -> Option<&'a str>,
    no_worker_queue_sid: &str,
    activity_of: impl Fn(&str) -> Option<Activity>,
) -> Result<TaskRouterEvent, MissingParam> {
    let event_type = param("EventType").unwrap_or_default().to_string();
    let require = |name: &'static str| {
        param(name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| MissingParam {
                event_type: event_type.clone(),
                param: name,
            })
    };
    let event = match event_type.as_str() {
        // A target's timeout may move the task to the nobody queue with
        // `.moved` alone (docs/twilio.md, "Queue moved vs entered").
        "task-queue.entered" | "task-queue.moved"
            if param("TaskQueueSid") != Some(no_worker_queue_sid) =>
        {
            TaskRouterEvent::Ignored { event_type }
        }
        "task-queue.entered" | "task-queue.moved" | "workflow.timeout" => {
            let attributes = json_object(param("TaskAttributes"));
            TaskRouterEvent::NobodyAvailable {
                task_sid: require("TaskSid")?,
                call_sid: string_field(&attributes, "call_sid"),
                skill: string_field(&attributes, "skill"),
            }
        }
        "task.canceled" => {
            let attributes = json_object(param("TaskAttributes"));
            let waiting = string_field(&attributes, "call_sid")
                .filter(|_| param("TaskCanceledReason") != Some(CALLER_HUNG_UP))
                .map(|call_sid| WaitingCaller {
                    call_sid,
                    skill: string_field(&attributes, "skill"),
                });
            TaskRouterEvent::TaskCanceled {
                task_sid: require("TaskSid")?,
                waiting,
            }
        }
        "task.wrapup" => TaskRouterEvent::TaskWrapup {
            task_sid: require("TaskSid")?,
        },
        "reservation.canceled" | "reservation.timeout" | "reservation.rescinded" => {
            let end = match event_type.as_str() {
                "reservation.canceled" => ReservationEnd::Canceled,
                "reservation.timeout" => ReservationEnd::Timeout,
                _ => ReservationEnd::Rescinded,
            };
            TaskRouterEvent::ReservationEnded {
                task_sid: require("TaskSid")?,
                reservation_sid: require("ReservationSid")?,
                end,
            }
        }
        "worker.activity.update" => {
            let attributes = json_object(param("WorkerAttributes"));
            let activity_sid = require("WorkerActivitySid")?;
            TaskRouterEvent::WorkerActivity {
                worker_sid: require("WorkerSid")?,
                phone: string_field(&attributes, "contact_uri").and_then(|uri| contact_phone(&uri)),
                activity: activity_of(&activity_sid),
            }
        }
        _ => TaskRouterEvent::Ignored { event_type },
    };
    Ok(event)
}

/// `+15551234567` or `tel:+15551234567` as E.164; anything else (a SIP
/// address, a client name) is no enrolled phone.
fn contact_phone(uri: &str) -> Option<String> {
    crate::phone::normalize(uri.strip_prefix("tel:").unwrap_or(uri)).ok()
}

/// TaskRouter sends attributes as a JSON string; anything else reads as `{}`.
fn json_object(raw: Option<&str>) -> serde_json::Value {
    raw.and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| serde_json::json!({}))
}

fn string_field(object: &serde_json::Value, name: &str) -> Option<String> {
    object
        .get(name)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOBODY: &str = "WQ0000000000000000000000000000000f";

    fn activity_of(sid: &str) -> Option<Activity> {
        match sid {
            "WA1" => Some(Activity::Available),
            "WA2" => Some(Activity::Offline),
            "WA3" => Some(Activity::Unavailable),
            _ => None,
        }
    }

    fn classify_pairs(pairs: &[(&str, &str)]) -> Result<TaskRouterEvent, MissingParam> {
        let lookup = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        classify(lookup, NOBODY, activity_of)
    }

    #[test]
    fn nobody_queue_entered_and_workflow_timeout_mean_voicemail() {
        let attrs = r#"{"skill":"sales","call_sid":"CA1","from":"+15551230000"}"#;
        let expected = TaskRouterEvent::NobodyAvailable {
            task_sid: "WT1".into(),
            call_sid: Some("CA1".into()),
            skill: Some("sales".into()),
        };
        let entered = classify_pairs(&[
            ("EventType", "task-queue.entered"),
            ("TaskQueueSid", NOBODY),
            ("TaskSid", "WT1"),
            ("TaskAttributes", attrs),
        ]);
        assert_eq!(entered, Ok(expected.clone()));
        let timeout = classify_pairs(&[
            ("EventType", "workflow.timeout"),
            ("TaskSid", "WT1"),
            ("TaskAttributes", attrs),
        ]);
        assert_eq!(timeout, Ok(expected));
    }

    #[test]
    fn a_move_to_the_nobody_queue_means_voicemail_like_entering_it() {
        let moved = classify_pairs(&[
            ("EventType", "task-queue.moved"),
            ("TaskQueueSid", NOBODY),
            ("TaskSid", "WT1"),
            ("TaskAttributes", r#"{"skill":"sales","call_sid":"CA1"}"#),
        ]);
        assert_eq!(
            moved,
            Ok(TaskRouterEvent::NobodyAvailable {
                task_sid: "WT1".into(),
                call_sid: Some("CA1".into()),
                skill: Some("sales".into()),
            })
        );
    }

    #[test]
    fn entering_or_moving_to_a_staffed_queue_is_ignored() {
        for event_type in ["task-queue.entered", "task-queue.moved"] {
            let event = classify_pairs(&[
                ("EventType", event_type),
                ("TaskQueueSid", "WQ00000000000000000000000000000001"),
                ("TaskSid", "WT1"),
            ]);
            assert!(
                matches!(event, Ok(TaskRouterEvent::Ignored { .. })),
                "{event_type}"
            );
        }
    }

    #[test]
    fn a_task_canceled_but_by_the_caller_hanging_up_leaves_a_caller_waiting() {
        let attrs = r#"{"skill":"sales","call_sid":"CA1"}"#;
        let canceled = |reason: Option<&str>| {
            let mut pairs = vec![
                ("EventType", "task.canceled"),
                ("TaskSid", "WT1"),
                ("TaskAttributes", attrs),
            ];
            pairs.extend(reason.map(|r| ("TaskCanceledReason", r)));
            classify_pairs(&pairs)
        };
        let waiting = Some(WaitingCaller {
            call_sid: "CA1".into(),
            skill: Some("sales".into()),
        });
        for reason in [Some("Task reached its max assignment count"), None] {
            assert_eq!(
                canceled(reason),
                Ok(TaskRouterEvent::TaskCanceled {
                    task_sid: "WT1".into(),
                    waiting: waiting.clone(),
                }),
                "{reason:?}"
            );
        }
        assert_eq!(
            canceled(Some("hangup")),
            Ok(TaskRouterEvent::TaskCanceled {
                task_sid: "WT1".into(),
                waiting: None,
            })
        );
    }

    #[test]
    fn a_wrapping_task_is_to_be_completed() {
        assert_eq!(
            classify_pairs(&[("EventType", "task.wrapup"), ("TaskSid", "WT1")]),
            Ok(TaskRouterEvent::TaskWrapup {
                task_sid: "WT1".into()
            })
        );
    }

    #[test]
    fn reservation_endings_need_task_and_reservation() {
        let event = classify_pairs(&[
            ("EventType", "reservation.timeout"),
            ("TaskSid", "WT1"),
            ("ReservationSid", "WR1"),
        ]);
        assert_eq!(
            event,
            Ok(TaskRouterEvent::ReservationEnded {
                task_sid: "WT1".into(),
                reservation_sid: "WR1".into(),
                end: ReservationEnd::Timeout,
            })
        );
        let missing = classify_pairs(&[("EventType", "reservation.rescinded"), ("TaskSid", "WT1")]);
        assert_eq!(
            missing.map_err(|e| e.param),
            Err("ReservationSid"),
            "a reservation event without its SID is a bad request"
        );
    }

    #[test]
    fn worker_activity_maps_known_activities_only() {
        let event = classify_pairs(&[
            ("EventType", "worker.activity.update"),
            ("WorkerSid", "WK1"),
            ("WorkerActivitySid", "WA3"),
            (
                "WorkerAttributes",
                r#"{"contact_uri":"+15550001111","skills":["sales"]}"#,
            ),
        ]);
        assert_eq!(
            event,
            Ok(TaskRouterEvent::WorkerActivity {
                worker_sid: "WK1".into(),
                phone: Some("+15550001111".into()),
                activity: Some(Activity::Unavailable),
            })
        );
        let unknown = classify_pairs(&[
            ("EventType", "worker.activity.update"),
            ("WorkerSid", "WK1"),
            ("WorkerActivitySid", "WA9"),
            ("WorkerAttributes", "not json"),
        ]);
        assert_eq!(
            unknown,
            Ok(TaskRouterEvent::WorkerActivity {
                worker_sid: "WK1".into(),
                phone: None,
                activity: None,
            })
        );
    }

    #[test]
    fn contact_uris_become_profile_keys() {
        assert_eq!(
            contact_phone("tel:+15550001111").as_deref(),
            Some("+15550001111")
        );
        assert_eq!(
            contact_phone("+15550001111").as_deref(),
            Some("+15550001111")
        );
        assert_eq!(contact_phone("sip:ann@example.com"), None);
        assert_eq!(contact_phone("client:ann"), None);
    }

    #[test]
    fn unknown_events_are_ignored() {
        assert_eq!(
            classify_pairs(&[("EventType", "reservation.created")]),
            Ok(TaskRouterEvent::Ignored {
                event_type: "reservation.created".into()
            })
        );
    }
}
