// The library's entry: PG_MODULE_MAGIC and _PG_init.
#include "pg/settings.hpp"
#include "workers/shared.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);

void _PG_init(void) {
    // Safe at any load: batch_ops.max_workers, the one setting that needs the
    // postmaster, is defined only while shared_preload_libraries is loaded.
    batch_ops::settings::define();
    // The workers need shared memory, which only a library loaded by
    // shared_preload_libraries can have. Loaded otherwise (CREATE EXTENSION,
    // LOAD, the first call in a session), batch_ops runs inline batches only:
    // background submissions, batch_retry and batch_sync(id, true) raise 55000.
    if (process_shared_preload_libraries_in_progress) {
        batch_ops::workers::install_hooks();
        batch_ops::workers::register_launcher();
    }
}
}
