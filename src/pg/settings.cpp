#include "pg/settings.hpp"

namespace batch_ops::settings {

bool enabled = true;
int max_workers = 2;
int max_items = 1000;
int max_filter_items = 100000;
int chunk_size = 1000;
char* notify_channel = nullptr;
int notify_interval_ms = 100;
int default_max_attempts = 3;
int retry_backoff_ms = 1000;
int statement_timeout_ms = kDefaultStatementTimeoutMs;
int lock_timeout_ms = 5000;
int retention_s = 7 * 24 * 3600;
int poll_interval_ms = 5000;

void define() {
    DefineCustomBoolVariable("batch_ops.enabled", "Whether the batch_ops workers claim new batches.", nullptr,
                             &enabled, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("batch_ops.max_items", "Most items (ids or rows) one batch request may carry.",
                            "Only superusers may change it.",
                            &max_items, 1000, 1, 1000000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("batch_ops.max_filter_items",
                            "Most rows a request's target_filter may select (they become its items).",
                            "A filter that selects more raises an error. Only superusers, and roles granted "
                            "SET on it, may change it.",
                            &max_filter_items, 100000, 1, 1000000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("batch_ops.chunk_size", "Items per chunk: one transaction per chunk in the workers, "
                            "one stored result row per chunk.", nullptr,
                            &chunk_size, 1000, 1, 100000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("batch_ops.notify_channel", "LISTEN/NOTIFY channel for progress.", nullptr,
                               &notify_channel, "batch_ops_progress", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("batch_ops.notify_interval", "Least time between progress notifications of one batch.",
                            nullptr, &notify_interval_ms, 100, 0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("batch_ops.default_max_attempts", "Automatic attempts for transient errors, by default.",
                            nullptr, &default_max_attempts, 3, 1, 100, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("batch_ops.retry_backoff", "Base delay of the exponential backoff between attempts.",
                            nullptr, &retry_backoff_ms, 1000, 0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("batch_ops.statement_timeout",
                            "Time limit of each worker transaction (a chunk, a claim, a sync run; 0: none).", nullptr,
                            &statement_timeout_ms, kDefaultStatementTimeoutMs, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS,
                            nullptr, nullptr, nullptr);
    DefineCustomIntVariable("batch_ops.lock_timeout",
                            "lock_timeout of worker transactions and of dry runs (0: none).", nullptr,
                            &lock_timeout_ms, 5000, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("batch_ops.retention", "How long ended batches are kept before automatic cleanup (0: forever).",
                            nullptr, &retention_s, 7 * 24 * 3600, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("batch_ops.poll_interval", "Fallback interval at which idle workers look for work.",
                            nullptr, &poll_interval_ms, 5000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);

    // A PGC_POSTMASTER variable can only be defined while the postmaster
    // loads shared_preload_libraries: defined later (CREATE EXTENSION, LOAD,
    // the first call in a session) PostgreSQL ends the session with FATAL
    // "cannot create PGC_POSTMASTER variables after startup". Loaded that way
    // there are no workers at all, so batch_ops.max_workers does not exist
    // and reads 0 (batch_health). As PostgreSQL's pg_prewarm and
    // pg_stat_statements do, the prefix is reserved only when preloaded: else
    // a batch_ops.max_workers line in postgresql.conf would be removed with a
    // warning in every session that loads the library.
    if (!process_shared_preload_libraries_in_progress) {
        max_workers = 0;
        return;
    }
    DefineCustomIntVariable("batch_ops.max_workers", "Batches run at once, for the whole cluster.", nullptr,
                            &max_workers, 2, 0, 64, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("batch_ops");
}

}  // namespace batch_ops::settings
