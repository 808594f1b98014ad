//! On Lambda a function configures its AWS clients from the variables Lambda
//! sets and reads no AWS profile (`core/src/aws.rs`): a release binary
//! started as Lambda starts it, next to a profile file that would send its
//! DynamoDB client to AWS itself (`ignore_configured_endpoint_urls`: the
//! loader then drops `AWS_ENDPOINT_URL_DYNAMODB`), still answers from
//! DynamoDB Local.
//!
//! Needs DynamoDB Local: `scripts/local-stack.sh run -- cargo test -p
//! homeline-tests --test it lambda_env` (the binary as in odd_events.rs).

use testkit::events::decode_response;
use testkit::fixtures;
use testkit::runtime_api::{Outcome, RunningFunction, function_env, release_binaries};
use testkit::twilio_fake::TwilioFake;
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn on_lambda_a_function_reads_no_aws_profile() {
    let binary = release_binaries(&["assignment"]).join("assignment");
    let twilio = TwilioFake::start().await;
    let store = testkit::dynamo::fresh_store().await;
    fixtures::seed_world(&store, &twilio).await;
    let profile = std::env::temp_dir().join(format!("homeline-aws-config-{}", std::process::id()));
    std::fs::write(
        &profile,
        "[default]\nignore_configured_endpoint_urls = true\n",
    )
    .expect("a profile file");
    let mut env = function_env(&twilio, &store);
    env.insert("AWS_CONFIG_FILE".into(), profile.display().to_string());

    let fixture = fixtures::all()
        .into_iter()
        .find(|f| f.name == "assignment")
        .expect("the assignment fixture");
    let mut function = RunningFunction::start(Command::new(&binary), "assignment", &env).await;
    let outcome = function.invoke(fixture.webhook.event()).await;
    let _ = std::fs::remove_file(&profile);
    match outcome {
        Outcome::Response(response) => {
            let (status, body) = decode_response(&response);
            fixture.assert_answer("from a profile-free start", status, &body);
            // The worker's call placed, its attempt written to DynamoDB
            // Local: a store out of reach rejects the reservation instead.
            assert_eq!(
                body, "{}",
                "no instruction: the reservation waits for the call"
            );
        }
        Outcome::Error(error) => panic!("the function failed: {error}"),
    }
}
