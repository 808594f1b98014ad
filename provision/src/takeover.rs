//! The numbers' webhooks from before Homeline took them over, kept in the
//! stack's table (which outlives the stack) so that deleting the stack gives
//! them back, as the business was promised.
//!
//! One item per number: `pk` `NUMBERS`, `sk` `NUMBER#<phone>`, the fields of
//! [`NumberWebhooks`]. The first takeover's record stays: a redelivered or
//! repeated provisioning finds Homeline's own URLs on the number and must
//! not record those as "previous".

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::NumberWebhooks;

const PK: &str = "NUMBERS";
const FIELDS: [&str; 12] = [
    "sid",
    "phone_number",
    "voice_url",
    "voice_method",
    "sms_url",
    "sms_method",
    "voice_fallback_url",
    "voice_fallback_method",
    "sms_fallback_url",
    "sms_fallback_method",
    "status_callback",
    "status_callback_method",
];

#[derive(Debug, thiserror::Error)]
#[error("the table of taken-over numbers: {0}")]
pub struct TakeoverError(String);

fn failed(op: &str, error: &(dyn std::error::Error + 'static)) -> TakeoverError {
    TakeoverError(format!("DynamoDB {op}: {}", DisplayErrorContext(error)))
}

/// The records in one table.
#[derive(Debug, Clone)]
pub struct Takeovers {
    client: Client,
    table: String,
}

impl Takeovers {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Records `previous` unless its number has a record already; `true`
    /// when this call wrote it.
    pub async fn record(&self, previous: &NumberWebhooks) -> Result<bool, TakeoverError> {
        let values = [
            &previous.sid,
            &previous.phone_number,
            &previous.voice_url,
            &previous.voice_method,
            &previous.sms_url,
            &previous.sms_method,
            &previous.voice_fallback_url,
            &previous.voice_fallback_method,
            &previous.sms_fallback_url,
            &previous.sms_fallback_method,
            &previous.status_callback,
            &previous.status_callback_method,
        ];
        let mut item: HashMap<String, AttributeValue> = FIELDS
            .iter()
            .zip(values)
            .map(|(field, value)| (field.to_string(), AttributeValue::S(value.clone())))
            .collect();
        item.insert("pk".into(), AttributeValue::S(PK.into()));
        item.insert("sk".into(), AttributeValue::S(sk(&previous.phone_number)));
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(failed("PutItem", &error)),
        }
    }

    /// Every recorded number, ordered by phone.
    pub async fn all(&self) -> Result<Vec<NumberWebhooks>, TakeoverError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(PK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| failed("Query", &e))?;
        output
            .items()
            .iter()
            .map(|item| {
                let field = |name: &str| match item.get(name) {
                    Some(AttributeValue::S(value)) => Ok(value.clone()),
                    _ => Err(TakeoverError(format!(
                        "a record of a taken-over number has no {name}"
                    ))),
                };
                let optional = |name: &str| field(name).unwrap_or_default();
                Ok(NumberWebhooks {
                    sid: field("sid")?,
                    phone_number: field("phone_number")?,
                    voice_url: field("voice_url")?,
                    voice_method: field("voice_method")?,
                    sms_url: field("sms_url")?,
                    sms_method: field("sms_method")?,
                    // Records from before provision set fallbacks have none:
                    // giving back an empty one clears Homeline's.
                    voice_fallback_url: optional("voice_fallback_url"),
                    voice_fallback_method: optional("voice_fallback_method"),
                    sms_fallback_url: optional("sms_fallback_url"),
                    sms_fallback_method: optional("sms_fallback_method"),
                    // Likewise for records from before the status callback.
                    status_callback: optional("status_callback"),
                    status_callback_method: optional("status_callback_method"),
                })
            })
            .collect()
    }

    /// Drops the record of `phone` (given back); a missing one is fine.
    pub async fn forget(&self, phone: &str) -> Result<(), TakeoverError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(PK.into()))
            .key("sk", AttributeValue::S(sk(phone)))
            .send()
            .await
            .map_err(|e| failed("DeleteItem", &e))?;
        Ok(())
    }
}

fn sk(phone: &str) -> String {
    format!("NUMBER#{phone}")
}
