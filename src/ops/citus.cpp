#include "ops/citus.hpp"

#include "core/error.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace batch_ops::ops::citus {

bool installed() {
    return pg::guard([] { return OidIsValid(get_extension_oid("citus", true)); });
}

Layout layout_of(pg::Spi& spi, Oid relid, const std::string& key_column) {
    Layout layout;
    if (!installed()) return layout;
    // partmethod: h(ash) and r(ange) are sharded by their partkey; n(one):
    // reference, single-shard and Citus local tables.
    pg::Rows rows = spi.query_cached(
        "SELECT p.partmethod::pg_catalog.text AS method, "
        "       COALESCE(p.partmethod IN ('h', 'r') AND pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) "
        "                OPERATOR(pg_catalog.=) $2, false) AS on_key "
        "  FROM pg_catalog.pg_dist_partition p "
        " WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
        {{OIDOID, ObjectIdGetDatum(relid), false}, pg::text_param(key_column)});
    if (auto row = rows.maybe_one()) {
        layout.citus_table = true;
        layout.sharded_on_key = row->boolean("on_key");
    }
    return layout;
}

std::vector<int64_t> shards_of(pg::Spi& spi, Oid relid, const pg::Param& keys) {
    // One statement text per array type (a cached plan has fixed parameter types).
    const bool integers = keys.type == INT8ARRAYOID;
    pg::Rows rows = spi.query_cached(
        integers ? "SELECT pg_catalog.get_shard_id_for_distribution_column($1::pg_catalog.regclass, u.k) AS s "
                   "  FROM pg_catalog.unnest($2::pg_catalog.int8[]) WITH ORDINALITY AS u(k, o) ORDER BY u.o"
                 : "SELECT pg_catalog.get_shard_id_for_distribution_column($1::pg_catalog.regclass, u.k) AS s "
                   "  FROM pg_catalog.unnest($2::pg_catalog.text[]) WITH ORDINALITY AS u(k, o) ORDER BY u.o",
        {{OIDOID, ObjectIdGetDatum(relid), false}, keys});
    std::vector<int64_t> out;
    out.reserve(rows.size());
    for (pg::Row row : rows) out.push_back(row.i64("s"));
    return out;
}

bool is_worker_node(pg::Spi& spi) {
    if (!installed()) return false;
    auto row = spi.query_cached("SELECT groupid FROM pg_catalog.pg_dist_local_group", {}).maybe_one();
    return row && row->i64("groupid") != 0;
}

void refuse_on_worker_node(const char* what) {
    if (!installed()) return;
    bool worker = pg::with_spi([](pg::Spi& spi) { return is_worker_node(spi); });
    if (worker)
        throw core::Error(core::sqlstate::feature_not_supported,
                          std::string(what) + " is not available on a Citus worker node",
                          "batch_ops keeps its batches and runs its workers on the Citus coordinator; "
                          "the extension exists on the worker nodes only because Citus creates it there.",
                          "Connect to the coordinator and run it again.");
}

}  // namespace batch_ops::ops::citus
