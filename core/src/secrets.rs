//! The Twilio credentials from AWS Secrets Manager. In AWS a function's
//! environment holds only the secret's ARN ([`SECRET_ARN_VAR`]); the secret is
//! read once at init. Local runs and tests set no ARN and read the same
//! variables from the environment (`.env`).
//!
//! The secret is a JSON object keyed by the variables it holds
//! (`{"TWILIO_AUTH_TOKEN": "...", "TWILIO_API_SECRET": ""}`), so the
//! configuration is still read through one lookup: [`HELD`] names from the
//! secret alone, every other name from the environment.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::aws::AwsEnv;
use crate::config::ConfigError;
use crate::secret::Secret;

/// The variable naming the secret (its ARN).
pub const SECRET_ARN_VAR: &str = "TWILIO_SECRET_ARN";
/// The variables the secret holds, never an environment variable in AWS.
pub const HELD: [&str; 2] = ["TWILIO_AUTH_TOKEN", "TWILIO_API_SECRET"];

/// The secret's values; `Debug` shows only which names it holds.
#[derive(Debug)]
pub struct TwilioSecret {
    values: HashMap<String, Secret>,
}

impl TwilioSecret {
    /// Reads the secret `arn` (`GetSecretValue`). The error names the ARN
    /// and Secrets Manager's reason, never a value.
    pub async fn read(client: &Client, arn: &str) -> Result<Self, ConfigError> {
        let failed = |reason: String| ConfigError::Secret {
            arn: arn.to_string(),
            reason,
        };
        let output = client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|error| {
                failed(match error.as_service_error() {
                    Some(service) => format!(
                        "{}: {}",
                        service.code().unwrap_or("error"),
                        service.message().unwrap_or("no message")
                    ),
                    None => DisplayErrorContext(&error).to_string(),
                })
            })?;
        let text = output
            .secret_string()
            .ok_or_else(|| failed("it has no SecretString".into()))?;
        Self::parse(text).map_err(failed)
    }

    /// The secret's text: a JSON object whose keys are [`HELD`] names.
    /// The reason for a bad one names keys, never values.
    fn parse(text: &str) -> Result<Self, String> {
        let values: HashMap<String, String> = serde_json::from_str(text).map_err(|_| {
            format!(
                "its SecretString is not a JSON object of strings keyed by {}",
                HELD.join(", ")
            )
        })?;
        if let Some(key) = values.keys().find(|k| !HELD.contains(&k.as_str())) {
            return Err(format!(
                "it holds {key:?}, which is not one of {}",
                HELD.join(", ")
            ));
        }
        Ok(Self {
            values: values
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
        })
    }

    /// A variable lookup: [`HELD`] names from the secret (never from `env`,
    /// so a token left in the environment is not used), the rest from `env`.
    pub fn over<'a>(
        &'a self,
        env: impl Fn(&str) -> Option<String> + 'a,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            if HELD.contains(&name) {
                self.values.get(name).map(|v| v.expose().to_string())
            } else {
                env(name)
            }
        }
    }
}

/// A Secrets Manager client from `aws`'s environment (`AWS_REGION`,
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER` for a local stand-in, ...), bounded so
/// a slow answer fails init instead of eating the first webhook's budget.
pub async fn client_from_env(aws: AwsEnv) -> Client {
    let timeouts = aws_sdk_secretsmanager::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build();
    let sdk = aws
        .sdk_config("AWS_ENDPOINT_URL_SECRETS_MANAGER", timeouts)
        .await;
    Client::new(&sdk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_names_come_from_the_secret_only() {
        let secret = TwilioSecret::parse(r#"{"TWILIO_AUTH_TOKEN":"12345"}"#).expect("valid");
        let env = |name: &str| Some(format!("env-{name}"));
        let lookup = secret.over(env);
        assert_eq!(lookup("TWILIO_AUTH_TOKEN").as_deref(), Some("12345"));
        assert_eq!(lookup("TWILIO_API_SECRET"), None, "not taken from env");
        assert_eq!(lookup("SKILLS").as_deref(), Some("env-SKILLS"));
    }

    #[test]
    fn a_bad_secret_is_described_by_its_keys_not_its_values() {
        for (text, expected) in [
            ("hunter2-token", "not a JSON object"),
            (r#"{"TWILIO_AUTH_TOKEN": 12345}"#, "not a JSON object"),
            (r#"{"TWILIO_TOKEN": "hunter2-token"}"#, "\"TWILIO_TOKEN\""),
        ] {
            let reason = TwilioSecret::parse(text).expect_err(text);
            assert!(reason.contains(expected), "{reason}");
            assert!(
                !reason.contains("hunter2") && !reason.contains("12345"),
                "{reason}"
            );
        }
    }

    #[test]
    fn debug_shows_no_value() {
        let secret =
            TwilioSecret::parse(r#"{"TWILIO_AUTH_TOKEN":"hunter2-token"}"#).expect("valid");
        let shown = format!("{secret:?}");
        assert!(
            shown.contains("TWILIO_AUTH_TOKEN") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
