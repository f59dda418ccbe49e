// The executor background worker: see executor.cpp and README.md beside it.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
// bgw_function_name of executors; bgw_main_arg is the executor slot, bgw_extra the database OID.
PGDLLEXPORT void batch_ops_executor_main(Datum arg);
// bgw_function_name of the launcher.
PGDLLEXPORT void batch_ops_launcher_main(Datum arg);
}
