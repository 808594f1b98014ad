//! A minimal TaskRouter: workers, activities, the workflow of TWILIO.md
//! section 7, tasks, reservations and the events they raise. Pure state: each
//! operation returns [`Effects`] (event callbacks, assignment callbacks,
//! timers) that the simulator delivers.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{Ms, Readings};

/// `TaskCanceledReason` of a task that reached the max assignment count (the
/// value list is not documented: any reason but `hangup` will do).
pub const MAX_ASSIGNMENTS_REASON: &str = "Task reached its max assignment count";

/// Workflow and workspace settings (Twilio's defaults unless a test changes them).
#[derive(Debug, Clone)]
pub struct Settings {
    pub workspace_sid: String,
    pub workflow_sid: String,
    pub account_sid: String,
    /// `(sid, name, available)`.
    pub activities: Vec<(String, String, bool)>,
    pub available_activity: String,
    pub offline_activity: String,
    /// Where a worker goes when a reservation times out (TimeoutActivitySid).
    pub timeout_activity: String,
    pub skills: Vec<String>,
    pub no_worker_queue_sid: String,
    /// The workflow's configuration as `homeline provision` writes it
    /// (`crate::taskrouter_settings`): every task is routed by its filters
    /// and targets, so the stand-in waits, skips and times out as the
    /// deployed workflow does.
    pub workflow: Value,
    /// TaskReservationTimeout.
    pub reservation_timeout_ms: Ms,
    /// The max assignment count: a task offered this often is flagged as a
    /// loop and, unless [`Readings::assignments_unlimited`], canceled.
    pub max_reservations_per_task: usize,
    /// The workspace's `EventsFilter` (`None`: every event is sent).
    pub events_filter: Option<Vec<String>>,
    pub readings: Readings,
}

impl Settings {
    pub fn queue_sid(&self, skill: &str) -> Option<String> {
        self.skills
            .iter()
            .position(|s| s == skill)
            .map(|i| format!("WQ{:032x}", i + 1))
    }
    /// The workflow without any target's `order_by`: longest idle alone
    /// (`SIM_ORDER=idle` compares with it).
    pub fn drop_order_by(&mut self) {
        let filters = self.workflow["task_routing"]["filters"].as_array_mut();
        for filter in filters.into_iter().flatten() {
            let targets = filter["targets"].as_array_mut();
            for target in targets.into_iter().flatten() {
                if let Some(target) = target.as_object_mut() {
                    target.remove("order_by");
                }
            }
        }
    }

    fn queue_name(&self, queue_sid: &str) -> String {
        if queue_sid == self.no_worker_queue_sid {
            return "Nobody".into();
        }
        self.skills
            .iter()
            .find(|s| self.queue_sid(s).as_deref() == Some(queue_sid))
            .cloned()
            .unwrap_or_default()
    }
    fn activity_name(&self, sid: &str) -> String {
        self.activities
            .iter()
            .find(|(s, _, _)| s == sid)
            .map(|(_, n, _)| n.clone())
            .unwrap_or_default()
    }
    pub fn is_available_activity(&self, sid: &str) -> bool {
        self.activities.iter().any(|(s, _, a)| s == sid && *a)
    }
}

#[derive(Debug, Clone)]
pub struct Worker {
    pub sid: String,
    pub friendly_name: String,
    pub activity_sid: String,
    pub attributes: Value,
    /// When the worker last became free (longest idle is offered first).
    pub idle_since: Ms,
    /// The reservation the worker holds (pending or accepted), if any.
    pub reservation: Option<String>,
    /// Time spent on duty (in an activity other than offline) before
    /// `on_duty_since`, for the fairness figures.
    pub on_duty_ms: Ms,
    /// On duty since then (`None`: offline).
    pub on_duty_since: Option<Ms>,
}

impl Worker {
    /// Time on duty up to `now`.
    pub fn on_duty_until(&self, now: Ms) -> Ms {
        self.on_duty_ms
            + self
                .on_duty_since
                .map_or(0, |since| now.saturating_sub(since))
    }

    pub fn skills(&self) -> Vec<String> {
        self.attributes["skills"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Pending,
    Reserved,
    Assigned,
    /// The call ended; the task holds the worker's capacity until completed.
    Wrapping,
    Canceled,
    Completed,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Reserved => "reserved",
            TaskStatus::Assigned => "assigned",
            TaskStatus::Wrapping => "wrapping",
            TaskStatus::Canceled => "canceled",
            TaskStatus::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Task {
    pub sid: String,
    pub attributes: Value,
    pub status: TaskStatus,
    pub queue_sid: Option<String>,
    /// Index of the workflow target the task sits in.
    pub target: usize,
    /// The target's timeout fired while a reservation was pending: move on when it settles.
    pub target_timeout_due: bool,
    /// The worker the current target names (a known-worker target).
    pub known_worker: Option<String>,
    /// The current target's `order_by`.
    pub order_by: Option<String>,
    pub created: Ms,
    /// `VirtualStartTime`: pending tasks are offered oldest first by it
    /// (`created` unless a REST create set it earlier).
    pub virtual_start: Ms,
    pub reservations: Vec<String>,
    pub canceled_reason: Option<String>,
    /// When the task reached the nobody queue, if ever.
    pub nobody_since: Option<Ms>,
    pub canceled_at: Option<Ms>,
    /// Workers of the task's skill queue free and available when it was
    /// created: a returning caller's last worker among them is offered the
    /// task first (the simulated day's invariant).
    pub free_at_creation: Vec<String>,
}

/// One target of the workflow's filter for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    queue: String,
    /// Counted from the task's creation.
    timeout: Option<Ms>,
    /// `skip_if`: the expression that, true when no reservation can be made
    /// at once, moves the task on to the next target.
    skip_if: Option<String>,
    /// `known_worker_sid`: only this worker may be reserved.
    known_worker: Option<String>,
    /// `order_by`: who of the queue's free workers is reserved first.
    order_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationStatus {
    Pending,
    Accepted,
    Wrapping,
    Rejected,
    Timeout,
    Canceled,
    Completed,
}

#[derive(Debug, Clone)]
pub struct Reservation {
    pub sid: String,
    pub task_sid: String,
    pub worker_sid: String,
    pub status: ReservationStatus,
    pub created: Ms,
}

/// A timer TaskRouter sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    Reservation(String),
    Target { task: String, target: usize },
}

/// What an operation asks the simulator to do.
#[derive(Debug, Default)]
pub struct Effects {
    /// Event callbacks (form params), in order.
    pub events: Vec<Vec<(String, String)>>,
    /// Assignment callbacks to make (form params), with the reservation SID.
    pub assignments: Vec<(String, Vec<(String, String)>)>,
    pub timers: Vec<(Ms, Timer)>,
}

/// A REST error as Twilio words it.
#[derive(Debug, Clone, PartialEq)]
pub struct RestError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

/// A string field of the workflow's JSON: provision writes every one the
/// stand-in reads, so a missing one is a broken test set-up.
fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("workflow: no {field:?} in {value}"))
}

/// Whether a TaskRouter expression holds. Only the forms `homeline
/// provision` writes are read: `==` clauses joined by `AND`, each side a
/// quoted string, a number, `true`/`false` or a name `lookup` resolves (an
/// unknown name fails its clause). Any other form panics, so provision
/// cannot write one the stand-in would silently misroute.
fn holds(expression: &str, lookup: impl Fn(&str) -> Option<Value>) -> bool {
    let operand = |raw: &str| -> Option<Value> {
        let raw = raw.trim();
        let quoted = ['\'', '"']
            .iter()
            .find_map(|q| raw.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)));
        if let Some(literal) = quoted {
            return Some(json!(literal));
        }
        match serde_json::from_str::<Value>(raw) {
            Ok(literal @ (Value::Bool(_) | Value::Number(_))) => Some(literal),
            _ => {
                assert!(
                    !raw.is_empty()
                        && raw
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_.".contains(c)),
                    "the stand-in cannot read {raw:?} in {expression:?}"
                );
                lookup(raw)
            }
        }
    };
    expression.split(" AND ").all(|clause| {
        let (left, right) = clause
            .split_once("==")
            .unwrap_or_else(|| panic!("the stand-in reads only == clauses: {expression:?}"));
        matches!((operand(left), operand(right)), (Some(l), Some(r)) if l == r)
    })
}

fn rest_error(status: u16, code: u32, message: impl Into<String>) -> RestError {
    RestError {
        status,
        code,
        message: message.into(),
    }
}

#[derive(Debug)]
pub struct TaskRouter {
    pub settings: Settings,
    pub workers: BTreeMap<String, Worker>,
    pub tasks: BTreeMap<String, Task>,
    pub reservations: BTreeMap<String, Reservation>,
    /// Tasks offered more than `max_reservations_per_task` times.
    pub offer_loops: Vec<String>,
    /// Each stretch a worker spent in the timeout (Unavailable) activity:
    /// worker SID, from, and until (`None`: still there).
    pub unavailable: Vec<(String, Ms, Option<Ms>)>,
    next_sid: u64,
}

impl TaskRouter {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            workers: BTreeMap::new(),
            tasks: BTreeMap::new(),
            reservations: BTreeMap::new(),
            offer_loops: Vec::new(),
            unavailable: Vec::new(),
            next_sid: 0x1000,
        }
    }

    fn sid(&mut self, prefix: &str) -> String {
        self.next_sid += 1;
        format!("{prefix}{:032x}", self.next_sid)
    }

    fn base(&self, event: &str, resource: &str, sid: &str, now: Ms) -> Vec<(String, String)> {
        vec![
            ("EventType".into(), event.into()),
            ("EventDescription".into(), format!("{event} (stand-in)")),
            ("ResourceType".into(), resource.into()),
            ("ResourceSid".into(), sid.into()),
            ("Timestamp".into(), (now / 1000).to_string()),
            ("AccountSid".into(), self.settings.account_sid.clone()),
            ("WorkspaceSid".into(), self.settings.workspace_sid.clone()),
        ]
    }

    fn task_params(&self, task: &Task) -> Vec<(String, String)> {
        let mut p = vec![
            ("TaskSid".into(), task.sid.clone()),
            ("TaskAttributes".into(), task.attributes.to_string()),
            ("TaskAssignmentStatus".into(), task.status.as_str().into()),
            ("WorkflowSid".into(), self.settings.workflow_sid.clone()),
        ];
        if let Some(q) = &task.queue_sid {
            p.push(("TaskQueueSid".into(), q.clone()));
            p.push(("TaskQueueName".into(), self.settings.queue_name(q)));
        }
        if let Some(r) = &task.canceled_reason {
            p.push(("TaskCanceledReason".into(), r.clone()));
        }
        p
    }

    fn worker_params(&self, worker: &Worker) -> Vec<(String, String)> {
        vec![
            ("WorkerSid".into(), worker.sid.clone()),
            ("WorkerName".into(), worker.friendly_name.clone()),
            ("WorkerAttributes".into(), worker.attributes.to_string()),
            ("WorkerActivitySid".into(), worker.activity_sid.clone()),
            (
                "WorkerActivityName".into(),
                self.settings.activity_name(&worker.activity_sid),
            ),
        ]
    }

    /// Sends an event unless the workspace's `EventsFilter` leaves it out.
    fn emit(&self, fx: &mut Effects, event: &str, params: Vec<(String, String)>) {
        if self
            .settings
            .events_filter
            .as_ref()
            .is_none_or(|filter| filter.iter().any(|e| e == event))
        {
            fx.events.push(params);
        }
    }

    fn task_event(&self, fx: &mut Effects, event: &str, task_sid: &str, now: Ms) {
        if let Some(task) = self.tasks.get(task_sid) {
            let mut p = self.base(event, "task", task_sid, now);
            p.extend(self.task_params(task));
            self.emit(fx, event, p);
        }
    }

    fn reservation_event(&self, fx: &mut Effects, event: &str, res_sid: &str, now: Ms) {
        let Some(res) = self.reservations.get(res_sid) else {
            return;
        };
        let mut p = self.base(event, "reservation", res_sid, now);
        p.push(("ReservationSid".into(), res_sid.into()));
        if let Some(task) = self.tasks.get(&res.task_sid) {
            p.extend(self.task_params(task));
        }
        if let Some(worker) = self.workers.get(&res.worker_sid) {
            p.extend(self.worker_params(worker));
        }
        self.emit(fx, event, p);
    }

    fn worker_event(&self, fx: &mut Effects, worker_sid: &str, now: Ms) {
        if let Some(worker) = self.workers.get(worker_sid) {
            let event = "worker.activity.update";
            let mut p = self.base(event, "worker", worker_sid, now);
            p.extend(self.worker_params(worker));
            self.emit(fx, event, p);
        }
    }

    // ---- workers ----

    pub fn create_worker(
        &mut self,
        friendly_name: &str,
        attributes: Value,
        activity_sid: Option<&str>,
        now: Ms,
        fx: &mut Effects,
    ) -> Result<String, RestError> {
        if friendly_name.is_empty() || friendly_name.len() > 64 {
            return Err(rest_error(400, 20001, "FriendlyName is invalid"));
        }
        if self
            .workers
            .values()
            .any(|w| w.friendly_name.eq_ignore_ascii_case(friendly_name))
        {
            return Err(rest_error(
                409,
                20001,
                "A Worker with this FriendlyName already exists",
            ));
        }
        let activity = activity_sid
            .unwrap_or(&self.settings.offline_activity)
            .to_string();
        if !self
            .settings
            .activities
            .iter()
            .any(|(s, _, _)| *s == activity)
        {
            return Err(rest_error(
                400,
                20001,
                "ActivitySid is not in this workspace",
            ));
        }
        let sid = self.sid("WK");
        let on_duty_since = (activity != self.settings.offline_activity).then_some(now);
        self.workers.insert(
            sid.clone(),
            Worker {
                sid: sid.clone(),
                friendly_name: friendly_name.to_string(),
                activity_sid: activity,
                attributes,
                idle_since: now,
                reservation: None,
                on_duty_ms: 0,
                on_duty_since,
            },
        );
        self.dispatch(now, fx);
        Ok(sid)
    }

    pub fn worker_json(&self, worker: &Worker) -> Value {
        let s = &self.settings;
        json!({
            "sid": worker.sid,
            "account_sid": s.account_sid,
            "workspace_sid": s.workspace_sid,
            "friendly_name": worker.friendly_name,
            "activity_sid": worker.activity_sid,
            "activity_name": s.activity_name(&worker.activity_sid),
            "available": s.is_available_activity(&worker.activity_sid),
            "attributes": worker.attributes.to_string(),
            "date_created": "2026-11-25T14:00:00Z",
            "date_updated": "2026-11-25T14:00:00Z",
            "date_status_changed": "2026-11-25T14:00:00Z",
            "url": format!("https://taskrouter.twilio.com/v1/Workspaces/{}/Workers/{}", s.workspace_sid, worker.sid),
            "links": {},
        })
    }

    /// Worker update: attributes and/or activity. Going to an unavailable
    /// activity with a pending reservation needs `reject_pending`.
    pub fn update_worker(
        &mut self,
        worker_sid: &str,
        activity_sid: Option<&str>,
        attributes: Option<Value>,
        reject_pending: bool,
        now: Ms,
        fx: &mut Effects,
    ) -> Result<(), RestError> {
        let Some(worker) = self.workers.get(worker_sid).cloned() else {
            return Err(rest_error(404, 20404, "Worker not found"));
        };
        if let Some(activity) = activity_sid
            && !self
                .settings
                .activities
                .iter()
                .any(|(s, _, _)| s == activity)
        {
            return Err(rest_error(
                400,
                20001,
                "ActivitySid is not in this workspace",
            ));
        }
        let pending = worker.reservation.clone().filter(|r| {
            self.reservations
                .get(r)
                .is_some_and(|r| r.status == ReservationStatus::Pending)
        });
        let leaving = activity_sid.is_some_and(|a| !self.settings.is_available_activity(a));
        if leaving && pending.is_some() && !reject_pending {
            return Err(rest_error(
                400,
                20001,
                "Worker has pending reservations; set RejectPendingReservations",
            ));
        }
        if let Some(attributes) = attributes
            && let Some(w) = self.workers.get_mut(worker_sid)
        {
            w.attributes = attributes;
        }
        if let (Some(res), true) = (pending, leaving) {
            self.settle_reservation(&res, ReservationStatus::Rejected, None, now, fx);
        }
        if let Some(activity) = activity_sid {
            self.set_activity(worker_sid, activity, now, fx);
        }
        self.dispatch(now, fx);
        Ok(())
    }

    fn set_activity(&mut self, worker_sid: &str, activity: &str, now: Ms, fx: &mut Effects) {
        let Some(w) = self.workers.get_mut(worker_sid) else {
            return;
        };
        if w.activity_sid == activity {
            return;
        }
        w.activity_sid = activity.to_string();
        if self.settings.is_available_activity(activity) {
            w.idle_since = now;
        }
        let on_duty = activity != self.settings.offline_activity;
        match (w.on_duty_since, on_duty) {
            (None, true) => w.on_duty_since = Some(now),
            (Some(since), false) => {
                w.on_duty_ms += now.saturating_sub(since);
                w.on_duty_since = None;
            }
            _ => {}
        }
        if let Some(open) = self
            .unavailable
            .iter_mut()
            .find(|(sid, _, until)| sid == worker_sid && until.is_none())
        {
            open.2 = Some(now);
        }
        if activity == self.settings.timeout_activity {
            self.unavailable.push((worker_sid.to_string(), now, None));
        }
        self.worker_event(fx, worker_sid, now);
    }

    // ---- tasks ----

    /// A task from `<Enqueue>`: routed through the workflow at once.
    pub fn create_task(&mut self, attributes: Value, now: Ms, fx: &mut Effects) -> String {
        self.create_task_started(attributes, now, now, fx)
    }

    /// A task whose age counts from `virtual_start` (a REST create's
    /// `VirtualStartTime`, at or before `now`).
    pub fn create_task_started(
        &mut self,
        attributes: Value,
        virtual_start: Ms,
        now: Ms,
        fx: &mut Effects,
    ) -> String {
        let sid = self.sid("WT");
        let free_at_creation = attributes["skill"]
            .as_str()
            .and_then(|skill| self.settings.queue_sid(skill))
            .map(|queue| {
                self.workers
                    .keys()
                    .filter(|w| self.can_reserve(&queue, w))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        self.tasks.insert(
            sid.clone(),
            Task {
                sid: sid.clone(),
                attributes,
                status: TaskStatus::Pending,
                queue_sid: None,
                target: 0,
                target_timeout_due: false,
                known_worker: None,
                order_by: None,
                created: now,
                virtual_start: virtual_start.min(now),
                reservations: Vec::new(),
                canceled_reason: None,
                nobody_since: None,
                canceled_at: None,
                free_at_creation,
            },
        );
        self.task_event(fx, "task.created", &sid, now);
        self.enter_target(&sid, 0, now, fx);
        self.dispatch(now, fx);
        sid
    }

    /// The workflow's targets for a task: those of the first filter whose
    /// expression its attributes satisfy, else the default filter (the
    /// docs' top-to-bottom evaluation). A `known_worker_sid` of
    /// `task.<attribute>` names the worker that attribute holds (none: no
    /// worker matches).
    fn targets(&self, task: &Task) -> Vec<Target> {
        let routing = &self.settings.workflow["task_routing"];
        let attribute = |name: &str| task.attributes.get(name).cloned();
        let targets = routing["filters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|filter| holds(text(filter, "expression"), attribute))
            .map_or_else(
                || vec![routing["default_filter"].clone()],
                |filter| filter["targets"].as_array().cloned().unwrap_or_default(),
            );
        targets
            .iter()
            .map(|target| Target {
                queue: text(target, "queue").to_string(),
                timeout: target["timeout"].as_u64().map(|secs| secs * 1000),
                skip_if: target["skip_if"].as_str().map(str::to_string),
                known_worker: target["known_worker_sid"].as_str().map(|path| {
                    path.strip_prefix("task.")
                        .and_then(|name| task.attributes[name].as_str())
                        .unwrap_or_default()
                        .to_string()
                }),
                order_by: target["order_by"].as_str().map(str::to_string),
            })
            .collect()
    }

    /// Whether `worker_sid` could take a reservation of `queue_sid` now:
    /// free, available and a member of the queue.
    fn can_reserve(&self, queue_sid: &str, worker_sid: &str) -> bool {
        self.workers.get(worker_sid).is_some_and(|w| {
            w.reservation.is_none()
                && self.settings.is_available_activity(&w.activity_sid)
                && self.queue_matches(queue_sid, w)
        })
    }

    /// Whether `worker_sid` could take a reservation of a target of
    /// `queue` now: [`Self::can_reserve`], and the one a known-worker
    /// target names, if any.
    fn can_take(&self, queue_sid: &str, known_worker: Option<&str>, worker_sid: &str) -> bool {
        known_worker.is_none_or(|k| k == worker_sid) && self.can_reserve(queue_sid, worker_sid)
    }

    /// Workers a queue targets (`skills HAS '<skill>'`); the nobody queue targets none.
    fn queue_matches(&self, queue_sid: &str, worker: &Worker) -> bool {
        let skill = self.settings.queue_name(queue_sid);
        queue_sid != self.settings.no_worker_queue_sid && worker.skills().contains(&skill)
    }

    /// `workers.available` of a queue: matching workers in an available activity.
    pub fn available_in_queue(&self, queue_sid: &str) -> usize {
        self.workers
            .values()
            .filter(|w| {
                self.settings.is_available_activity(&w.activity_sid)
                    && self.queue_matches(queue_sid, w)
            })
            .count()
    }

    /// Routes the task to the first target from `from` on. `from > 0` is a
    /// move after the previous target timed out: `task-queue.timeout`, then
    /// `task-queue.moved` (and `.entered` only under
    /// [`Readings::entered_after_move`]).
    fn enter_target(&mut self, task_sid: &str, from: usize, now: Ms, fx: &mut Effects) {
        let Some(task) = self.tasks.get(task_sid) else {
            return;
        };
        let moving = from > 0;
        if moving {
            self.task_event(fx, "task-queue.timeout", task_sid, now);
        }
        let targets = self.targets(task);
        let mut index = from;
        while index < targets.len() {
            let Target {
                queue,
                skip_if,
                known_worker,
                ..
            } = &targets[index];
            // Skipped only when no reservation can be made at once and the
            // expression holds (docs/twilio.md, "Nobody-available
            // workflow"); the last target is where the task stays. On a
            // known-worker target only under
            // [`Readings::known_worker_skips`]; otherwise the task waits
            // there for its timeout (docs/twilio.md, "Returning callers").
            let reservable = self
                .workers
                .keys()
                .any(|worker_sid| self.can_take(queue, known_worker.as_deref(), worker_sid));
            let skips = skip_if.as_deref().is_some_and(|expression| {
                holds(expression, |name| {
                    (name == "workers.available").then(|| json!(self.available_in_queue(queue)))
                })
            });
            if skips
                && !reservable
                && index + 1 < targets.len()
                && (known_worker.is_none() || self.settings.readings.known_worker_skips)
            {
                index += 1;
                continue;
            }
            break;
        }
        if index >= targets.len() {
            // The last target timed out: the task is canceled.
            self.task_event(fx, "workflow.timeout", task_sid, now);
            self.cancel_task(task_sid, "Workflow Timeout", now, fx).ok();
            return;
        }
        let Target {
            queue,
            timeout,
            known_worker,
            order_by,
            ..
        } = targets[index].clone();
        let nobody = queue == self.settings.no_worker_queue_sid;
        if let Some(task) = self.tasks.get_mut(task_sid) {
            task.target = index;
            task.queue_sid = Some(queue);
            task.known_worker = known_worker;
            task.order_by = order_by;
            task.target_timeout_due = false;
            if nobody {
                task.nobody_since.get_or_insert(now);
            }
        }
        if moving {
            self.task_event(fx, "task-queue.moved", task_sid, now);
        }
        if !moving || self.settings.readings.entered_after_move {
            self.task_event(fx, "task-queue.entered", task_sid, now);
        }
        // A target's timeout counts from the task's creation, not from
        // entering the target (docs/twilio.md, "Nobody-available workflow").
        let created = self.tasks.get(task_sid).map_or(now, |t| t.created);
        if let Some(timeout) = timeout {
            fx.timers.push((
                (created + timeout).max(now),
                Timer::Target {
                    task: task_sid.to_string(),
                    target: index,
                },
            ));
        }
    }

    /// Cancels a pending or reserved task (REST or the caller hanging up).
    pub fn cancel_task(
        &mut self,
        task_sid: &str,
        reason: &str,
        now: Ms,
        fx: &mut Effects,
    ) -> Result<(), RestError> {
        let Some(task) = self.tasks.get(task_sid) else {
            return Err(rest_error(404, 20404, "Task not found"));
        };
        if !matches!(task.status, TaskStatus::Pending | TaskStatus::Reserved) {
            return Err(rest_error(
                400,
                20001,
                format!("Cannot cancel task {task_sid} because it is not pending or reserved"),
            ));
        }
        let pending: Vec<String> = task
            .reservations
            .iter()
            .filter(|r| {
                self.reservations
                    .get(*r)
                    .is_some_and(|r| r.status == ReservationStatus::Pending)
            })
            .cloned()
            .collect();
        if let Some(task) = self.tasks.get_mut(task_sid) {
            task.status = TaskStatus::Canceled;
            task.canceled_reason = Some(reason.to_string());
            task.canceled_at = Some(now);
        }
        for res in pending {
            self.settle_reservation(&res, ReservationStatus::Canceled, None, now, fx);
        }
        self.task_event(fx, "task.canceled", task_sid, now);
        self.dispatch(now, fx);
        Ok(())
    }

    // ---- reservations ----

    /// Offers pending tasks (oldest first) to free, available, matching
    /// workers (in the target's `order_by`, then longest idle first).
    pub fn dispatch(&mut self, now: Ms, fx: &mut Effects) {
        let pending: Vec<String> = self
            .tasks
            .values()
            .filter(|t| t.status == TaskStatus::Pending)
            .map(|t| (t.virtual_start, t.sid.clone()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|(_, sid)| sid)
            .collect();
        for task_sid in pending {
            let Some(task) = self.tasks.get(&task_sid) else {
                continue;
            };
            let Some(queue) = task.queue_sid.clone() else {
                continue;
            };
            let known_worker = task.known_worker.clone();
            let order_by = task.order_by.clone();
            if task.reservations.len() >= self.settings.max_reservations_per_task {
                if !self.offer_loops.contains(&task_sid) {
                    self.offer_loops.push(task_sid.clone());
                }
                if !self.settings.readings.assignments_unlimited {
                    self.cancel_task(&task_sid, MAX_ASSIGNMENTS_REASON, now, fx)
                        .ok();
                }
                continue;
            }
            let free = self
                .workers
                .values()
                .filter(|w| self.can_take(&queue, known_worker.as_deref(), &w.sid));
            let Some(worker_sid) = order_candidates(order_by.as_deref(), free)
                .first()
                .map(|w| w.sid.clone())
            else {
                continue;
            };
            self.reserve(&task_sid, &worker_sid, now, fx);
        }
    }

    fn reserve(&mut self, task_sid: &str, worker_sid: &str, now: Ms, fx: &mut Effects) {
        let sid = self.sid("WR");
        self.reservations.insert(
            sid.clone(),
            Reservation {
                sid: sid.clone(),
                task_sid: task_sid.to_string(),
                worker_sid: worker_sid.to_string(),
                status: ReservationStatus::Pending,
                created: now,
            },
        );
        if let Some(task) = self.tasks.get_mut(task_sid) {
            task.status = TaskStatus::Reserved;
            task.reservations.push(sid.clone());
        }
        if let Some(worker) = self.workers.get_mut(worker_sid) {
            worker.reservation = Some(sid.clone());
        }
        self.reservation_event(fx, "reservation.created", &sid, now);
        fx.timers.push((
            now + self.settings.reservation_timeout_ms,
            Timer::Reservation(sid.clone()),
        ));
        let (Some(task), Some(worker)) = (self.tasks.get(task_sid), self.workers.get(worker_sid))
        else {
            return;
        };
        let params = vec![
            ("Timestamp".into(), (now / 1000).to_string()),
            ("AccountSid".into(), self.settings.account_sid.clone()),
            ("WorkspaceSid".into(), self.settings.workspace_sid.clone()),
            ("WorkflowSid".into(), self.settings.workflow_sid.clone()),
            (
                "TaskQueueSid".into(),
                task.queue_sid.clone().unwrap_or_default(),
            ),
            ("WorkerSid".into(), worker_sid.to_string()),
            ("WorkerAttributes".into(), worker.attributes.to_string()),
            ("TaskSid".into(), task_sid.to_string()),
            ("TaskAttributes".into(), task.attributes.to_string()),
            (
                "TaskAge".into(),
                ((now.saturating_sub(task.created)) / 1000).to_string(),
            ),
            ("TaskPriority".into(), "0".into()),
            ("ReservationSid".into(), sid.clone()),
        ];
        fx.assignments.push((sid, params));
    }

    /// Ends a pending reservation (reject, timeout, cancel) or completes an accepted one.
    fn settle_reservation(
        &mut self,
        res_sid: &str,
        status: ReservationStatus,
        activity: Option<&str>,
        now: Ms,
        fx: &mut Effects,
    ) {
        let Some(res) = self.reservations.get_mut(res_sid) else {
            return;
        };
        res.status = status;
        let (task_sid, worker_sid) = (res.task_sid.clone(), res.worker_sid.clone());
        if let Some(w) = self.workers.get_mut(&worker_sid)
            && w.reservation.as_deref() == Some(res_sid)
        {
            w.reservation = None;
            w.idle_since = now;
        }
        let event = match status {
            ReservationStatus::Rejected => "reservation.rejected",
            ReservationStatus::Timeout => "reservation.timeout",
            ReservationStatus::Canceled => "reservation.canceled",
            ReservationStatus::Completed => "reservation.completed",
            ReservationStatus::Accepted => "reservation.accepted",
            ReservationStatus::Wrapping => "reservation.wrapup",
            ReservationStatus::Pending => return,
        };
        self.reservation_event(fx, event, res_sid, now);
        if let Some(activity) = activity {
            self.set_activity(&worker_sid, activity, now, fx);
        }
        let due = match self.tasks.get_mut(&task_sid) {
            Some(task) if task.status == TaskStatus::Reserved => {
                task.status = TaskStatus::Pending;
                task.target_timeout_due
            }
            _ => false,
        };
        if due && let Some(target) = self.tasks.get(&task_sid).map(|t| t.target) {
            self.enter_target(&task_sid, target + 1, now, fx);
        }
    }

    /// The assignment callback's answer (`{}` keeps the reservation pending).
    pub fn assignment_answer(&mut self, res_sid: &str, answer: &Value, now: Ms, fx: &mut Effects) {
        if answer["instruction"].as_str() == Some("reject") {
            let activity = answer["activity_sid"].as_str().map(str::to_string);
            self.reject(res_sid, activity.as_deref(), now, fx).ok();
        }
    }

    /// REST reject: only a pending reservation can be rejected.
    pub fn reject(
        &mut self,
        res_sid: &str,
        activity: Option<&str>,
        now: Ms,
        fx: &mut Effects,
    ) -> Result<(), RestError> {
        match self.reservations.get(res_sid).map(|r| r.status) {
            None => Err(rest_error(404, 20404, "Reservation not found")),
            Some(ReservationStatus::Pending) => {
                if let Some(a) = activity
                    && !self.settings.activities.iter().any(|(s, _, _)| s == a)
                {
                    return Err(rest_error(400, 20001, "WorkerActivitySid is invalid"));
                }
                self.settle_reservation(res_sid, ReservationStatus::Rejected, activity, now, fx);
                self.dispatch(now, fx);
                Ok(())
            }
            Some(_) => Err(rest_error(
                400,
                20001,
                "Reservation is not currently in a Pending state",
            )),
        }
    }

    /// `<Dial><Queue reservationSid>`: accepts a pending reservation; returns the task.
    pub fn accept(&mut self, res_sid: &str, now: Ms, fx: &mut Effects) -> Option<String> {
        let res = self.reservations.get_mut(res_sid)?;
        if res.status != ReservationStatus::Pending {
            return None;
        }
        res.status = ReservationStatus::Accepted;
        let task_sid = res.task_sid.clone();
        if let Some(task) = self.tasks.get_mut(&task_sid) {
            task.status = TaskStatus::Assigned;
        }
        self.reservation_event(fx, "reservation.accepted", res_sid, now);
        Some(task_sid)
    }

    /// The bridged call ended: the worker goes to the post-work activity.
    /// Under [`Readings::task_completes_itself`] task and reservation
    /// complete and the worker is free again; otherwise both go to
    /// `wrapping` and the task keeps the worker's voice capacity until
    /// [`TaskRouter::complete_task`].
    pub fn call_ended(
        &mut self,
        res_sid: &str,
        post_work: Option<&str>,
        now: Ms,
        fx: &mut Effects,
    ) {
        let Some(task_sid) = self.reservations.get(res_sid).map(|r| r.task_sid.clone()) else {
            return;
        };
        if self.settings.readings.task_completes_itself {
            self.finish(&task_sid, res_sid, post_work, now, fx);
            return;
        }
        if let Some(task) = self.tasks.get_mut(&task_sid) {
            task.status = TaskStatus::Wrapping;
        }
        let worker_sid = match self.reservations.get_mut(res_sid) {
            Some(res) => {
                res.status = ReservationStatus::Wrapping;
                res.worker_sid.clone()
            }
            None => return,
        };
        self.task_event(fx, "task.wrapup", &task_sid, now);
        self.reservation_event(fx, "reservation.wrapup", res_sid, now);
        if let Some(activity) = post_work {
            self.set_activity(&worker_sid, activity, now, fx);
        }
        self.dispatch(now, fx);
    }

    /// `POST Tasks/{sid}` with `AssignmentStatus=completed`: only an
    /// assigned or wrapping task can be completed.
    pub fn complete_task(
        &mut self,
        task_sid: &str,
        now: Ms,
        fx: &mut Effects,
    ) -> Result<(), RestError> {
        let Some(task) = self.tasks.get(task_sid) else {
            return Err(rest_error(404, 20404, "Task not found"));
        };
        if !matches!(task.status, TaskStatus::Assigned | TaskStatus::Wrapping) {
            // The same words for a task completed before: no "already".
            return Err(rest_error(
                400,
                20001,
                format!("Cannot complete task {task_sid} because it is not assigned or wrapping."),
            ));
        }
        let accepted = task.reservations.iter().find(|r| {
            self.reservations.get(*r).is_some_and(|r| {
                matches!(
                    r.status,
                    ReservationStatus::Accepted | ReservationStatus::Wrapping
                )
            })
        });
        match accepted.cloned() {
            Some(res) => self.finish(task_sid, &res, None, now, fx),
            None => {
                if let Some(task) = self.tasks.get_mut(task_sid) {
                    task.status = TaskStatus::Completed;
                }
                self.task_event(fx, "task.completed", task_sid, now);
            }
        }
        Ok(())
    }

    /// Task and reservation complete; the worker's capacity is free again.
    fn finish(
        &mut self,
        task_sid: &str,
        res_sid: &str,
        post_work: Option<&str>,
        now: Ms,
        fx: &mut Effects,
    ) {
        if let Some(task) = self.tasks.get_mut(task_sid) {
            task.status = TaskStatus::Completed;
        }
        self.task_event(fx, "task.completed", task_sid, now);
        self.settle_reservation(res_sid, ReservationStatus::Completed, post_work, now, fx);
        self.dispatch(now, fx);
    }

    pub fn on_timer(&mut self, timer: &Timer, now: Ms, fx: &mut Effects) {
        match timer {
            Timer::Reservation(res) => {
                if self.reservations.get(res).map(|r| r.status) == Some(ReservationStatus::Pending)
                {
                    let activity = self.settings.timeout_activity.clone();
                    self.settle_reservation(
                        res,
                        ReservationStatus::Timeout,
                        Some(&activity),
                        now,
                        fx,
                    );
                }
            }
            Timer::Target { task, target } => {
                let Some(t) = self.tasks.get_mut(task) else {
                    return;
                };
                if t.target != *target {
                    return;
                }
                match t.status {
                    TaskStatus::Pending => self.enter_target(task, target + 1, now, fx),
                    TaskStatus::Reserved => t.target_timeout_due = true,
                    _ => {}
                }
            }
        }
        self.dispatch(now, fx);
    }

    pub fn pending_reservations(&self) -> Vec<&Reservation> {
        self.reservations
            .values()
            .filter(|r| r.status == ReservationStatus::Pending)
            .collect()
    }
}

/// `workers` in the order TaskRouter reserves them under `order_by`
/// (docs/twilio.md, "Ordering workers"): each clause (`worker.<path> ASC`
/// or `DESC`) compares an integer of the worker's attributes, the next
/// clause breaks a tie, and longest idle breaks the last. A worker without
/// the integer (absent, or not an integer) is ordered after those with it,
/// whatever the direction.
///
/// # Panics
/// On an `order_by` TaskRouter would refuse: the stand-in's settings are wrong.
pub fn order_candidates<'a>(
    order_by: Option<&str>,
    workers: impl IntoIterator<Item = &'a Worker>,
) -> Vec<&'a Worker> {
    let clauses = order_by.map_or_else(Vec::new, |expression| {
        parse_order_by(expression).unwrap_or_else(|e| panic!("order_by {expression:?}: {e}"))
    });
    let key = |w: &Worker| {
        let values: Vec<(bool, i64)> = clauses
            .iter()
            .map(|(path, descending)| {
                let value = path
                    .iter()
                    .try_fold(&w.attributes, |v, key| v.get(key))
                    .and_then(Value::as_i64);
                match value {
                    Some(v) if *descending => (false, -v),
                    Some(v) => (false, v),
                    None => (true, 0),
                }
            })
            .collect();
        (values, w.idle_since, w.sid.clone())
    };
    let mut ordered: Vec<&Worker> = workers.into_iter().collect();
    ordered.sort_by_cached_key(|w| key(w));
    ordered
}

/// The clauses of an `order_by` expression: each attribute's path below
/// `worker.` and whether it is descending.
pub fn parse_order_by(expression: &str) -> Result<Vec<(Vec<String>, bool)>, String> {
    expression
        .split(',')
        .map(|clause| {
            let mut words = clause.split_whitespace();
            let (Some(attribute), Some(direction), None) =
                (words.next(), words.next(), words.next())
            else {
                return Err(format!(
                    "clause {clause:?} is not `worker.<attribute> ASC|DESC`"
                ));
            };
            let path = attribute
                .strip_prefix("worker.")
                .filter(|p| !p.is_empty() && p.split('.').all(|k| !k.is_empty()))
                .ok_or_else(|| format!("{attribute:?} is no worker attribute"))?;
            let descending = match direction.to_ascii_uppercase().as_str() {
                "ASC" => false,
                "DESC" => true,
                other => return Err(format!("direction {other:?} is neither ASC nor DESC")),
            };
            Ok((path.split('.').map(str::to_string).collect(), descending))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AVAIL: &str = "WA0000000000000000000000000000000a";
    const OFF: &str = "WA0000000000000000000000000000000b";
    const UNAV: &str = "WA0000000000000000000000000000000c";
    const NOBODY: &str = "WQ0000000000000000000000000000000f";

    /// The stand-in with the workflow `homeline provision` writes for the
    /// test configuration (returning callers on, `STICKY_SECS` 20).
    fn router() -> TaskRouter {
        let mut settings = Settings {
            workspace_sid: "WS1".into(),
            workflow_sid: "WW1".into(),
            account_sid: "AC1".into(),
            activities: vec![
                (AVAIL.into(), "Available".into(), true),
                (OFF.into(), "Offline".into(), false),
                (UNAV.into(), "Unavailable".into(), false),
            ],
            available_activity: AVAIL.into(),
            offline_activity: OFF.into(),
            timeout_activity: UNAV.into(),
            skills: vec!["sales".into(), "support".into()],
            no_worker_queue_sid: NOBODY.into(),
            workflow: Value::Null,
            reservation_timeout_ms: 120_000,
            max_reservations_per_task: 5,
            events_filter: None,
            readings: Readings::convenient(),
        };
        settings.workflow = workflow(&settings, &[]);
        TaskRouter::new(settings)
    }

    /// Provision's workflow for the test configuration with `overrides`,
    /// on the stand-in's queue SIDs.
    fn workflow(settings: &Settings, overrides: &[(&str, &str)]) -> Value {
        crate::provisioned(&testkit::test_config(overrides))
            .workflow_configuration(|skill| settings.queue_sid(skill).unwrap(), NOBODY)
    }

    fn event_types(fx: &Effects) -> Vec<String> {
        fx.events
            .iter()
            .map(|p| p.iter().find(|(k, _)| k == "EventType").unwrap().1.clone())
            .collect()
    }

    fn param<'a>(p: &'a [(String, String)], k: &str) -> &'a str {
        &p.iter().find(|(n, _)| n == k).unwrap().1
    }

    fn worker(tr: &mut TaskRouter, name: &str, skill: &str, now: Ms) -> String {
        let mut fx = Effects::default();
        tr.create_worker(
            name,
            json!({"skills":[skill],"contact_uri":"+15550000001"}),
            Some(AVAIL),
            now,
            &mut fx,
        )
        .unwrap()
    }

    fn scored(name: &str, attributes: Value, idle_since: Ms) -> Worker {
        Worker {
            sid: name.into(),
            friendly_name: name.into(),
            activity_sid: AVAIL.into(),
            attributes,
            idle_since,
            reservation: None,
            on_duty_ms: 0,
            on_duty_since: Some(0),
        }
    }

    fn names(order_by: Option<&str>, workers: &[Worker]) -> Vec<String> {
        order_candidates(order_by, workers)
            .into_iter()
            .map(|w| w.sid.clone())
            .collect()
    }

    #[test]
    fn order_by_ranks_by_the_integer_then_longest_idle() {
        let workers = [
            scored("low", json!({"answer_score": 40}), 0),
            scored("high_recent", json!({"answer_score": 90}), 500),
            scored("high_idle", json!({"answer_score": 90}), 100),
            scored("none", json!({}), 0),
            scored("text", json!({"answer_score": "90"}), 0),
        ];
        let desc = Some("worker.answer_score DESC");
        // A worker without the integer comes after those with it.
        assert_eq!(
            names(desc, &workers),
            ["high_idle", "high_recent", "low", "none", "text"]
        );
        assert_eq!(
            names(Some("worker.answer_score ASC"), &workers),
            ["low", "high_idle", "high_recent", "none", "text"],
            "last whatever the direction"
        );
        assert_eq!(
            names(None, &workers),
            ["low", "none", "text", "high_idle", "high_recent"],
            "longest idle alone"
        );
    }

    #[test]
    fn a_later_clause_breaks_a_tie_and_paths_may_nest() {
        let workers = [
            scored("a", json!({"level": {"x": 1}, "y": 1}), 0),
            scored("b", json!({"level": {"x": 1}, "y": 5}), 9),
            scored("c", json!({"level": {"x": 2}}), 9),
        ];
        assert_eq!(
            names(Some("worker.level.x DESC, worker.y desc"), &workers),
            ["c", "b", "a"]
        );
        assert_eq!(
            parse_order_by(homeline_core::domain::answers::ORDER_BY),
            Ok(vec![(vec!["answer_score".to_string()], true)])
        );
        for bad in [
            "answer_score DESC",
            "worker.x",
            "worker.x UP",
            "worker. DESC",
            "",
        ] {
            assert!(parse_order_by(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_skill_queue_offers_by_its_order_by() {
        // The workflow provision writes orders by the answer score.
        let mut tr = router();
        let mut fx = Effects::default();
        let mut add = |tr: &mut TaskRouter, name: &str, score: i64, now| {
            tr.create_worker(
                name,
                json!({"skills": ["sales"], "contact_uri": "+15550000001", "answer_score": score}),
                Some(AVAIL),
                now,
                &mut fx,
            )
            .unwrap()
        };
        let _idle_longest = add(&mut tr, "flaky", 20, 0);
        let reliable = add(&mut tr, "reliable", 90, 10);
        let task = tr.create_task(json!({"skill": "sales"}), 20, &mut fx);
        let offered = &tr.reservations[&tr.tasks[&task].reservations[0]];
        assert_eq!(offered.worker_sid, reliable);
    }

    #[test]
    fn on_duty_time_runs_outside_the_offline_activity() {
        let mut tr = router();
        let w = worker(&mut tr, "ana", "sales", 1_000);
        let mut fx = Effects::default();
        tr.update_worker(&w, Some(UNAV), None, false, 3_000, &mut fx)
            .unwrap();
        tr.update_worker(&w, Some(OFF), None, false, 6_000, &mut fx)
            .unwrap();
        assert_eq!(tr.workers[&w].on_duty_until(9_000), 5_000);
        tr.update_worker(&w, Some(AVAIL), None, false, 10_000, &mut fx)
            .unwrap();
        assert_eq!(tr.workers[&w].on_duty_until(12_000), 7_000);
    }

    #[test]
    fn nobody_available_skips_to_the_nobody_queue() {
        let mut tr = router();
        let mut fx = Effects::default();
        let task = tr.create_task(json!({"skill":"sales"}), 0, &mut fx);
        assert_eq!(tr.tasks[&task].queue_sid.as_deref(), Some(NOBODY));
        assert_eq!(event_types(&fx), vec!["task.created", "task-queue.entered"]);
        assert!(fx.assignments.is_empty());
    }

    /// `workers.available` counts workers in an available activity, busy
    /// or not (docs/twilio.md, "Nobody-available workflow"): a caller whose
    /// workers are all on calls waits for one in the skill's queue.
    #[test]
    fn a_task_waits_for_a_busy_available_worker_rather_than_skipping() {
        let mut tr = router();
        let w = worker(&mut tr, "w", "sales", 0);
        let mut fx = Effects::default();
        let first = tr.create_task(json!({"skill": "sales"}), 0, &mut fx);
        let res = fx.assignments[0].0.clone();
        assert_eq!(tr.accept(&res, 1, &mut fx), Some(first));
        let mut fx = Effects::default();
        let second = tr.create_task(json!({"skill": "sales"}), 10, &mut fx);
        assert_eq!(tr.tasks[&second].target, 0, "the skill's queue");
        assert_ne!(tr.tasks[&second].queue_sid.as_deref(), Some(NOBODY));
        assert!(fx.assignments.is_empty(), "{w} is on a call");
    }

    /// The expressions provision writes, and nothing else, are read.
    #[test]
    fn expressions_read_as_taskrouter_reads_them() {
        let task = json!({"skill": "sales", "type": "callback", "returning": true});
        let attribute = |name: &str| task.get(name).cloned();
        assert!(holds("skill == 'sales'", attribute));
        assert!(holds("type == 'callback' AND skill == 'sales'", attribute));
        assert!(!holds(
            "type == 'callback' AND skill == 'support'",
            attribute
        ));
        assert!(holds("skill == 'sales' AND returning == true", attribute));
        assert!(!holds("missing == true", attribute));
        assert!(holds("1==1", attribute));
        assert!(!holds("1 == 2", attribute));
        let available = |n: u64| move |name: &str| (name == "workers.available").then(|| json!(n));
        assert!(holds("workers.available == 0", available(0)));
        assert!(!holds("workers.available == 0", available(2)));
        let unread = std::panic::catch_unwind(|| holds("skill != 'sales'", attribute));
        assert!(unread.is_err(), "a form the stand-in cannot read panics");
    }

    /// A callback task waits in its skill's queue with nobody free, never
    /// skips to the nobody queue, and sets no target timer to get there.
    #[test]
    fn a_callback_task_waits_in_its_skill_s_queue_with_nobody_available() {
        let mut tr = router();
        let mut fx = Effects::default();
        let task = tr.create_task(json!({"skill": "sales", "type": "callback"}), 0, &mut fx);
        assert_ne!(tr.tasks[&task].queue_sid.as_deref(), Some(NOBODY));
        assert!(tr.tasks[&task].queue_sid.is_some());
        assert!(fx.timers.is_empty(), "{:?}", fx.timers);
        assert_eq!(event_types(&fx), vec!["task.created", "task-queue.entered"]);
    }

    /// A task created later with an older virtual start is offered first.
    #[test]
    fn an_older_virtual_start_is_offered_first() {
        let mut tr = router();
        let w = worker(&mut tr, "w", "sales", 0);
        let mut fx = Effects::default();
        // The worker is busy while both wait.
        let busy = tr.create_task(json!({"skill": "sales"}), 0, &mut fx);
        let res = fx.assignments[0].0.clone();
        assert_eq!(tr.accept(&res, 1, &mut fx), Some(busy));
        let caller = tr.create_task(json!({"skill": "sales"}), 10_000, &mut fx);
        let callback = json!({"skill": "sales", "type": "callback"});
        let kept = tr.create_task_started(callback, 5_000, 20_000, &mut fx);
        let mut fx = Effects::default();
        tr.call_ended(&res, Some(AVAIL), 30_000, &mut fx);
        assert!(
            tr.workers[&w].reservation.is_some(),
            "offered the next task"
        );
        assert_eq!(fx.assignments.len(), 1, "{:?}", fx.assignments);
        let offered = &tr.reservations[&fx.assignments[0].0].task_sid;
        assert_eq!(offered, &kept, "not {caller}");
    }

    /// A returning caller's task naming `known` (as inbound writes it).
    fn returning(known: &str) -> Value {
        json!({"skill": "sales", "returning": true, "last_worker_sid": known})
    }

    #[test]
    fn a_returning_caller_is_offered_to_their_last_worker_before_anyone_idle_longer() {
        let mut tr = router();
        let _idle_longest = worker(&mut tr, "a", "sales", 0);
        let known = worker(&mut tr, "b", "sales", 5);
        let mut fx = Effects::default();
        let task = tr.create_task(returning(&known), 10, &mut fx);
        assert_eq!(fx.assignments.len(), 1);
        assert_eq!(param(&fx.assignments[0].1, "WorkerSid"), known);
        assert_eq!(tr.tasks[&task].target, 0, "the known-worker target");
        // A task that is not a returning caller's goes to the longest idle.
        let mut tr = router();
        let idle_longest = worker(&mut tr, "a", "sales", 0);
        let known = worker(&mut tr, "b", "sales", 5);
        let mut fx = Effects::default();
        tr.create_task(
            json!({"skill": "sales", "last_worker_sid": known}),
            10,
            &mut fx,
        );
        assert_eq!(param(&fx.assignments[0].1, "WorkerSid"), idle_longest);
        // Without returning filters (STICKY_DAYS=0), likewise.
        let mut tr = router();
        tr.settings.workflow = workflow(&tr.settings, &[("STICKY_DAYS", "0")]);
        let idle_longest = worker(&mut tr, "a", "sales", 0);
        let known = worker(&mut tr, "b", "sales", 5);
        let mut fx = Effects::default();
        tr.create_task(returning(&known), 10, &mut fx);
        assert_eq!(param(&fx.assignments[0].1, "WorkerSid"), idle_longest);
    }

    #[test]
    fn an_unavailable_last_worker_holds_the_task_for_sticky_secs_unless_the_skip_applies() {
        for skips in [false, true] {
            let mut tr = router();
            tr.settings.readings.known_worker_skips = skips;
            let other = worker(&mut tr, "a", "sales", 0);
            let known = worker(&mut tr, "b", "sales", 5);
            let mut fx = Effects::default();
            tr.update_worker(&known, Some(OFF), None, false, 6, &mut fx)
                .unwrap();
            let mut fx = Effects::default();
            let task = tr.create_task(returning(&known), 10, &mut fx);
            if skips {
                assert_eq!(param(&fx.assignments[0].1, "WorkerSid"), other);
                continue;
            }
            assert!(fx.assignments.is_empty(), "inconvenient: it waits");
            let known_target = Timer::Target {
                task: task.clone(),
                target: 0,
            };
            assert!(fx.timers.contains(&(20_010, known_target.clone())));
            let mut fx = Effects::default();
            tr.on_timer(&known_target, 20_010, &mut fx);
            assert_eq!(tr.tasks[&task].target, 1, "everyone");
            assert_eq!(param(&fx.assignments[0].1, "WorkerSid"), other);
        }
    }

    #[test]
    fn the_nobody_target_s_timeout_counts_from_the_task_s_creation_and_cancels_it() {
        let mut tr = router();
        let max_wait = crate::provisioned(&testkit::test_config(&[])).max_wait_secs;
        let backstop = homeline_provision::queue_backstop_secs(max_wait);
        let nobody_due = u64::from(homeline_provision::nobody_timeout_secs(backstop)) * 1000;
        let _w = worker(&mut tr, "w", "sales", 0);
        let mut fx = Effects::default();
        let task = tr.create_task(json!({"skill":"sales"}), 0, &mut fx);
        let res = fx.assignments[0].0.clone();
        tr.reject(&res, Some(UNAV), 1, &mut fx).unwrap();
        let mut fx = Effects::default();
        let skill_target = Timer::Target {
            task: task.clone(),
            target: 0,
        };
        tr.on_timer(&skill_target, u64::from(backstop) * 1000, &mut fx);
        assert_eq!(tr.tasks[&task].queue_sid.as_deref(), Some(NOBODY));
        let nobody_target = Timer::Target {
            task: task.clone(),
            target: 1,
        };
        assert!(
            fx.timers.contains(&(nobody_due, nobody_target.clone())),
            "due at creation + its timeout, not at entry + it: {:?}",
            fx.timers
        );
        let mut fx = Effects::default();
        tr.on_timer(&nobody_target, nobody_due, &mut fx);
        assert_eq!(tr.tasks[&task].status, TaskStatus::Canceled);
        assert!(event_types(&fx).contains(&"workflow.timeout".to_string()));
    }

    #[test]
    fn longest_idle_matching_worker_is_offered_and_times_out() {
        let mut tr = router();
        let support = worker(&mut tr, "s", "support", 0);
        let late = worker(&mut tr, "late", "sales", 5);
        let early = worker(&mut tr, "early", "sales", 1);
        let _ = support;
        let mut fx = Effects::default();
        let task = tr.create_task(json!({"skill":"sales"}), 10, &mut fx);
        assert_eq!(fx.assignments.len(), 1);
        let (res, params) = &fx.assignments[0];
        assert_eq!(param(params, "WorkerSid"), early);
        assert_eq!(tr.tasks[&task].status, TaskStatus::Reserved);
        // The reservation times out: the worker goes unavailable, the other one is offered.
        let mut fx2 = Effects::default();
        tr.on_timer(&Timer::Reservation(res.clone()), 130_010, &mut fx2);
        assert_eq!(tr.workers[&early].activity_sid, UNAV);
        assert_eq!(fx2.assignments.len(), 1);
        assert_eq!(param(&fx2.assignments[0].1, "WorkerSid"), late);
        assert!(event_types(&fx2).contains(&"reservation.timeout".to_string()));
    }

    #[test]
    fn reject_without_activity_reoffers_the_same_worker_until_flagged() {
        let mut tr = router();
        let w = worker(&mut tr, "w", "sales", 0);
        let mut fx = Effects::default();
        let task = tr.create_task(json!({"skill":"sales"}), 1, &mut fx);
        for _ in 0..10 {
            let Some((res, _)) = fx.assignments.pop() else {
                break;
            };
            fx = Effects::default();
            tr.reject(&res, None, 2, &mut fx).unwrap();
            assert_eq!(tr.workers[&w].activity_sid, AVAIL);
        }
        assert_eq!(tr.tasks[&task].reservations.len(), 5);
        assert_eq!(tr.offer_loops, vec![task]);
    }

    #[test]
    fn reject_with_unavailable_moves_on_and_settled_reject_is_a_4xx() {
        let mut tr = router();
        let w = worker(&mut tr, "w", "sales", 0);
        let mut fx = Effects::default();
        let task = tr.create_task(json!({"skill":"sales"}), 1, &mut fx);
        let res = fx.assignments[0].0.clone();
        tr.reject(&res, Some(UNAV), 2, &mut fx).unwrap();
        assert_eq!(tr.workers[&w].activity_sid, UNAV);
        assert_eq!(tr.tasks[&task].status, TaskStatus::Pending);
        let err = tr.reject(&res, Some(UNAV), 3, &mut fx).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(tr.accept(&res, 3, &mut fx).is_none());
    }

    #[test]
    fn queue_timeout_waits_for_the_pending_reservation() {
        let mut tr = router();
        let _w = worker(&mut tr, "w", "sales", 0);
        let mut fx = Effects::default();
        let task = tr.create_task(json!({"skill":"sales"}), 0, &mut fx);
        let res = fx.assignments[0].0.clone();
        let target = Timer::Target {
            task: task.clone(),
            target: 0,
        };
        tr.on_timer(&target, 60_000, &mut fx);
        assert_ne!(tr.tasks[&task].queue_sid.as_deref(), Some(NOBODY));
        let mut fx = Effects::default();
        tr.reject(&res, Some(UNAV), 61_000, &mut fx).unwrap();
        assert_eq!(tr.tasks[&task].queue_sid.as_deref(), Some(NOBODY));
        assert!(event_types(&fx).contains(&"task-queue.entered".to_string()));
    }

    #[test]
    fn accept_then_complete_frees_the_worker_and_cancel_rules() {
        let mut tr = router();
        let w = worker(&mut tr, "w", "sales", 0);
        let mut fx = Effects::default();
        let task = tr.create_task(json!({"skill":"sales"}), 0, &mut fx);
        let res = fx.assignments[0].0.clone();
        assert_eq!(tr.accept(&res, 1, &mut fx), Some(task.clone()));
        assert!(tr.cancel_task(&task, "x", 2, &mut fx).is_err());
        tr.call_ended(&res, Some(AVAIL), 3, &mut fx);
        assert!(tr.workers[&w].reservation.is_none());
        // Offline with a pending reservation needs RejectPendingReservations.
        let mut fx = Effects::default();
        let task2 = tr.create_task(json!({"skill":"sales"}), 4, &mut fx);
        assert!(
            tr.update_worker(&w, Some(OFF), None, false, 5, &mut fx)
                .is_err()
        );
        tr.update_worker(&w, Some(OFF), None, true, 5, &mut fx)
            .unwrap();
        assert_eq!(tr.tasks[&task2].status, TaskStatus::Pending);
        tr.cancel_task(&task2, "hangup", 6, &mut fx).unwrap();
        assert_eq!(tr.tasks[&task2].status, TaskStatus::Canceled);
    }

    fn inconvenient() -> TaskRouter {
        let mut tr = router();
        tr.settings.readings = Readings::inconvenient();
        tr
    }

    #[test]
    fn a_wrapping_task_holds_the_worker_until_completed_over_rest() {
        let mut tr = inconvenient();
        let w = worker(&mut tr, "w", "sales", 0);
        let mut fx = Effects::default();
        let first = tr.create_task(json!({"skill":"sales"}), 0, &mut fx);
        let res = fx.assignments[0].0.clone();
        tr.accept(&res, 1, &mut fx);
        assert!(tr.complete_task("WT404", 2, &mut fx).is_err());
        let mut fx = Effects::default();
        tr.call_ended(&res, Some(AVAIL), 2, &mut fx);
        assert_eq!(tr.tasks[&first].status, TaskStatus::Wrapping);
        assert_eq!(event_types(&fx), vec!["task.wrapup", "reservation.wrapup"]);
        let mut fx = Effects::default();
        let second = tr.create_task(json!({"skill":"sales"}), 3, &mut fx);
        assert!(
            fx.assignments.is_empty(),
            "the wrapping task holds capacity"
        );
        let mut fx = Effects::default();
        tr.complete_task(&first, 4, &mut fx).unwrap();
        assert_eq!(tr.tasks[&first].status, TaskStatus::Completed);
        assert_eq!(fx.assignments.len(), 1, "offered the waiting task");
        assert_eq!(param(&fx.assignments[0].1, "TaskSid"), second);
        assert_eq!(param(&fx.assignments[0].1, "WorkerSid"), w);
        let again = tr.complete_task(&first, 5, &mut fx).unwrap_err();
        assert_eq!(again.status, 400, "{again:?}");
    }

    #[test]
    fn a_timed_out_target_moves_the_task_without_entered_and_the_filter_applies() {
        let mut tr = inconvenient();
        let _w = worker(&mut tr, "w", "sales", 0);
        let mut fx = Effects::default();
        let task = tr.create_task(json!({"skill":"sales"}), 0, &mut fx);
        let res = fx.assignments[0].0.clone();
        tr.reject(&res, Some(UNAV), 1, &mut fx).unwrap();
        let mut fx = Effects::default();
        let target = Timer::Target {
            task: task.clone(),
            target: 0,
        };
        tr.on_timer(&target, 60_000, &mut fx);
        assert_eq!(tr.tasks[&task].queue_sid.as_deref(), Some(NOBODY));
        assert_eq!(tr.tasks[&task].nobody_since, Some(60_000));
        assert_eq!(
            event_types(&fx),
            vec!["task-queue.timeout", "task-queue.moved"]
        );
        tr.settings.events_filter = Some(vec!["task-queue.entered".into()]);
        let mut fx = Effects::default();
        tr.create_task(json!({"skill":"sales"}), 61_000, &mut fx);
        assert_eq!(event_types(&fx), vec!["task-queue.entered"]);
    }

    #[test]
    fn the_max_assignment_count_cancels_a_waiting_task() {
        let mut tr = inconvenient();
        let w = worker(&mut tr, "w", "sales", 0);
        let mut fx = Effects::default();
        let task = tr.create_task(json!({"skill":"sales"}), 1, &mut fx);
        for _ in 0..10 {
            let Some((res, _)) = fx.assignments.pop() else {
                break;
            };
            fx = Effects::default();
            tr.reject(&res, None, 2, &mut fx).unwrap();
            assert_eq!(tr.workers[&w].activity_sid, AVAIL);
        }
        assert_eq!(tr.tasks[&task].reservations.len(), 5);
        assert_eq!(tr.tasks[&task].status, TaskStatus::Canceled);
        assert_eq!(
            tr.tasks[&task].canceled_reason.as_deref(),
            Some(MAX_ASSIGNMENTS_REASON)
        );
        assert!(event_types(&fx).contains(&"task.canceled".to_string()));
    }
}
