//! What `sam build` produced is what AWS will run: each function's arm64
//! `bootstrap`, started as Lambda starts it (a Runtime API to poll, the
//! `AWS_LAMBDA_*` variables, `provided.al2023`'s glibc), answers every
//! events/ fixture of its function with the declared status and body; the
//! provisioner answers a custom-resource request at its response URL, the
//! scheduler EventBridge's tick.
//!
//! The artifacts are aarch64 ELF files, run here under `qemu-aarch64` with
//! Debian's arm64 glibc (`libc6-arm64-cross`), against DynamoDB Local and the
//! Twilio fake. `make sam-build` builds them, then runs this test with
//! `HOMELINE_SAM_BUILD_DIR` set; it is ignored in the ordinary test run
//! because the arm64 build alone takes minutes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;
use testkit::fixtures;
use testkit::response_url::ResponseUrl;
use testkit::runtime_api::{Outcome, RunningFunction, function_env};
use testkit::twilio_fake::TwilioFake;
use tokio::process::Command;

const BUILD_DIR_VAR: &str = "HOMELINE_SAM_BUILD_DIR";
/// Where `libc6-arm64-cross` puts the arm64 loader and glibc.
const ARM64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// A built artifact under qemu, as Lambda's arm64 machines run it.
fn under_qemu(bootstrap: &Path) -> Command {
    let mut command = Command::new("qemu-aarch64");
    command.arg("-L").arg(ARM64_SYSROOT).arg(bootstrap);
    command
}

/// SAM names each artifact folder after the function's logical id, which
/// scripts/check-template.py holds to the binary's name: `amd-result` is
/// built into `AmdResultFunction/bootstrap`.
fn artifact(build_dir: &Path, function: &str) -> PathBuf {
    let logical_id: String = function
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    build_dir
        .join(format!("{logical_id}Function"))
        .join("bootstrap")
}

/// An aarch64 ELF executable: the machine Lambda's arm64 functions run on.
fn assert_arm64_elf(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{} is not there ({e}): run `make sam-build`",
            path.display()
        )
    });
    assert!(
        bytes.len() > 20 && bytes.starts_with(b"\x7fELF"),
        "{} is not an ELF file",
        path.display()
    );
    // e_machine (offset 18, little-endian): 0xB7 is EM_AARCH64.
    let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    assert_eq!(machine, 0xB7, "{} is not built for arm64", path.display());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the arm64 artifacts of `sam build`: run `make sam-build`"]
async fn every_built_arm64_function_answers_its_fixtures() {
    let build_dir =
        PathBuf::from(std::env::var(BUILD_DIR_VAR).unwrap_or_else(|_| {
            panic!("set {BUILD_DIR_VAR} to sam build's output (.aws-sam/build)")
        }));
    let twilio = TwilioFake::start().await;
    let store = testkit::dynamo::fresh_store().await;
    fixtures::seed_world(&store, &twilio).await;

    let env = function_env(&twilio, &store);

    // Every function up at once, and the fixtures in catalogue order: a later
    // one builds on an earlier one's effect (an attempt the assignment opened).
    let all = fixtures::all();
    let mut running: BTreeMap<&str, RunningFunction> = BTreeMap::new();
    for fixture in &all {
        if !running.contains_key(fixture.function) {
            let bootstrap = artifact(&build_dir, fixture.function);
            assert_arm64_elf(&bootstrap);
            let artifact =
                RunningFunction::start(under_qemu(&bootstrap), fixture.function, &env).await;
            running.insert(fixture.function, artifact);
        }
    }
    assert_eq!(running.len(), 6, "fixtures cover all six webhook functions");
    for fixture in &all {
        let function = running.get_mut(fixture.function).expect("started above");
        match function.invoke(fixture.webhook.event()).await {
            Outcome::Response(response) => {
                let (status, body) = testkit::events::decode_response(&response);
                fixture.assert_answer("from the arm64 artifact", status, &body);
            }
            Outcome::Error(error) => panic!("{}: the function failed: {error}", fixture.name),
        }
    }
    twilio.idle().await;
    twilio.assert_spec_valid();

    // The provisioner, on a Delete with no number taken over: SUCCESS, PUT
    // to the response URL, nothing asked of Twilio.
    let responses = ResponseUrl::start().await;
    let bootstrap = artifact(&build_dir, "provisioner");
    assert_arm64_elf(&bootstrap);
    let mut provisioner = RunningFunction::start(under_qemu(&bootstrap), "provisioner", &env).await;
    let request = json!({
        "RequestType": "Delete",
        "ResponseURL": responses.url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/homeline/1",
        "RequestId": "00000000-0000-4000-8000-000000000001",
        "LogicalResourceId": "Provisioning",
        "PhysicalResourceId": "arn:aws:cloudformation:us-east-1:123456789012:stack/homeline/1/Provisioning",
        "ResourceType": "Custom::TwilioProvisioning",
        "ResourceProperties": {},
    });
    if let Outcome::Error(error) = provisioner.invoke(request).await {
        panic!("provisioner: the function failed: {error}");
    }
    let puts = responses.puts();
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert_eq!(puts[0].body["Status"], "SUCCESS", "{:?}", puts[0].body);

    // The scheduler, on EventBridge's tick: a run's report, and an event that
    // is no tick does nothing. The tick is now: the voicemail fixture's
    // follow-up is seconds old, so nothing is due yet (the run decides by the
    // event's time, so a fixed time would make it due once the calendar
    // passes it).
    let bootstrap = artifact(&build_dir, "scheduler");
    assert_arm64_elf(&bootstrap);
    let mut scheduler = RunningFunction::start(under_qemu(&bootstrap), "scheduler", &env).await;
    let tick = testkit::fixtures::scheduler_tick_at(chrono::Utc::now().timestamp());
    match scheduler.invoke(tick).await {
        Outcome::Response(report) => assert_eq!(
            report,
            json!({
                "escalation": { "due": 0, "sent": 0, "failed": 0, "cut_short": false },
                "late_announcements": { "due": 0, "failed": 0 },
                "callbacks": { "retried": 0, "failed": 0 },
                "digest": { "day": null, "sent": 0, "failed": 0 },
                "cooldowns": { "due": 0, "moved": 0, "failed": 0, "cut_short": false },
                "untils": { "due": 0, "moved": 0, "failed": 0, "cut_short": false },
                "off_at_close": { "due": 0, "moved": 0, "failed": 0, "cut_short": false },
                "coverage": { "uncovered": [], "sent": 0, "failed": 0, "cut_short": false },
            })
        ),
        Outcome::Error(error) => panic!("scheduler: the function failed: {error}"),
    }
    match scheduler.invoke(json!({ "rawPath": "/inbound" })).await {
        Outcome::Response(report) => assert!(report.get("ignored").is_some(), "{report}"),
        Outcome::Error(error) => panic!("scheduler: the function failed: {error}"),
    }
}
