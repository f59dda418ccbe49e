// What differs between the PostgreSQL majors batch_ops builds against (15, 17 and
// 18), each behind a small helper named for what it does. Call sites use the helper on
// every major; PG_VERSION_NUM is tested here (and only in src/pg: test/lint/layers.py).
// Add a helper when the compiler shows a new difference, with the major that made it.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "parser/parse_node.h"
#include "utils/regproc.h"
}

// The majors that changed something used below.
#define BATCH_OPS_PG16 160000

namespace batch_ops::pg::compat {

// "a.b.c" as a list of String nodes; a malformed name raises the error.
// PG16 added the soft-error context argument.
inline List* qualified_name_list(const char* name) {
#if PG_VERSION_NUM >= BATCH_OPS_PG16
    return stringToQualifiedNameList(name, nullptr);
#else
    return stringToQualifiedNameList(name);
#endif
}

// The rights the executor checks for a relation added to a parse state's range table.
// PG16 moved them from the RangeTblEntry to its RTEPermissionInfo.
inline void require_rights(ParseNamespaceItem* item, AclMode rights) {
#if PG_VERSION_NUM >= BATCH_OPS_PG16
    item->p_perminfo->requiredPerms = rights;
#else
    item->p_rte->requiredPerms = rights;
#endif
}

}  // namespace batch_ops::pg::compat
