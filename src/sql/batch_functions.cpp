// SQL entry points for submitting and inspecting batches.
#include "sql/entry.hpp"
#include "pg/settings.hpp"

#include "core/error.hpp"
#include "core/results.hpp"
#include "ops/retry.hpp"
#include "ops/runner.hpp"
#include "ops/target_catalog.hpp"
#include "pg/jsonb.hpp"
#include "pg/security.hpp"
#include "store/batch_store.hpp"
#include "store/dependencies.hpp"
#include "workers/shared.hpp"

extern "C" {
#include "tcop/utility.h"
}

namespace batch_ops::sql {

namespace {

using core::Json;

Json dry_run_response(const core::Request& req, const ops::RunOutput& out, TimestampTz started) {
    core::Counts c = core::count(out.items);
    Json r = Json::object();
    r.set("operation_id", Json::null());
    r.set("operation", Json::string(core::to_string(req.operation)));
    r.set("target_type", Json::string(req.target_type));
    r.set("status", Json::string(core::to_string(core::final_status(c, false))));
    r.set("total_count", Json::number(c.total));
    r.set("success_count", Json::number(c.success));
    r.set("failure_count", Json::number(c.failure));
    r.set("skipped_count", Json::number(c.skipped));
    r.set("cancelled_count", Json::number(c.cancelled));
    core::add_results(r, out.items);
    TimestampTz completed = GetCurrentTimestamp();
    r.set("started_at", Json::string(pg::iso_timestamp(started)));
    r.set("completed_at", Json::string(pg::iso_timestamp(completed)));
    long secs;
    int usecs;
    TimestampDifference(started, completed, &secs, &usecs);  // pg-boundary: TimestampDifference is arithmetic, it does not raise
    r.set("duration_ms", Json::number(static_cast<int64_t>(secs) * 1000 + usecs / 1000));
    r.set("dry_run", Json::boolean(true));
    return r;
}

// The request of a call; batch_validate makes it an inline dry run without an
// idempotency key.
core::Request parse_call(Jsonb* jb, bool validate_only) {
    core::Limits limits;
    limits.max_items = settings::max_items;
    core::Request req = core::parse_request(pg::from_jsonb(jb), limits);
    if (validate_only) {
        req.dry_run = true;
        req.execution = core::Execution::Inline;
        req.idempotency_key.reset();
    }
    return req;
}

// The request's target, checked against the request and the caller.
ops::TargetInfo checked_target(pg::Spi& spi, const core::Request& req, const core::Actor& actor) {
    ops::TargetInfo target = ops::load_target(spi, req.target_type);
    core::check_supported(req, target.model);
    core::check_request_privilege(req, target.model, actor);

    if (req.execution == core::Execution::Background && !workers::preloaded())
        throw core::Error(core::sqlstate::object_not_in_state,
                          "background execution needs batch_ops in shared_preload_libraries",
                          "Without it there are no workers to run queued batches.",
                          "Add batch_ops to shared_preload_libraries and restart the server, or send "
                          "\"execution\": \"inline\".");
    return target;
}

// A delete records whether it is soft, as decided now: a retry after the
// target changed never turns it into a hard delete (API.md section 9).
// Returns the request to record.
Datum record_soft_delete(core::Request& req, const ops::TargetInfo& target, Jsonb* jb, Datum request_datum) {
    if (req.operation != core::Operation::Delete || req.soft_delete) return request_datum;
    bool soft = core::effective_soft_delete(req, target.model);
    core::Json recorded = pg::from_jsonb(jb);
    core::Json data = recorded.find("operation_data") ? *recorded.find("operation_data") : core::Json::object();
    data.set("soft_delete", core::Json::boolean(soft));
    recorded.set("operation_data", std::move(data));
    req.soft_delete = soft;
    return pg::to_jsonb(recorded);
}

ops::DependencyState checked_dependencies(pg::Spi& spi, const core::Request& req, Oid me, bool admin) {
    ops::DependencyState deps = ops::check_dependencies(spi, req.depends_on, me, admin);
    if (req.execution == core::Execution::Inline && !deps.all_succeeded)
        throw core::Error(core::sqlstate::object_not_in_state,
                          "an inline batch cannot wait for the batches it depends on",
                          "Not every batch in \"depends_on\" has succeeded.",
                          "Submit it with \"execution\": \"background\"; it runs once they have succeeded.");
    return deps;
}

// A background batch: every item pending, one result row per chunk; the
// workers are woken when (if) this transaction commits.
Json queue_batch(pg::Spi& spi, const core::Request& req, const ops::TargetInfo& target, int64_t id,
                 const ops::DependencyState& deps) {
    std::vector<core::ItemResult> pending(req.item_count());
    for (std::size_t i = 0; i < pending.size(); ++i)
        pending[i].target_id = req.operation == core::Operation::BulkCreate ? "#" + std::to_string(i + 1)
                                                                             : req.target_ids[i];
    store::store_items(spi, id, pending, core::success_message(req.operation, core::effective_soft_delete(req, target.model)),
                     settings::chunk_size);
    workers::wake_at_commit();
    // An upstream that already failed or was cancelled: this one fails at once.
    if (deps.broken) store::cascade_upstream_failure(spi, deps.broken->first);
    store::BatchRow b = store::load_batch(spi, id);
    Json r = Json::object();
    r.set("operation_id", Json::number(b.id));
    r.set("status", Json::string(core::to_string(b.status)));
    r.set("operation", Json::string(b.operation));
    r.set("target_type", Json::string(b.target_type));
    r.set("total_count", Json::number(b.total));
    r.set("dry_run", Json::boolean(b.dry_run));
    r.set("created_at", Json::string(b.created_at));
    return r;
}

// An inline batch: its items run now; the results, the export and the final
// status are recorded.
Json run_batch(pg::Spi& spi, ops::ItemRun& run, const core::Request& req, int64_t id, Oid me) {
    ops::RunOutput out = run.run();
    const core::BatchStatus status = core::final_status(core::count(out.items), false);
    store::store_items(spi, id, out.items, out.success_message, settings::chunk_size);
    if (out.export_content)
        store::store_export(spi, id, core::to_string(req.export_format), *out.export_content, out.export_rows);
    store::BatchRow b = store::finish_batch(spi, id, out.items, status, me);
    return store::response_for(b, out.items);
}

// A request on the caller's SPI connection: a dry run answers at once;
// any other batch is recorded, then queued or run.
Json submit(pg::Spi& spi, core::Request& req, Jsonb* jb, Datum request_datum, Oid me, const core::Actor& actor) {
    ops::TargetInfo target = checked_target(spi, req, actor);
    request_datum = record_soft_delete(req, target, jb, request_datum);

    ops::RunOptions opts;
    opts.dry_run = req.dry_run;
    opts.lock_timeout_ms = settings::lock_timeout_ms;

    ops::DependencyState deps = checked_dependencies(spi, req, me, actor.admin);

    ops::ItemRun run(spi, target, req, actor, opts);
    if (req.dry_run && req.execution == core::Execution::Inline) {
        TimestampTz started = GetCurrentTimestamp();
        run.prepare();
        ops::RunOutput out = run.run();
        return dry_run_response(req, out, started);
    }
    run.prepare();  // every request-level error is raised before the batch is recorded

    store::NewBatch nb;
    nb.request = &req;
    nb.request_jsonb = request_datum;
    nb.submitter = me;
    nb.status = req.execution == core::Execution::Background ? core::BatchStatus::Queued : core::BatchStatus::Running;
    nb.max_attempts = req.max_attempts.value_or(settings::default_max_attempts);
    bool existing = false;
    int64_t id = store::insert_batch(spi, nb, &existing);
    if (existing) {
        store::BatchRow b = store::load_batch(spi, id);
        return store::response_for(b, store::load_items(spi, id));
    }
    if (req.execution == core::Execution::Background) return queue_batch(spi, req, target, id, deps);
    return run_batch(spi, run, req, id, me);
}

Json execute(FunctionCallInfo fcinfo, bool validate_only) {
    pg::check_schema_version();
    Jsonb* jb = pg::guard([&] { return PG_GETARG_JSONB_P(0); });
    Datum request_datum = PG_GETARG_DATUM(0);
    core::Request req = parse_call(jb, validate_only);
    pg::guard([&] { PreventCommandIfReadOnly(validate_only ? "batch_validate()" : "batch_execute()"); });

    Oid me = pg::current_role();
    core::Actor actor{pg::role_name(me), pg::is_admin(me)};
    return pg::with_spi([&](pg::Spi& spi) { return submit(spi, req, jb, request_datum, me, actor); });
}

// The content of an export the caller may read. Another role's export does
// not exist, as far as the caller can tell (the same error as a missing one:
// its id tells nothing).
Datum export_content(pg::Spi& spi, int64_t export_id) {
    const std::string missing = "export " + std::to_string(export_id) + " does not exist";
    std::optional<Oid> submitter = store::export_submitter(spi, export_id);
    const Oid me = pg::current_role();
    if (!submitter || (*submitter != me && !pg::is_admin(me))) throw core::Error(core::sqlstate::no_data_found, missing);
    std::optional<Datum> content = store::export_content(spi, export_id);
    if (!content) throw core::Error(core::sqlstate::no_data_found, missing);
    return *content;
}

}  // namespace

}  // namespace batch_ops::sql

using namespace batch_ops;

BATCH_OPS_FUNCTION(batch_ops_batch_execute) {
    core::Json response = sql::execute(fcinfo, false);
    return pg::to_jsonb(response);
}

BATCH_OPS_FUNCTION(batch_ops_batch_validate) {
    core::Json response = sql::execute(fcinfo, true);
    return pg::to_jsonb(response);
}

BATCH_OPS_FUNCTION(batch_ops_batch_result) {
    int64_t id = PG_GETARG_INT64(0);
    pg::check_schema_version();
    core::Json response = pg::with_spi([&](pg::Spi& spi) {
        store::BatchRow b = store::load_batch(spi, id);
        return store::response_for(b, store::load_items(spi, id));
    });
    return pg::to_jsonb(response);
}

BATCH_OPS_FUNCTION(batch_ops_batch_status) {
    int64_t id = PG_GETARG_INT64(0);
    pg::check_schema_version();
    return pg::with_spi([&](pg::Spi& spi) {
        (void)store::load_batch(spi, id);  // exists, and is the caller's
        return store::job_status_record(spi, id);
    });
}

BATCH_OPS_FUNCTION(batch_ops_export_data) {
    int64_t export_id = PG_GETARG_INT64(0);
    pg::check_schema_version();
    return pg::with_spi([&](pg::Spi& spi) { return sql::export_content(spi, export_id); });
}
