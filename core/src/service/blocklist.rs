//! The blocklist: admins change it by SMS, the operator with `homeline
//! block`, and every inbound call reads it before anything else happens.

use crate::deadline::Deadline;
use crate::domain::screening::{BlockPlan, texts};
use crate::model::BlockedNumber;
use crate::phone;
use crate::store::{BlocklistStore, StoreError, Write, now_secs};

/// Whether the caller `from` (Twilio's `From`) is blocked. A withheld or
/// unreadable caller ID is not a number on the list. A store failure lets
/// the call through: losing one spam call to a worker is better than
/// refusing every caller while DynamoDB is down; so does a read still
/// unanswered at `deadline`.
pub async fn is_blocked<S: BlocklistStore>(
    store: &S,
    from: Option<&str>,
    deadline: Deadline,
) -> bool {
    let Some(number) = from.and_then(|f| phone::normalize(f).ok()) else {
        return false;
    };
    match tokio::time::timeout(deadline.remaining(), store.is_blocked(&number)).await {
        Ok(Ok(blocked)) => blocked,
        Ok(Err(error)) => {
            tracing::warn!(%error, "blocklist unreadable; the call goes through");
            false
        }
        Err(_) => {
            tracing::warn!("blocklist read timed out; the call goes through");
            false
        }
    }
}

/// Blocks `number` (E.164) on behalf of `by`; [`Write::Lost`]: it was already.
pub async fn block<S: BlocklistStore>(
    store: &S,
    number: &str,
    by: &str,
) -> Result<Write, StoreError> {
    let entry = BlockedNumber {
        number: number.to_string(),
        blocked_by: by.to_string(),
        blocked_at: now_secs(),
    };
    let write = store.block(&entry).await?;
    tracing::info!(number, by, newly = write.applied(), "number blocked");
    Ok(write)
}

/// Unblocks `number`; whether it was blocked.
pub async fn unblock<S: BlocklistStore>(store: &S, number: &str) -> Result<bool, StoreError> {
    let was = store.unblock(number).await?;
    tracing::info!(number, was, "number unblocked");
    Ok(was)
}

/// Carries out an admin's blocklist SMS (`by`: their phone) and returns the reply.
pub async fn command<S: BlocklistStore>(
    store: &S,
    plan: &BlockPlan,
    by: &str,
) -> Result<String, StoreError> {
    Ok(match plan {
        BlockPlan::Block(number) => {
            texts::blocked(number, block(store, number, by).await?.applied())
        }
        BlockPlan::Unblock(number) => texts::unblocked(number, unblock(store, number).await?),
        BlockPlan::List => {
            let numbers: Vec<String> = store
                .list_blocked()
                .await?
                .into_iter()
                .map(|b| b.number)
                .collect();
            texts::list(&numbers)
        }
        BlockPlan::Reply(text) => text.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn soon() -> Deadline {
        Deadline::after(std::time::Duration::from_secs(5))
    }

    #[tokio::test]
    async fn admins_block_list_and_unblock_and_the_call_sees_it() {
        let store = MemoryStore::new();
        let number = "+15557770009";
        let by = "+15550000001";
        let reply = command(&store, &BlockPlan::Block(number.into()), by).await;
        assert!(reply.expect("blocked").starts_with("Blocked +15557770009"));
        assert!(is_blocked(&store, Some("+1 555 777 0009"), soon()).await);
        let again = command(&store, &BlockPlan::Block(number.into()), by).await;
        assert_eq!(again.expect("again"), texts::blocked(number, false));
        let list = command(&store, &BlockPlan::List, by).await;
        assert_eq!(list.expect("list"), "Blocked: +15557770009");
        let reply = command(&store, &BlockPlan::Unblock(number.into()), by).await;
        assert_eq!(reply.expect("unblocked"), texts::unblocked(number, true));
        assert!(!is_blocked(&store, Some(number), soon()).await);
        assert!(!is_blocked(&store, Some("anonymous"), soon()).await);
        assert!(!is_blocked(&store, None, soon()).await);
    }
}
