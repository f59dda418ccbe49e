// Citus, found at run time: no Citus header and no link dependency. Whether
// Citus is installed in this database, what it knows about a target table
// (pg_dist_partition), the shard of each key (its own function
// get_shard_id_for_distribution_column), and whether this node is a worker.
// Everything answers "not Citus" when the citus extension does not exist.
// See docs/scale-out.md.
#pragma once

#include "pg/spi.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace batch_ops::ops::citus {

// Is the citus extension created in this database? (A catalog lookup.)
bool installed();

// What Citus knows about a relation.
struct Layout {
    bool citus_table = false;     // in pg_dist_partition: distributed, reference, single-shard or Citus local
    bool sharded_on_key = false;  // hash- or range-distributed, and its distribution column is the key
};

// The layout of relid for a key column (Layout{} when Citus is not installed).
Layout layout_of(pg::Spi& spi, Oid relid, const std::string& key_column);

// The shard id of each key, in order. keys: the keys as an int8[] or a text[]
// parameter (Citus converts them to the distribution column's type).
std::vector<int64_t> shards_of(pg::Spi& spi, Oid relid, const pg::Param& keys);

// Is this database on a Citus worker node (Citus installed, metadata of a
// group other than the coordinator's 0)?
bool is_worker_node(pg::Spi& spi);

// Raises 0A000 when this database is on a Citus worker node: what (e.g.
// "batch_execute()") runs on the coordinator only.
void refuse_on_worker_node(const char* what);

}  // namespace batch_ops::ops::citus
