#include "pg/relation.hpp"

#include "pg/guard.hpp"
#include "pg/security.hpp"

extern "C" {
#include "access/relation.h"
#include "access/tupdesc.h"
#include "storage/lmgr.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace batch_ops::pg {

bool lock_relation(Oid relid, LOCKMODE mode, int timeout_ms) {
    auto lock = [&] { guard([&] { LockRelationOid(relid, mode); }); };
    if (timeout_ms > 0) {
        const std::string ms = std::to_string(timeout_ms);
        with_setting("lock_timeout", ms.c_str(), lock);
    } else {
        lock();
    }
    return guard([&] { return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)); });
}

void unlock_relation(Oid relid, LOCKMODE mode) {
    guard([&] { UnlockRelationOid(relid, mode); });
}

std::vector<Attribute> relation_columns(Oid relid) {
    // A copy with the column flags (CreateTupleDescCopy would clear them),
    // read below without calling PostgreSQL.
    TupleDesc desc = guard([&] {
        Relation rel = relation_open(relid, NoLock);
        TupleDesc copy = CreateTupleDescCopyConstr(RelationGetDescr(rel));
        relation_close(rel, NoLock);
        return copy;
    });
    std::vector<Attribute> out;
    out.reserve(static_cast<std::size_t>(desc->natts));
    for (int i = 0; i < desc->natts; ++i) {
        const FormData_pg_attribute* a = TupleDescAttr(desc, i);
        if (a->attisdropped) continue;
        Attribute c;
        c.name = NameStr(a->attname);
        c.type = a->atttypid;
        c.typmod = a->atttypmod;
        c.not_null = a->attnotnull;
        c.has_default = a->atthasdef || a->attidentity != '\0';
        c.generated = a->attgenerated != '\0' || a->attidentity == ATTRIBUTE_IDENTITY_ALWAYS;
        out.push_back(std::move(c));
    }
    guard([&] { FreeTupleDesc(desc); });
    return out;
}

}  // namespace batch_ops::pg
