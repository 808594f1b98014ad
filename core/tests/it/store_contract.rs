//! The store contract, written once and run against both the in-memory fake
//! and DynamoDB Local (one test per case and backend).
//!
//! Run with `scripts/local-stack.sh run -- cargo test -p homeline-core store_contract`;
//! the `local_stack_dynamodb` tests fail with instructions when the local stack
//! is not up, and `make check` skips them.

use std::future::Future;
use std::sync::Arc;

use homeline_core::model::{
    Activity, Answer, AnswerRecord, AnswerWait, Attempt, AttemptChange, AttemptState,
    BlockedNumber, CallRecord, Callback, Duty, DutyUntil, FollowUp, FollowUpReason, FollowUpState,
    LastWorker, RecentWaits, TaskKind, Voicemail, WorkerProfile,
};
use homeline_core::service::call_record::{Step, change};
use homeline_core::store::{Store, StoreError, Write};
use testkit::sid;
use tokio::sync::Barrier;

/// Runs every listed case against each backend.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(homeline_core::store::MemoryStore::new()).await;
                }
            )*
        }
        mod local_stack_dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(testkit::dynamo::fresh_store().await).await;
                }
            )*
        }
    };
}

contract!(
    worker_roundtrip,
    workers_listed_by_phone_and_nothing_else,
    worker_remove,
    worker_versions,
    attempt_create_and_get,
    attempt_create_twice_is_lost,
    attempt_transition_from_allowed_states_only,
    attempt_transition_writes_only_given_fields,
    attempt_transition_of_missing_attempt_is_lost,
    attempts_listed_per_task_oldest_first,
    attempt_set_call_sid,
    voicemail_put_is_idempotent_per_recording,
    voicemails_listed_most_recent_first,
    once_claim_and_release,
    once_expired_marker_can_be_claimed,
    race_transition,
    race_create_attempt,
    race_claim_once,
    race_put_worker,
    race_put_voicemail,
    follow_up_open_takes_the_lowest_free_number_once_per_call,
    follow_up_put_is_versioned_and_done_frees_the_number,
    follow_ups_listed_open_oldest_first,
    race_open_follow_ups,
    race_put_follow_up,
    blocklist_block_unblock_and_list_by_number,
    race_block,
    call_record_steps_fill_fields_once,
    call_record_merge_without_create_needs_a_record,
    call_records_listed_per_day_in_arrival_order,
    call_record_read_by_day_and_call,
    race_call_record_steps,
    last_worker_latest_answer_wins_per_caller,
    last_worker_expires_with_its_ttl,
    recent_waits_per_skill_versioned,
    race_put_recent_waits,
);

const RACERS: usize = 16;

fn phone(n: u64) -> String {
    format!("+1555000{n:04}")
}

fn profile(n: u64) -> WorkerProfile {
    let mut p = WorkerProfile::new(
        phone(n),
        format!("Worker {n}"),
        vec!["sales".into(), "support".into()],
    );
    p.worker_sid = Some(sid("WK", n));
    p.activity = Some(Activity::Available);
    p.misses = 2;
    p.answered_total = 40;
    p.missed_total = 3;
    p
}

fn attempt(task: u64, reservation: u64, created_at: i64) -> Attempt {
    Attempt {
        reservation_sid: sid("WR", reservation),
        task_sid: sid("WT", task),
        worker_sid: sid("WK", reservation),
        phone: phone(reservation),
        skill: "sales".into(),
        caller_call_sid: Some(sid("CA", 1000 + task)),
        caller: Some(format!("+1555200{task:04}")),
        returning: false,
        queued_at: None,
        kind: TaskKind::Call,
        call_sid: None,
        state: AttemptState::Dialing,
        outcome: None,
        sip_response_code: None,
        created_at,
    }
}

fn voicemail(n: u64, received_at: i64) -> Voicemail {
    Voicemail {
        recording_sid: sid("RE", n),
        call_sid: sid("CA", n),
        caller: phone(900 + n),
        skill: "support".into(),
        recording_url: format!(
            "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/{}",
            sid("RE", n)
        ),
        duration_secs: 17,
        received_at,
    }
}

fn stored<T>(result: Result<T, StoreError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("store failed: {e}"),
    }
}

/// `profile` as the store hands it back at `version`.
fn at_version(mut profile: WorkerProfile, version: u64) -> WorkerProfile {
    profile.version = version;
    profile
}

async fn worker_roundtrip<S: Store>(store: S) {
    assert_eq!(stored(store.get_worker(&phone(1)).await), None);

    let full = profile(1);
    assert_eq!(stored(store.put_worker(&full).await), Write::Applied);
    assert_eq!(
        stored(store.get_worker(&phone(1)).await),
        Some(at_version(full.clone(), 1))
    );

    // Fresh enrolment: no skills, no TaskRouter worker, no activity yet.
    let bare = WorkerProfile::new(phone(2), "Bare", vec![]);
    assert_eq!(stored(store.put_worker(&bare).await), Write::Applied);
    assert_eq!(
        stored(store.get_worker(&phone(2)).await),
        Some(at_version(bare, 1))
    );

    // The SMS block is kept, and cleared again by the next full write.
    let mut blocked = at_version(full, 1);
    blocked.sms_blocked = true;
    assert_eq!(stored(store.put_worker(&blocked).await), Write::Applied);
    let read = stored(store.get_worker(&phone(1)).await).expect("stored");
    assert!(read.sms_blocked);
    let unblocked = WorkerProfile {
        sms_blocked: false,
        ..read
    };
    assert_eq!(stored(store.put_worker(&unblocked).await), Write::Applied);
    let read = stored(store.get_worker(&phone(1)).await).expect("stored");
    assert!(!read.sms_blocked);

    // A pending `until` is kept, and forgotten by the next write without it.
    let pending = DutyUntil {
        at: 1_800_000_000,
        then: Duty::On,
    };
    let asked = WorkerProfile {
        duty_until: Some(pending),
        ..read
    };
    assert_eq!(stored(store.put_worker(&asked).await), Write::Applied);
    let read = stored(store.get_worker(&phone(1)).await).expect("stored");
    assert_eq!(read.duty_until, Some(pending));
    let plain = WorkerProfile {
        duty_until: None,
        ..read
    };
    assert_eq!(stored(store.put_worker(&plain).await), Write::Applied);
    let read = stored(store.get_worker(&phone(1)).await).expect("stored");
    assert_eq!(read.duty_until, None);

    // The answer record (issue 17) is kept, oldest offer first.
    let answers = AnswerRecord {
        recent: vec![true, false, true],
        last_miss_at: Some(1_800_000_000),
    };
    let recorded = WorkerProfile {
        answers: answers.clone(),
        ..read
    };
    assert_eq!(stored(store.put_worker(&recorded).await), Write::Applied);
    let read = stored(store.get_worker(&phone(1)).await).expect("stored");
    assert_eq!(read.answers, answers);
}

async fn workers_listed_by_phone_and_nothing_else<S: Store>(store: S) {
    for n in [3, 1, 2] {
        assert!(stored(store.put_worker(&profile(n)).await).applied());
    }
    // Other kinds of items in the same table must not show up.
    assert!(stored(store.create_attempt(&attempt(1, 1, 10)).await).applied());
    assert!(stored(store.put_voicemail(&voicemail(1, 10)).await).applied());
    assert!(stored(store.claim_once("WORKER#+15550000009", 60).await).applied());

    let listed = stored(store.list_workers().await);
    assert_eq!(
        listed,
        vec![
            at_version(profile(1), 1),
            at_version(profile(2), 1),
            at_version(profile(3), 1),
        ]
    );
}

async fn worker_remove<S: Store>(store: S) {
    assert!(stored(store.put_worker(&profile(1)).await).applied());
    assert!(stored(store.put_worker(&profile(2)).await).applied());

    assert_eq!(
        stored(store.remove_worker(&phone(1)).await),
        Some(at_version(profile(1), 1))
    );
    assert_eq!(stored(store.get_worker(&phone(1)).await), None);
    assert_eq!(stored(store.remove_worker(&phone(1)).await), None);
    assert_eq!(
        stored(store.list_workers().await),
        vec![at_version(profile(2), 1)]
    );

    // Re-enrolling after removal starts again at version 0.
    assert_eq!(stored(store.put_worker(&profile(1)).await), Write::Applied);
    assert_eq!(
        stored(store.get_worker(&phone(1)).await).map(|p| p.version),
        Some(1)
    );
}

async fn worker_versions<S: Store>(store: S) {
    let original = profile(1);
    assert_eq!(stored(store.put_worker(&original).await), Write::Applied);

    // Creating over an existing profile loses and changes nothing.
    let mut other = profile(1);
    other.name = "Impostor".into();
    assert_eq!(stored(store.put_worker(&other).await), Write::Lost);
    let v1 = stored(store.get_worker(&phone(1)).await).expect("profile stored");
    assert_eq!(v1, at_version(original.clone(), 1));

    // An update from the current version applies and bumps it.
    let mut update = v1.clone();
    update.misses = 0;
    update.activity = Some(Activity::Offline);
    assert_eq!(stored(store.put_worker(&update).await), Write::Applied);
    let v2 = stored(store.get_worker(&phone(1)).await).expect("profile stored");
    assert_eq!(v2, at_version(update, 2));

    // A stale writer (read version 1) and a writer from the future both lose.
    let mut stale = v1;
    stale.name = "Stale".into();
    assert_eq!(stored(store.put_worker(&stale).await), Write::Lost);
    let future = at_version(v2.clone(), 7);
    assert_eq!(stored(store.put_worker(&future).await), Write::Lost);
    assert_eq!(stored(store.get_worker(&phone(1)).await), Some(v2));

    // Updating a profile that does not exist loses.
    assert_eq!(
        stored(store.put_worker(&at_version(profile(2), 1)).await),
        Write::Lost
    );
    assert_eq!(stored(store.get_worker(&phone(2)).await), None);
}

async fn attempt_create_and_get<S: Store>(store: S) {
    assert_eq!(
        stored(store.get_attempt(&sid("WT", 1), &sid("WR", 1)).await),
        None
    );

    let bare = attempt(1, 1, 100);
    let full = Attempt {
        caller_call_sid: None,
        caller: None,
        returning: true,
        queued_at: Some(40),
        kind: TaskKind::Callback(Callback {
            number: phone(902),
            original_call_sid: sid("CA", 4),
            queued_at: 77,
            try_no: 2,
        }),
        call_sid: Some(sid("CA", 5)),
        state: AttemptState::Answered,
        outcome: Some("human".into()),
        sip_response_code: Some(200),
        ..attempt(1, 2, 101)
    };
    for a in [&bare, &full] {
        assert_eq!(stored(store.create_attempt(a).await), Write::Applied);
        assert_eq!(
            stored(store.get_attempt(&a.task_sid, &a.reservation_sid).await).as_ref(),
            Some(a)
        );
    }
    // Keyed by task and reservation: the same reservation SID under another task is another attempt.
    assert_eq!(
        stored(store.get_attempt(&sid("WT", 2), &sid("WR", 1)).await),
        None
    );
}

async fn attempt_create_twice_is_lost<S: Store>(store: S) {
    let first = attempt(1, 1, 100);
    assert_eq!(stored(store.create_attempt(&first).await), Write::Applied);
    let again = Attempt {
        worker_sid: sid("WK", 99),
        state: AttemptState::Missed,
        created_at: 200,
        ..first.clone()
    };
    assert_eq!(stored(store.create_attempt(&again).await), Write::Lost);
    assert_eq!(
        stored(
            store
                .get_attempt(&first.task_sid, &first.reservation_sid)
                .await
        ),
        Some(first)
    );
}

async fn attempt_transition_from_allowed_states_only<S: Store>(store: S) {
    use AttemptState::*;
    let a = attempt(1, 1, 100);
    let (wt, wr) = (a.task_sid.clone(), a.reservation_sid.clone());
    assert!(stored(store.create_attempt(&a).await).applied());
    let get = || async { stored(store.get_attempt(&wt, &wr).await).expect("attempt stored") };

    let none = AttemptChange::default();
    // Not in an allowed state: nothing changes.
    assert_eq!(
        stored(
            store
                .transition(&wt, &wr, &[Answered], Bridging, &none)
                .await
        ),
        Write::Lost
    );
    assert_eq!(get().await, a);
    // No allowed state at all.
    assert_eq!(
        stored(store.transition(&wt, &wr, &[], Bridging, &none).await),
        Write::Lost
    );
    assert_eq!(get().await.state, Dialing);

    assert_eq!(
        stored(
            store
                .transition(&wt, &wr, &[Dialing, Answered], Answered, &none)
                .await
        ),
        Write::Applied
    );
    assert_eq!(get().await.state, Answered);

    let human = AttemptChange {
        outcome: Some("human".into()),
        ..AttemptChange::default()
    };
    assert_eq!(
        stored(
            store
                .transition(&wt, &wr, &[Dialing, Answered], Bridging, &human)
                .await
        ),
        Write::Applied
    );
    // The same callback again (retried or late) cannot apply twice.
    let machine = AttemptChange {
        outcome: Some("machine_start".into()),
        ..AttemptChange::default()
    };
    assert_eq!(
        stored(
            store
                .transition(&wt, &wr, &[Dialing, Answered], Missed, &machine)
                .await
        ),
        Write::Lost
    );
    let now = get().await;
    assert_eq!(
        (now.state, now.outcome.as_deref()),
        (Bridging, Some("human"))
    );

    assert_eq!(
        stored(
            store
                .transition(&wt, &wr, &[Bridging], Completed, &none)
                .await
        ),
        Write::Applied
    );
    assert_eq!(get().await.state, Completed);
}

async fn attempt_transition_writes_only_given_fields<S: Store>(store: S) {
    use AttemptState::*;
    let a = Attempt {
        outcome: Some("ringing".into()),
        ..attempt(1, 1, 100)
    };
    let (wt, wr) = (a.task_sid.clone(), a.reservation_sid.clone());
    assert!(stored(store.create_attempt(&a).await).applied());

    let with_call = AttemptChange {
        call_sid: Some(sid("CA", 7)),
        sip_response_code: Some(180),
        ..AttemptChange::default()
    };
    assert!(
        stored(
            store
                .transition(&wt, &wr, &[Dialing], Answered, &with_call)
                .await
        )
        .applied()
    );
    let after = stored(store.get_attempt(&wt, &wr).await).expect("attempt stored");
    assert_eq!(
        after,
        Attempt {
            state: Answered,
            call_sid: Some(sid("CA", 7)),
            sip_response_code: Some(180),
            ..a.clone()
        }
    );

    let busy = AttemptChange {
        outcome: Some("busy".into()),
        sip_response_code: Some(486),
        call_sid: None,
    };
    assert!(stored(store.transition(&wt, &wr, &[Answered], Missed, &busy).await).applied());
    let after = stored(store.get_attempt(&wt, &wr).await).expect("attempt stored");
    assert_eq!(
        after,
        Attempt {
            state: Missed,
            call_sid: Some(sid("CA", 7)),
            outcome: Some("busy".into()),
            sip_response_code: Some(486),
            ..a
        }
    );
}

async fn attempt_transition_of_missing_attempt_is_lost<S: Store>(store: S) {
    let (wt, wr) = (sid("WT", 1), sid("WR", 1));
    let change = AttemptChange {
        outcome: Some("human".into()),
        ..AttemptChange::default()
    };
    assert_eq!(
        stored(
            store
                .transition(
                    &wt,
                    &wr,
                    &[AttemptState::Dialing],
                    AttemptState::Bridging,
                    &change
                )
                .await
        ),
        Write::Lost
    );
    // And it left nothing behind.
    assert_eq!(stored(store.get_attempt(&wt, &wr).await), None);
    assert_eq!(stored(store.list_attempts(&wt).await), vec![]);
}

async fn attempts_listed_per_task_oldest_first<S: Store>(store: S) {
    // Reservation order differs from time order on purpose; 4 and 2 tie in time.
    let task1 = [
        attempt(1, 1, 300),
        attempt(1, 4, 200),
        attempt(1, 3, 100),
        attempt(1, 2, 200),
    ];
    let task2 = attempt(2, 9, 50);
    for a in task1.iter().chain([&task2]) {
        assert!(stored(store.create_attempt(a).await).applied());
    }
    let listed = stored(store.list_attempts(&sid("WT", 1)).await);
    let order: Vec<_> = listed.iter().map(|a| a.reservation_sid.clone()).collect();
    // Equal times keep reservation SID order.
    assert_eq!(
        order,
        vec![sid("WR", 3), sid("WR", 2), sid("WR", 4), sid("WR", 1)]
    );
    assert_eq!(
        stored(store.list_attempts(&sid("WT", 2)).await),
        vec![task2]
    );
    assert_eq!(stored(store.list_attempts(&sid("WT", 3)).await), vec![]);
}

async fn attempt_set_call_sid<S: Store>(store: S) {
    let a = Attempt {
        state: AttemptState::Missed,
        ..attempt(1, 1, 100)
    };
    assert!(stored(store.create_attempt(&a).await).applied());
    stored(
        store
            .set_call_sid(&a.task_sid, &a.reservation_sid, &sid("CA", 8))
            .await,
    );
    // No state condition: it lands whatever the state, and touches nothing else.
    assert_eq!(
        stored(store.get_attempt(&a.task_sid, &a.reservation_sid).await),
        Some(Attempt {
            call_sid: Some(sid("CA", 8)),
            ..a
        })
    );

    // For an unknown attempt it is a no-op that creates nothing.
    stored(
        store
            .set_call_sid(&sid("WT", 5), &sid("WR", 5), &sid("CA", 9))
            .await,
    );
    assert_eq!(
        stored(store.get_attempt(&sid("WT", 5), &sid("WR", 5)).await),
        None
    );
    assert_eq!(stored(store.list_attempts(&sid("WT", 5)).await), vec![]);
}

async fn voicemail_put_is_idempotent_per_recording<S: Store>(store: S) {
    let first = voicemail(1, 1_700_000_000);
    assert_eq!(stored(store.put_voicemail(&first).await), Write::Applied);
    // A retried recording callback arrives later, with another time.
    let retry = Voicemail {
        received_at: 1_700_000_090,
        duration_secs: 18,
        ..first.clone()
    };
    assert_eq!(stored(store.put_voicemail(&retry).await), Write::Lost);
    assert_eq!(stored(store.put_voicemail(&first).await), Write::Lost);
    assert_eq!(stored(store.list_voicemails(10).await), vec![first]);
}

async fn voicemails_listed_most_recent_first<S: Store>(store: S) {
    assert_eq!(stored(store.list_voicemails(10).await), vec![]);
    let all = [
        voicemail(1, 1_700_000_300),
        voicemail(2, 1_700_000_100),
        voicemail(3, 1_700_000_900),
        voicemail(4, 1_700_000_300),
        voicemail(5, 999_999_999), // one digit fewer: ordered by number, not text
    ];
    for v in &all {
        assert!(stored(store.put_voicemail(v).await).applied());
    }
    // Newest first; equal times by recording SID, highest first.
    let expected = vec![
        all[2].clone(),
        all[3].clone(),
        all[0].clone(),
        all[1].clone(),
        all[4].clone(),
    ];
    assert_eq!(stored(store.list_voicemails(10).await), expected);
    assert_eq!(
        stored(store.list_voicemails(2).await),
        expected[..2].to_vec()
    );
    assert_eq!(stored(store.list_voicemails(0).await), vec![]);
}

async fn once_claim_and_release<S: Store>(store: S) {
    let key = format!("voicemail-redirect#{}", sid("WT", 1));
    assert!(!stored(store.is_claimed(&key).await));
    assert_eq!(stored(store.claim_once(&key, 3600).await), Write::Applied);
    assert!(stored(store.is_claimed(&key).await));
    assert_eq!(stored(store.claim_once(&key, 3600).await), Write::Lost);
    assert_eq!(
        stored(store.claim_once("other", 3600).await),
        Write::Applied
    );

    stored(store.release_once(&key).await);
    assert!(!stored(store.is_claimed(&key).await), "released");
    assert_eq!(stored(store.claim_once(&key, 3600).await), Write::Applied);
    assert_eq!(stored(store.claim_once(&key, 3600).await), Write::Lost);
    // Releasing what was never claimed is fine.
    stored(store.release_once("never-claimed").await);
    assert_eq!(stored(store.claim_once("other", 3600).await), Write::Lost);
}

async fn once_expired_marker_can_be_claimed<S: Store>(store: S) {
    // TTL 0: expired at once, though DynamoDB has not deleted it.
    assert_eq!(stored(store.claim_once("k", 0).await), Write::Applied);
    assert!(!stored(store.is_claimed("k").await), "expired");
    assert_eq!(stored(store.claim_once("k", 3600).await), Write::Applied);
    assert_eq!(stored(store.claim_once("k", 3600).await), Write::Lost);
}

/// Starts `RACERS` tasks doing `op` at once; asserts exactly one applies and
/// the rest lose, and returns the winner's index.
async fn race<S, F, Fut>(store: &S, op: F) -> usize
where
    S: Store,
    F: Fn(S, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Write, StoreError>> + Send + 'static,
{
    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, op, start) = (store.clone(), op.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                op(store, i).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, racer) in racers.into_iter().enumerate() {
        match racer.await {
            Ok(Ok(Write::Applied)) => winners.push(i),
            Ok(Ok(Write::Lost)) => {}
            Ok(Err(e)) => panic!("racer {i}: store failed: {e}"),
            Err(e) => panic!("racer {i} panicked: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one racer wins, got {winners:?}");
    winners[0]
}

async fn race_transition<S: Store>(store: S) {
    let a = attempt(1, 1, 100);
    assert!(stored(store.create_attempt(&a).await).applied());
    let winner = race(&store, |store: S, i| async move {
        let change = AttemptChange {
            outcome: Some(format!("racer-{i}")),
            ..AttemptChange::default()
        };
        store
            .transition(
                &sid("WT", 1),
                &sid("WR", 1),
                &[AttemptState::Dialing, AttemptState::Answered],
                AttemptState::Bridging,
                &change,
            )
            .await
    })
    .await;
    let after =
        stored(store.get_attempt(&a.task_sid, &a.reservation_sid).await).expect("attempt stored");
    assert_eq!(after.state, AttemptState::Bridging);
    assert_eq!(after.outcome, Some(format!("racer-{winner}")));
}

async fn race_create_attempt<S: Store>(store: S) {
    let winner = race(&store, |store: S, i| async move {
        let a = Attempt {
            worker_sid: sid("WK", i as u64),
            ..attempt(1, 1, 100)
        };
        store.create_attempt(&a).await
    })
    .await;
    let listed = stored(store.list_attempts(&sid("WT", 1)).await);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].worker_sid, sid("WK", winner as u64));
}

async fn race_claim_once<S: Store>(store: S) {
    race(&store, |store: S, _| async move {
        store.claim_once("miss-sms#WR1", 3600).await
    })
    .await;
    assert_eq!(
        stored(store.claim_once("miss-sms#WR1", 3600).await),
        Write::Lost
    );
}

async fn race_put_worker<S: Store>(store: S) {
    assert!(stored(store.put_worker(&profile(1)).await).applied());
    let read = stored(store.get_worker(&phone(1)).await).expect("profile stored");
    let winner = race(&store, move |store: S, i| {
        let mut update = read.clone();
        update.name = format!("racer-{i}");
        async move { store.put_worker(&update).await }
    })
    .await;
    let after = stored(store.get_worker(&phone(1)).await).expect("profile stored");
    assert_eq!((after.name, after.version), (format!("racer-{winner}"), 2));
}

async fn race_put_voicemail<S: Store>(store: S) {
    let winner = race(&store, |store: S, i| async move {
        // Each racer is a retry of the same recording callback at its own time.
        store
            .put_voicemail(&voicemail(1, 1_700_000_000 + i as i64))
            .await
    })
    .await;
    assert_eq!(
        stored(store.list_voicemails(100).await),
        vec![voicemail(1, 1_700_000_000 + winner as i64)]
    );
}

fn blocked(n: u64, by: &str) -> BlockedNumber {
    BlockedNumber {
        number: phone(n),
        blocked_by: by.to_string(),
        blocked_at: 1_700_000_000 + n as i64,
    }
}

async fn blocklist_block_unblock_and_list_by_number<S: Store>(store: S) {
    assert!(!stored(store.is_blocked(&phone(2)).await));
    assert_eq!(stored(store.list_blocked().await), vec![]);
    assert_eq!(
        stored(store.block(&blocked(2, "+15559990001")).await),
        Write::Applied
    );
    assert_eq!(
        stored(store.block(&blocked(1, "cli")).await),
        Write::Applied
    );
    // Blocking again keeps the first entry.
    assert_eq!(stored(store.block(&blocked(2, "cli")).await), Write::Lost);
    // Neither a worker nor a voicemail shows up in the list, nor the list in theirs.
    assert!(stored(store.put_worker(&profile(2)).await).applied());
    assert_eq!(
        stored(store.list_blocked().await),
        vec![blocked(1, "cli"), blocked(2, "+15559990001")]
    );
    assert_eq!(stored(store.list_workers().await).len(), 1);
    assert!(stored(store.is_blocked(&phone(2)).await));
    assert!(!stored(store.is_blocked(&phone(3)).await));

    assert!(stored(store.unblock(&phone(2)).await), "it was blocked");
    assert!(!stored(store.unblock(&phone(2)).await), "not any more");
    assert!(!stored(store.is_blocked(&phone(2)).await));
    assert_eq!(stored(store.list_blocked().await), vec![blocked(1, "cli")]);
}

async fn race_block<S: Store>(store: S) {
    let winner = race(&store, |store: S, i| async move {
        store.block(&blocked(1, &format!("admin {i}"))).await
    })
    .await;
    assert_eq!(
        stored(store.list_blocked().await),
        vec![blocked(1, &format!("admin {winner}"))]
    );
}

/// Worker `worker` answered caller `caller` at `answered_at` (Unix seconds).
fn last_worker(caller: u64, worker: u64, answered_at: i64) -> LastWorker {
    LastWorker {
        caller: phone(700 + caller),
        worker_sid: sid("WK", worker),
        phone: phone(worker),
        skill: "sales".into(),
        answered_at,
    }
}

async fn last_worker_latest_answer_wins_per_caller<S: Store>(store: S) {
    let now = homeline_core::store::now_secs();
    let caller = phone(701);
    assert_eq!(stored(store.last_worker(&caller).await), None);
    let first = last_worker(1, 1, now - 60);
    let later = last_worker(1, 2, now - 10);
    let ttl = 3600;
    assert_eq!(
        stored(store.remember_last_worker(&first, ttl).await),
        Write::Applied
    );
    assert_eq!(
        stored(store.last_worker(&caller).await),
        Some(first.clone())
    );
    assert_eq!(
        stored(store.remember_last_worker(&later, ttl).await),
        Write::Applied
    );
    // A late write of an older answer, or the same one again, changes nothing.
    assert_eq!(
        stored(store.remember_last_worker(&first, ttl).await),
        Write::Lost
    );
    assert_eq!(
        stored(store.remember_last_worker(&later, ttl).await),
        Write::Lost
    );
    assert_eq!(stored(store.last_worker(&caller).await), Some(later));
    // Another caller is another item.
    let other = last_worker(2, 3, now);
    assert_eq!(
        stored(store.remember_last_worker(&other, ttl).await),
        Write::Applied
    );
    assert_eq!(stored(store.last_worker(&phone(702)).await), Some(other));
}

async fn last_worker_expires_with_its_ttl<S: Store>(store: S) {
    let now = homeline_core::store::now_secs();
    // Answered an hour ago, remembered for an hour: expired, not yet deleted.
    let old = last_worker(1, 1, now - 3600);
    assert_eq!(
        stored(store.remember_last_worker(&old, 3600).await),
        Write::Applied
    );
    assert_eq!(
        stored(store.last_worker(&old.caller).await),
        None,
        "expired"
    );
    // A newer answer takes its place.
    let new = last_worker(1, 2, now);
    assert_eq!(
        stored(store.remember_last_worker(&new, 3600).await),
        Write::Applied
    );
    assert_eq!(stored(store.last_worker(&new.caller).await), Some(new));
}

/// A follow-up of call `call`, `created_at` seconds from now (they expire
/// 90 days after creation).
fn follow_up(call: u64, created_at: i64) -> FollowUp {
    let mut new = homeline_core::service::follow_up::new(
        &sid("CA", call),
        &phone(900 + call),
        "sales",
        FollowUpReason::Voicemail,
        Some(format!("https://api.twilio.com/{}", sid("RE", call))),
    );
    new.created_at += created_at;
    new
}

async fn follow_up_open_takes_the_lowest_free_number_once_per_call<S: Store>(store: S) {
    let first = stored(store.open_follow_up(&follow_up(1, 100)).await);
    assert_eq!((first.number, first.version), (1, 1));
    assert_eq!(
        (first.call_sid.as_str(), first.state, first.claims),
        (sid("CA", 1).as_str(), FollowUpState::Open, 0),
        "stored as given"
    );
    assert_eq!(first.recording_url, follow_up(1, 100).recording_url);
    let second = stored(store.open_follow_up(&follow_up(2, 101)).await);
    assert_eq!(second.number, 2);
    // A repeated callback for call 1 finds its follow-up, whatever it carries.
    let again = stored(store.open_follow_up(&follow_up(1, 999)).await);
    assert_eq!(again, first);
    assert_eq!(
        stored(store.get_follow_up(&sid("CA", 2)).await),
        Some(second.clone())
    );
    assert_eq!(
        stored(store.follow_up_numbered(2).await),
        Some(second),
        "found by its number"
    );
    assert_eq!(stored(store.follow_up_numbered(3).await), None);
    assert_eq!(stored(store.get_follow_up(&sid("CA", 3)).await), None);
}

async fn follow_up_put_is_versioned_and_done_frees_the_number<S: Store>(store: S) {
    let one = stored(store.open_follow_up(&follow_up(1, 100)).await);
    let two = stored(store.open_follow_up(&follow_up(2, 101)).await);
    let mut claimed = one.clone();
    claimed.state = FollowUpState::Claimed;
    claimed.owner = Some(phone(1));
    claimed.claims = 1;
    claimed.transcript = Some("Call me back".into());
    assert_eq!(stored(store.put_follow_up(&claimed).await), Write::Applied);
    assert_eq!(
        stored(store.put_follow_up(&claimed).await),
        Write::Lost,
        "a stale version loses"
    );
    let after = stored(store.get_follow_up(&one.call_sid).await).expect("stored");
    assert_eq!(
        after,
        FollowUp {
            version: 2,
            ..claimed.clone()
        }
    );
    let mut unknown = follow_up(9, 100);
    unknown.version = 1;
    assert_eq!(
        stored(store.put_follow_up(&unknown).await),
        Write::Lost,
        "nothing to update"
    );

    let mut done = after.clone();
    done.state = FollowUpState::Done;
    assert_eq!(stored(store.put_follow_up(&done).await), Write::Applied);
    assert_eq!(
        stored(store.follow_up_numbered(1).await),
        None,
        "a done follow-up holds no number"
    );
    let three = stored(store.open_follow_up(&follow_up(3, 102)).await);
    assert_eq!(three.number, 1, "its number is free again");
    assert_eq!(
        stored(store.follow_up_numbered(1).await).map(|f| f.call_sid),
        Some(three.call_sid.clone())
    );
    // Done again (a late transcript on a done one) frees nobody else's number.
    let mut done = stored(store.get_follow_up(&one.call_sid).await).expect("stored");
    done.transcript = Some("late".into());
    assert_eq!(stored(store.put_follow_up(&done).await), Write::Applied);
    assert_eq!(
        stored(store.follow_up_numbered(1).await).map(|f| f.call_sid),
        Some(three.call_sid)
    );
    assert_eq!(stored(store.follow_up_numbered(2).await), Some(two));
}

async fn follow_ups_listed_open_oldest_first<S: Store>(store: S) {
    for (call, at) in [(1, 300), (2, 100), (3, 200)] {
        let _ = stored(store.open_follow_up(&follow_up(call, at)).await);
    }
    let mut done = stored(store.get_follow_up(&sid("CA", 3)).await).expect("stored");
    done.state = FollowUpState::Done;
    assert!(stored(store.put_follow_up(&done).await).applied());
    let listed: Vec<(String, u32)> = stored(store.list_follow_ups().await)
        .into_iter()
        .map(|f| (f.call_sid, f.number))
        .collect();
    assert_eq!(listed, vec![(sid("CA", 2), 2), (sid("CA", 1), 1)]);
}

async fn race_open_follow_ups<S: Store>(store: S) {
    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, start) = (store.clone(), start.clone());
            // Two racers per call: a callback and its repeat.
            let call = (i / 2) as u64;
            tokio::spawn(async move {
                start.wait().await;
                store.open_follow_up(&follow_up(call, 100)).await
            })
        })
        .collect();
    let mut numbers = std::collections::BTreeMap::new();
    for racer in racers {
        let opened = stored(racer.await.expect("racer"));
        let previous = numbers.insert(opened.call_sid.clone(), opened.number);
        assert!(
            previous.is_none_or(|n| n == opened.number),
            "one call, one number"
        );
    }
    let mut taken: Vec<u32> = numbers.values().copied().collect();
    taken.sort_unstable();
    let expected: Vec<u32> = (1..=(RACERS as u32 / 2)).collect();
    assert_eq!(taken, expected, "distinct numbers, none skipped");
}

async fn race_put_follow_up<S: Store>(store: S) {
    let open = stored(store.open_follow_up(&follow_up(1, 100)).await);
    let winner = race(&store, move |store: S, i| {
        let mut claim = open.clone();
        claim.state = FollowUpState::Claimed;
        claim.owner = Some(phone(i as u64));
        async move { store.put_follow_up(&claim).await }
    })
    .await;
    let after = stored(store.get_follow_up(&sid("CA", 1)).await).expect("stored");
    assert_eq!(
        after.owner,
        Some(phone(winner as u64)),
        "the first claim wins"
    );
}

const DAY: &str = "2026-12-03";
const T0: i64 = 1_796_320_000;

/// The record change of `steps` of call `call`, seen at `at`.
fn call_step(call: u64, at: i64, steps: &[Step<'_>]) -> CallRecord {
    change(&sid("CA", call), at, steps)
}

fn arrived(caller: &str) -> Step<'_> {
    Step::Arrived {
        caller,
        after_hours: false,
    }
}

fn answer(at: i64, phone: &str, reservation_sid: &str) -> Answer {
    Answer {
        at,
        phone: phone.into(),
        reservation_sid: reservation_sid.into(),
    }
}

async fn call_record_steps_fill_fields_once<S: Store>(store: S) {
    let customer = phone(901);
    let steps: [(i64, Vec<Step<'_>>); 7] = [
        (T0, vec![arrived(&customer)]),
        (T0 + 4, vec![Step::Queued { skill: "sales" }]),
        (T0 + 20, vec![Step::Missed { by: "+15550000002" }]),
        (
            T0 + 30,
            vec![Step::CallbackRequested {
                number: "+15550000009",
            }],
        ),
        (T0 + 40, vec![Step::CallbackMissed]),
        (
            T0 + 45,
            vec![Step::Answered {
                by: "+15550000001",
                reservation: "WR1",
            }],
        ),
        (T0 + 50, vec![Step::SentToVoicemail]),
    ];
    for (at, step) in &steps {
        let record = call_step(1, *at, step);
        assert!(stored(store.merge_call_record(DAY, &record, true).await).applied());
    }
    let expected = CallRecord {
        call_sid: sid("CA", 1),
        caller: Some(customer.clone()),
        arrived_at: Some(T0),
        after_hours: false,
        skill: Some("sales".into()),
        queued_at: Some(T0 + 4),
        answers: vec![answer(T0 + 45, "+15550000001", "WR1")],
        unbridged: Vec::new(),
        missed_by: vec!["+15550000002".into()],
        hung_up_in_queue_at: None,
        sent_to_voicemail_at: Some(T0 + 50),
        abandoned_at: None,
        voicemail_at: None,
        callback_requested_at: Some(T0 + 30),
        callback_number: Some("+15550000009".into()),
        callback_missed_at: Some(T0 + 40),
    };
    assert_eq!(
        stored(store.list_call_records(DAY).await),
        std::slice::from_ref(&expected)
    );

    // Repeated and late webhooks: set fields keep their first value,
    // answers, failed bridges and misses are sets, after hours once seen
    // stays.
    let late = [
        (
            T0 + 45,
            vec![Step::Answered {
                by: "+15550000001",
                reservation: "WR1",
            }],
        ),
        (
            T0 + 99,
            vec![Step::Answered {
                by: "+15550000003",
                reservation: "WR3",
            }],
        ),
        (T0 + 99, vec![Step::Unbridged { reservation: "WR1" }]),
        (T0 + 99, vec![Step::Unbridged { reservation: "WR1" }]),
        (T0 + 99, vec![Step::Queued { skill: "support" }]),
        (T0 + 99, vec![Step::Missed { by: "+15550000002" }]),
        (T0 + 99, vec![Step::Missed { by: "+15550000000" }]),
        (
            T0 + 99,
            vec![Step::CallbackRequested {
                number: "+15550000008",
            }],
        ),
        (T0 + 99, vec![Step::CallbackMissed]),
        (
            T0 + 99,
            vec![Step::Arrived {
                caller: "+15559999999",
                after_hours: true,
            }],
        ),
    ];
    for (at, step) in &late {
        let record = call_step(1, *at, step);
        assert!(stored(store.merge_call_record(DAY, &record, false).await).applied());
    }
    let mut expected = expected;
    expected.answers = vec![
        answer(T0 + 45, "+15550000001", "WR1"),
        answer(T0 + 99, "+15550000003", "WR3"),
    ];
    expected.unbridged = vec!["WR1".into()];
    expected.missed_by = vec!["+15550000000".into(), "+15550000002".into()];
    expected.after_hours = true;
    assert_eq!(
        expected.answer(),
        Some(&answer(T0 + 99, "+15550000003", "WR3")),
        "the first answer whose bridge did not fail"
    );
    assert_eq!(stored(store.list_call_records(DAY).await), [expected]);
}

async fn call_record_read_by_day_and_call<S: Store>(store: S) {
    let customer = phone(902);
    let arrival = call_step(1, T0, &[arrived(&customer)]);
    assert!(stored(store.merge_call_record(DAY, &arrival, true).await).applied());
    let other = call_step(2, T0, &[arrived(&customer)]);
    assert!(stored(store.merge_call_record(DAY, &other, true).await).applied());
    let queued = call_step(1, T0 + 4, &[Step::Queued { skill: "sales" }]);
    assert!(stored(store.merge_call_record(DAY, &queued, false).await).applied());

    let read = stored(store.get_call_record(DAY, &sid("CA", 1)).await).expect("stored");
    assert_eq!(read.call_sid, sid("CA", 1));
    assert_eq!(read.caller.as_deref(), Some(customer.as_str()));
    assert_eq!(
        read.queued_at,
        Some(T0 + 4),
        "the merged record, not the arrival"
    );
    assert_eq!(
        stored(store.get_call_record("2026-12-31", &sid("CA", 1)).await),
        None
    );
    assert_eq!(
        stored(store.get_call_record(DAY, &sid("CA", 3)).await),
        None
    );
}

async fn call_record_merge_without_create_needs_a_record<S: Store>(store: S) {
    let voicemail = call_step(1, T0, &[Step::Voicemail]);
    assert_eq!(
        stored(store.merge_call_record(DAY, &voicemail, false).await),
        Write::Lost
    );
    assert_eq!(stored(store.list_call_records(DAY).await), []);
    let customer = phone(901);
    let first = call_step(1, T0, &[arrived(&customer)]);
    assert!(stored(store.merge_call_record("2026-12-02", &first, true).await).applied());
    assert_eq!(
        stored(store.merge_call_record(DAY, &voicemail, false).await),
        Write::Lost,
        "another day's record is another record"
    );
    assert_eq!(stored(store.list_call_records(DAY).await), []);
}

async fn call_records_listed_per_day_in_arrival_order<S: Store>(store: S) {
    let customer = phone(901);
    for (call, at) in [(3, T0 + 30), (1, T0 + 60), (2, T0 + 10)] {
        let record = call_step(call, at, &[arrived(&customer)]);
        assert!(stored(store.merge_call_record(DAY, &record, true).await).applied());
    }
    let record = call_step(4, T0, &[arrived(&customer)]);
    assert!(stored(store.merge_call_record("2026-12-04", &record, true).await).applied());
    // A record whose arrival was never written comes first.
    let record = call_step(5, T0 + 99, &[Step::Abandoned]);
    assert!(stored(store.merge_call_record(DAY, &record, true).await).applied());

    let listed: Vec<String> = stored(store.list_call_records(DAY).await)
        .into_iter()
        .map(|r| r.call_sid)
        .collect();
    assert_eq!(listed, [5, 2, 3, 1].map(|n| sid("CA", n)));
}

async fn race_call_record_steps<S: Store>(store: S) {
    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                let worker = phone(i as u64);
                let step = match i {
                    0 => Step::Answered {
                        by: &worker,
                        reservation: "WR0",
                    },
                    _ => Step::Missed { by: &worker },
                };
                let record = call_step(1, T0 + i as i64, &[step]);
                start.wait().await;
                store.merge_call_record(DAY, &record, true).await
            })
        })
        .collect();
    for racer in racers {
        assert!(stored(racer.await.expect("racer")).applied());
    }
    let records = stored(store.list_call_records(DAY).await);
    assert_eq!(records.len(), 1, "one record per call");
    assert_eq!(records[0].answer().map(|a| a.phone.clone()), Some(phone(0)));
    let missed: Vec<String> = (1..RACERS as u64).map(phone).collect();
    assert_eq!(records[0].missed_by, missed, "every concurrent miss kept");
}

/// What only the DynamoDB adapter has: the table set-up and reading back
/// items it did not write.
mod local_stack_dynamodb_adapter {
    use aws_sdk_dynamodb::config::{Credentials, Region};
    use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
    use homeline_core::store::dynamo::create_table;
    use homeline_core::store::{DynamoStore, StoreError, WorkerStore};
    use testkit::dynamo::{dynamodb_url, fresh_store};

    use super::voicemail;

    #[tokio::test]
    async fn create_table_is_idempotent_and_turns_ttl_on() {
        let store = fresh_store().await;
        // Again on the existing table, as every `make dev` does.
        if let Err(e) = create_table(store.client(), store.table()).await {
            panic!("second create_table failed: {e}");
        }
        let ttl = store
            .client()
            .describe_time_to_live()
            .table_name(store.table())
            .send()
            .await
            .expect("DescribeTimeToLive");
        let description = ttl.time_to_live_description().expect("TTL description");
        assert_eq!(
            description.time_to_live_status(),
            Some(&TimeToLiveStatus::Enabled)
        );
        assert_eq!(description.attribute_name(), Some("expires_at"));
    }

    /// DynamoDB Local reports what each request consumed; a lost condition
    /// reports nothing and is counted by DynamoDB's rule (one write unit, two
    /// per item of a transaction), and so is a transaction, which DynamoDB
    /// Local reports at the plain rate.
    #[tokio::test]
    async fn a_metered_store_adds_up_the_units_dynamodb_reports() {
        use homeline_core::model::WorkerProfile;
        use homeline_core::store::VoicemailStore;
        use homeline_core::store::capacity::Consumed;
        let plain = fresh_store().await;
        assert_eq!(plain.consumed(), None, "only a metered store counts");
        let store = plain.metered();
        let profile = WorkerProfile::new("+15551000001", "Ada", vec!["sales".into()]);
        assert!(stored_ok(store.put_worker(&profile).await));
        let read = store.get_worker("+15551000001").await.expect("GetItem");
        assert!(read.is_some());
        assert_eq!(store.list_workers().await.expect("Query").len(), 1);
        // Version 0 again: the item exists, the condition fails.
        assert!(matches!(store.put_worker(&profile).await, Ok(w) if !w.applied()));
        let first = voicemail(1, 1_700_000_000);
        assert!(stored_ok(store.put_voicemail(&first).await));
        // The same recording again: the transaction of two items is cancelled.
        assert!(matches!(store.put_voicemail(&first).await, Ok(w) if !w.applied()));
        assert_eq!(
            store.clone().consumed(),
            Some(Consumed {
                // GetItem and a one-page Query, strongly consistent, small items.
                read_units: 2.0,
                // The worker (1), the voicemail's two items in a transaction
                // (2 x 2); lost: the worker (1), the transaction (2 x 2).
                write_units: 10.0,
                failed_writes: 2,
            })
        );
    }

    async fn put_raw(store: &DynamoStore, fields: &[(&str, AttributeValue)]) {
        let mut put = store.client().put_item().table_name(store.table());
        for (name, value) in fields {
            put = put.item(*name, value.clone());
        }
        put.send().await.expect("raw PutItem");
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.into())
    }

    /// Records written before answers were kept by reservation (kept 90
    /// days) still read as answered; an `answers` entry that is not one is
    /// Malformed, never a guess.
    #[tokio::test]
    async fn a_call_record_s_answers_read_back_old_and_new() {
        use homeline_core::model::Answer;
        use homeline_core::store::CallRecordStore;
        let store = fresh_store().await;
        let (day, call) = ("2026-12-03", "CA0000000000000000000000000000c002");
        let key = [
            ("pk", s(&format!("CALLS#{day}"))),
            ("sk", s(&format!("CALL#{call}"))),
            ("call_sid", s(call)),
        ];
        let old = [
            ("answered_by", s("+15551000001")),
            ("answered_at", n("1700000040")),
        ];
        put_raw(&store, &[key.as_slice(), old.as_slice()].concat()).await;
        let record = store
            .get_call_record(day, call)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(
            record.answer(),
            Some(&Answer {
                at: 1_700_000_040,
                phone: "+15551000001".into(),
                reservation_sid: String::new(),
            })
        );
        let bad = [(
            "answers",
            AttributeValue::Ss(vec!["1700000040 +15551000001".into()]),
        )];
        put_raw(&store, &[key.as_slice(), bad.as_slice()].concat()).await;
        assert!(
            matches!(
                store.get_call_record(day, call).await,
                Err(StoreError::Malformed { .. })
            ),
            "an answer without its reservation"
        );
    }

    #[tokio::test]
    async fn call_records_expire_90_days_after_their_first_step() {
        use homeline_core::service::call_record::{Step, change};
        use homeline_core::store::{CallRecordStore, now_secs};
        let store = fresh_store().await;
        let call = "CA0000000000000000000000000000c001";
        let first = change(call, 0, &[Step::Abandoned]);
        let before = now_secs();
        assert!(stored_ok(
            store.merge_call_record("2026-12-03", &first, true).await
        ));
        let expiry = || async {
            let item = store
                .client()
                .get_item()
                .table_name(store.table())
                .key("pk", s("CALLS#2026-12-03"))
                .key("sk", s(&format!("CALL#{call}")))
                .send()
                .await
                .expect("GetItem")
                .item
                .expect("the record");
            match item.get("expires_at") {
                Some(AttributeValue::N(at)) => at.parse::<i64>().expect("seconds"),
                other => panic!("expires_at is {other:?}"),
            }
        };
        let expires_at = expiry().await;
        let ninety_days = 90 * 24 * 3600;
        assert!((before + ninety_days..=now_secs() + ninety_days).contains(&expires_at));
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let later = change(call, 0, &[Step::Voicemail]);
        assert!(stored_ok(
            store.merge_call_record("2026-12-03", &later, false).await
        ));
        assert_eq!(expiry().await, expires_at, "a later step keeps the expiry");
    }

    fn stored_ok(write: Result<homeline_core::store::Write, StoreError>) -> bool {
        write.expect("store").applied()
    }

    #[tokio::test]
    async fn missing_or_mistyped_attributes_are_malformed() {
        let store = fresh_store().await;
        let profile = |phone: &str, misses: AttributeValue| {
            vec![
                ("pk", s("WORKERS")),
                ("sk", s(&format!("WORKER#{phone}"))),
                ("phone", s(phone)),
                ("name", s("Ann")),
                ("skills", AttributeValue::L(vec![s("sales")])),
                ("misses", misses),
                ("answered_total", n("0")),
                ("missed_total", n("0")),
                ("version", n("1")),
            ]
        };
        // Well-formed first, so the failures below are about the one attribute.
        put_raw(&store, &profile("+15550000001", n("0"))).await;
        assert!(store.get_worker("+15550000001").await.is_ok());

        put_raw(&store, &profile("+15550000002", s("zero"))).await;
        put_raw(&store, &profile("+15550000003", n("-1"))).await;
        let mut no_name = profile("+15550000004", n("0"));
        no_name.retain(|(name, _)| *name != "name");
        put_raw(&store, &no_name).await;

        for (phone, attribute) in [
            ("+15550000002", "misses"),
            ("+15550000003", "misses"),
            ("+15550000004", "name"),
        ] {
            match store.get_worker(phone).await {
                Err(StoreError::Malformed { key, reason }) => {
                    assert_eq!(key, format!("WORKERS/WORKER#{phone}"));
                    assert!(reason.contains(attribute), "{reason}");
                }
                other => panic!("{phone}: expected Malformed, got {other:?}"),
            }
        }
        assert!(matches!(
            store.list_workers().await,
            Err(StoreError::Malformed { .. })
        ));
    }

    #[tokio::test]
    async fn failures_are_unavailable_without_secrets() {
        let secret = "wJalrXUtnFEMI-not-a-real-secret";
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", secret, None, None, "test"))
            .endpoint_url(dynamodb_url())
            .http_client(homeline_core::https::sdk_http_client())
            .build();
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), "no-such-table");
        match store.get_worker("+15550000001").await {
            Err(StoreError::Unavailable(message)) => {
                assert!(message.contains("GetItem"), "{message}");
                assert!(!message.contains(secret), "{message}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}

async fn recent_waits_per_skill_versioned<S: Store>(store: S) {
    let none = stored(store.recent_waits("sales").await);
    assert_eq!(
        none,
        RecentWaits {
            skill: "sales".into(),
            waits: Vec::new(),
            version: 0
        }
    );
    let first = RecentWaits {
        waits: vec![
            AnswerWait {
                answered_at: 1_700_000_000,
                wait_secs: 12,
            },
            AnswerWait {
                answered_at: 1_700_000_060,
                wait_secs: 0,
            },
        ],
        ..none.clone()
    };
    assert_eq!(stored(store.put_recent_waits(&first).await), Write::Applied);
    assert_eq!(
        stored(store.put_recent_waits(&first).await),
        Write::Lost,
        "version 0 again: one is stored"
    );
    let read = stored(store.recent_waits("sales").await);
    assert_eq!(
        read,
        RecentWaits {
            version: 1,
            ..first.clone()
        }
    );
    let emptied = RecentWaits {
        waits: Vec::new(),
        ..read
    };
    assert_eq!(
        stored(store.put_recent_waits(&emptied).await),
        Write::Applied
    );
    assert_eq!(stored(store.recent_waits("sales").await).version, 2);
    assert_eq!(
        stored(store.recent_waits("support").await).version,
        0,
        "per skill"
    );
}

async fn race_put_recent_waits<S: Store>(store: S) {
    let none = stored(store.recent_waits("sales").await);
    let winner = race(&store, move |store: S, i| {
        let mut update = none.clone();
        update.waits.push(AnswerWait {
            answered_at: 1_700_000_000,
            wait_secs: i as i64,
        });
        async move { store.put_recent_waits(&update).await }
    })
    .await;
    let after = stored(store.recent_waits("sales").await);
    assert_eq!(after.version, 1);
    assert_eq!(after.waits.len(), 1);
    assert_eq!(after.waits[0].wait_secs, winner as i64);
}
