//! The DynamoDB adapter over the single table (`pk`, `sk`, TTL `expires_at`).

use aws_sdk_dynamodb::Client;

use super::{
    Attempt, AttemptChange, AttemptState, AttemptStore, OnceStore, StoreError, Voicemail,
    VoicemailStore, WorkerProfile, WorkerStore, Write,
};

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A client from the standard AWS environment (`AWS_REGION`,
    /// `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local, ...).
    pub async fn from_env(table: impl Into<String>) -> Self {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&sdk), table)
    }
}

impl WorkerStore for DynamoStore {
    async fn get_worker(&self, phone: &str) -> Result<Option<WorkerProfile>, StoreError> {
        let _ = (&self.client, &self.table, phone);
        todo!("DynamoDB adapter")
    }

    async fn put_worker(&self, profile: &WorkerProfile) -> Result<Write, StoreError> {
        let _ = profile;
        todo!("DynamoDB adapter")
    }

    async fn remove_worker(&self, phone: &str) -> Result<Option<WorkerProfile>, StoreError> {
        let _ = phone;
        todo!("DynamoDB adapter")
    }

    async fn list_workers(&self) -> Result<Vec<WorkerProfile>, StoreError> {
        todo!("DynamoDB adapter")
    }
}

impl AttemptStore for DynamoStore {
    async fn create_attempt(&self, attempt: &Attempt) -> Result<Write, StoreError> {
        let _ = attempt;
        todo!("DynamoDB adapter")
    }

    async fn get_attempt(
        &self,
        task_sid: &str,
        reservation_sid: &str,
    ) -> Result<Option<Attempt>, StoreError> {
        let _ = (task_sid, reservation_sid);
        todo!("DynamoDB adapter")
    }

    async fn list_attempts(&self, task_sid: &str) -> Result<Vec<Attempt>, StoreError> {
        let _ = task_sid;
        todo!("DynamoDB adapter")
    }

    async fn transition(
        &self,
        task_sid: &str,
        reservation_sid: &str,
        from: &[AttemptState],
        to: AttemptState,
        change: &AttemptChange,
    ) -> Result<Write, StoreError> {
        let _ = (task_sid, reservation_sid, from, to, change);
        todo!("DynamoDB adapter")
    }

    async fn set_call_sid(
        &self,
        task_sid: &str,
        reservation_sid: &str,
        call_sid: &str,
    ) -> Result<(), StoreError> {
        let _ = (task_sid, reservation_sid, call_sid);
        todo!("DynamoDB adapter")
    }
}

impl VoicemailStore for DynamoStore {
    async fn put_voicemail(&self, voicemail: &Voicemail) -> Result<Write, StoreError> {
        let _ = voicemail;
        todo!("DynamoDB adapter")
    }

    async fn list_voicemails(&self, limit: usize) -> Result<Vec<Voicemail>, StoreError> {
        let _ = limit;
        todo!("DynamoDB adapter")
    }
}

impl OnceStore for DynamoStore {
    async fn claim_once(&self, key: &str, ttl_secs: u64) -> Result<Write, StoreError> {
        let _ = (key, ttl_secs);
        todo!("DynamoDB adapter")
    }

    async fn release_once(&self, key: &str) -> Result<(), StoreError> {
        let _ = key;
        todo!("DynamoDB adapter")
    }
}
