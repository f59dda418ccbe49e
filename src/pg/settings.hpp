// The batch_ops.* settings (API.md section 11), defined in _PG_init;
// docs/reference.md#settings lists them.
#pragma once

#include "pg/postgres.hpp"

namespace batch_ops::settings {

// Worker transactions are bounded by default (5 minutes); 0 disables.
inline constexpr int kDefaultStatementTimeoutMs = 5 * 60 * 1000;

extern bool enabled;
extern int max_workers;
extern int max_items;
extern int max_filter_items;
extern int chunk_size;
extern char* notify_channel;
extern int notify_interval_ms;
extern int default_max_attempts;
extern int retry_backoff_ms;
extern int statement_timeout_ms;
extern int lock_timeout_ms;
extern int retention_s;
extern int poll_interval_ms;

// Defines the settings (all but batch_ops.max_workers when the library is not
// preloaded: see settings.cpp).
void define();

}  // namespace batch_ops::settings
