// A relation as the statements of a batch see it: the lock a statement takes,
// taken first, and the columns the relation cache has once it is held.
#pragma once

#include "pg/postgres.hpp"

#include <string>
#include <vector>

namespace batch_ops::pg {

// A column of a relation (dropped ones are never listed).
struct Attribute {
    std::string name;
    Oid type = InvalidOid;
    int32 typmod = -1;
    bool not_null = false;
    bool has_default = false;  // DEFAULT, identity or serial
    bool generated = false;    // GENERATED ALWAYS AS (expr) STORED, or identity ALWAYS
};

// Locks relation `relid` in `mode` until the end of the transaction, as a
// statement on it would. Once the lock is granted the invalidations of what
// committed before are processed, so the catalog read next is the one a
// statement run under this lock sees; no ALTER TABLE that needs a conflicting
// lock (a column's type, a dropped or renamed column) can come in between.
// With timeout_ms > 0 the wait is bounded as lock_timeout bounds it (55P03).
// Returns false when the relation no longer exists.
bool lock_relation(Oid relid, LOCKMODE mode, int timeout_ms = 0);

// Releases a lock taken by lock_relation before the end of the transaction.
void unlock_relation(Oid relid, LOCKMODE mode);

// The columns of `relid` in attnum order, from the relation cache. The
// caller holds a lock on it (lock_relation).
std::vector<Attribute> relation_columns(Oid relid);

}  // namespace batch_ops::pg
