// Moved to store/batch_store.hpp (namespace batch_ops::store). Kept for the
// files that still name it as ops (workers/executor.cpp, sql/control_functions.cpp)
// until they move to the store; nothing new includes this.
#pragma once

#include "store/batch_store.hpp"

namespace batch_ops::ops {

using store::append_export;
using store::first_pending_chunk;
using store::job_status_record;
using store::load_batch;
using store::store_chunk;

}  // namespace batch_ops::ops
