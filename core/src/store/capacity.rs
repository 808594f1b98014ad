//! What the DynamoDB adapter's requests cost in on-demand read and write
//! request units, as DynamoDB itself reports them.
//!
//! A [`Meter`] is an SDK interceptor: it asks every item request for
//! `ReturnConsumedCapacity=TOTAL` and adds up the `ConsumedCapacity` the
//! answers carry, in one place for every call site (paginated Queries
//! included). A write whose condition fails answers with an error that
//! carries no `ConsumedCapacity`, yet DynamoDB charges it; those are counted
//! by DynamoDB's documented rule instead: one write unit for a single item
//! (the least a write costs), two per item of a cancelled transaction (a
//! transactional write costs double). DynamoDB Local under-reports
//! successful transactions, so those count at least that rule too.
//!
//! Only a store made with [`super::DynamoStore::metered`] counts; the
//! functions' own stores do not, so Lambda's hot path is unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::delete_item::{
    DeleteItemError, DeleteItemInput, DeleteItemOutput,
};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{
    UpdateItemError, UpdateItemInput, UpdateItemOutput,
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// Units are kept in thousandths: DynamoDB reports halves (eventually
/// consistent reads) and sums them over a Query's pages.
const MILLI: f64 = 1000.0;

/// Request units consumed so far, shared by the store's clones.
#[derive(Debug, Default)]
pub struct Meter {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
    /// Writes whose condition failed, counted by rule (see the module doc).
    failed_writes: AtomicU64,
}

/// A reading of a [`Meter`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Consumed {
    /// Read request units (strongly consistent: one per 4 KB read).
    pub read_units: f64,
    /// Write request units (one per 1 KB written, two in a transaction),
    /// failed conditional writes included.
    pub write_units: f64,
    /// Conditional writes that lost (their units are in `write_units`).
    pub failed_writes: u64,
}

impl Meter {
    pub fn reading(&self) -> Consumed {
        let units = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64 / MILLI;
        Consumed {
            read_units: units(&self.read_milli),
            write_units: units(&self.write_milli),
            failed_writes: self.failed_writes.load(Ordering::Relaxed),
        }
    }

    fn add(counter: &AtomicU64, units: f64) {
        // Units are small non-negative multiples of 0.5; rounding is exact.
        counter.fetch_add((units * MILLI).round() as u64, Ordering::Relaxed);
    }

    fn consumed(&self, counter: &AtomicU64, capacity: Option<&ConsumedCapacity>) {
        if let Some(units) = capacity.and_then(|c| c.capacity_units) {
            Self::add(counter, units);
        }
    }

    fn failed(&self, units: f64) {
        self.failed_writes.fetch_add(1, Ordering::Relaxed);
        Self::add(&self.write_milli, units);
    }
}

/// How many items a transaction writes, kept from its input for its answer.
#[derive(Debug, Clone, Copy)]
struct TransactionItems(usize);

impl Storable for TransactionItems {
    type Storer = StoreReplace<Self>;
}

/// Sets `return_consumed_capacity` on whichever of `types` `$input` is.
macro_rules! ask_total {
    ($input:expr, $($ty:ty),+) => {
        $(if let Some(input) = $input.downcast_mut::<$ty>() {
            input.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        })+
    };
}

/// The interceptor a metered store's client carries.
#[derive(Debug)]
pub(super) struct Metering(pub Arc<Meter>);

impl Intercept for Metering {
    fn name(&self) -> &'static str {
        "ConsumedCapacityMeter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            let items = transaction.transact_items.as_ref().map_or(0, Vec::len);
            cfg.interceptor_state().store_put(TransactionItems(items));
        }
        ask_total!(
            input,
            GetItemInput,
            QueryInput,
            PutItemInput,
            UpdateItemInput,
            DeleteItemInput,
            TransactWriteItemsInput
        );
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // A transactional write costs two units per item (1 KB) at least.
        let transaction_floor = cfg
            .load::<TransactionItems>()
            .map_or(0.0, |t| 2.0 * t.0 as f64);
        match context.output_or_error() {
            Ok(output) => {
                let meter = &self.0;
                let (reads, writes) = (&meter.read_milli, &meter.write_milli);
                if let Some(o) = output.downcast_ref::<GetItemOutput>() {
                    meter.consumed(reads, o.consumed_capacity());
                } else if let Some(o) = output.downcast_ref::<QueryOutput>() {
                    meter.consumed(reads, o.consumed_capacity());
                } else if let Some(o) = output.downcast_ref::<PutItemOutput>() {
                    meter.consumed(writes, o.consumed_capacity());
                } else if let Some(o) = output.downcast_ref::<UpdateItemOutput>() {
                    meter.consumed(writes, o.consumed_capacity());
                } else if let Some(o) = output.downcast_ref::<DeleteItemOutput>() {
                    meter.consumed(writes, o.consumed_capacity());
                } else if let Some(o) = output.downcast_ref::<TransactWriteItemsOutput>() {
                    // DynamoDB Local reports a transaction at the plain
                    // rate (two small items: 2 units, where the rule says
                    // 4); AWS's own figure is never below the floor.
                    let reported: f64 = o
                        .consumed_capacity()
                        .iter()
                        .filter_map(|c| c.capacity_units)
                        .sum();
                    Meter::add(writes, reported.max(transaction_floor));
                }
            }
            Err(error) => {
                if let Some(units) = error.as_operation_error().and_then(|e| {
                    let single = e
                        .downcast_ref::<PutItemError>()
                        .is_some_and(PutItemError::is_conditional_check_failed_exception)
                        || e.downcast_ref::<UpdateItemError>()
                            .is_some_and(UpdateItemError::is_conditional_check_failed_exception)
                        || e.downcast_ref::<DeleteItemError>()
                            .is_some_and(DeleteItemError::is_conditional_check_failed_exception);
                    if single {
                        return Some(1.0);
                    }
                    e.downcast_ref::<TransactWriteItemsError>()
                        .is_some_and(TransactWriteItemsError::is_transaction_canceled_exception)
                        .then_some(transaction_floor)
                }) {
                    self.0.failed(units);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_add_up_exactly() {
        let meter = Meter::default();
        for _ in 0..3 {
            Meter::add(&meter.read_milli, 0.5);
        }
        meter.failed(2.0);
        assert_eq!(
            meter.reading(),
            Consumed {
                read_units: 1.5,
                write_units: 2.0,
                failed_writes: 1
            }
        );
    }
}
