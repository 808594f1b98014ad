//! Every events/ fixture, handed to the real `handle` of the function that
//! serves its path, gets the answer the catalogue declares: the same fixtures
//! `make dev` and the built artifacts answer, here in-process in seconds.

use homeline_core::App;
use homeline_tests::homeline::handle;
use testkit::dynamo::fresh_store;
use testkit::fixtures;
use testkit::twilio_fake::TwilioFake;

#[tokio::test]
async fn every_catalogue_fixture_gets_its_declared_answer_from_its_function() {
    let twilio = TwilioFake::start().await;
    let store = fresh_store().await;
    fixtures::seed_world(&store, &twilio).await;
    let app = App::new(twilio.config(), store);
    fixtures::assert_declared_answers(|function, request| handle(function, app.clone(), request))
        .await;
    twilio.idle().await;
    twilio.assert_spec_valid();
}
