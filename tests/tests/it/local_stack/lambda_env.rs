//! On Lambda a function configures its AWS clients from the variables Lambda
//! sets and reads no AWS profile (`core/src/aws.rs`). A release `assignment`
//! started as Lambda starts it, with the fixtures' world seeded, answers the
//! `assignment` fixture `{}` (the worker's call placed, its attempt written
//! to DynamoDB Local; a store out of reach rejects the reservation instead):
//!   - beside a profile file that would send its DynamoDB client to AWS itself
//!     (`ignore_configured_endpoint_urls`: the loader then drops
//!     `AWS_ENDPOINT_URL_DYNAMODB`);
//!   - with its Twilio token only in a secret, read from the Secrets Manager
//!     stand-in `AWS_ENDPOINT_URL_SECRETS_MANAGER` names (the fixture is
//!     signed with that token).
//!
//! Needs DynamoDB Local: `scripts/local-stack.sh run -- cargo test -p
//! homeline-tests --test it lambda_env` (the binary as in odd_events.rs).

use std::collections::HashMap;

use testkit::events::decode_response;
use testkit::fixtures;
use testkit::runtime_api::{Outcome, RunningFunction, function_env, release_binaries};
use testkit::secrets_manager::SecretsManagerStandIn;
use testkit::twilio_fake::TwilioFake;
use tokio::process::Command;

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:homeline-twilio-AbCdEf";

/// Starts `assignment` on a seeded world with its environment changed by
/// `adjust`, and checks its answer to the `assignment` fixture.
async fn assignment_answers(adjust: impl FnOnce(&mut HashMap<String, String>)) {
    let binary = release_binaries(&["assignment"]).join("assignment");
    let twilio = TwilioFake::start().await;
    let store = testkit::dynamo::fresh_store().await;
    fixtures::seed_world(&store, &twilio).await;
    let mut env = function_env(&twilio, &store);
    adjust(&mut env);
    let fixture = fixtures::all()
        .into_iter()
        .find(|f| f.name == "assignment")
        .expect("the assignment fixture");
    let mut function = RunningFunction::start(Command::new(&binary), "assignment", &env).await;
    match function.invoke(fixture.webhook.event()).await {
        Outcome::Response(response) => {
            let (status, body) = decode_response(&response);
            fixture.assert_answer("started as on Lambda", status, &body);
            assert_eq!(
                body, "{}",
                "no instruction: the reservation waits for the call"
            );
        }
        Outcome::Error(error) => panic!("the function failed: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn on_lambda_a_function_reads_no_aws_profile() {
    let profile = std::env::temp_dir().join(format!("homeline-aws-config-{}", std::process::id()));
    std::fs::write(
        &profile,
        "[default]\nignore_configured_endpoint_urls = true\n",
    )
    .expect("a profile file");
    let path = profile.display().to_string();
    assignment_answers(|env| {
        env.insert("AWS_CONFIG_FILE".into(), path);
    })
    .await;
    let _ = std::fs::remove_file(&profile);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_lambda_the_twilio_secret_is_read_from_its_endpoint() {
    let stand_in = SecretsManagerStandIn::start(&[(
        ARN,
        &format!(r#"{{"TWILIO_AUTH_TOKEN":"{}"}}"#, testkit::AUTH_TOKEN),
    )])
    .await;
    assignment_answers(|env| {
        env.remove("TWILIO_AUTH_TOKEN");
        env.insert("TWILIO_SECRET_ARN".into(), ARN.into());
        env.insert("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), stand_in.url());
    })
    .await;
    assert_eq!(stand_in.requested(), vec![ARN.to_string()], "one read");
}
