//! In-memory store for unit tests. Same semantics as the DynamoDB adapter
//! (checked by the shared contract suite), no persistence.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    AttemptStore, BlocklistStore, CallRecordStore, FollowUpStore, LastWorkerStore, OnceStore,
    StoreError, VoicemailStore, WaitStore, WorkerStore, Write, now_secs,
};
use crate::model::{
    Attempt, AttemptChange, AttemptState, BlockedNumber, CallRecord, FollowUp, FollowUpState,
    LastWorker, RecentWaits, Voicemail, WorkerProfile,
};

#[derive(Debug, Default)]
struct Tables {
    workers: BTreeMap<String, WorkerProfile>,
    /// By (task SID, reservation SID).
    attempts: BTreeMap<(String, String), Attempt>,
    voicemails: HashMap<String, Voicemail>,
    /// By call SID.
    follow_ups: HashMap<String, FollowUp>,
    /// By number.
    blocked: BTreeMap<String, BlockedNumber>,
    /// By (day, call SID).
    calls: BTreeMap<(String, String), CallRecord>,
    /// Marker key to expiry (Unix seconds).
    markers: HashMap<String, i64>,
    /// By caller, with the expiry (Unix seconds).
    last_workers: HashMap<String, (LastWorker, i64)>,
    /// By skill.
    recent_waits: HashMap<String, RecentWaits>,
}

#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A test that panicked while holding the lock leaves consistent data:
        // every method below mutates in one step.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl WorkerStore for MemoryStore {
    async fn get_worker(&self, phone: &str) -> Result<Option<WorkerProfile>, StoreError> {
        Ok(self.lock().workers.get(phone).cloned())
    }

    async fn put_worker(&self, profile: &WorkerProfile) -> Result<Write, StoreError> {
        let mut tables = self.lock();
        let stored_version = tables.workers.get(&profile.phone).map(|p| p.version);
        let matches = match stored_version {
            None => profile.version == 0,
            Some(v) => v == profile.version && profile.version != 0,
        };
        if !matches {
            return Ok(Write::Lost);
        }
        let mut stored = profile.clone();
        stored.version = profile.version + 1;
        tables.workers.insert(profile.phone.clone(), stored);
        Ok(Write::Applied)
    }

    async fn remove_worker(&self, phone: &str) -> Result<Option<WorkerProfile>, StoreError> {
        Ok(self.lock().workers.remove(phone))
    }

    async fn list_workers(&self) -> Result<Vec<WorkerProfile>, StoreError> {
        Ok(self.lock().workers.values().cloned().collect())
    }
}

fn key(task_sid: &str, reservation_sid: &str) -> (String, String) {
    (task_sid.to_string(), reservation_sid.to_string())
}

impl AttemptStore for MemoryStore {
    async fn create_attempt(&self, attempt: &Attempt) -> Result<Write, StoreError> {
        let mut tables = self.lock();
        let key = (attempt.task_sid.clone(), attempt.reservation_sid.clone());
        if tables.attempts.contains_key(&key) {
            return Ok(Write::Lost);
        }
        tables.attempts.insert(key, attempt.clone());
        Ok(Write::Applied)
    }

    async fn get_attempt(
        &self,
        task_sid: &str,
        reservation_sid: &str,
    ) -> Result<Option<Attempt>, StoreError> {
        Ok(self
            .lock()
            .attempts
            .get(&key(task_sid, reservation_sid))
            .cloned())
    }

    async fn list_attempts(&self, task_sid: &str) -> Result<Vec<Attempt>, StoreError> {
        let mut attempts: Vec<Attempt> = self
            .lock()
            .attempts
            .values()
            .filter(|a| a.task_sid == task_sid)
            .cloned()
            .collect();
        attempts.sort_by_key(|a| a.created_at);
        Ok(attempts)
    }

    async fn transition(
        &self,
        task_sid: &str,
        reservation_sid: &str,
        from: &[AttemptState],
        to: AttemptState,
        change: &AttemptChange,
    ) -> Result<Write, StoreError> {
        let mut tables = self.lock();
        let Some(attempt) = tables.attempts.get_mut(&key(task_sid, reservation_sid)) else {
            return Ok(Write::Lost);
        };
        if !from.contains(&attempt.state) {
            return Ok(Write::Lost);
        }
        attempt.state = to;
        if let Some(outcome) = &change.outcome {
            attempt.outcome = Some(outcome.clone());
        }
        if let Some(code) = change.sip_response_code {
            attempt.sip_response_code = Some(code);
        }
        if let Some(call_sid) = &change.call_sid {
            attempt.call_sid = Some(call_sid.clone());
        }
        Ok(Write::Applied)
    }

    async fn set_call_sid(
        &self,
        task_sid: &str,
        reservation_sid: &str,
        call_sid: &str,
    ) -> Result<(), StoreError> {
        if let Some(attempt) = self
            .lock()
            .attempts
            .get_mut(&key(task_sid, reservation_sid))
        {
            attempt.call_sid = Some(call_sid.to_string());
        }
        Ok(())
    }
}

impl VoicemailStore for MemoryStore {
    async fn put_voicemail(&self, voicemail: &Voicemail) -> Result<Write, StoreError> {
        let mut tables = self.lock();
        if tables.voicemails.contains_key(&voicemail.recording_sid) {
            return Ok(Write::Lost);
        }
        tables
            .voicemails
            .insert(voicemail.recording_sid.clone(), voicemail.clone());
        Ok(Write::Applied)
    }

    async fn list_voicemails(&self, limit: usize) -> Result<Vec<Voicemail>, StoreError> {
        let mut all: Vec<Voicemail> = self.lock().voicemails.values().cloned().collect();
        all.sort_by(|a, b| {
            b.received_at
                .cmp(&a.received_at)
                .then_with(|| b.recording_sid.cmp(&a.recording_sid))
        });
        all.truncate(limit);
        Ok(all)
    }
}

impl Tables {
    fn open_follow_ups(&self) -> impl Iterator<Item = &FollowUp> {
        self.follow_ups
            .values()
            .filter(|f| f.state != FollowUpState::Done)
    }
}

impl FollowUpStore for MemoryStore {
    async fn open_follow_up(&self, follow_up: &FollowUp) -> Result<FollowUp, StoreError> {
        let mut tables = self.lock();
        if let Some(stored) = tables.follow_ups.get(&follow_up.call_sid) {
            return Ok(stored.clone());
        }
        let taken: Vec<u32> = tables.open_follow_ups().map(|f| f.number).collect();
        let mut stored = follow_up.clone();
        stored.number = (1..).find(|n| !taken.contains(n)).unwrap_or(u32::MAX);
        stored.version = 1;
        tables
            .follow_ups
            .insert(stored.call_sid.clone(), stored.clone());
        Ok(stored)
    }

    async fn get_follow_up(&self, call_sid: &str) -> Result<Option<FollowUp>, StoreError> {
        Ok(self.lock().follow_ups.get(call_sid).cloned())
    }

    async fn follow_up_numbered(&self, number: u32) -> Result<Option<FollowUp>, StoreError> {
        Ok(self
            .lock()
            .open_follow_ups()
            .find(|f| f.number == number)
            .cloned())
    }

    async fn put_follow_up(&self, follow_up: &FollowUp) -> Result<Write, StoreError> {
        let mut tables = self.lock();
        let Some(stored) = tables.follow_ups.get_mut(&follow_up.call_sid) else {
            return Ok(Write::Lost);
        };
        if stored.version != follow_up.version {
            return Ok(Write::Lost);
        }
        *stored = follow_up.clone();
        stored.version = follow_up.version + 1;
        Ok(Write::Applied)
    }

    async fn list_follow_ups(&self) -> Result<Vec<FollowUp>, StoreError> {
        let mut open: Vec<FollowUp> = self.lock().open_follow_ups().cloned().collect();
        open.sort_by_key(|f| (f.created_at, f.number));
        Ok(open)
    }
}

impl BlocklistStore for MemoryStore {
    async fn block(&self, blocked: &BlockedNumber) -> Result<Write, StoreError> {
        let mut tables = self.lock();
        if tables.blocked.contains_key(&blocked.number) {
            return Ok(Write::Lost);
        }
        tables
            .blocked
            .insert(blocked.number.clone(), blocked.clone());
        Ok(Write::Applied)
    }

    async fn unblock(&self, number: &str) -> Result<bool, StoreError> {
        Ok(self.lock().blocked.remove(number).is_some())
    }

    async fn is_blocked(&self, number: &str) -> Result<bool, StoreError> {
        Ok(self.lock().blocked.contains_key(number))
    }

    async fn list_blocked(&self) -> Result<Vec<BlockedNumber>, StoreError> {
        Ok(self.lock().blocked.values().cloned().collect())
    }
}

/// Sets `field` from `value` unless it is set already.
fn keep_first<T: Clone>(field: &mut Option<T>, value: &Option<T>) {
    if field.is_none() {
        field.clone_from(value);
    }
}

/// DynamoDB's `ADD` to a set: each value once, in order.
fn add_to_set<T: Clone + Ord>(set: &mut Vec<T>, values: &[T]) {
    set.extend(values.iter().cloned());
    set.sort();
    set.dedup();
}

impl CallRecordStore for MemoryStore {
    async fn merge_call_record(
        &self,
        day: &str,
        record: &CallRecord,
        create: bool,
    ) -> Result<Write, StoreError> {
        let mut tables = self.lock();
        let key = (day.to_string(), record.call_sid.clone());
        if !create && !tables.calls.contains_key(&key) {
            return Ok(Write::Lost);
        }
        let stored = tables
            .calls
            .entry(key)
            .or_insert_with(|| CallRecord::new(&record.call_sid));
        keep_first(&mut stored.caller, &record.caller);
        keep_first(&mut stored.arrived_at, &record.arrived_at);
        stored.after_hours |= record.after_hours;
        keep_first(&mut stored.skill, &record.skill);
        keep_first(&mut stored.queued_at, &record.queued_at);
        add_to_set(&mut stored.answers, &record.answers);
        add_to_set(&mut stored.unbridged, &record.unbridged);
        add_to_set(&mut stored.missed_by, &record.missed_by);
        keep_first(&mut stored.hung_up_in_queue_at, &record.hung_up_in_queue_at);
        keep_first(
            &mut stored.sent_to_voicemail_at,
            &record.sent_to_voicemail_at,
        );
        keep_first(&mut stored.abandoned_at, &record.abandoned_at);
        keep_first(&mut stored.voicemail_at, &record.voicemail_at);
        keep_first(
            &mut stored.callback_requested_at,
            &record.callback_requested_at,
        );
        keep_first(&mut stored.callback_number, &record.callback_number);
        keep_first(&mut stored.callback_missed_at, &record.callback_missed_at);
        Ok(Write::Applied)
    }

    async fn get_call_record(
        &self,
        day: &str,
        call_sid: &str,
    ) -> Result<Option<CallRecord>, StoreError> {
        let key = (day.to_string(), call_sid.to_string());
        Ok(self.lock().calls.get(&key).cloned())
    }

    async fn list_call_records(&self, day: &str) -> Result<Vec<CallRecord>, StoreError> {
        let mut records: Vec<CallRecord> = self
            .lock()
            .calls
            .iter()
            .filter(|((d, _), _)| d == day)
            .map(|(_, record)| record.clone())
            .collect();
        records.sort_by(|a, b| (a.arrived_at, &a.call_sid).cmp(&(b.arrived_at, &b.call_sid)));
        Ok(records)
    }
}

impl LastWorkerStore for MemoryStore {
    async fn remember_last_worker(
        &self,
        last: &LastWorker,
        ttl_secs: u64,
    ) -> Result<Write, StoreError> {
        let mut tables = self.lock();
        if tables
            .last_workers
            .get(&last.caller)
            .is_some_and(|(stored, _)| stored.answered_at >= last.answered_at)
        {
            return Ok(Write::Lost);
        }
        let expires_at = last
            .answered_at
            .saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX));
        tables
            .last_workers
            .insert(last.caller.clone(), (last.clone(), expires_at));
        Ok(Write::Applied)
    }

    async fn last_worker(&self, caller: &str) -> Result<Option<LastWorker>, StoreError> {
        let now = now_secs();
        Ok(self
            .lock()
            .last_workers
            .get(caller)
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(last, _)| last.clone()))
    }
}

impl WaitStore for MemoryStore {
    async fn recent_waits(&self, skill: &str) -> Result<RecentWaits, StoreError> {
        Ok(self
            .lock()
            .recent_waits
            .get(skill)
            .cloned()
            .unwrap_or_else(|| RecentWaits {
                skill: skill.to_string(),
                ..RecentWaits::default()
            }))
    }

    async fn put_recent_waits(&self, waits: &RecentWaits) -> Result<Write, StoreError> {
        let mut tables = self.lock();
        let stored = tables
            .recent_waits
            .get(&waits.skill)
            .map_or(0, |w| w.version);
        if stored != waits.version {
            return Ok(Write::Lost);
        }
        let next = RecentWaits {
            version: waits.version + 1,
            ..waits.clone()
        };
        tables.recent_waits.insert(waits.skill.clone(), next);
        Ok(Write::Applied)
    }
}

impl OnceStore for MemoryStore {
    async fn claim_once(&self, key: &str, ttl_secs: u64) -> Result<Write, StoreError> {
        let now = now_secs();
        let mut tables = self.lock();
        // Like DynamoDB: an expired marker no longer counts, deleted or not.
        if tables
            .markers
            .get(key)
            .is_some_and(|&expires_at| expires_at > now)
        {
            return Ok(Write::Lost);
        }
        let expires_at = now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX));
        tables.markers.insert(key.to_string(), expires_at);
        Ok(Write::Applied)
    }

    async fn release_once(&self, key: &str) -> Result<(), StoreError> {
        self.lock().markers.remove(key);
        Ok(())
    }

    async fn is_claimed(&self, key: &str) -> Result<bool, StoreError> {
        let now = now_secs();
        Ok(self
            .lock()
            .markers
            .get(key)
            .is_some_and(|&expires_at| expires_at > now))
    }
}
