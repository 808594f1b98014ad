//! In-process tests on the in-memory store; the real binary against
//! DynamoDB Local is tested in `cli/tests/`.

use std::collections::HashMap;

use clap::Parser;
use homeline_core::model::{Activity, Voicemail};
use homeline_core::store::{BlocklistStore, MemoryStore, VoicemailStore, WorkerStore};

use super::*;

/// `report`'s clock: 2026-12-03T20:00Z, 14:00 in Chicago.
const NOW: i64 = 1_796_328_000;

async fn exec(
    store: &MemoryStore,
    env: &HashMap<&str, &str>,
    args: &[&str],
) -> Result<String, CliError> {
    let cli = Cli::try_parse_from(std::iter::once("homeline").chain(args.iter().copied()))
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    let lookup = |name: &str| env.get(name).map(|v| v.to_string());
    let mut out = Vec::new();
    match cli.command {
        Command::Workers(command) => run_workers(command, store, &lookup, &mut out).await?,
        Command::Voicemails(args) => run_voicemails(args, store, &lookup, &mut out).await?,
        Command::Blocklist(command) => run_blocklist(command, store, &lookup, &mut out).await?,
        Command::Report(args) => run_report(args, store, &lookup, NOW, &mut out).await?,
        other => return Err(CliError::Invalid(format!("not run in-process: {other:?}"))),
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

async fn add(
    store: &MemoryStore,
    env: &HashMap<&str, &str>,
    phone: &str,
    name: &str,
    skills: &str,
) -> Result<String, CliError> {
    let args = ["workers", "add", phone, "--name", name, "--skills", skills];
    exec(store, env, &args).await
}

fn skills_env() -> HashMap<&'static str, &'static str> {
    HashMap::from([("SKILLS", "sales,support")])
}

#[tokio::test]
async fn add_normalizes_the_phone_and_lists_it() {
    let store = MemoryStore::new();
    let env = skills_env();
    let out = add(
        &store,
        &env,
        "+1 (555) 123-4567",
        "Ana Li",
        "Sales, support",
    )
    .await
    .expect("add");
    assert!(
        out.contains("Enrolled Ana Li (+15551234567) for sales, support"),
        "{out}"
    );
    let profile = store
        .get_worker("+15551234567")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(profile.skills, vec!["sales", "support"]);
    assert_eq!(profile.worker_sid, None);
    let out = exec(&store, &env, &["workers", "list"])
        .await
        .expect("list");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0],
        "NAME    PHONE         SKILLS         ACTIVITY  COOLDOWN  UNTIL  WORKER SID  ANSWERED  MISSED  PIN  SMS",
        "{out}"
    );
    assert!(
        lines[1].starts_with("Ana Li  +15551234567  sales,support  -"),
        "{out}"
    );
    assert!(lines[1].ends_with("  -    ok"), "no PIN yet: {out}");
}

#[tokio::test]
async fn workers_list_shows_whose_keypad_is_locked() {
    let store = MemoryStore::new();
    let hash = homeline_core::domain::pin::Pin::parse("4821")
        .expect("a PIN")
        .hash(b"salt");
    let mut ana = homeline_core::model::WorkerProfile::new("+15551234567", "Ana", vec![]);
    ana.pin = Some(hash.clone());
    let mut ben = homeline_core::model::WorkerProfile::new("+15551234568", "Ben", vec![]);
    ben.pin = Some(hash);
    ben.pin_locked_until = Some(homeline_core::store::now_secs() + 600);
    for worker in [&ana, &ben] {
        assert!(store.put_worker(worker).await.expect("put").applied());
    }
    let out = exec(&store, &skills_env(), &["workers", "list"])
        .await
        .expect("list");
    let row = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
    };
    assert!(row("Ana").ends_with("  set     ok"), "{out}");
    assert!(row("Ben").ends_with("  locked  ok"), "{out}");
}

#[tokio::test]
async fn workers_list_shows_cooldowns_and_untils_in_the_time_zone() {
    let store = MemoryStore::new();
    let now = homeline_core::store::now_secs();
    let mut ana = homeline_core::model::WorkerProfile::new("+15551234567", "Ana", vec![]);
    ana.activity = Some(homeline_core::model::Activity::Unavailable);
    ana.cooldown_until = Some(now + 600);
    // `on … until` an hour from now: the scheduler takes her off then.
    ana.duty_until = Some(homeline_core::model::DutyUntil {
        at: now + 3600,
        then: homeline_core::model::Duty::Off,
    });
    let mut ben = homeline_core::model::WorkerProfile::new("+15551234568", "Ben", vec![]);
    ben.cooldown_until = Some(now - 60);
    for worker in [&ana, &ben] {
        assert!(store.put_worker(worker).await.expect("put").applied());
    }
    let mut env = skills_env();
    env.insert("TIME_ZONE", "Asia/Kolkata");
    let out = exec(&store, &env, &["workers", "list"])
        .await
        .expect("list");
    let until = chrono::DateTime::from_timestamp(now + 600, 0)
        .expect("a time")
        .with_timezone(&chrono_tz::Asia::Kolkata)
        .format("until %H:%M")
        .to_string();
    let row = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
    };
    let off_at = chrono::DateTime::from_timestamp(now + 3600, 0)
        .expect("a time")
        .with_timezone(&chrono_tz::Asia::Kolkata)
        .format("off %a %H:%M")
        .to_string();
    assert!(
        row("Ana").contains(&format!("unavailable  {until}  {off_at}  ")),
        "{out}"
    );
    assert!(
        row("Ben").contains("  -            -            -  "),
        "over: {out}"
    );
}

#[tokio::test]
async fn workers_list_shows_who_is_sms_blocked() {
    let store = MemoryStore::new();
    let mut ana = homeline_core::model::WorkerProfile::new("+15551234567", "Ana", vec![]);
    ana.sms_blocked = true;
    assert!(store.put_worker(&ana).await.expect("put").applied());
    let out = exec(&store, &skills_env(), &["workers", "list"])
        .await
        .expect("list");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with("  SMS"), "{out}");
    assert!(lines[1].ends_with("  blocked"), "{out}");
}

#[tokio::test]
async fn bad_input_is_a_clear_error_and_stores_nothing() {
    let store = MemoryStore::new();
    let env = skills_env();
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "workers",
                "add",
                "+1 (555) abc",
                "--name",
                "Ana",
                "--skills",
                "sales",
            ],
            "E.164",
        ),
        (
            &[
                "workers",
                "add",
                "+15551234567",
                "--name",
                " ",
                "--skills",
                "sales",
            ],
            "--name",
        ),
        (
            &[
                "workers",
                "add",
                "+15551234567",
                "--name",
                "Ana",
                "--skills",
                "billing",
            ],
            "billing not in SKILLS",
        ),
        (
            &[
                "workers",
                "add",
                "+15551234567",
                "--name",
                "Ana",
                "--skills",
                "sa les",
            ],
            "--skills",
        ),
        (
            &["workers", "add", "+15551234567", "--name", "Ana"],
            "--skills",
        ),
    ];
    for (args, expected) in cases {
        let err = exec(&store, &env, args).await.expect_err(&args.join(" "));
        assert!(err.to_string().contains(expected), "{args:?}: {err}");
    }
    assert!(store.list_workers().await.expect("list").is_empty());
}

#[tokio::test]
async fn without_skills_config_any_well_formed_skill_is_accepted() {
    let store = MemoryStore::new();
    let out = exec(
        &store,
        &HashMap::new(),
        &[
            "workers",
            "add",
            "5551234567",
            "--name",
            "Bo",
            "--skills",
            "billing",
        ],
    )
    .await
    .expect("add");
    assert!(out.contains("+15551234567"), "{out}");
}

#[tokio::test]
async fn adding_twice_is_refused_and_keeps_the_first() {
    let store = MemoryStore::new();
    let env = skills_env();
    add(&store, &env, "+15551234567", "Ana", "sales")
        .await
        .expect("add");
    let err = add(&store, &env, "+15551234567", "Bo", "support")
        .await
        .expect_err("second add");
    assert!(err.to_string().contains("already enrolled"), "{err}");
    let profile = store
        .get_worker("+15551234567")
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(profile.name, "Ana");
}

#[tokio::test]
async fn remove_without_a_taskrouter_worker_needs_no_twilio() {
    let store = MemoryStore::new();
    let env = skills_env();
    add(&store, &env, "+15551234567", "Ana", "sales")
        .await
        .expect("add");
    let out = exec(&store, &env, &["workers", "remove", "555-123-4567"])
        .await
        .expect("remove");
    assert!(out.contains("Removed Ana (+15551234567)"), "{out}");
    assert!(store.list_workers().await.expect("list").is_empty());
    let err = exec(&store, &env, &["workers", "remove", "+15551234567"])
        .await
        .expect_err("gone");
    assert!(err.to_string().contains("not enrolled"), "{err}");
}

#[tokio::test]
async fn remove_with_a_taskrouter_worker_names_the_missing_twilio_variable() {
    let store = MemoryStore::new();
    let mut profile =
        homeline_core::model::WorkerProfile::new("+15551234567", "Ana", vec!["sales".into()]);
    profile.worker_sid = Some(testkit::sid("WK", 1));
    profile.activity = Some(Activity::Available);
    assert!(store.put_worker(&profile).await.expect("put").applied());
    let mut env = skills_env();
    env.insert("TWILIO_ACCOUNT_SID", testkit::ACCOUNT_SID);
    let err = exec(&store, &env, &["workers", "remove", "+15551234567"])
        .await
        .expect_err("no token");
    assert_eq!(
        err,
        CliError::MissingVar {
            var: "TWILIO_AUTH_TOKEN",
            why: "workers remove sets the worker's TaskRouter worker Offline and needs Twilio credentials"
        }
    );
    assert!(
        err.to_string().contains("TWILIO_AUTH_TOKEN is not set"),
        "{err}"
    );
    assert_eq!(
        store.list_workers().await.expect("list").len(),
        1,
        "kept until TaskRouter is updated"
    );
}

#[test]
fn missing_table_name_is_named() {
    let err = table_name(&|_: &str| None).expect_err("unset");
    assert!(err.to_string().contains("TABLE_NAME"), "{err}");
}

#[test]
fn help_texts_describe_every_command() {
    use clap::CommandFactory;
    let mut command = Cli::command();
    command.build();
    let workers = command.find_subcommand("workers").expect("workers");
    for name in ["add", "remove", "list"] {
        let sub = workers.find_subcommand(name).expect(name);
        assert!(sub.get_about().is_some(), "{name} has no help text");
    }
    for name in ["workers", "voicemails", "report", "table", "provision"] {
        let sub = command.find_subcommand(name).expect(name);
        assert!(sub.get_about().is_some(), "{name} has no help text");
    }
    Cli::command().debug_assert();
}

fn voicemail(n: u32, caller: &str, skill: &str, duration_secs: u32, received_at: i64) -> Voicemail {
    Voicemail {
        recording_sid: testkit::sid("RE", n.into()),
        call_sid: testkit::sid("CA", n.into()),
        caller: caller.into(),
        skill: skill.into(),
        recording_url: format!(
            "https://api.twilio.com/2010-04-01/Accounts/{}/Recordings/{}",
            testkit::ACCOUNT_SID,
            testkit::sid("RE", n.into())
        ),
        duration_secs,
        received_at,
    }
}

#[tokio::test]
async fn voicemails_are_listed_newest_first_with_length_and_local_time() {
    let store = MemoryStore::new();
    let none = exec(&store, &HashMap::new(), &["voicemails"])
        .await
        .expect("empty list");
    assert_eq!(none, "No voicemails.\n");

    // 2026-11-25 14:00:00 UTC, then 10 and 20 minutes later.
    let base = 1_795_615_200;
    for (n, caller, skill, secs, at) in [
        (1, "+15557654321", "sales", 5, base),
        (2, "+15557650002", "support", 65, base + 600),
        (3, "+15557650003", "general", 600, base + 1200),
    ] {
        assert!(
            store
                .put_voicemail(&voicemail(n, caller, skill, secs, at))
                .await
                .expect("put")
                .applied()
        );
    }
    let env = HashMap::from([("TIME_ZONE", "America/New_York")]);
    let out = exec(&store, &env, &["voicemails", "--limit", "2"])
        .await
        .expect("list");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "header + the 2 newest: {out}");
    assert!(lines[0].starts_with("RECEIVED"), "{out}");
    assert!(
        lines[1].starts_with("2026-11-25 09:20 EST  +15557650003  general  10:00"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("2026-11-25 09:10 EST  +15557650002  support  1:05 "),
        "{out}"
    );
    assert!(lines[2].ends_with(&testkit::sid("RE", 2)), "{out}");

    let utc = exec(&store, &HashMap::new(), &["voicemails"])
        .await
        .expect("list");
    assert_eq!(utc.lines().count(), 4, "{utc}");
    assert!(
        utc.lines()
            .nth(3)
            .is_some_and(|l| l.starts_with("2026-11-25 14:00 UTC")),
        "{utc}"
    );
}

#[tokio::test]
async fn voicemails_refuses_a_bad_time_zone_and_a_bad_limit() {
    let store = MemoryStore::new();
    let env = HashMap::from([("TIME_ZONE", "Mars/Olympus")]);
    let err = exec(&store, &env, &["voicemails"])
        .await
        .expect_err("bad zone");
    assert!(err.to_string().contains("TIME_ZONE"), "{err}");
    for limit in ["0", "1001", "ten"] {
        let err = exec(&store, &HashMap::new(), &["voicemails", "--limit", limit])
            .await
            .expect_err(limit);
        assert!(err.to_string().contains("--limit"), "{limit}: {err}");
    }
}

#[tokio::test]
async fn block_unblock_and_list_numbers() {
    let store = MemoryStore::new();
    let env = HashMap::from([("TIME_ZONE", "America/New_York")]);
    let out = exec(&store, &env, &["blocked"]).await.expect("blocked");
    assert_eq!(out, "No numbers are blocked.\n");
    let out = exec(&store, &env, &["block", "+1 (555) 777-0001"])
        .await
        .expect("block");
    assert_eq!(
        out,
        "Blocked +15557770001: its calls are rejected unanswered.\n"
    );
    assert!(store.is_blocked("+15557770001").await.expect("read"));
    let out = exec(&store, &env, &["block", "+15557770001"])
        .await
        .expect("again");
    assert_eq!(out, "+15557770001 was already blocked.\n");
    let out = exec(&store, &env, &["blocked"]).await.expect("list");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("NUMBER        BLOCKED BY  SINCE"),
        "{out}"
    );
    assert!(lines[1].starts_with("+15557770001  cli"), "{out}");
    assert!(lines[1].ends_with("EST"), "times in TIME_ZONE: {out}");
    let out = exec(&store, &env, &["unblock", "+15557770001"])
        .await
        .expect("unblock");
    assert_eq!(
        out,
        "Unblocked +15557770001: its calls ring through again.\n"
    );
    let out = exec(&store, &env, &["unblock", "+15557770001"])
        .await
        .expect("unblock again");
    assert_eq!(out, "+15557770001 was not blocked.\n");
    assert!(!store.is_blocked("+15557770001").await.expect("read"));
}

#[tokio::test]
async fn a_number_that_is_not_one_is_refused_with_an_example() {
    let store = MemoryStore::new();
    for args in [["block", "555-1234"], ["unblock", "anonymous"]] {
        let error = exec(&store, &HashMap::new(), &args)
            .await
            .expect_err("refused");
        assert!(error.to_string().contains("e.g. +15551234567"), "{error}");
    }
    assert_eq!(store.list_blocked().await.expect("list"), vec![]);
}

#[tokio::test]
async fn report_shows_each_day_then_each_worker() {
    use homeline_core::model::{FollowUpReason, FollowUpState};
    use homeline_core::service::call_record::{Step, change};
    use homeline_core::service::follow_up;
    use homeline_core::store::{CallRecordStore, FollowUpStore};

    let store = MemoryStore::new();
    let env = HashMap::from([("TIME_ZONE", "America/Chicago")]);
    add(&store, &env, "+15550000001", "Ann", "sales")
        .await
        .expect("add");
    let (ann, bob) = ("+15550000001", "+15550000002");
    let arrived = Step::Arrived {
        caller: "+15557654321",
        after_hours: false,
    };
    let at = NOW - 3600;
    // (day, call, [(seconds after `at`, step)])
    let steps = [
        (
            "2026-12-03",
            "CA1",
            vec![
                (0, arrived),
                (
                    20,
                    Step::Answered {
                        by: ann,
                        reservation: "WR20",
                    },
                ),
            ],
        ),
        (
            "2026-12-03",
            "CA2",
            vec![
                (0, arrived),
                (
                    40,
                    Step::Answered {
                        by: ann,
                        reservation: "WR40",
                    },
                ),
            ],
        ),
        (
            "2026-12-03",
            "CA3",
            vec![
                (0, arrived),
                (30, Step::Missed { by: bob }),
                (60, Step::Voicemail),
            ],
        ),
        (
            "2026-12-02",
            "CA4",
            vec![(-86_400, arrived), (-86_360, Step::Abandoned)],
        ),
    ];
    for (day, call, steps) in &steps {
        for (after, step) in steps {
            let record = change(call, at + after, &[*step]);
            assert!(
                store
                    .merge_call_record(day, &record, true)
                    .await
                    .expect("merged")
                    .applied()
            );
        }
    }
    let new = follow_up::new(
        "CA3",
        "+15557654321",
        "sales",
        FollowUpReason::Voicemail,
        None,
    );
    let mut done = store.open_follow_up(&new).await.expect("opened");
    done.state = FollowUpState::Done;
    done.owner = Some(bob.into());
    assert!(store.put_follow_up(&done).await.expect("written").applied());

    let out = exec(&store, &env, &["report", "--since", "3d"])
        .await
        .expect("report");
    assert_eq!(
        out,
        "\
DAY         CALLS  ANSWERED  VOICEMAIL  ABANDONED  AFTER HOURS  MEDIAN ANSWER  P95 ANSWER
2026-12-01  0      0         0          0          0            -              -
2026-12-02  1      0         0          1          0            -              -
2026-12-03  3      2         1          0          0            20s            40s

WORKER  PHONE         ANSWERED  MISSED  CALLBACKS
Ann     +15550000001  2         0       0
-       +15550000002  0         1       1
"
    );

    let default = exec(&store, &env, &["report"]).await.expect("report");
    assert_eq!(
        default.lines().filter(|l| l.starts_with("2026-")).count(),
        7
    );
    assert!(default.contains("2026-11-27  0"), "{default}");
}

#[tokio::test]
async fn report_refuses_a_bad_range() {
    let store = MemoryStore::new();
    for since in ["0d", "91d", "7", "week", "1.5d"] {
        let err = exec(&store, &HashMap::new(), &["report", "--since", since])
            .await
            .expect_err(since);
        assert!(err.to_string().contains("1d to 90d"), "{since}: {err}");
    }
}
