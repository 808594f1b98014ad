//! End-to-end proof for Homeline: a Twilio stand-in with simulated time (a
//! discrete-event scheduler), a minimal TaskRouter, a phone network of
//! scripted people and machines, and a TwiML interpreter for both legs,
//! driving the real functions in-process with signed webhooks.
//!
//! Time: the simulation is paused while a webhook is being handled; REST
//! requests the function makes meanwhile (over real HTTP, to the stand-in's
//! server on 127.0.0.1) apply at that paused simulated instant.

pub mod carrier;
pub mod cost;
pub mod digest;
pub mod harness;
pub mod homeline;
pub mod load;
pub mod oracle;
pub mod phones;
pub mod report;
pub mod rest;
pub mod sim;
pub mod taskrouter;
pub mod twiml;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use homeline_core::Config;

pub use phones::{Caller, Phone, PhoneProfile, WorkerScript};
pub use report::Outcome;
pub use sim::{Chaos, World};

/// Simulated milliseconds since the start of a run.
pub type Ms = u64;

pub const PUBLIC_BASE_URL: &str = testkit::PUBLIC_BASE_URL;

/// A function's answer: HTTP status and body.
pub type Reply<'a> = Pin<Box<dyn Future<Output = (u16, String)> + Send + 'a>>;

/// A media file's bytes, when the endpoints serve it.
pub type MediaReply<'a> = Pin<Box<dyn Future<Output = Option<Vec<u8>>> + Send + 'a>>;

/// Whatever answers Twilio's webhooks (the real functions, or a test double).
pub trait Endpoints: Send + Sync {
    fn call(
        &self,
        path: String,
        query: Vec<(String, String)>,
        params: Vec<(String, String)>,
    ) -> Reply<'_>;

    /// The scheduler's invocation with EventBridge's `event`: its result.
    fn tick(&self, _event: String) -> Reply<'_> {
        Box::pin(async { (404, "no scheduler".to_string()) })
    }

    /// `GET path` for `<Play>` media; `None` when nothing is served there.
    fn media(&self, _path: String) -> MediaReply<'_> {
        Box::pin(async { None })
    }
}

/// How the stand-in reads what Twilio's documentation leaves open
/// (docs/twilio.md, "Where the documentation is silent"). Each flag is the
/// convenient reading when `true`; the default, every flag `false`, is the
/// inconvenient one the scenarios, the load run and `make simulate` use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readings {
    /// Task completion: a bridged task completes itself when the bridge ends.
    /// Inconvenient: it stays `wrapping`, holding the worker's voice capacity
    /// (no new reservation for them) until completed over REST.
    pub task_completes_itself: bool,
    /// Event redelivery: a workspace event or recording status callback
    /// answered 5xx is delivered again. Inconvenient: it is not.
    pub events_redelivered: bool,
    /// Enqueue action after redirect: the action is requested at once with
    /// `QueueResult=redirected` either way; here the redirect's URL runs the
    /// call. Inconvenient: the action's TwiML runs it.
    pub redirect_wins: bool,
    /// Queue moved vs entered: a target timeout raises `task-queue.entered`
    /// for the next queue as well as `task-queue.moved`. Inconvenient:
    /// `.moved` only.
    pub entered_after_move: bool,
    /// Tasks canceled by TaskRouter: the max assignment count is out of reach
    /// (a task offered that often is only flagged). Inconvenient: TaskRouter
    /// cancels it, with a reason other than `hangup`, while the caller waits.
    pub assignments_unlimited: bool,
    /// A wait `<Gather>`'s action: its answer runs as wait TwiML, inside the
    /// queue (what Twilio's own callback-and-voicemail plugin relies on).
    /// Inconvenient: the caller leaves the queue silently when the action is
    /// requested (no Enqueue action, the task still routes) and the answer
    /// runs the call as an ordinary document.
    pub wait_gather_in_queue: bool,
    /// Returning callers: `skip_if: 1==1` on the known-worker target sends
    /// the task on at once when the known worker cannot be reserved (off
    /// duty, cooling down, busy, outside the queue). Inconvenient: the task
    /// waits the whole `STICKY_SECS` there first.
    pub known_worker_skips: bool,
}

impl Readings {
    /// Every open point read the least convenient way (the default).
    pub fn inconvenient() -> Self {
        Self::default()
    }

    /// Every open point read the way that suits Homeline best.
    pub fn convenient() -> Self {
        Self {
            task_completes_itself: true,
            events_redelivered: true,
            redirect_wins: true,
            entered_after_move: true,
            assignments_unlimited: true,
            wait_gather_in_queue: true,
            known_worker_skips: true,
        }
    }
}

/// What `homeline provision` wants for a Homeline configuration, as far as
/// TaskRouter reads it (the workflow and its reservation timeout); the
/// numbers and URLs are the configuration's own.
pub fn provisioned(config: &Config) -> homeline_provision::Desired {
    let secs = |d: std::time::Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
    homeline_provision::Desired {
        workspace_name: "Homeline".into(),
        base_url: config.public_base_url.clone(),
        skills: config.skills.clone(),
        customer_number: config.twilio.caller_id.clone(),
        worker_number: config.twilio.caller_id.clone(),
        reservation_timeout_secs: homeline_provision::Desired::reservation_timeout(
            secs(config.ring_timeout),
            secs(config.amd_timeout),
        ),
        max_wait_secs: secs(config.max_wait),
        sticky_secs: homeline_provision::sticky_secs(
            config.sticky_days,
            homeline_core::config::STICKY_SECS_DEFAULT,
        ),
        fallback_url: None,
        fallback_number: None,
    }
}

/// TaskRouter settings matching a Homeline configuration: the workflow
/// `homeline provision` writes for it.
pub fn taskrouter_settings(config: &Config) -> taskrouter::Settings {
    let a = &config.activities;
    let desired = provisioned(config);
    let mut settings = taskrouter::Settings {
        workspace_sid: config.twilio.workspace_sid.clone(),
        workflow_sid: config.twilio.workflow_sid.clone(),
        account_sid: config.twilio.account_sid.clone(),
        activities: vec![
            (a.available.clone(), "Available".into(), true),
            (a.offline.clone(), "Offline".into(), false),
            (a.unavailable.clone(), "Unavailable".into(), false),
        ],
        available_activity: a.available.clone(),
        offline_activity: a.offline.clone(),
        timeout_activity: a.unavailable.clone(),
        skills: config.skills.clone(),
        no_worker_queue_sid: config.no_worker_queue_sid.clone(),
        workflow: serde_json::Value::Null,
        reservation_timeout_ms: u64::from(desired.reservation_timeout_secs) * 1000,
        max_reservations_per_task: 40,
        events_filter: Some(
            homeline_provision::EVENTS
                .iter()
                .map(|e| e.to_string())
                .collect(),
        ),
        readings: Readings::default(),
    };
    settings.workflow = desired.workflow_configuration(
        |skill| settings.queue_sid(skill).unwrap_or_default(),
        &config.no_worker_queue_sid,
    );
    settings
}

/// The running stand-in.
pub struct Sim {
    pub shared: Arc<rest::Shared>,
    /// Base URL of the REST server (TWILIO_API_URL and TWILIO_TASKROUTER_URL).
    pub base_url: String,
    /// Serves until the simulation is dropped.
    _server: testkit::twilio_http::Server,
    endpoints: Mutex<Option<Arc<dyn Endpoints>>>,
}

impl Sim {
    /// Starts the REST server. Webhooks go nowhere until [`Sim::connect`].
    pub async fn start(world: World, prism: Option<testkit::spec::SpecCheck>) -> Self {
        let shared = Arc::new(rest::Shared::new(world, prism));
        let server = rest::serve(shared.clone()).await;
        Self {
            shared,
            base_url: server.url().to_string(),
            _server: server,
            endpoints: Mutex::new(None),
        }
    }

    pub fn connect(&self, endpoints: Arc<dyn Endpoints>) {
        *self.endpoints.lock().expect("lock") = Some(endpoints);
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.shared.world()
    }

    /// Fetches `url` (when the functions serve it) as Twilio fetches `<Play>`
    /// media, so the stand-in plays it for its real length; media hosted
    /// elsewhere plays for `twiml::UNKNOWN_MEDIA_MS`.
    pub async fn learn_media(&self, url: &str) {
        let Some(path) = url.strip_prefix(PUBLIC_BASE_URL) else {
            return;
        };
        let endpoints = self.endpoints.lock().expect("lock").clone();
        let Some(endpoints) = endpoints else {
            return;
        };
        let file = endpoints.media(path.to_string()).await;
        match file.as_deref().and_then(twiml::wav_duration_ms) {
            Some(ms) => {
                self.world().media.insert(url.to_string(), ms);
            }
            None => self
                .world()
                .anomalies
                .push(format!("{url}: not a WAV file Twilio could play")),
        }
    }

    pub fn now(&self) -> Ms {
        self.world().now
    }

    /// Runs every event due up to `until` (simulated), delivering webhooks as they arise.
    pub async fn run_until(&self, until: Ms) {
        loop {
            let batch: Vec<sim::Hook> = {
                let mut world = self.world();
                if world.concurrent {
                    world.out.drain(..).collect()
                } else {
                    world.out.pop_front().into_iter().collect()
                }
            };
            if !batch.is_empty() {
                self.deliver(batch).await;
                continue;
            }
            let mut world = self.world();
            let Some(ev) = world.pop(until) else {
                break;
            };
            world.fire(ev);
            if world.concurrent {
                // Everything due at this instant goes out together.
                let now = world.now;
                while let Some(ev) = world.pop(now) {
                    world.fire(ev);
                }
            }
        }
        let mut world = self.world();
        world.now = world.now.max(until);
    }

    /// Runs for `ms` more simulated milliseconds.
    pub async fn run_for(&self, ms: Ms) {
        let until = self.now() + ms;
        self.run_until(until).await;
    }

    /// Sends webhooks due at this instant, all at once (as Twilio sends
    /// separate HTTP requests), then applies the answers in order.
    async fn deliver(&self, batch: Vec<sim::Hook>) {
        let endpoints = self.endpoints.lock().expect("lock").clone();
        // The functions' clock reads the simulated instant.
        let instant = self.world().unix_now();
        let mut requests = tokio::task::JoinSet::new();
        for (i, hook) in batch.iter().enumerate() {
            let endpoints = endpoints.clone();
            let url = hook.url.clone();
            let params = hook.params.clone();
            requests.spawn(homeline_core::store::at_instant(instant, async move {
                if url == sim::SCHEDULER {
                    let event = params.into_iter().next().unwrap_or_default().1;
                    let reply = match endpoints {
                        Some(e) => e.tick(event).await,
                        None => (503, "no endpoints connected".into()),
                    };
                    return (i, reply);
                }
                let Some(rest) = url.strip_prefix(PUBLIC_BASE_URL) else {
                    return (i, (404, String::new()));
                };
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                let query = serde_urlencoded::from_str(query).unwrap_or_default();
                let reply = match endpoints {
                    Some(e) => e.call(path.to_string(), query, params).await,
                    None => (503, "no endpoints connected".into()),
                };
                (i, reply)
            }));
        }
        let mut replies: Vec<(usize, (u16, String))> = Vec::new();
        while let Some(done) = requests.join_next().await {
            match done {
                Ok(reply) => replies.push(reply),
                Err(e) => panic!("webhook delivery task failed: {e}"),
            }
        }
        replies.sort_by_key(|(i, _)| *i);
        for (i, (status, body)) in replies {
            self.record(&batch[i], status, &body);
        }
    }

    fn record(&self, hook: &sim::Hook, status: u16, body: &str) {
        let mut world = self.world();
        let rest = hook.url.strip_prefix(PUBLIC_BASE_URL).unwrap_or(&hook.url);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path == "/intake/sms"
            && let Some((_, from)) = hook.params.iter().find(|(k, _)| k == "From")
        {
            world.sms_delivered(from);
        }
        let at = world.now;
        world.delivered.push(sim::Delivered {
            at,
            path: path.to_string(),
            query: query.to_string(),
            params: hook.params.clone(),
            status,
            body: body.to_string(),
        });
        world.respond(hook, status, body);
    }

    /// Every Prism violation of the requests served so far.
    pub async fn spec_violations(&self) -> Vec<String> {
        self.shared.violations().await
    }

    /// Schedules a caller.
    pub fn call_in(&self, caller: Caller) {
        let at = caller.arrive;
        self.world().schedule(at, sim::Ev::CallerArrives(caller));
    }

    /// Schedules an SMS from `from` to the worker line.
    pub fn sms_at(&self, at: Ms, from: &str, body: &str) {
        self.world().schedule(
            at,
            sim::Ev::Sms {
                from: from.to_string(),
                body: body.to_string(),
            },
        );
    }

    /// The caller of `call_sid` hangs up now.
    pub fn hang_up(&self, call_sid: &str) {
        let mut world = self.world();
        let now = world.now;
        world.schedule(now, sim::Ev::Patience(call_sid.to_string()));
    }

    pub fn add_worker(&self, worker: WorkerScript) {
        self.world().workers.insert(worker.phone.clone(), worker);
    }
}

#[cfg(test)]
mod selftest;

#[cfg(test)]
mod tests {
    use super::*;

    /// The stand-in routes by the very workflow `homeline provision` writes
    /// for its configuration, so its skill queues order workers as provision
    /// asks (plain and callback targets alike; no returning filters here).
    #[test]
    fn the_stand_in_orders_by_what_provision_writes() {
        let config = testkit::test_config(&[("STICKY_DAYS", "0")]);
        let settings = taskrouter_settings(&config);
        let written = provisioned(&config).workflow_configuration(
            |skill| settings.queue_sid(skill).unwrap_or_default(),
            &config.no_worker_queue_sid,
        );
        assert_eq!(settings.workflow, written);
        let order_by: Vec<&str> = written["task_routing"]["filters"]
            .as_array()
            .expect("filters")
            .iter()
            .map(|filter| filter["targets"][0]["order_by"].as_str().expect("order_by"))
            .collect();
        assert!(!order_by.is_empty());
        for written in order_by {
            assert_eq!(written, homeline_core::domain::answers::ORDER_BY);
        }
    }
}
