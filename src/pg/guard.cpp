#include "pg/guard.hpp"

namespace batch_ops::pg {

PgError::PgError(ErrorData* data)
    : data_(data),
      sqlerrcode_(data->sqlerrcode),
      sqlstate_(unpack_sql_state(data->sqlerrcode)),
      message_(data->message ? data->message : "error") {}

MemoryContext error_memory_context() {
    return IsTransactionState() ? TopTransactionContext : TopMemoryContext;
}

ErrorData* capture_error(MemoryContext return_to) {
    MemoryContextSwitchTo(error_memory_context());
    ErrorData* e = CopyErrorData();
    FlushErrorState();
    MemoryContextSwitchTo(return_to);
    return e;
}

SubTransaction::SubTransaction() : cxt_(CurrentMemoryContext), owner_(CurrentResourceOwner) {
    guard([] { BeginInternalSubTransaction(nullptr); });
    MemoryContextSwitchTo(cxt_);
    active_ = true;
}

void SubTransaction::commit() {
    active_ = false;
    guard([] { ReleaseCurrentSubTransaction(); });
    MemoryContextSwitchTo(cxt_);
    CurrentResourceOwner = owner_;
}

void SubTransaction::rollback() {
    active_ = false;
    guard([] { RollbackAndReleaseCurrentSubTransaction(); });
    MemoryContextSwitchTo(cxt_);
    CurrentResourceOwner = owner_;
}

}  // namespace batch_ops::pg
