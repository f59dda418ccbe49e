// jsonb <-> core::Json, read with PostgreSQL's own jsonb iterator API.
#pragma once

#include "pg/guard.hpp"

#include <string>

#include "core/json.hpp"

namespace batch_ops::pg {

core::Json from_jsonb(Jsonb* jb);
// A jsonb Datum of the value (parsed by jsonb_in).
Datum to_jsonb(const core::Json& value);
Datum jsonb_from_text(const std::string& json);
// The value of a jsonb text (parsed by jsonb_in, read as from_jsonb reads).
core::Json from_jsonb_text(const std::string& json);
// A timestamp as JSON writes it: ISO 8601 with the time zone.
std::string iso_timestamp(TimestampTz ts);
// The text of a jsonb value.
std::string jsonb_text(Jsonb* jb);

}  // namespace batch_ops::pg
