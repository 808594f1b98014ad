//! `homeline provision` against the stand-in for Twilio's provisioning
//! endpoints (`testkit::provisioning`: state like Twilio's, every request
//! checked against Twilio's OpenAPI spec through Prism).
//!
//! Run under `scripts/local-stack.sh run -- cargo test -p homeline provision`.

use serde_json::{Value, json};
use testkit::provisioning::{
    BUSINESS_STATUS_CALLBACK, CUSTOMER, ProvisioningStandIn as Stand, WORKER, collection_and_sid,
};
use testkit::{ACCOUNT_SID, AUTH_TOKEN};

const BASE: &str = "https://abc.execute-api.us-east-1.amazonaws.com";
/// The workspace events the taskrouter-events function handles, sorted.
const EVENTS_SORTED: &str = "reservation.canceled,reservation.rescinded,reservation.timeout,\
                             task-queue.entered,task-queue.moved,task.canceled,task.wrapup,\
                             worker.activity.update,workflow.timeout";

/// `homeline provision` against the stand-in.
trait Provision {
    /// Runs the real binary against this stand-in.
    async fn provision(&self, extra: &[&str]) -> Run;
    async fn provision_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Run;
}

impl Provision for Stand {
    async fn provision(&self, extra: &[&str]) -> Run {
        self.provision_with_env(extra, &[("TWILIO_AUTH_TOKEN", AUTH_TOKEN)])
            .await
    }

    async fn provision_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_homeline"));
        command
            .env_clear()
            .env("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
            .env("TWILIO_API_URL", &self.url)
            .env("TWILIO_TASKROUTER_URL", &self.url)
            .envs(env.iter().copied())
            .arg("provision");
        for (flag, default) in [
            ("--base-url", BASE),
            ("--skills", "sales,support"),
            ("--customer-number", CUSTOMER),
        ] {
            if !extra.contains(&flag) {
                command.args([flag, default]);
            }
        }
        let output = command.args(extra).output().await.expect("run homeline");
        Run {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Self {
        assert!(
            self.success,
            "homeline provision failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// `Name=value` pairs of the parameter-overrides line (the last line).
    fn overrides(&self) -> Vec<(String, String)> {
        let line = self.stdout.lines().last().unwrap_or_default();
        line.split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

#[tokio::test]
async fn first_run_creates_everything_with_spec_valid_requests() {
    let twilio = Stand::start().await;
    let run = twilio.provision(&[]).await.ok();

    let workspace_created = twilio.creates_under("/v1/Workspaces");
    assert_eq!(workspace_created.len(), 1, "{:#?}", twilio.requests());
    let create = &workspace_created[0];
    assert_eq!(create.param("FriendlyName"), Some("Homeline"));
    assert_eq!(
        create.param("EventCallbackUrl"),
        // Event callbacks are never redelivered: a failed connection is retried.
        Some(format!("{BASE}/taskrouter-events#ct=2000&rc=3").as_str())
    );
    let mut events: Vec<&str> = create
        .param("EventsFilter")
        .unwrap_or_default()
        .split(',')
        .collect();
    events.sort_unstable();
    assert_eq!(events.join(","), EVENTS_SORTED);

    let workspace = twilio.named("/v1/Workspaces", "Homeline");
    let unavailable = twilio.named("/Activities", "Unavailable");
    assert_eq!(
        workspace["timeout_activity_sid"], unavailable["sid"],
        "workers whose reservation times out go Unavailable"
    );
    assert_eq!(unavailable["available"], false);

    let queues = twilio.creates_under("/TaskQueues");
    let targets: Vec<(Option<&str>, Option<&str>)> = queues
        .iter()
        .map(|q| (q.param("FriendlyName"), q.param("TargetWorkers")))
        .collect();
    assert_eq!(
        targets,
        vec![
            (Some("sales"), Some("skills HAS 'sales'")),
            (Some("support"), Some("skills HAS 'support'")),
            (Some("No one available"), Some("1 == 2")),
        ]
    );

    let workflows = twilio.creates_under("/Workflows");
    assert_eq!(workflows.len(), 1);
    let workflow = &workflows[0];
    assert_eq!(
        workflow.param("AssignmentCallbackUrl"),
        Some(format!("{BASE}/assignment").as_str())
    );
    let reservation_timeout: u32 = workflow
        .param("TaskReservationTimeout")
        .and_then(|t| t.parse().ok())
        .expect("TaskReservationTimeout");
    assert!(
        reservation_timeout > 20 + 5,
        "ring 20 s + AMD 5 s must fit: {reservation_timeout}"
    );
    let config: Value =
        serde_json::from_str(workflow.param("Configuration").unwrap_or_default()).expect("JSON");
    let sales = twilio.named("/TaskQueues", "sales")["sid"].clone();
    let nobody = twilio.named("/TaskQueues", "No one available")["sid"].clone();
    // Returning callers are on by default (STICKY_DAYS 30, STICKY_SECS
    // 20): each skill's returning filter comes first, its plain one after.
    let filters = config["task_routing"]["filters"]
        .as_array()
        .expect("filters");
    let named = |name: &str| {
        let at = filters
            .iter()
            .position(|f| f["filter_friendly_name"] == name);
        at.map(|at| (at, &filters[at])).expect(name)
    };
    let (returning_at, returning) = named("sales (returning)");
    let (plain_at, filter) = named("sales");
    assert!(
        returning_at < plain_at,
        "a returning caller meets their filter first"
    );
    assert_eq!(
        returning["expression"],
        "skill == 'sales' AND returning == true"
    );
    let known = &returning["targets"][0];
    assert_eq!(known["known_worker_sid"], "task.last_worker_sid");
    assert_eq!(known["queue"], sales);
    assert_eq!(known["timeout"], 20);
    let targets = |f: &Value| f["targets"].as_array().cloned().expect("targets");
    assert_eq!(targets(returning)[1..], targets(filter)[..]);
    assert_eq!(filter["expression"], "skill == 'sales'");
    assert_eq!(filter["targets"][0]["queue"], sales);
    assert_eq!(filter["targets"][0]["skip_if"], "workers.available == 0");
    // The most likely to answer first, then longest idle.
    assert_eq!(filter["targets"][0]["order_by"], "worker.answer_score DESC");
    assert_eq!(
        named("sales (callback)").1["targets"][0]["order_by"],
        "worker.answer_score DESC"
    );
    assert_eq!(
        known["order_by"],
        Value::Null,
        "one worker: nothing to order"
    );
    assert!(filter["targets"][0]["timeout"].as_u64().is_some());
    assert_eq!(filter["targets"][1]["queue"], nobody);
    assert_eq!(config["task_routing"]["default_filter"]["queue"], nobody);

    let number = twilio.number(CUSTOMER);
    assert_eq!(number["voice_url"], format!("{BASE}/inbound"));
    assert_eq!(number["sms_url"], format!("{BASE}/intake/sms"));
    assert_eq!(
        number["status_callback"],
        format!("{BASE}/inbound/call-ended")
    );
    assert_eq!(number["status_callback_method"], "POST");
    assert_eq!(
        twilio.number(WORKER)["voice_url"],
        "https://demo.twilio.com/welcome/voice/",
        "a number not named is left alone"
    );

    let overrides = run.overrides();
    let value = |name: &str| {
        overrides
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Value::from(v.as_str()))
            .unwrap_or_else(|| panic!("{name} missing from {overrides:?}"))
    };
    assert_eq!(value("TwilioWorkspaceSid"), workspace["sid"]);
    assert_eq!(
        value("TwilioWorkflowSid"),
        twilio.named("/Workflows", "Homeline")["sid"]
    );
    assert_eq!(
        value("TwilioActivityAvailableSid"),
        twilio.named("/Activities", "Available")["sid"]
    );
    assert_eq!(
        value("TwilioActivityOfflineSid"),
        twilio.named("/Activities", "Offline")["sid"]
    );
    assert_eq!(value("TwilioActivityUnavailableSid"), unavailable["sid"]);
    assert_eq!(value("NoWorkerQueueSid"), nobody);
    assert_eq!(value("Skills"), "sales,support");
    assert_eq!(overrides.len(), 7, "{}", run.stdout);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn second_run_makes_no_create_and_no_write() {
    let twilio = Stand::start().await;
    let first = twilio.provision(&[]).await.ok();
    assert!(!twilio.writes().is_empty());
    twilio.clear_requests();

    let second = twilio.provision(&[]).await.ok();
    let requests = twilio.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| !r.is_create()),
        "second run created: {requests:#?}"
    );
    assert_eq!(
        twilio.writes().len(),
        0,
        "second run wrote: {:#?}",
        twilio.writes()
    );
    assert_eq!(second.overrides(), first.overrides());
    assert!(
        second
            .stdout
            .lines()
            .filter(|l| l.starts_with("unchanged"))
            .count()
            >= 9
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn changed_base_url_updates_only_what_references_it() {
    let twilio = Stand::start().await;
    twilio.provision(&[]).await.ok();
    twilio.clear_requests();
    let moved = "https://calls.example.org";
    twilio.provision(&["--base-url", moved]).await.ok();

    let writes = twilio.writes();
    assert!(writes.iter().all(|r| !r.is_create()), "{writes:#?}");
    let mut changed: Vec<(String, Vec<&str>)> = writes
        .iter()
        .map(|r| {
            (
                collection_and_sid(&r.path)
                    .0
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string(),
                r.names(),
            )
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        vec![
            (
                "IncomingPhoneNumbers".to_string(),
                vec!["VoiceUrl", "StatusCallback", "SmsUrl"]
            ),
            ("Workflows".to_string(), vec!["AssignmentCallbackUrl"]),
            ("Workspaces".to_string(), vec!["EventCallbackUrl"]),
        ]
    );
    assert_eq!(
        twilio.named("/v1/Workspaces", "Homeline")["event_callback_url"],
        format!("{moved}/taskrouter-events#ct=2000&rc=3")
    );
    assert_eq!(
        twilio.number(CUSTOMER)["voice_url"],
        format!("{moved}/inbound")
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn dry_run_only_reads_and_prints_the_plan() {
    let twilio = Stand::start().await;
    let plan = twilio.provision(&["--dry-run"]).await.ok();
    assert!(twilio.writes().is_empty(), "{:#?}", twilio.writes());
    assert!(twilio.resources("/v1/Workspaces").is_empty());
    assert!(plan.stdout.contains("Dry run"), "{}", plan.stdout);
    for line in [
        "create     workspace \"Homeline\"",
        "create     task queue \"sales\"",
        "create     task queue \"No one available\"",
        "create     workflow \"Homeline\"",
        "update     number +15005550006",
    ] {
        assert!(
            plan.stdout.contains(line),
            "{line:?} not in:\n{}",
            plan.stdout
        );
    }
    assert!(
        plan.stdout.contains("run without --dry-run"),
        "{}",
        plan.stdout
    );

    // Once provisioned, a dry run with a new skill plans just that.
    twilio.provision(&[]).await.ok();
    twilio.clear_requests();
    let plan = twilio
        .provision(&["--dry-run", "--skills", "sales,support,billing"])
        .await
        .ok();
    assert!(twilio.writes().is_empty(), "{:#?}", twilio.writes());
    assert!(
        plan.stdout.contains("create     task queue \"billing\""),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("update     workflow \"Homeline\""),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("Configuration"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("unchanged  task queue \"sales\""),
        "{}",
        plan.stdout
    );
    assert!(
        twilio
            .resources("/TaskQueues")
            .iter()
            .all(|q| q["friendly_name"] != "billing")
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn separate_worker_number_gets_the_voice_menu() {
    let twilio = Stand::start().await;
    twilio
        .provision(&["--worker-number", "(500) 555-0007"])
        .await
        .ok();
    let customer = twilio.number(CUSTOMER);
    let worker = twilio.number(WORKER);
    assert_eq!(customer["voice_url"], format!("{BASE}/inbound"));
    assert_eq!(
        customer["sms_url"], "https://demo.twilio.com/welcome/sms/reply",
        "the customer number's SMS is not ours to route"
    );
    assert_eq!(
        customer["status_callback"],
        format!("{BASE}/inbound/call-ended")
    );
    assert_eq!(worker["voice_url"], format!("{BASE}/intake/voice"));
    assert_eq!(worker["sms_url"], format!("{BASE}/intake/sms"));
    assert_eq!(
        worker["status_callback"], BUSINESS_STATUS_CALLBACK,
        "workers' own calls are not customers'"
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn errors_name_the_problem_and_never_show_the_token() {
    let twilio = Stand::start().await;

    let missing = twilio.provision_with_env(&[], &[]).await;
    assert!(!missing.success);
    assert!(
        missing.stderr.contains("TWILIO_AUTH_TOKEN is not set"),
        "{}",
        missing.stderr
    );
    assert!(
        twilio.requests().is_empty(),
        "nothing is sent without credentials"
    );

    let token = "not-the-token-0123456789";
    let refused = twilio
        .provision_with_env(&[], &[("TWILIO_AUTH_TOKEN", token)])
        .await;
    assert!(!refused.success);
    assert!(refused.stderr.contains("20003"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("Authenticate"),
        "{}",
        refused.stderr
    );
    for output in [&refused.stdout, &refused.stderr] {
        assert!(!output.contains(token), "the token leaked: {output}");
    }

    let unknown = twilio
        .provision(&["--customer-number", "+15005550099"])
        .await;
    assert!(!unknown.success);
    assert!(
        unknown
            .stderr
            .contains("+15005550099 is not a phone number of this Twilio account"),
        "{}",
        unknown.stderr
    );

    let bad = twilio.provision(&["--base-url", "abc.example.com"]).await;
    assert!(!bad.success);
    assert!(bad.stderr.contains("--base-url"), "{}", bad.stderr);
}

#[tokio::test]
async fn an_older_workspace_gets_the_missing_activities_and_is_reused() {
    let twilio = Stand::start().await;
    // Workspaces made before 2018 came with Idle/Busy/Reserved/Offline.
    let workspace = twilio.add_workspace(
        "Homeline",
        &[
            ("Idle", true),
            ("Busy", false),
            ("Reserved", false),
            ("Offline", false),
        ],
    );
    let run = twilio.provision(&[]).await.ok();
    assert!(
        twilio.creates_under("/v1/Workspaces").is_empty(),
        "the workspace is reused"
    );
    assert_eq!(
        twilio.creates_under("/Activities").len(),
        2,
        "{:#?}",
        twilio.requests()
    );
    let activities = twilio.creates_under("/Activities");
    let available = activities
        .iter()
        .find(|r| r.param("FriendlyName") == Some("Available"))
        .expect("Available created");
    assert_eq!(available.param("Available"), Some("true"));
    let unavailable = activities
        .iter()
        .find(|r| r.param("FriendlyName") == Some("Unavailable"))
        .expect("Unavailable created");
    assert_eq!(unavailable.param("Available"), Some("false"));
    assert!(
        run.stdout
            .contains(&format!("TwilioWorkspaceSid={workspace} ")),
        "{}",
        run.stdout
    );
    assert_eq!(
        twilio.named("/v1/Workspaces", "Homeline")["timeout_activity_sid"],
        twilio.named("/Activities", "Unavailable")["sid"]
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_nobody_queue_opened_to_everyone_is_closed_again() {
    let twilio = Stand::start().await;
    twilio.provision(&[]).await.ok();
    // An omitted TargetWorkers matches every worker (docs/twilio.md, "Pitfall:
    // blank TargetWorkers").
    twilio.edit(
        "/TaskQueues",
        "No one available",
        "target_workers",
        json!("1==1"),
    );
    twilio.clear_requests();
    let run = twilio.provision(&[]).await.ok();
    let writes = twilio.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0].names(), vec!["TargetWorkers"]);
    assert_eq!(
        twilio.named("/TaskQueues", "No one available")["target_workers"],
        "1 == 2"
    );
    assert!(
        run.stdout
            .contains("update     task queue \"No one available\""),
        "{}",
        run.stdout
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn an_available_activity_that_is_not_available_stops_provisioning() {
    let twilio = Stand::start().await;
    twilio.add_workspace("Homeline", &[("Offline", false), ("Available", false)]);
    let run = twilio.provision(&[]).await;
    assert!(!run.success);
    assert!(
        run.stderr.contains("activity \"Available\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("available=false"), "{}", run.stderr);
    assert!(
        twilio.writes().is_empty(),
        "nothing changes: {:#?}",
        twilio.writes()
    );
}

#[tokio::test]
async fn fallbacks_point_both_numbers_and_the_workflow_at_the_static_answers() {
    let twilio = Stand::start().await;
    let fallback = "https://fb.execute-api.us-east-1.amazonaws.com/fallback";
    let flags = [
        "--worker-number",
        "(500) 555-0007",
        "--fallback-url",
        fallback,
        "--fallback-number",
        "+15005550010",
    ];
    let run = twilio.provision(&flags).await.ok();
    let customer = twilio.number(CUSTOMER);
    let worker = twilio.number(WORKER);
    for number in [&customer, &worker] {
        assert_eq!(
            number["voice_fallback_url"],
            format!("{fallback}/voice-forward")
        );
        assert_eq!(number["voice_fallback_method"], "POST");
    }
    assert_eq!(worker["sms_fallback_url"], format!("{fallback}/sms"));
    assert_eq!(worker["sms_fallback_method"], "POST");
    let workflow = twilio.named("/Workflows", "Homeline");
    assert_eq!(
        workflow["fallback_assignment_callback_url"],
        format!("{fallback}/assignment")
    );
    assert!(
        run.stdout.contains("FallbackNumber=+15005550010"),
        "{}",
        run.stdout
    );
    twilio.assert_spec_valid();

    twilio.clear_requests();
    twilio.provision(&flags).await.ok();
    assert!(twilio.writes().is_empty(), "{:#?}", twilio.writes());

    let missing = twilio.provision(&[]).await.ok();
    assert!(
        missing.stderr.contains("--fallback-url"),
        "{}",
        missing.stderr
    );
}
