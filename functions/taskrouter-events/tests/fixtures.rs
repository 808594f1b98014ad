//! Every events/ fixture for `taskrouter-events` gets the answer the catalogue declares.

use homeline_core::App;
use testkit::dynamo::fresh_store;
use testkit::twilio_fake::TwilioFake;

#[tokio::test]
async fn catalogue_fixtures_get_their_declared_answers() {
    let twilio = TwilioFake::start().await;
    let app = App::new(twilio.config(), fresh_store().await);
    testkit::fixtures::assert_declared_answers("taskrouter-events", |request| {
        taskrouter_events::handle(app.clone(), request)
    })
    .await;
    twilio.assert_spec_valid();
}
