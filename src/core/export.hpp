// Export content: CSV quoting and joining the pieces a background export
// produces chunk by chunk into one document.
#pragma once

#include <optional>
#include <string>

#include "core/request.hpp"

namespace batch_ops::core {

// One CSV field: quoted when it holds a comma, quote, CR/LF or edge spaces, or is
// empty; NULL is an empty unquoted field.
std::string csv_field(const std::optional<std::string>& value);

// Appends the export `next` to `first` (both complete documents of the same
// format and columns): one JSON array, ndjson lines, or CSV with one header.
std::string merge_export(ExportFormat format, const std::string& first, const std::string& next);

}  // namespace batch_ops::core
