//! What a function needs at run time: config, state store, Twilio client.
//! Built once at init; handlers borrow it.

use std::sync::Arc;

use crate::aws::AwsEnv;
use crate::config::{Config, ConfigError};
use crate::secrets::{self, TwilioSecret};
use crate::store::{DynamoStore, Store};
use crate::twilio::TwilioClient;

#[derive(Debug, Clone)]
pub struct App<S> {
    pub config: Arc<Config>,
    pub store: S,
    pub twilio: TwilioClient,
}

impl<S: Store> App<S> {
    pub fn new(config: Config, store: S) -> Self {
        let twilio = TwilioClient::new(&config.twilio);
        Self {
            config: Arc::new(config),
            store,
            twilio,
        }
    }
}

impl App<DynamoStore> {
    /// The production wiring: config from the environment (and the Twilio
    /// secret, when `TWILIO_SECRET_ARN` names one), DynamoDB from the
    /// standard AWS environment. Fails with the name of a bad variable or
    /// the ARN of a secret it could not read.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let env = |name: &str| std::env::var(name).ok();
        let aws = AwsEnv::detect();
        let config = match env(secrets::SECRET_ARN_VAR).filter(|arn| !arn.trim().is_empty()) {
            Some(arn) => {
                let client = secrets::client_from_env(aws).await;
                let secret = TwilioSecret::read(&client, arn.trim()).await?;
                Config::from_lookup(secret.over(env))?
            }
            None => Config::from_env()?,
        };
        let store = DynamoStore::from_env(aws, config.table_name.clone()).await;
        Ok(Self::new(config, store))
    }
}

/// The whole `main` of a function binary: logging, config and store from the
/// environment (failing init with a clear message), then the Lambda loop,
/// which answers every event and never panics on one (`runtime`).
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(App<DynamoStore>, lambda_http::Request) -> Fut,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send,
{
    crate::telemetry::init();
    let app = App::from_env().await.inspect_err(|error| {
        tracing::error!(%error, "configuration is incomplete; fix the function's environment");
    })?;
    crate::runtime::run(|request| handler(app.clone(), request)).await
}
