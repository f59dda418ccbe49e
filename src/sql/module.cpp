// The library's entry: PG_MODULE_MAGIC and _PG_init.
#include "sql/settings.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
void _PG_init(void) { batch_ops::settings::define(); }
}
