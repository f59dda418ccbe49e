#include "store/owner.hpp"

#include "pg/security.hpp"

namespace batch_ops::store {

pg::Rows query(pg::Spi& spi, const std::string& sql, const std::vector<pg::Param>& params) {
    return pg::as_owner([&] { return spi.query_cached(sql, params); });
}

std::string lock_clause(RowLock lock, const char* table) {
    const std::string of = table ? std::string(" OF ") + table : std::string();
    switch (lock) {
        case RowLock::ForNoKeyUpdate: return " FOR NO KEY UPDATE" + of;
        case RowLock::ForNoKeyUpdateSkipLocked: return " FOR NO KEY UPDATE" + of + " SKIP LOCKED";
        case RowLock::ForUpdate: return " FOR UPDATE" + of;
        case RowLock::None: break;
    }
    return "";
}

uint64_t execute(pg::Spi& spi, const std::string& sql, const std::vector<pg::Param>& params) {
    return query(spi, sql, params).size();
}

}  // namespace batch_ops::store
