// The boundary between PostgreSQL and C++ for SQL-callable functions.
//
//   BATCH_OPS_FUNCTION(batch_status) { ... C++ that may throw ... }
//
// declares the extern "C" fmgr entry point batch_status (PG_FUNCTION_INFO_V1)
// and a C++ body. The entry point runs the body inside try/catch; a thrown
// exception is turned into a PostgreSQL error only after every C++ frame of the
// body has unwound:
//   pg::PgError   -> re-raised unchanged (ReThrowError: SQLSTATE, detail, hint,
//                    context all kept)
//   core::Error   -> ereport(ERROR) with its SQLSTATE, message, detail, hint
//   anything else -> ereport(ERROR, XX000) with what()
#pragma once

#include "pg/guard.hpp"

namespace batch_ops::sql {

using Body = Datum (*)(FunctionCallInfo);

// Runs body(fcinfo); never lets a C++ exception or a longjmp cross C++ frames.
Datum call(Body body, FunctionCallInfo fcinfo);

}  // namespace batch_ops::sql

#define BATCH_OPS_FUNCTION(name)                                                \
    static Datum name##_body(FunctionCallInfo fcinfo);                          \
    extern "C" {                                                                \
    PG_FUNCTION_INFO_V1(name);                                                  \
    Datum name(PG_FUNCTION_ARGS) { return batch_ops::sql::call(name##_body, fcinfo); } \
    }                                                                           \
    static Datum name##_body(FunctionCallInfo fcinfo)
