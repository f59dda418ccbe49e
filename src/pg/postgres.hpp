// The one place the PostgreSQL server headers are included, inside extern "C".
// Include this first in every file of src/pg, src/store, src/sql, src/ops and src/workers;
// src/core must never include it.
#pragma once

extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

// PostgreSQL's c.h defines these as macros; they clash with the C++ library.
#ifdef Max
#undef Max
#endif
#ifdef Min
#undef Min
#endif
