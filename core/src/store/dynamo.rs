//! The DynamoDB adapter over the single table (string keys `pk`, `sk`; number
//! TTL attribute `expires_at`).
//!
//! # Items
//!
//! | item | `pk` | `sk` | `expires_at` |
//! |---|---|---|---|
//! | worker profile | `WORKERS` | `WORKER#<phone>` | none |
//! | attempt | `TASK#<task SID>` | `ATTEMPT#<reservation SID>` | `created_at` + [`ATTEMPT_TTL_SECS`] |
//! | voicemail (listing) | `VOICEMAILS` | `<received_at, 20 digits>#<recording SID>` | none |
//! | voicemail (uniqueness) | `VOICEMAIL#<recording SID>` | `VOICEMAIL` | none |
//! | follow-up | `FOLLOWUP#<call SID>` | `FOLLOWUP` | `created_at` + [`FOLLOW_UP_TTL_SECS`] |
//! | follow-up number | `FOLLOWUPS` | `<number, 10 digits>` | as its follow-up |
//! | call record | `CALLS#<local day of arrival>` | `CALL#<call SID>` | first write + [`CALL_RECORD_TTL_SECS`] |
//! | once-only marker | `ONCE#<key>` | `ONCE` | claim time + TTL |
//! | blocked number | `BLOCKED` | `<number>` | none |
//! | last worker of a caller | `CALLER#<number>` | `LAST_WORKER` | `answered_at` + `STICKY_DAYS` |
//! | a skill's recent answer waits | `WAITS#<skill>` | `RECENT` | none |
//!
//! Why this layout:
//! - All profiles share one partition, so listing them is a strongly
//!   consistent Query ordered by phone that never reads attempts or markers
//!   (a small business has a handful of workers; the partition stays tiny).
//! - The attempts of a task share a partition: the hang-up clean-up Queries them.
//! - A voicemail is two items written in one transaction: the uniqueness item
//!   makes `put_voicemail` idempotent per recording SID (a retried recording
//!   callback carries a later `received_at`), the listing item gives "most
//!   recent first" with a reverse Query that reads only `limit` items.
//! - A follow-up's short number is an item of its own, written in the same
//!   transaction as the follow-up (both `attribute_not_exists`), so two
//!   callers never get one number; writing the follow-up done deletes it in
//!   the same transaction. Listing the open ones Queries the small
//!   `FOLLOWUPS` partition and reads each follow-up it names.
//! - Blocked numbers share one partition like profiles: `inbound` reads one
//!   item per call, `blocked` Queries the (small) partition in number order.
//! - A caller's last worker is an item of its own, keyed by the caller's
//!   number, so `inbound` finds it with one GetItem; a later answer
//!   overwrites it (the condition keeps the latest when writes cross).
//! - A skill's recent answer waits are one small item (a bounded list of
//!   maps), so the wait URL's estimate is one GetItem, never a Query of
//!   the day's call records; `version` guards its read-modify-write.
//! - A day's call records share a partition, so a day's report is one
//!   Query. Each step of a call is one UpdateItem that sets only fields not
//!   set yet (`if_not_exists`) and adds to string sets (`answers` as
//!   `<at> <phone> <reservation>`, `unbridged`, `missed_by`), so steps
//!   commute and a repeated one writes nothing new.
//! - DynamoDB deletes expired items lazily (up to days late), so a marker
//!   counts as claimed only while `expires_at` is in the future.
//!
//! Attributes are named like the struct fields. Optional fields are absent
//! when `None`; skills are a list of strings (a string set may not be empty).
//! Profiles carry `version` for optimistic concurrency.
//!
//! Every state change is a conditional write; a failed condition is
//! [`Write::Lost`]. Reads are strongly consistent. Any other DynamoDB failure
//! (after the SDK's own retries) is [`StoreError::Unavailable`]; an item that
//! cannot be read back is [`StoreError::Malformed`].

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Debug;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put, ReturnValue,
    ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem,
};

use super::capacity::{Consumed, Meter, Metering};
use super::{
    ATTEMPT_TTL_SECS, AttemptStore, BlocklistStore, CALL_RECORD_TTL_SECS, CallRecordStore,
    FOLLOW_UP_TTL_SECS, FollowUpStore, LastWorkerStore, OnceStore, RMW_ROUNDS, StoreError,
    VoicemailStore, WaitStore, WorkerStore, Write, now_secs,
};
use crate::aws::AwsEnv;
use crate::model::{
    Activity, Answer, AnswerRecord, AnswerWait, Attempt, AttemptChange, AttemptState,
    BlockedNumber, CallRecord, Callback, Duty, DutyUntil, FollowUp, FollowUpReason, FollowUpState,
    LastWorker, PinHash, RecentWaits, TaskKind, Voicemail, WorkerProfile,
};

type Item = HashMap<String, AttributeValue>;

const WORKERS_PK: &str = "WORKERS";
const BLOCKED_PK: &str = "BLOCKED";
const VOICEMAILS_PK: &str = "VOICEMAILS";
const FOLLOW_UPS_PK: &str = "FOLLOWUPS";
const FOLLOW_UP_SK: &str = "FOLLOWUP";
const TTL_ATTRIBUTE: &str = "expires_at";

fn worker_sk(phone: &str) -> String {
    format!("WORKER#{phone}")
}

fn attempt_pk(task_sid: &str) -> String {
    format!("TASK#{task_sid}")
}

fn attempt_sk(reservation_sid: &str) -> String {
    format!("ATTEMPT#{reservation_sid}")
}

fn follow_up_pk(call_sid: &str) -> String {
    format!("FOLLOWUP#{call_sid}")
}

fn number_sk(number: u32) -> String {
    format!("{number:010}")
}

fn calls_pk(day: &str) -> String {
    format!("CALLS#{day}")
}

fn call_sk(call_sid: &str) -> String {
    format!("CALL#{call_sid}")
}

fn once_pk(key: &str) -> String {
    format!("ONCE#{key}")
}

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Present on a [`DynamoStore::metered`] store.
    meter: Option<Arc<Meter>>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            meter: None,
        }
    }

    /// The same table through a client that counts the request units
    /// DynamoDB reports ([`super::capacity`]); read them with [`Self::consumed`].
    pub fn metered(self) -> Self {
        let meter = Arc::new(Meter::default());
        let config = self
            .client
            .config()
            .to_builder()
            .interceptor(Metering(meter.clone()))
            .build();
        Self {
            client: Client::from_conf(config),
            table: self.table,
            meter: Some(meter),
        }
    }

    /// The units consumed so far by this store and its clones; `None`
    /// unless it is [`Self::metered`].
    pub fn consumed(&self) -> Option<Consumed> {
        self.meter.as_ref().map(|m| m.reading())
    }

    /// A client from `aws`'s environment (`AWS_REGION`,
    /// `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local, ...).
    pub async fn from_env(aws: AwsEnv, table: impl Into<String>) -> Self {
        // Bounded so one slow call cannot eat a callback's whole 5 s budget;
        // the SDK retries within these bounds.
        let timeouts = aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(1))
            .operation_attempt_timeout(Duration::from_millis(1500))
            .operation_timeout(Duration::from_secs(3))
            .build();
        let sdk = aws.sdk_config("AWS_ENDPOINT_URL_DYNAMODB", timeouts).await;
        Self::new(Client::new(&sdk), table)
    }

    /// A store on DynamoDB Local at `endpoint` (tests, `make dev`).
    pub fn local(endpoint: &str, table: impl Into<String>) -> Self {
        Self::new(local_client(endpoint), table)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get_item(&self, op: &str, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(op, &e))?;
        Ok(out.item)
    }

    /// Runs a strongly consistent Query over every page, stopping at `limit` items.
    async fn query(
        &self,
        op: &str,
        query: QueryFluentBuilder,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut pages = query
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while items.len() < limit {
            match pages.next().await {
                Some(Ok(item)) => items.push(item),
                Some(Err(e)) => return Err(unavailable(op, &e)),
                None => break,
            }
        }
        Ok(items)
    }
}

/// A DynamoDB client for DynamoDB Local: static fake credentials, us-east-1.
pub fn local_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "homeline-local",
        ))
        .endpoint_url(endpoint)
        .http_client(crate::https::sdk_http_client())
        .build();
    Client::from_conf(config)
}

/// Creates the table (`pk`/`sk`, on-demand) and enables TTL on `expires_at`.
/// Idempotent: an existing table (and TTL already on) is fine.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let key = |attribute: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(key_type)
            .build()
    };
    let string_attribute = |attribute: &str| {
        AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let created = client
        .create_table()
        .table_name(name)
        .key_schema(key("pk", KeyType::Hash).map_err(|e| unavailable("CreateTable", &e))?)
        .key_schema(key("sk", KeyType::Range).map_err(|e| unavailable("CreateTable", &e))?)
        .attribute_definitions(string_attribute("pk").map_err(|e| unavailable("CreateTable", &e))?)
        .attribute_definitions(string_attribute("sk").map_err(|e| unavailable("CreateTable", &e))?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    // An existing table is fine: the command is run on every `make dev`.
    if let Err(e) = created
        && !e
            .as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception())
    {
        return Err(unavailable("CreateTable", &e));
    }
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(Duration::from_secs(300))
        .await
        .map_err(|e| unavailable("DescribeTable (waiting for the table)", &e))?;

    let ttl = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| unavailable("DescribeTimeToLive", &e))?;
    if let Some(description) = ttl.time_to_live_description() {
        let on = matches!(
            description.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
        if on && description.attribute_name() == Some(TTL_ATTRIBUTE) {
            return Ok(());
        }
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL_ATTRIBUTE)
        .build()
        .map_err(|e| unavailable("UpdateTimeToLive", &e))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| unavailable("UpdateTimeToLive", &e))?;
    Ok(())
}

/// The error chain (no request, no credentials), prefixed with the operation.
fn unavailable(op: &str, err: &(dyn Error + 'static)) -> StoreError {
    crate::metrics::emit(crate::metrics::Metric::StoreError { operation: op });
    StoreError::Unavailable(format!("DynamoDB {op}: {}", DisplayErrorContext(err)))
}

/// The outcome of a conditional write: a failed condition is a lost race.
fn conditional<O, E, R>(
    op: &str,
    result: Result<O, SdkError<E, R>>,
    condition_failed: impl FnOnce(&E) -> bool,
) -> Result<Write, StoreError>
where
    E: Error + 'static,
    R: Debug + 'static,
{
    match result {
        Ok(_) => Ok(Write::Applied),
        Err(e) if e.as_service_error().is_some_and(condition_failed) => Ok(Write::Lost),
        Err(e) => Err(unavailable(op, &e)),
    }
}

/// `put` only over the item's stored `version` (0: only where none is stored).
fn versioned(put: PutItemFluentBuilder, version: u64) -> PutItemFluentBuilder {
    if version == 0 {
        put.condition_expression("attribute_not_exists(pk)")
    } else {
        put.condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(version))
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Typed access to a stored item; anything missing or mistyped is `Malformed`.
struct Fields<'a> {
    item: &'a Item,
}

impl Fields<'_> {
    fn malformed(&self, reason: String) -> StoreError {
        let key_part = |name: &str| match self.item.get(name) {
            Some(AttributeValue::S(v)) => v.as_str(),
            _ => "?",
        };
        StoreError::Malformed {
            key: format!("{}/{}", key_part("pk"), key_part("sk")),
            reason,
        }
    }

    fn opt_string(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(_) => Err(self.malformed(format!("`{name}` is not a string"))),
        }
    }

    fn string(&self, name: &str) -> Result<String, StoreError> {
        self.opt_string(name)?
            .ok_or_else(|| self.malformed(format!("`{name}` is missing")))
    }

    fn opt_number<T: FromStr>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| self.malformed(format!("`{name}` = {v} is out of range"))),
            Some(_) => Err(self.malformed(format!("`{name}` is not a number"))),
        }
    }

    fn opt_bool(&self, name: &str) -> Result<Option<bool>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::Bool(v)) => Ok(Some(*v)),
            Some(_) => Err(self.malformed(format!("`{name}` is not a boolean"))),
        }
    }

    fn number<T: FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.opt_number(name)?
            .ok_or_else(|| self.malformed(format!("`{name}` is missing")))
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let Some(AttributeValue::L(values)) = self.item.get(name) else {
            return Err(self.malformed(format!("`{name}` is not a list")));
        };
        values
            .iter()
            .map(|v| match v {
                AttributeValue::S(v) => Ok(v.clone()),
                _ => Err(self.malformed(format!("`{name}` holds a non-string"))),
            })
            .collect()
    }

    /// A string set, sorted; absent is empty.
    fn string_set(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.item.get(name) {
            None => Ok(Vec::new()),
            Some(AttributeValue::Ss(values)) => {
                let mut values = values.clone();
                values.sort();
                Ok(values)
            }
            Some(_) => Err(self.malformed(format!("`{name}` is not a string set"))),
        }
    }

    fn parsed<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, StoreError> {
        let raw = self.string(name)?;
        parse(&raw).ok_or_else(|| self.malformed(format!("`{name}` = {raw:?} is unknown")))
    }

    fn opt_parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        self.opt_string(name)?
            .map(|raw| {
                parse(&raw).ok_or_else(|| self.malformed(format!("`{name}` = {raw:?} is unknown")))
            })
            .transpose()
    }
}

/// Sets `name` to `value`, or leaves it out when `None`.
fn put_opt(item: &mut Item, name: &str, value: Option<AttributeValue>) {
    if let Some(value) = value {
        item.insert(name.to_string(), value);
    }
}

fn worker_item(profile: &WorkerProfile, version: u64) -> Item {
    let mut item = Item::from([
        ("pk".to_string(), s(WORKERS_PK)),
        ("sk".to_string(), s(worker_sk(&profile.phone))),
        ("phone".to_string(), s(&profile.phone)),
        ("name".to_string(), s(&profile.name)),
        (
            "skills".to_string(),
            AttributeValue::L(profile.skills.iter().map(s).collect()),
        ),
        ("misses".to_string(), n(profile.misses)),
        ("answered_total".to_string(), n(profile.answered_total)),
        ("missed_total".to_string(), n(profile.missed_total)),
        ("version".to_string(), n(version)),
    ]);
    put_opt(&mut item, "worker_sid", profile.worker_sid.as_ref().map(s));
    put_opt(
        &mut item,
        "activity",
        profile.activity.map(|a| s(a.as_str())),
    );
    // Absent for every profile written before the flag existed: not blocked.
    put_opt(
        &mut item,
        "sms_blocked",
        profile.sms_blocked.then_some(AttributeValue::Bool(true)),
    );
    put_opt(&mut item, "pin", profile.pin.as_ref().map(|p| s(&p.0)));
    put_opt(
        &mut item,
        "pin_failures",
        (profile.pin_failures > 0).then(|| n(profile.pin_failures)),
    );
    put_opt(
        &mut item,
        "pin_locked_until",
        profile.pin_locked_until.map(n),
    );
    put_opt(&mut item, "cooldown_until", profile.cooldown_until.map(n));
    put_opt(&mut item, "until_at", profile.duty_until.map(|u| n(u.at)));
    put_opt(
        &mut item,
        "until_then",
        profile.duty_until.map(|u| s(u.then.as_str())),
    );
    let answers = &profile.answers;
    put_opt(
        &mut item,
        "answer_record",
        (!answers.recent.is_empty()).then(|| s(answers.letters())),
    );
    put_opt(&mut item, "last_miss_at", answers.last_miss_at.map(n));
    item
}

fn worker_from(item: &Item) -> Result<WorkerProfile, StoreError> {
    let f = Fields { item };
    Ok(WorkerProfile {
        phone: f.string("phone")?,
        name: f.string("name")?,
        skills: f.strings("skills")?,
        worker_sid: f.opt_string("worker_sid")?,
        activity: f.opt_parsed("activity", Activity::parse)?,
        misses: f.number("misses")?,
        answered_total: f.number("answered_total")?,
        missed_total: f.number("missed_total")?,
        sms_blocked: f.opt_bool("sms_blocked")?.unwrap_or(false),
        pin: f.opt_string("pin")?.map(PinHash),
        pin_failures: f.opt_number("pin_failures")?.unwrap_or(0),
        pin_locked_until: f.opt_number("pin_locked_until")?,
        cooldown_until: f.opt_number("cooldown_until")?,
        duty_until: match (
            f.opt_number("until_at")?,
            f.opt_parsed("until_then", Duty::parse)?,
        ) {
            (Some(at), Some(then)) => Some(DutyUntil { at, then }),
            _ => None,
        },
        // Absent for every profile written before the record existed: no offers yet.
        answers: AnswerRecord {
            recent: match f.opt_string("answer_record")? {
                None => Vec::new(),
                Some(letters) => AnswerRecord::parse_letters(&letters).ok_or_else(|| {
                    f.malformed(format!("`answer_record` = {letters} is not a record"))
                })?,
            },
            last_miss_at: f.opt_number("last_miss_at")?,
        },
        version: f.number("version")?,
    })
}

fn attempt_item(attempt: &Attempt) -> Item {
    let mut item = Item::from([
        ("pk".to_string(), s(attempt_pk(&attempt.task_sid))),
        ("sk".to_string(), s(attempt_sk(&attempt.reservation_sid))),
        ("reservation_sid".to_string(), s(&attempt.reservation_sid)),
        ("task_sid".to_string(), s(&attempt.task_sid)),
        ("worker_sid".to_string(), s(&attempt.worker_sid)),
        ("phone".to_string(), s(&attempt.phone)),
        ("skill".to_string(), s(&attempt.skill)),
        ("state".to_string(), s(attempt.state.as_str())),
        ("created_at".to_string(), n(attempt.created_at)),
        (
            TTL_ATTRIBUTE.to_string(),
            n(attempt.created_at.saturating_add(ATTEMPT_TTL_SECS)),
        ),
    ]);
    put_opt(
        &mut item,
        "caller_call_sid",
        attempt.caller_call_sid.as_ref().map(s),
    );
    put_opt(&mut item, "caller", attempt.caller.as_ref().map(s));
    // Absent unless true, like every attempt written before the flag.
    put_opt(
        &mut item,
        "returning",
        attempt.returning.then_some(AttributeValue::Bool(true)),
    );
    put_opt(&mut item, "queued_at", attempt.queued_at.map(n));
    if let TaskKind::Callback(callback) = &attempt.kind {
        item.insert("callback_number".to_string(), s(&callback.number));
        item.insert(
            "callback_call_sid".to_string(),
            s(&callback.original_call_sid),
        );
        item.insert("callback_queued_at".to_string(), n(callback.queued_at));
        item.insert("callback_try".to_string(), n(callback.try_no));
    }
    put_opt(&mut item, "call_sid", attempt.call_sid.as_ref().map(s));
    put_opt(&mut item, "outcome", attempt.outcome.as_ref().map(s));
    put_opt(
        &mut item,
        "sip_response_code",
        attempt.sip_response_code.map(n),
    );
    item
}

fn attempt_from(item: &Item) -> Result<Attempt, StoreError> {
    let f = Fields { item };
    Ok(Attempt {
        reservation_sid: f.string("reservation_sid")?,
        task_sid: f.string("task_sid")?,
        worker_sid: f.string("worker_sid")?,
        phone: f.string("phone")?,
        skill: f.string("skill")?,
        caller_call_sid: f.opt_string("caller_call_sid")?,
        caller: f.opt_string("caller")?,
        returning: f.opt_bool("returning")?.unwrap_or(false),
        queued_at: f.opt_number("queued_at")?,
        kind: match f.opt_string("callback_number")? {
            None => TaskKind::Call,
            Some(number) => TaskKind::Callback(Callback {
                number,
                original_call_sid: f.string("callback_call_sid")?,
                queued_at: f.number("callback_queued_at")?,
                try_no: f.number("callback_try")?,
            }),
        },
        call_sid: f.opt_string("call_sid")?,
        state: f.parsed("state", AttemptState::parse)?,
        outcome: f.opt_string("outcome")?,
        sip_response_code: f.opt_number("sip_response_code")?,
        created_at: f.number("created_at")?,
    })
}

/// Sorts by time, then recording SID; a (nonsensical) negative time sorts first.
fn voicemail_sk(voicemail: &Voicemail) -> String {
    format!(
        "{:020}#{}",
        voicemail.received_at.max(0),
        voicemail.recording_sid
    )
}

fn voicemail_item(voicemail: &Voicemail) -> Item {
    Item::from([
        ("pk".to_string(), s(VOICEMAILS_PK)),
        ("sk".to_string(), s(voicemail_sk(voicemail))),
        ("recording_sid".to_string(), s(&voicemail.recording_sid)),
        ("call_sid".to_string(), s(&voicemail.call_sid)),
        ("caller".to_string(), s(&voicemail.caller)),
        ("skill".to_string(), s(&voicemail.skill)),
        ("recording_url".to_string(), s(&voicemail.recording_url)),
        ("duration_secs".to_string(), n(voicemail.duration_secs)),
        ("received_at".to_string(), n(voicemail.received_at)),
    ])
}

fn voicemail_from(item: &Item) -> Result<Voicemail, StoreError> {
    let f = Fields { item };
    Ok(Voicemail {
        recording_sid: f.string("recording_sid")?,
        call_sid: f.string("call_sid")?,
        caller: f.string("caller")?,
        skill: f.string("skill")?,
        recording_url: f.string("recording_url")?,
        duration_secs: f.number("duration_secs")?,
        received_at: f.number("received_at")?,
    })
}

impl WorkerStore for DynamoStore {
    async fn get_worker(&self, phone: &str) -> Result<Option<WorkerProfile>, StoreError> {
        self.get_item("GetItem (worker)", WORKERS_PK.to_string(), worker_sk(phone))
            .await?
            .as_ref()
            .map(worker_from)
            .transpose()
    }

    async fn put_worker(&self, profile: &WorkerProfile) -> Result<Write, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(worker_item(
                profile,
                profile.version.saturating_add(1),
            )));
        let put = versioned(put, profile.version);
        conditional("PutItem (worker)", put.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    async fn remove_worker(&self, phone: &str) -> Result<Option<WorkerProfile>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(WORKERS_PK))
            .key("sk", s(worker_sk(phone)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem (worker)", &e))?;
        out.attributes.as_ref().map(worker_from).transpose()
    }

    async fn list_workers(&self) -> Result<Vec<WorkerProfile>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(WORKERS_PK))
            .expression_attribute_values(":prefix", s(worker_sk("")));
        // Keys sort by phone already.
        self.query("Query (workers)", query, usize::MAX)
            .await?
            .iter()
            .map(worker_from)
            .collect()
    }
}

impl AttemptStore for DynamoStore {
    async fn create_attempt(&self, attempt: &Attempt) -> Result<Write, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attempt_item(attempt)))
            .condition_expression("attribute_not_exists(pk)");
        conditional("PutItem (attempt)", put.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    async fn get_attempt(
        &self,
        task_sid: &str,
        reservation_sid: &str,
    ) -> Result<Option<Attempt>, StoreError> {
        self.get_item(
            "GetItem (attempt)",
            attempt_pk(task_sid),
            attempt_sk(reservation_sid),
        )
        .await?
        .as_ref()
        .map(attempt_from)
        .transpose()
    }

    async fn list_attempts(&self, task_sid: &str) -> Result<Vec<Attempt>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(attempt_pk(task_sid)))
            .expression_attribute_values(":prefix", s(attempt_sk("")));
        let mut attempts = self
            .query("Query (attempts)", query, usize::MAX)
            .await?
            .iter()
            .map(attempt_from)
            .collect::<Result<Vec<_>, _>>()?;
        // Stable: equal times stay in reservation SID order.
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
        if from.is_empty() {
            // No state allowed: nothing can match (and `IN ()` is not valid).
            return Ok(Write::Lost);
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(attempt_pk(task_sid)))
            .key("sk", s(attempt_sk(reservation_sid)))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":to", s(to.as_str()));
        let mut set = vec!["#state = :to"];
        let changes = [
            (
                "outcome = :outcome",
                ":outcome",
                change.outcome.as_ref().map(s),
            ),
            (
                "sip_response_code = :sip",
                ":sip",
                change.sip_response_code.map(n),
            ),
            (
                "call_sid = :call_sid",
                ":call_sid",
                change.call_sid.as_ref().map(s),
            ),
        ];
        for (clause, placeholder, value) in changes {
            if let Some(value) = value {
                set.push(clause);
                update = update.expression_attribute_values(placeholder, value);
            }
        }
        let mut allowed = Vec::with_capacity(from.len());
        for (i, state) in from.iter().enumerate() {
            let placeholder = format!(":from{i}");
            update = update.expression_attribute_values(&placeholder, s(state.as_str()));
            allowed.push(placeholder);
        }
        let update = update
            .update_expression(format!("SET {}", set.join(", ")))
            // attribute_exists: an UpdateItem on a missing key would create a stub item.
            .condition_expression(format!(
                "attribute_exists(pk) AND #state IN ({})",
                allowed.join(", ")
            ));
        conditional(
            "UpdateItem (attempt transition)",
            update.send().await,
            |e| e.is_conditional_check_failed_exception(),
        )
    }

    async fn set_call_sid(
        &self,
        task_sid: &str,
        reservation_sid: &str,
        call_sid: &str,
    ) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(attempt_pk(task_sid)))
            .key("sk", s(attempt_sk(reservation_sid)))
            .update_expression("SET call_sid = :call_sid")
            .expression_attribute_values(":call_sid", s(call_sid))
            // No attempt, nothing to annotate (and no stub item created).
            .condition_expression("attribute_exists(pk)");
        conditional("UpdateItem (attempt call SID)", update.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
        .map(|_| ())
    }
}

/// A condition of the transaction failed (for a voicemail both fail
/// together, so either means "stored").
fn condition_failed(e: &TransactWriteItemsError) -> bool {
    transaction_reasons(e).any(|code| code == "ConditionalCheckFailed")
}

/// Another transaction on the same items was in flight: try again.
fn transaction_conflict(e: &TransactWriteItemsError) -> bool {
    transaction_reasons(e).any(|code| code == "TransactionConflict")
}

fn transaction_reasons(e: &TransactWriteItemsError) -> impl Iterator<Item = &str> {
    let reasons = match e {
        TransactWriteItemsError::TransactionCanceledException(e) => e.cancellation_reasons(),
        _ => &[],
    };
    reasons.iter().filter_map(|r| r.code())
}

/// Attempts at a transaction that conflicts with a concurrent one.
const TRANSACTION_TRIES: u32 = 5;

impl DynamoStore {
    /// One `TransactWriteItems`: a failed condition on any item is
    /// [`Write::Lost`]; a conflict with a concurrent transaction is retried.
    async fn transact(&self, op: &str, items: Vec<TransactWriteItem>) -> Result<Write, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Write::Applied),
                Err(e) if e.as_service_error().is_some_and(condition_failed) => {
                    return Ok(Write::Lost);
                }
                Err(e)
                    if tries < TRANSACTION_TRIES
                        && e.as_service_error().is_some_and(transaction_conflict) =>
                {
                    tokio::time::sleep(Duration::from_millis(
                        fastrand::u64(10..=50) * u64::from(tries),
                    ))
                    .await;
                }
                Err(e) => return Err(unavailable(op, &e)),
            }
        }
    }

    /// A `Put` for a transaction, on the condition `condition` (with its
    /// placeholder values; `#expires_at` names the TTL attribute).
    fn transact_put(
        &self,
        op: &str,
        item: Item,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if condition.contains("#expires_at") {
            put = put.expression_attribute_names("#expires_at", TTL_ATTRIBUTE);
        }
        for (placeholder, value) in values {
            put = put.expression_attribute_values(*placeholder, value.clone());
        }
        put.build()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .map_err(|e| unavailable(op, &e))
    }
}

impl VoicemailStore for DynamoStore {
    async fn put_voicemail(&self, voicemail: &Voicemail) -> Result<Write, StoreError> {
        let op = "TransactWriteItems (voicemail)";
        let unique = Item::from([
            (
                "pk".to_string(),
                s(format!("VOICEMAIL#{}", voicemail.recording_sid)),
            ),
            ("sk".to_string(), s("VOICEMAIL")),
            ("listed_as".to_string(), s(voicemail_sk(voicemail))),
        ]);
        let absent = "attribute_not_exists(pk)";
        let items = vec![
            self.transact_put(op, unique, absent, &[])?,
            self.transact_put(op, voicemail_item(voicemail), absent, &[])?,
        ];
        self.transact(op, items).await
    }

    async fn list_voicemails(&self, limit: usize) -> Result<Vec<Voicemail>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(VOICEMAILS_PK))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        self.query("Query (voicemails)", query, limit)
            .await?
            .iter()
            .map(voicemail_from)
            .collect()
    }
}

fn follow_up_item(follow_up: &FollowUp, version: u64) -> Item {
    let mut item = Item::from([
        ("pk".to_string(), s(follow_up_pk(&follow_up.call_sid))),
        ("sk".to_string(), s(FOLLOW_UP_SK)),
        ("call_sid".to_string(), s(&follow_up.call_sid)),
        ("number".to_string(), n(follow_up.number)),
        ("caller".to_string(), s(&follow_up.caller)),
        ("skill".to_string(), s(&follow_up.skill)),
        ("reason".to_string(), s(follow_up.reason.as_str())),
        ("created_at".to_string(), n(follow_up.created_at)),
        ("state".to_string(), s(follow_up.state.as_str())),
        ("claims".to_string(), n(follow_up.claims)),
        ("failed_calls".to_string(), n(follow_up.failed_calls)),
        ("version".to_string(), n(version)),
        (TTL_ATTRIBUTE.to_string(), n(follow_up_expiry(follow_up))),
    ]);
    put_opt(
        &mut item,
        "recording_url",
        follow_up.recording_url.as_ref().map(s),
    );
    put_opt(
        &mut item,
        "transcript",
        follow_up.transcript.as_ref().map(s),
    );
    put_opt(&mut item, "owner", follow_up.owner.as_ref().map(s));
    item
}

fn follow_up_expiry(follow_up: &FollowUp) -> i64 {
    follow_up.created_at.saturating_add(FOLLOW_UP_TTL_SECS)
}

fn follow_up_from(item: &Item) -> Result<FollowUp, StoreError> {
    let f = Fields { item };
    Ok(FollowUp {
        call_sid: f.string("call_sid")?,
        number: f.number("number")?,
        caller: f.string("caller")?,
        skill: f.string("skill")?,
        reason: f.parsed("reason", FollowUpReason::parse)?,
        created_at: f.number("created_at")?,
        recording_url: f.opt_string("recording_url")?,
        transcript: f.opt_string("transcript")?,
        state: f.parsed("state", FollowUpState::parse)?,
        owner: f.opt_string("owner")?,
        claims: f.number("claims")?,
        failed_calls: f.number("failed_calls")?,
        version: f.number("version")?,
    })
}

/// Rounds of choosing a follow-up number: each lost round means another
/// follow-up took the number, so this bounds how many open at once.
const NUMBER_ROUNDS: usize = 4 * RMW_ROUNDS;

/// A number item that has not expired: the call SID it holds.
fn live_number(item: &Item, now: i64) -> Result<Option<(u32, String)>, StoreError> {
    let f = Fields { item };
    let expires_at: Option<i64> = f.opt_number(TTL_ATTRIBUTE)?;
    if expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let number = f.parsed("sk", |sk| sk.parse().ok())?;
    Ok(Some((number, f.string("call_sid")?)))
}

impl DynamoStore {
    /// The numbers held now, with their call SIDs, in number order.
    async fn held_numbers(&self) -> Result<Vec<(u32, String)>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(FOLLOW_UPS_PK));
        let now = now_secs();
        let mut held = Vec::new();
        for item in self
            .query("Query (follow-up numbers)", query, usize::MAX)
            .await?
        {
            held.extend(live_number(&item, now)?);
        }
        Ok(held)
    }
}

impl FollowUpStore for DynamoStore {
    async fn open_follow_up(&self, follow_up: &FollowUp) -> Result<FollowUp, StoreError> {
        let op = "TransactWriteItems (follow-up)";
        for round in 0..NUMBER_ROUNDS {
            if round > 0 {
                // Racers that chose the same number spread out before choosing again.
                tokio::time::sleep(Duration::from_millis(fastrand::u64(5..=40))).await;
            }
            if let Some(stored) = self.get_follow_up(&follow_up.call_sid).await? {
                return Ok(stored);
            }
            let held: Vec<u32> = self
                .held_numbers()
                .await?
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            let mut stored = follow_up.clone();
            stored.number = (1..).find(|n| !held.contains(n)).unwrap_or(u32::MAX);
            stored.version = 1;
            let number = Item::from([
                ("pk".to_string(), s(FOLLOW_UPS_PK)),
                ("sk".to_string(), s(number_sk(stored.number))),
                ("call_sid".to_string(), s(&stored.call_sid)),
                (TTL_ATTRIBUTE.to_string(), n(follow_up_expiry(&stored))),
            ]);
            // An expired number item TTL has not deleted yet is free.
            let free = "attribute_not_exists(pk) OR #expires_at <= :now";
            let items = vec![
                self.transact_put(
                    op,
                    follow_up_item(&stored, 1),
                    "attribute_not_exists(pk)",
                    &[],
                )?,
                self.transact_put(op, number, free, &[(":now", n(now_secs()))])?,
            ];
            // Lost: the call's follow-up or the number was taken meanwhile.
            if self.transact(op, items).await?.applied() {
                return Ok(stored);
            }
        }
        Err(StoreError::Contention("follow-up number".into()))
    }

    async fn get_follow_up(&self, call_sid: &str) -> Result<Option<FollowUp>, StoreError> {
        self.get_item(
            "GetItem (follow-up)",
            follow_up_pk(call_sid),
            FOLLOW_UP_SK.into(),
        )
        .await?
        .as_ref()
        .map(follow_up_from)
        .transpose()
    }

    async fn follow_up_numbered(&self, number: u32) -> Result<Option<FollowUp>, StoreError> {
        let op = "GetItem (follow-up number)";
        let Some(item) = self
            .get_item(op, FOLLOW_UPS_PK.into(), number_sk(number))
            .await?
        else {
            return Ok(None);
        };
        let Some((_, call_sid)) = live_number(&item, now_secs())? else {
            return Ok(None);
        };
        Ok(self
            .get_follow_up(&call_sid)
            .await?
            .filter(|f| f.state != FollowUpState::Done && f.number == number))
    }

    async fn put_follow_up(&self, follow_up: &FollowUp) -> Result<Write, StoreError> {
        let op = "TransactWriteItems (follow-up update)";
        let item = follow_up_item(follow_up, follow_up.version.saturating_add(1));
        let put = self.transact_put(
            op,
            item,
            "version = :version",
            &[(":version", n(follow_up.version))],
        )?;
        if follow_up.state != FollowUpState::Done {
            return self.transact(op, vec![put]).await;
        }
        // Done frees the number in the same transaction.
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .key("pk", s(FOLLOW_UPS_PK))
            .key("sk", s(number_sk(follow_up.number)))
            .condition_expression("attribute_not_exists(pk) OR call_sid = :call_sid")
            .expression_attribute_values(":call_sid", s(&follow_up.call_sid))
            .build()
            .map_err(|e| unavailable(op, &e))?;
        let delete = TransactWriteItem::builder().delete(delete).build();
        if self
            .transact(op, vec![put.clone(), delete])
            .await?
            .applied()
        {
            return Ok(Write::Applied);
        }
        // Lost: a stale version, or the follow-up was done before and its
        // number is another's by now; then the follow-up alone is written.
        let number = self
            .get_item(op, FOLLOW_UPS_PK.into(), number_sk(follow_up.number))
            .await?;
        let held = match &number {
            Some(item) => live_number(item, now_secs())?,
            None => None,
        };
        if held.is_some_and(|(_, call_sid)| call_sid != follow_up.call_sid) {
            return self.transact(op, vec![put]).await;
        }
        Ok(Write::Lost)
    }

    async fn list_follow_ups(&self) -> Result<Vec<FollowUp>, StoreError> {
        let mut open = Vec::new();
        for (number, call_sid) in self.held_numbers().await? {
            if let Some(f) = self.get_follow_up(&call_sid).await?
                && f.state != FollowUpState::Done
                && f.number == number
            {
                open.push(f);
            }
        }
        open.sort_by_key(|f| (f.created_at, f.number));
        Ok(open)
    }
}

fn blocked_from(item: &Item) -> Result<BlockedNumber, StoreError> {
    let f = Fields { item };
    Ok(BlockedNumber {
        number: f.string("number")?,
        blocked_by: f.string("blocked_by")?,
        blocked_at: f.number("blocked_at")?,
    })
}

impl BlocklistStore for DynamoStore {
    async fn block(&self, blocked: &BlockedNumber) -> Result<Write, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(BLOCKED_PK))
            .item("sk", s(&blocked.number))
            .item("number", s(&blocked.number))
            .item("blocked_by", s(&blocked.blocked_by))
            .item("blocked_at", n(blocked.blocked_at))
            .condition_expression("attribute_not_exists(pk)");
        conditional("PutItem (blocked number)", put.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    async fn unblock(&self, number: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(BLOCKED_PK))
            .key("sk", s(number))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem (blocked number)", &e))?;
        Ok(out.attributes.is_some())
    }

    async fn is_blocked(&self, number: &str) -> Result<bool, StoreError> {
        let op = "GetItem (blocked number)";
        let item = self
            .get_item(op, BLOCKED_PK.into(), number.to_string())
            .await?;
        Ok(item.is_some())
    }

    async fn list_blocked(&self) -> Result<Vec<BlockedNumber>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(BLOCKED_PK));
        self.query("Query (blocked numbers)", query, usize::MAX)
            .await?
            .iter()
            .map(blocked_from)
            .collect()
    }
}

/// An answer as the `answers` set keeps it: `<at> <phone> <reservation>`
/// (none of the three holds a space), so a repeated step adds nothing.
fn answer_item(answer: &Answer) -> String {
    format!("{} {} {}", answer.at, answer.phone, answer.reservation_sid)
}

fn answer_from(raw: &str) -> Option<Answer> {
    let mut parts = raw.split(' ');
    let answer = Answer {
        at: parts.next()?.parse().ok()?,
        phone: parts.next()?.to_string(),
        reservation_sid: parts.next()?.to_string(),
    };
    parts.next().is_none().then_some(answer)
}

/// The answer a record written before answers were kept by reservation
/// holds (`answered_by`, `answered_at`; records are kept 90 days), with no
/// reservation: no failed bridge can name it.
fn first_answer(f: &Fields<'_>) -> Result<Option<Answer>, StoreError> {
    Ok(
        match (f.opt_string("answered_by")?, f.opt_number("answered_at")?) {
            (Some(phone), Some(at)) => Some(Answer {
                at,
                phone,
                reservation_sid: String::new(),
            }),
            _ => None,
        },
    )
}

fn call_record_from(item: &Item) -> Result<CallRecord, StoreError> {
    let f = Fields { item };
    let mut answers: Vec<Answer> = f
        .string_set("answers")?
        .iter()
        .map(|raw| {
            answer_from(raw)
                .ok_or_else(|| f.malformed(format!("`answers` holds {raw:?}, not an answer")))
        })
        .collect::<Result<_, _>>()?;
    answers.extend(first_answer(&f)?);
    Ok(CallRecord {
        call_sid: f.string("call_sid")?,
        caller: f.opt_string("caller")?,
        arrived_at: f.opt_number("arrived_at")?,
        after_hours: f.opt_bool("after_hours")?.unwrap_or(false),
        skill: f.opt_string("skill")?,
        queued_at: f.opt_number("queued_at")?,
        answers,
        unbridged: f.string_set("unbridged")?,
        missed_by: f.string_set("missed_by")?,
        hung_up_in_queue_at: f.opt_number("hung_up_in_queue_at")?,
        sent_to_voicemail_at: f.opt_number("sent_to_voicemail_at")?,
        abandoned_at: f.opt_number("abandoned_at")?,
        voicemail_at: f.opt_number("voicemail_at")?,
        callback_requested_at: f.opt_number("callback_requested_at")?,
        callback_number: f.opt_string("callback_number")?,
        callback_missed_at: f.opt_number("callback_missed_at")?,
    })
}

impl CallRecordStore for DynamoStore {
    async fn merge_call_record(
        &self,
        day: &str,
        record: &CallRecord,
        create: bool,
    ) -> Result<Write, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(calls_pk(day)))
            .key("sk", s(call_sk(&record.call_sid)));
        // The first write starts the 90 days; later steps keep them.
        let kept_first = [
            ("call_sid", Some(s(&record.call_sid))),
            (
                TTL_ATTRIBUTE,
                Some(n(now_secs().saturating_add(CALL_RECORD_TTL_SECS))),
            ),
            ("caller", record.caller.as_ref().map(s)),
            ("arrived_at", record.arrived_at.map(n)),
            ("skill", record.skill.as_ref().map(s)),
            ("queued_at", record.queued_at.map(n)),
            ("hung_up_in_queue_at", record.hung_up_in_queue_at.map(n)),
            ("sent_to_voicemail_at", record.sent_to_voicemail_at.map(n)),
            ("abandoned_at", record.abandoned_at.map(n)),
            ("voicemail_at", record.voicemail_at.map(n)),
            ("callback_requested_at", record.callback_requested_at.map(n)),
            ("callback_number", record.callback_number.as_ref().map(s)),
            ("callback_missed_at", record.callback_missed_at.map(n)),
        ];
        let mut set = Vec::new();
        for (name, value) in kept_first {
            if let Some(value) = value {
                set.push(format!("#{name} = if_not_exists(#{name}, :{name})"));
                update = update
                    .expression_attribute_names(format!("#{name}"), name)
                    .expression_attribute_values(format!(":{name}"), value);
            }
        }
        if record.after_hours {
            set.push("after_hours = :after_hours".to_string());
            update = update.expression_attribute_values(":after_hours", AttributeValue::Bool(true));
        }
        let mut expression = format!("SET {}", set.join(", "));
        // ADD to a set is idempotent: a repeated step adds nothing.
        let sets = [
            ("answers", record.answers.iter().map(answer_item).collect()),
            ("unbridged", record.unbridged.clone()),
            ("missed_by", record.missed_by.clone()),
        ];
        let mut added = Vec::new();
        for (name, values) in sets {
            if !values.is_empty() {
                added.push(format!("{name} :{name}"));
                update = update
                    .expression_attribute_values(format!(":{name}"), AttributeValue::Ss(values));
            }
        }
        if !added.is_empty() {
            expression.push_str(&format!(" ADD {}", added.join(", ")));
        }
        update = update.update_expression(expression);
        if !create {
            update = update.condition_expression("attribute_exists(pk)");
        }
        conditional("UpdateItem (call record)", update.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    async fn get_call_record(
        &self,
        day: &str,
        call_sid: &str,
    ) -> Result<Option<CallRecord>, StoreError> {
        self.get_item("GetItem (call record)", calls_pk(day), call_sk(call_sid))
            .await?
            .as_ref()
            .map(call_record_from)
            .transpose()
    }

    async fn list_call_records(&self, day: &str) -> Result<Vec<CallRecord>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(calls_pk(day)))
            .expression_attribute_values(":prefix", s(call_sk("")));
        let mut records = self
            .query("Query (call records)", query, usize::MAX)
            .await?
            .iter()
            .map(call_record_from)
            .collect::<Result<Vec<_>, _>>()?;
        // Keys sort by call SID already; the sort is stable.
        records.sort_by_key(|r| r.arrived_at);
        Ok(records)
    }
}

fn caller_pk(caller: &str) -> String {
    format!("CALLER#{caller}")
}

const LAST_WORKER_SK: &str = "LAST_WORKER";

impl LastWorkerStore for DynamoStore {
    async fn remember_last_worker(
        &self,
        last: &LastWorker,
        ttl_secs: u64,
    ) -> Result<Write, StoreError> {
        let expires_at = last
            .answered_at
            .saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(caller_pk(&last.caller)))
            .item("sk", s(LAST_WORKER_SK))
            .item("caller", s(&last.caller))
            .item("worker_sid", s(&last.worker_sid))
            .item("phone", s(&last.phone))
            .item("skill", s(&last.skill))
            .item("answered_at", n(last.answered_at))
            .item(TTL_ATTRIBUTE, n(expires_at))
            .condition_expression("attribute_not_exists(pk) OR answered_at < :at")
            .expression_attribute_values(":at", n(last.answered_at));
        conditional("PutItem (last worker)", put.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    async fn last_worker(&self, caller: &str) -> Result<Option<LastWorker>, StoreError> {
        let op = "GetItem (last worker)";
        let Some(item) = self
            .get_item(op, caller_pk(caller), LAST_WORKER_SK.into())
            .await?
        else {
            return Ok(None);
        };
        let f = Fields { item: &item };
        // TTL deletion lags: an expired item that still exists is gone.
        if f.number::<i64>(TTL_ATTRIBUTE)? <= now_secs() {
            return Ok(None);
        }
        Ok(Some(LastWorker {
            caller: f.string("caller")?,
            worker_sid: f.string("worker_sid")?,
            phone: f.string("phone")?,
            skill: f.string("skill")?,
            answered_at: f.number("answered_at")?,
        }))
    }
}

fn waits_pk(skill: &str) -> String {
    format!("WAITS#{skill}")
}

const WAITS_SK: &str = "RECENT";

impl WaitStore for DynamoStore {
    async fn recent_waits(&self, skill: &str) -> Result<RecentWaits, StoreError> {
        let op = "GetItem (recent waits)";
        let Some(item) = self.get_item(op, waits_pk(skill), WAITS_SK.into()).await? else {
            return Ok(RecentWaits {
                skill: skill.to_string(),
                ..RecentWaits::default()
            });
        };
        let f = Fields { item: &item };
        let Some(AttributeValue::L(listed)) = item.get("waits") else {
            return Err(f.malformed("`waits` is not a list".into()));
        };
        let waits = listed
            .iter()
            .map(|wait| match wait {
                AttributeValue::M(wait) => {
                    let w = Fields { item: wait };
                    Ok(AnswerWait {
                        answered_at: w.number("answered_at")?,
                        wait_secs: w.number("wait_secs")?,
                    })
                }
                _ => Err(f.malformed("`waits` holds a non-map".into())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RecentWaits {
            skill: f.string("skill")?,
            waits,
            version: f.number("version")?,
        })
    }

    async fn put_recent_waits(&self, waits: &RecentWaits) -> Result<Write, StoreError> {
        let listed = waits
            .waits
            .iter()
            .map(|wait| {
                AttributeValue::M(Item::from([
                    ("answered_at".to_string(), n(wait.answered_at)),
                    ("wait_secs".to_string(), n(wait.wait_secs)),
                ]))
            })
            .collect();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(waits_pk(&waits.skill)))
            .item("sk", s(WAITS_SK))
            .item("skill", s(&waits.skill))
            .item("waits", AttributeValue::L(listed))
            .item("version", n(waits.version.saturating_add(1)));
        let put = versioned(put, waits.version);
        conditional("PutItem (recent waits)", put.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }
}

impl OnceStore for DynamoStore {
    async fn claim_once(&self, key: &str, ttl_secs: u64) -> Result<Write, StoreError> {
        let now = now_secs();
        let expires_at = now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(once_pk(key)))
            .item("sk", s("ONCE"))
            .item(TTL_ATTRIBUTE, n(expires_at))
            // TTL deletion lags, so an expired marker that still exists is free.
            .condition_expression("attribute_not_exists(pk) OR #expires_at <= :now")
            .expression_attribute_names("#expires_at", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(now));
        conditional("PutItem (once marker)", put.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    async fn release_once(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(once_pk(key)))
            .key("sk", s("ONCE"))
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem (once marker)", &e))?;
        Ok(())
    }

    async fn is_claimed(&self, key: &str) -> Result<bool, StoreError> {
        let op = "GetItem (once marker)";
        let Some(item) = self.get_item(op, once_pk(key), "ONCE".into()).await? else {
            return Ok(false);
        };
        // TTL deletion lags: an expired marker that still exists is free.
        let expires_at: Option<i64> = Fields { item: &item }.opt_number(TTL_ATTRIBUTE)?;
        Ok(expires_at.is_none_or(|at| at > now_secs()))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;

    use super::*;

    fn canceled(codes: &[&str]) -> TransactWriteItemsError {
        let reasons = codes
            .iter()
            .map(|code| CancellationReason::builder().code(*code).build())
            .collect();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .set_cancellation_reasons(Some(reasons))
                .build(),
        )
    }

    // The race test on DynamoDB Local never saw a conflict; real DynamoDB reports them.
    #[test]
    fn transaction_outcomes() {
        let exists = canceled(&["ConditionalCheckFailed", "None"]);
        assert!(condition_failed(&exists));
        assert!(!transaction_conflict(&exists));

        let conflict = canceled(&["TransactionConflict", "None"]);
        assert!(transaction_conflict(&conflict));
        assert!(!condition_failed(&conflict));

        let throttled = canceled(&["ThrottlingError", "None"]);
        assert!(!condition_failed(&throttled) && !transaction_conflict(&throttled));
    }
}
