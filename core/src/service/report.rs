//! The admins' reports from the call records: `stats` (today so far) and
//! `who` (on duty now).

use super::call_record;
use crate::app::App;
use crate::domain::report::texts;
use crate::store::{Store, StoreError};

/// `stats`: the figures of the local day of `now` (Unix seconds) so far.
pub async fn stats<S: Store>(app: &App<S>, now: i64) -> Result<String, StoreError> {
    let day = call_record::day(app.config.time_zone, now);
    let summary = call_record::summary(&app.store, &day).await?;
    let open = app.store.list_follow_ups().await?.len();
    Ok(texts::stats(&summary, open))
}

/// `who`: the workers on duty now.
pub async fn who<S: Store>(app: &App<S>) -> Result<String, StoreError> {
    Ok(texts::who(&app.store.list_workers().await?))
}
