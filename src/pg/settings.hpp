// The batch_ops.* settings (API.md section 11), defined in _PG_init.
#pragma once

#include "pg/postgres.hpp"

namespace batch_ops::settings {

extern bool enabled;
extern int max_workers;
extern int max_items;
extern int chunk_size;
extern char* notify_channel;
extern int notify_interval_ms;
extern int default_max_attempts;
extern int retry_backoff_ms;
extern int statement_timeout_ms;
extern int lock_timeout_ms;
extern int retention_s;
extern int poll_interval_ms;

void define();

}  // namespace batch_ops::settings
