//! Where the AWS SDK clients (DynamoDB, Secrets Manager) take their settings.
//!
//! `aws_config`'s loader reads the standard AWS environment: profile files
//! (on tokio's blocking pool), the region and credential chains, a dozen
//! settings each from a variable or a profile. That was most of what a
//! function's start-up cost over a bare `lambda_http` binary (README, "Cold
//! start"). On Lambda none of it applies: there is no profile, and Lambda
//! sets the region and the execution role's credentials as variables
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`; docs/architecture.md links AWS's list), which the
//! loader's credential chain took there too, through its first link, the
//! environment provider used here. So on Lambda the functions build their
//! configuration from those variables alone; the CLI, the provisioner and
//! anything run elsewhere keep the loader.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

/// Which environment the SDK's settings are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsEnv {
    /// The standard AWS environment, through `aws_config`'s loader
    /// (profiles, `AWS_PROFILE`, instance metadata, ...).
    Standard,
    /// The variables Lambda sets, read directly.
    Lambda,
}

impl AwsEnv {
    /// `Lambda` when `AWS_LAMBDA_FUNCTION_NAME` is set (by Lambda, and by
    /// whatever runs a function as Lambda does: cargo lambda, testkit's
    /// Runtime API), else `Standard`.
    pub fn detect() -> Self {
        if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
            Self::Lambda
        } else {
            Self::Standard
        }
    }

    /// The SDK configuration of a service whose own endpoint variable is
    /// `endpoint_var` (`AWS_ENDPOINT_URL_DYNAMODB`: DynamoDB Local in tests
    /// and `make dev`), sending through the shared HTTPS set-up.
    pub(crate) async fn sdk_config(self, endpoint_var: &str, timeouts: TimeoutConfig) -> SdkConfig {
        match self {
            Self::Standard => {
                aws_config::defaults(BehaviorVersion::latest())
                    .http_client(crate::https::sdk_http_client())
                    .timeout_config(timeouts)
                    .load()
                    .await
            }
            Self::Lambda => on_lambda(|name| std::env::var(name).ok(), endpoint_var, timeouts),
        }
    }
}

/// What the loader would settle on with only Lambda's variables in `env`:
/// its region, the environment's credentials, the service's endpoint
/// variable or else `AWS_ENDPOINT_URL`, standard retries, a lazy identity
/// cache.
fn on_lambda(
    env: impl Fn(&str) -> Option<String>,
    endpoint_var: &str,
    timeouts: TimeoutConfig,
) -> SdkConfig {
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(env("AWS_REGION").map(Region::new))
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .identity_cache(IdentityCache::lazy().build())
        .retry_config(RetryConfig::standard())
        .timeout_config(timeouts)
        .http_client(crate::https::sdk_http_client());
    if let Some(url) = env(endpoint_var).or_else(|| env("AWS_ENDPOINT_URL")) {
        config = config.endpoint_url(url);
    }
    config.build()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> SdkConfig {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(Duration::from_secs(3))
            .build();
        on_lambda(
            |name| env.get(name).cloned(),
            "AWS_ENDPOINT_URL_DYNAMODB",
            timeouts,
        )
    }

    #[test]
    fn on_lambda_the_region_credentials_and_endpoint_come_from_lambda_s_variables() {
        let lambda = config(&[("AWS_REGION", "eu-west-1")]);
        assert_eq!(lambda.region().map(Region::as_ref), Some("eu-west-1"));
        assert_eq!(lambda.endpoint_url(), None, "the service's own");
        assert!(lambda.credentials_provider().is_some());
        assert!(lambda.http_client().is_some(), "the shared HTTPS set-up");
        assert_eq!(
            lambda.timeout_config().and_then(|t| t.operation_timeout()),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            lambda.retry_config().map(|r| r.max_attempts()),
            Some(RetryConfig::standard().max_attempts())
        );
    }

    #[test]
    fn the_service_s_endpoint_variable_wins_over_the_global_one() {
        let both = config(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
        ]);
        assert_eq!(both.endpoint_url(), Some("http://127.0.0.1:8000"));
        let global = config(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
        assert_eq!(global.endpoint_url(), Some("http://127.0.0.1:1"));
        let other = config(&[("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:2")]);
        assert_eq!(other.endpoint_url(), None, "another service's");
        assert_eq!(other.region(), None, "no AWS_REGION, no region");
    }
}
