// How the store runs its statements: each is a constant of the extension,
// run through a plan kept for the backend (pg::Spi::query_cached), as the
// extension owner (pg::as_owner: its tables are written only so).
#pragma once

#include "pg/spi.hpp"

#include <string>
#include <vector>

namespace batch_ops::store {

// How a read locks the batch row: not at all, as an UPDATE of it does (a
// change is coming; without waiting for a holder with SkipLocked), or against
// every other lock (FOR UPDATE).
enum class RowLock { None, ForNoKeyUpdate, ForNoKeyUpdateSkipLocked, ForUpdate };
// Its locking clause (with a leading space; of `table` alone when given).
std::string lock_clause(RowLock lock, const char* table = nullptr);

// The rows of one statement (valid until the next statement on `spi`).
pg::Rows query(pg::Spi& spi, const std::string& sql, const std::vector<pg::Param>& params = {});
// The number of rows a statement processed.
uint64_t execute(pg::Spi& spi, const std::string& sql, const std::vector<pg::Param>& params = {});

}  // namespace batch_ops::store
