//! The real `homeline` binary (`workers`, `voicemails`, `block`, `table`) against
//! DynamoDB Local (start it with `scripts/local-stack.sh run -- cargo test -p homeline`).

use std::process::{Command, Output};

use homeline_core::model::{Activity, Voicemail};
use homeline_core::store::{BlocklistStore, DynamoStore, VoicemailStore, WorkerStore};
use testkit::dynamo::{dynamodb_url, fresh_store};

/// Runs `homeline args...` with only the environment the operator would set.
fn homeline(table: &str, extra_env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_homeline"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("SKILLS", "sales,support");
    for (k, v) in extra_env {
        command.env(k, v);
    }
    match command.output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run homeline: {e}"),
    }
}

/// `homeline workers add <phone> --name <name> --skills <skills>`.
fn add(table: &str, phone: &str, name: &str, skills: &str) -> Output {
    homeline(
        table,
        &[],
        &["workers", "add", phone, "--name", name, "--skills", skills],
    )
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn table_create_then_add_list_remove_end_to_end() {
    // A name of our own, created by the binary (fresh_store's table is a
    // neighbour that proves nothing leaks between tables).
    let neighbour = fresh_store().await;
    let table = format!("{}-cli", neighbour.table());
    for _ in 0..2 {
        let created = homeline(&table, &[], &["table", "create"]);
        assert!(created.status.success(), "create: {}", stderr(&created));
        assert!(
            stdout(&created).contains("is ready"),
            "{}",
            stdout(&created)
        );
    }

    let added = add(&table, "+1 (555) 010-0001", "Ana", "sales,support");
    assert!(added.status.success(), "add: {}", stderr(&added));
    let added = add(&table, "5550100002", "Bo", "support");
    assert!(added.status.success(), "add: {}", stderr(&added));

    let store = DynamoStore::local(&dynamodb_url(), table.clone());
    let ana = store
        .get_worker("+15550100001")
        .await
        .expect("get")
        .expect("Ana stored");
    assert_eq!(
        (ana.name.as_str(), ana.skills.clone()),
        ("Ana", vec!["sales".to_string(), "support".to_string()])
    );
    assert!(neighbour.list_workers().await.expect("list").is_empty());

    let listed = homeline(&table, &[], &["workers", "list"]);
    assert!(listed.status.success(), "list: {}", stderr(&listed));
    let text = stdout(&listed);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("WORKER SID"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("Ana")
            && lines[1].contains("+15550100001")
            && lines[1].contains("sales,support"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("Bo ") && lines[2].contains("+15550100002"),
        "{text}"
    );

    let removed = homeline(&table, &[], &["workers", "remove", "+15550100002"]);
    assert!(removed.status.success(), "remove: {}", stderr(&removed));
    assert!(
        stdout(&removed).contains("Removed Bo (+15550100002)"),
        "{}",
        stdout(&removed)
    );
    assert_eq!(store.get_worker("+15550100002").await.expect("get"), None);
    assert!(
        store
            .get_worker("+15550100001")
            .await
            .expect("get")
            .is_some()
    );
}

#[tokio::test]
async fn bad_phone_is_rejected_with_a_clear_error_and_nothing_stored() {
    let store = fresh_store().await;
    let output = add(store.table(), "+1 (555) abc", "Ana", "sales");
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("\"+1 (555) abc\" is not a phone number") && err.contains("E.164"),
        "{err}"
    );
    assert!(store.list_workers().await.expect("list").is_empty());
    let output = homeline(store.table(), &[], &["workers", "remove", "+1 (555) abc"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("E.164"), "{}", stderr(&output));
}

#[tokio::test]
async fn unknown_skill_and_missing_table_name_fail_clearly() {
    let store = fresh_store().await;
    let output = add(store.table(), "+15550100003", "Cy", "billing");
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("billing not in SKILLS (sales,support)"),
        "{}",
        stderr(&output)
    );
    let output = homeline("", &[], &["workers", "list"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("TABLE_NAME is not set"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn remove_of_an_online_worker_without_twilio_settings_names_the_variable_and_keeps_it() {
    let store = fresh_store().await;
    let added = add(store.table(), "+15550100004", "Di", "sales");
    assert!(added.status.success(), "{}", stderr(&added));
    let mut profile = store
        .get_worker("+15550100004")
        .await
        .expect("get")
        .expect("stored");
    profile.worker_sid = Some(testkit::sid("WK", 4));
    profile.activity = Some(Activity::Available);
    assert!(store.put_worker(&profile).await.expect("put").applied());

    let output = homeline(store.table(), &[], &["workers", "remove", "+15550100004"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("TWILIO_AUTH_TOKEN is not set"),
        "{}",
        stderr(&output)
    );
    assert!(
        store
            .get_worker("+15550100004")
            .await
            .expect("get")
            .is_some()
    );

    let listed = stdout(&homeline(store.table(), &[], &["workers", "list"]));
    assert!(
        listed.contains(&testkit::sid("WK", 4)) && listed.contains("available"),
        "{listed}"
    );
}

#[tokio::test]
async fn remove_sets_the_taskrouter_worker_offline_then_forgets_the_worker() {
    let store = fresh_store().await;
    let twilio = testkit::twilio_fake::TwilioFake::start().await;
    let attributes = serde_json::json!({"contact_uri": "+15550100005", "skills": ["sales"]});
    let worker_sid = twilio.add_worker("+15550100005", &attributes, testkit::ACTIVITY_AVAILABLE);
    let mut profile =
        homeline_core::model::WorkerProfile::new("+15550100005", "Ed", vec!["sales".into()]);
    profile.worker_sid = Some(worker_sid.clone());
    profile.activity = Some(Activity::Available);
    assert!(store.put_worker(&profile).await.expect("put").applied());

    // The binary blocks its thread; the fake answers from the runtime meanwhile.
    let table = store.table().to_string();
    let taskrouter_url = twilio.taskrouter_url().to_string();
    let output = tokio::task::spawn_blocking(move || {
        let twilio_env = [
            ("TWILIO_ACCOUNT_SID", testkit::ACCOUNT_SID),
            ("TWILIO_AUTH_TOKEN", testkit::AUTH_TOKEN),
            ("TWILIO_WORKSPACE_SID", testkit::WORKSPACE_SID),
            ("TWILIO_ACTIVITY_OFFLINE_SID", testkit::ACTIVITY_OFFLINE),
            ("TWILIO_TASKROUTER_URL", taskrouter_url.as_str()),
        ];
        homeline(
            &table,
            &twilio_env,
            &["workers", "remove", "+1 555 010 0005"],
        )
    })
    .await
    .expect("join");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&format!("TaskRouter worker {worker_sid} set Offline")),
        "{}",
        stdout(&output)
    );

    let updates = twilio.worker_updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].param("ActivitySid"),
        Some(testkit::ACTIVITY_OFFLINE)
    );
    assert_eq!(updates[0].param("RejectPendingReservations"), Some("true"));
    assert_eq!(
        twilio.worker(&worker_sid).expect("worker").activity_sid,
        testkit::ACTIVITY_OFFLINE
    );
    assert_eq!(store.get_worker("+15550100005").await.expect("get"), None);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn voicemails_left_by_callers_are_listed_newest_first() {
    let store = fresh_store().await;
    let empty = homeline(store.table(), &[], &["voicemails"]);
    assert!(empty.status.success(), "{}", stderr(&empty));
    assert_eq!(stdout(&empty), "No voicemails.\n");

    // As inbound stores them: one per recording, 14:00 UTC then a minute apart.
    for n in 1..=3u64 {
        let recording_sid = testkit::sid("RE", n);
        let voicemail = Voicemail {
            recording_sid: recording_sid.clone(),
            call_sid: testkit::sid("CA", n),
            caller: format!("+1555765000{n}"),
            skill: "sales".into(),
            recording_url: format!(
                "https://api.twilio.com/2010-04-01/Accounts/{}/Recordings/{recording_sid}",
                testkit::ACCOUNT_SID
            ),
            duration_secs: 30,
            received_at: 1_795_615_200 + 60 * i64::try_from(n).expect("small"),
        };
        assert!(
            store
                .put_voicemail(&voicemail)
                .await
                .expect("put")
                .applied()
        );
    }
    let listed = homeline(
        store.table(),
        &[("TIME_ZONE", "Europe/Berlin")],
        &["voicemails", "--limit", "2"],
    );
    assert!(listed.status.success(), "{}", stderr(&listed));
    let out = stdout(&listed);
    let callers: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(3))
        .collect();
    assert_eq!(callers, ["+15557650003", "+15557650002"], "{out}");
    assert!(out.contains("2026-11-25 15:03 CET"), "{out}");
    assert!(out.contains(&testkit::sid("RE", 3)), "{out}");
    assert!(!out.contains(&testkit::sid("RE", 1)), "{out}");
}

#[tokio::test]
async fn block_list_and_unblock_end_to_end() {
    let store = fresh_store().await;
    let table = store.table();
    let blocked = homeline(table, &[], &["block", "+1 555 777 0002"]);
    assert!(blocked.status.success(), "block: {}", stderr(&blocked));
    assert!(stdout(&blocked).starts_with("Blocked +15557770002"));
    assert!(store.is_blocked("+15557770002").await.expect("read"));

    let listed = homeline(table, &[], &["blocked"]);
    assert!(listed.status.success(), "blocked: {}", stderr(&listed));
    assert!(
        stdout(&listed).contains("+15557770002  cli"),
        "{}",
        stdout(&listed)
    );

    let bad = homeline(table, &[], &["block", "call me"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("e.g. +15551234567"),
        "{}",
        stderr(&bad)
    );

    let unblocked = homeline(table, &[], &["unblock", "+15557770002"]);
    assert!(
        unblocked.status.success(),
        "unblock: {}",
        stderr(&unblocked)
    );
    assert!(!store.is_blocked("+15557770002").await.expect("read"));
    assert_eq!(store.list_blocked().await.expect("list"), vec![]);
}

#[tokio::test]
async fn report_reads_today_s_call_records() {
    use homeline_core::service::call_record::{self, Step, change};
    use homeline_core::store::{CallRecordStore, now_secs};
    let store = fresh_store().await;
    let now = now_secs();
    let today = call_record::day(homeline_core::domain::zone::Zone::UTC, now);
    let steps = [Step::Arrived {
        caller: "+15557654321",
        after_hours: false,
    }];
    let record = change(&testkit::sid("CA", 1), now, &steps);
    assert!(
        store
            .merge_call_record(&today, &record, true)
            .await
            .expect("merged")
            .applied()
    );
    let output = homeline(store.table(), &[], &["report", "--since", "1d"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.starts_with("DAY  "), "{out}");
    assert!(out.contains(&format!("\n{today}  1      0 ")), "{out}");
    assert!(
        out.ends_with("No worker answered, missed or called back a call.\n"),
        "{out}"
    );
}
