// SQL entry points that watch and steer batches: batch_wait, batch_cancel,
// batch_health, batch_cleanup, batch_retry.
#include "sql/entry.hpp"
#include "pg/settings.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/request.hpp"
#include "core/status.hpp"
#include "ops/citus.hpp"
#include "ops/retry.hpp"
#include "pg/jsonb.hpp"
#include "pg/security.hpp"
#include "store/background.hpp"
#include "store/batch_store.hpp"
#include "store/dependencies.hpp"
#include "store/transition.hpp"
#include "workers/shared.hpp"

extern "C" {
#include "access/transam.h"
#include "datatype/timestamp.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"
#include "utils/tuplestore.h"
}

namespace {

using namespace batch_ops;
using core::BatchStatus;

// The timeout of batch_wait in microseconds; 22023 when it is negative or
// cannot be represented (an interval whose end lies beyond the timestamp range).
int64_t wait_timeout_us(const Interval* iv, TimestampTz now, TimestampTz* deadline) {
    int64_t months_us, days_us, total;
    const bool overflow =
        __builtin_mul_overflow(static_cast<int64_t>(iv->month), static_cast<int64_t>(DAYS_PER_MONTH) * USECS_PER_DAY,
                               &months_us) ||
        __builtin_mul_overflow(static_cast<int64_t>(iv->day), static_cast<int64_t>(USECS_PER_DAY), &days_us) ||
        __builtin_add_overflow(months_us, days_us, &total) ||
        __builtin_add_overflow(total, static_cast<int64_t>(iv->time), &total);
    if (!overflow && total < 0)
        throw core::Error(core::sqlstate::invalid_parameter_value, "timeout must not be negative");
    if (overflow || __builtin_add_overflow(static_cast<int64_t>(now), total, deadline) ||
        !IS_VALID_TIMESTAMP(*deadline))
        throw core::Error(core::sqlstate::invalid_parameter_value, "batch_wait timeout is out of range",
                          "The wait must end within the range of timestamp with time zone.",
                          "Pass NULL to wait without a timeout.");
    return total;
}

}  // namespace

BATCH_OPS_FUNCTION(batch_ops_batch_wait) {
    if (PG_ARGISNULL(0)) throw core::Error(core::sqlstate::invalid_parameter_value, "batch id must not be null");
    int64_t id = PG_GETARG_INT64(0);
    const bool has_timeout = !PG_ARGISNULL(1);
    TimestampTz deadline = 0;
    if (has_timeout) (void)wait_timeout_us(pg::guard([&] { return PG_GETARG_INTERVAL_P(1); }), GetCurrentTimestamp(), &deadline);
    pg::check_schema_version();
    if (IsolationUsesXactSnapshot())
        throw core::Error(core::sqlstate::object_not_in_state, "batch_wait() needs the READ COMMITTED isolation level",
                          "In REPEATABLE READ or SERIALIZABLE the transaction's snapshot never shows the batch end.");
    pg::Spi spi;
    (void)store::load_batch(spi, id);
    std::optional<TransactionId> written = store::batch_xmin(spi, id);
    if (!written) store::batch_missing(id);
    const TransactionId xmin = *written;
    if (pg::guard([&] { return TransactionIdIsCurrentTransactionId(xmin); }))
        throw core::Error(core::sqlstate::object_not_in_state,
                          "batch " + std::to_string(id) + " was submitted or changed in this transaction",
                          "The workers cannot see it before this transaction commits.",
                          "Commit first, then wait for the batch.");
    // The executors broadcast this condition variable whenever they commit a
    // change of a batch; the status is read once per wake-up (at most once a
    // second without one: a change made by a client, an inline sync). Every
    // read runs in an SPI connection of its own, so that its results are
    // freed at once and the memory of a long wait stays flat.
    ConditionVariable* cv = nullptr;
    if (workers::Shared* sh = workers::shared()) cv = &sh->batch_changed;
    if (cv) pg::guard([&] { ConditionVariablePrepareToSleep(cv); });
    bool timed_out = false;
    while (true) {
        std::optional<BatchStatus> status =
            pg::with_spi([&](pg::Spi& poll) { return store::batch_status(poll, id, store::RowLock::None); });
        if (!status)
            throw core::Error(core::sqlstate::no_data_found, "batch " + std::to_string(id) + " no longer exists",
                              "It was removed while waiting (batch_cleanup or batch_ops.retention).");
        if (core::is_terminal(*status)) break;
        long sleep_ms = 1000;
        if (has_timeout) {
            TimestampTz now = GetCurrentTimestamp();
            if (now >= deadline) {
                timed_out = true;
                break;
            }
            sleep_ms = std::min<long>(sleep_ms, std::max<long>(1, TimestampDifferenceMilliseconds(now, deadline)));
        }
        if (cv)
            pg::guard([&] { (void)ConditionVariableTimedSleep(cv, sleep_ms, PG_WAIT_EXTENSION); });
        else
            pg::guard([&] {
                (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms, PG_WAIT_EXTENSION);
                ResetLatch(MyLatch);
                CHECK_FOR_INTERRUPTS();
            });
    }
    if (cv) pg::guard([] { ConditionVariableCancelSleep(); });
    return store::job_status_record(spi, id, timed_out);
}

BATCH_OPS_FUNCTION(batch_ops_batch_cancel) {
    int64_t id = PG_GETARG_INT64(0);
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("batch_cancel()"); });
    pg::Spi spi;
    (void)store::load_batch(spi, id);
    Oid me = pg::current_role();
    // Never wait for an executor: while a chunk runs, its executor holds the
    // batch row's lock (FOR NO KEY UPDATE), so the row is taken only if it is free.
    std::optional<BatchStatus> status = store::batch_status(spi, id, store::RowLock::ForNoKeyUpdateSkipLocked);
    const bool locked = status.has_value();
    if (!locked) status = store::batch_status(spi, id, store::RowLock::None);
    if (!status) store::batch_missing(id);
    if (core::is_terminal(*status)) return BoolGetDatum(false);
    if (*status == BatchStatus::Cancelling) return BoolGetDatum(true);
    if (locked && *status != BatchStatus::Running) {
        // queued (or a sync batch not yet run): cancelled at once (announced).
        store::cancel_pending(spi, id);
        (void)store::finish_background(spi, id, true, me);
        workers::batch_changed_at_commit();
        return BoolGetDatum(true);
    }
    if (locked) {
        // Running, but no chunk of it holds the row: its executor is between
        // chunks (or busy with another batch), and stops before the next one.
        store::mark_cancelling(spi, id, me);  // running -> cancelling, announced
    } else {
        // A chunk of it is in flight (or an executor is claiming it): record
        // the request beside the batch, then interrupt the chunk.
        store::request_cancel(spi, id, me);
    }
    // Interrupt the chunk in flight now (its executor rolls it back and
    // cancels the batch at once, whatever becomes of this transaction), and
    // have the executors look for the request again once it is committed.
    (void)workers::request_cancel(MyDatabaseId, id, true);
    workers::request_cancel_at_commit(id);
    return BoolGetDatum(true);
}

BATCH_OPS_FUNCTION(batch_ops_batch_health) {
    pg::check_schema_version();
    core::Json r = core::Json::object();
    {
        store::Summary summary = pg::with_spi([](pg::Spi& spi) { return store::batch_summary(spi); });
        int executors = 0, here = 0;
        bool launcher = false;
        if (workers::Shared* sh = workers::shared()) {
            LWLockAcquire(sh->lock, LW_SHARED);
            launcher = sh->launcher_pid != 0;
            for (auto& e : sh->executors)
                if (e.pid > 0) {
                    ++executors;
                    if (e.dboid == MyDatabaseId) ++here;
                }
            LWLockRelease(sh->lock);
        }
        const char* status = !workers::preloaded()   ? "degraded"
                             : !settings::enabled    ? "paused"
                             : !launcher             ? "degraded"
                                                     : "ok";
        r.set("status", core::Json::string(status));
        core::Json w = core::Json::object();
        w.set("preloaded", core::Json::boolean(workers::preloaded()));
        w.set("launcher", core::Json::boolean(launcher));
        w.set("executors", core::Json::number(executors));
        w.set("executors_in_database", core::Json::number(here));
        w.set("max_workers", core::Json::number(settings::max_workers));
        w.set("enabled", core::Json::boolean(settings::enabled));
        r.set("workers", std::move(w));
        r.set("active_jobs", core::Json::number(summary.active));
        r.set("queued_jobs", core::Json::number(summary.queued));
        r.set("oldest_queued_age_s", core::Json::number(summary.oldest_queued_age_s));
        core::Json ops = core::Json::array();
        for (const auto& name : core::operation_names()) ops.push(core::Json::string(name));
        r.set("supported_operations", std::move(ops));
        r.set("supported_targets", pg::from_jsonb_text(summary.targets));
        r.set("timestamp", core::Json::string(summary.now));
    }
    return pg::to_jsonb(r);
}

BATCH_OPS_FUNCTION(batch_ops_batch_cleanup) {
    Interval* iv = pg::guard([&] { return PG_GETARG_INTERVAL_P(0); });
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("batch_cleanup()"); });
    pg::require_admin(pg::current_role(), "clean up batches",
                      "Only superusers and members of batch_ops_admin may remove batches.");
    const Interval older_than = *iv;
    int64_t removed =
        pg::with_spi([&](pg::Spi& spi) { return store::remove_ended_batches(spi, older_than, std::nullopt); });
    return Int64GetDatum(removed);
}

namespace {

[[noreturn]] void raise_refusal(const ops::RetryRefusal& r) {
    throw core::Error(r.sqlstate, r.message, r.detail, r.hint);
}

// The error_codes argument of batch_retry: a non-empty text[] without nulls.
std::vector<std::string> error_codes_arg(FunctionCallInfo fcinfo, int n) {
    ArrayType* arr = pg::guard([&] { return PG_GETARG_ARRAYTYPE_P(n); });
    Datum* elems;
    bool* nulls;
    int count;
    pg::guard([&] { deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count); });
    std::vector<std::string> out;
    for (int i = 0; i < count; ++i) {
        if (nulls[i])
            throw core::Error(core::sqlstate::invalid_parameter_value, "error_codes must not contain nulls");
        out.emplace_back(pg::guard([&] { return text_to_cstring(DatumGetTextPP(elems[i])); }));
    }
    if (out.empty())
        throw core::Error(core::sqlstate::invalid_parameter_value, "error_codes must not be empty",
                          "", "Pass NULL (or leave it out) to retry every item that did not succeed.");
    return out;
}

// batch_retry(id, error_codes) found nothing to run again: 55000, with the
// codes the batch's failed items have.
[[noreturn]] void no_items_with(pg::Spi& spi, int64_t id, const std::vector<std::string>& codes) {
    std::string listed;
    for (const auto& c : codes) listed += (listed.empty() ? "" : ", ") + c;
    std::optional<std::string> present = store::failed_item_codes(spi, id);
    throw core::Error(core::sqlstate::object_not_in_state,
                      "batch " + std::to_string(id) + " cannot be retried: none of its failed items has error code " +
                          listed,
                      present ? "Its failed items have: " + *present + "." : "It has no failed items.",
                      "Name the codes to retry from batch_ops.failures(" + std::to_string(id) +
                          "), or pass NULL to retry every item that did not succeed.");
}

void require_workers() {
    if (!workers::preloaded())
        throw core::Error(core::sqlstate::object_not_in_state, "retries need batch_ops in shared_preload_libraries",
                          "A retried batch is queued for the background workers.",
                          "Add batch_ops to shared_preload_libraries and restart the server.");
}

}  // namespace

// batch_retry(id bigint, error_codes text[] DEFAULT NULL): with error_codes,
// only the failed (or skipped) items with one of those codes run again.
BATCH_OPS_FUNCTION(batch_ops_batch_retry) {
    if (PG_ARGISNULL(0)) throw core::Error(core::sqlstate::invalid_parameter_value, "batch id must not be null");
    int64_t id = PG_GETARG_INT64(0);
    std::optional<std::vector<std::string>> codes;
    if (PG_NARGS() > 1 && !PG_ARGISNULL(1)) codes = error_codes_arg(fcinfo, 1);
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("batch_retry()"); });
    ops::citus::refuse_on_worker_node("batch_retry()");
    const Oid me = pg::current_role();
    pg::with_spi([&](pg::Spi& spi) {
        if (auto refusal = ops::check_retry(spi, id, me)) raise_refusal(*refusal);
        require_workers();
        if (store::requeue_with_dependents(spi, id, me, codes) == 0 && codes) no_items_with(spi, id, *codes);
    });
    workers::wake_at_commit();
    return Int32GetDatum(1);
}

// batch_retry(bigint[]): one row per distinct id, in the order given; one bad
// id never fails the call (each retry runs in a subtransaction of its own).
BATCH_OPS_FUNCTION(batch_ops_batch_retry_many) {
    ArrayType* arr = pg::guard([&] { return PG_GETARG_ARRAYTYPE_P(0); });
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("batch_retry()"); });
    ops::citus::refuse_on_worker_node("batch_retry()");
    require_workers();
    Datum* elems;
    bool* nulls;
    int n;
    pg::guard([&] { deconstruct_array(arr, INT8OID, 8, true, TYPALIGN_DOUBLE, &elems, &nulls, &n); });
    std::vector<int64_t> ids;
    for (int i = 0; i < n; ++i) {
        if (nulls[i]) continue;
        int64_t v = DatumGetInt64(elems[i]);
        if (std::find(ids.begin(), ids.end(), v) == ids.end()) ids.push_back(v);
    }
    struct Row {
        int64_t id;
        bool ok;
        std::string code, message;
    };
    std::vector<Row> rows;
    Oid me = pg::current_role();
    {
        pg::Spi spi;
        for (int64_t id : ids) {
            pg::SubTransaction sub;
            try {
                if (auto refusal = ops::check_retry(spi, id, me)) {
                    sub.rollback();
                    rows.push_back({id, false, refusal->code, refusal->message});
                    continue;
                }
                store::requeue_with_dependents(spi, id, me);
                sub.commit();
                rows.push_back({id, true, "", ""});
            } catch (const pg::PgError& e) {
                sub.rollback();
                rows.push_back({id, false, "ERROR", e.what()});
            }
        }
    }
    bool any = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.ok; });
    if (any) workers::wake_at_commit();
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    pg::guard([&] { InitMaterializedSRF(fcinfo, 0); });
    for (const auto& r : rows) {
        std::string code = r.code, message = r.message;
        pg::guard([&] {
            Datum values[4];
            bool isnull[4] = {false, false, r.ok, r.ok};
            values[0] = Int64GetDatum(r.id);
            values[1] = CStringGetTextDatum(r.ok ? "success" : "failed");  // status-literal: a retry's outcome
            values[2] = r.ok ? (Datum)0 : CStringGetTextDatum(code.c_str());
            values[3] = r.ok ? (Datum)0 : CStringGetTextDatum(message.c_str());
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
        });
    }
    return (Datum)0;
}
