//! The Twilio secret read at init, against a local Secrets Manager stand-in.

use homeline_core::Config;
use homeline_core::config::ConfigError;
use homeline_core::secrets::TwilioSecret;
use testkit::secrets_manager::SecretsManagerStandIn;

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:homeline-twilio-AbCdEf";

/// The test environment as the template gives it: no secret in it.
fn environment() -> std::collections::HashMap<String, String> {
    let mut env = testkit::test_env();
    env.remove("TWILIO_AUTH_TOKEN");
    env.insert("TWILIO_API_KEY".into(), testkit::sid("SK", 9));
    env
}

#[tokio::test]
async fn the_token_and_the_api_secret_come_from_the_secret() {
    let stand_in = SecretsManagerStandIn::start(&[(
        ARN,
        r#"{"TWILIO_AUTH_TOKEN":"12345","TWILIO_API_SECRET":"shh-test"}"#,
    )])
    .await;
    let secret = TwilioSecret::read(&stand_in.client(), ARN)
        .await
        .expect("read");
    let env = environment();
    let config = Config::from_lookup(secret.over(|name| env.get(name).cloned())).expect("valid");
    assert_eq!(config.twilio.auth_token.expose(), "12345");
    assert_eq!(config.twilio.rest_credentials().1.expose(), "shh-test");
    assert_eq!(stand_in.requested(), vec![ARN.to_string()], "one read");
}

#[tokio::test]
async fn an_empty_api_secret_means_the_auth_token_authenticates() {
    let stand_in = SecretsManagerStandIn::start(&[(
        ARN,
        r#"{"TWILIO_AUTH_TOKEN":"12345","TWILIO_API_SECRET":""}"#,
    )])
    .await;
    let secret = TwilioSecret::read(&stand_in.client(), ARN)
        .await
        .expect("read");
    let env = testkit::test_env();
    let config = Config::from_lookup(secret.over(|name| {
        (name != "TWILIO_AUTH_TOKEN")
            .then(|| env.get(name).cloned())
            .flatten()
    }))
    .expect("valid");
    assert_eq!(
        config.twilio.api_key.as_ref().map(|(k, _)| k.as_str()),
        None
    );
    assert_eq!(config.twilio.rest_credentials().1.expose(), "12345");
}

#[tokio::test]
async fn a_missing_secret_fails_init_naming_its_arn() {
    let stand_in = SecretsManagerStandIn::start(&[]).await;
    let error = TwilioSecret::read(&stand_in.client(), ARN)
        .await
        .expect_err("no such secret");
    let ConfigError::Secret { arn, reason } = &error else {
        panic!("expected a secret error, got {error:?}");
    };
    assert_eq!(arn, ARN);
    assert!(reason.contains("ResourceNotFoundException"), "{reason}");
    assert!(error.to_string().contains(ARN), "{error}");
}

#[tokio::test]
async fn an_unreadable_secret_fails_init_naming_its_arn_and_not_its_value() {
    let stand_in = SecretsManagerStandIn::start(&[(ARN, "hunter2-token")]).await;
    let error = TwilioSecret::read(&stand_in.client(), ARN)
        .await
        .expect_err("not JSON");
    let shown = format!("{error} {error:?}");
    assert!(
        shown.contains(ARN) && shown.contains("not a JSON object"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[tokio::test]
async fn an_unreachable_secrets_manager_fails_init_naming_the_arn() {
    let stand_in = SecretsManagerStandIn::start(&[]).await;
    // The stand-in's client, pointed at a port nothing listens on.
    let client = aws_sdk_secretsmanager::Client::from_conf(
        stand_in
            .client()
            .config()
            .to_builder()
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    );
    let error = TwilioSecret::read(&client, ARN)
        .await
        .expect_err("unreachable");
    assert!(
        matches!(&error, ConfigError::Secret { arn, .. } if arn == ARN),
        "{error:?}"
    );
}
