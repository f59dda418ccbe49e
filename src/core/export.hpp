// Export content: CSV quoting and joining the pieces a background export
// produces chunk by chunk into one document. Every document ends with a line
// end, so that a file written line by line (batch_ops.export_lines) has
// exactly its bytes: json "[\n<row>,\n<row>\n]\n" ("[]\n" when empty),
// ndjson "<row>\n" per row, csv a header line and then "<row>\n" per row.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/request.hpp"

namespace batch_ops::core {

// One CSV field: quoted when it holds a comma, quote, CR/LF or edge spaces, or is
// empty; NULL is an empty unquoted field.
std::string csv_field(const std::optional<std::string>& value);

// The document of an export without rows: what a background export holds
// from its submission until its first chunk adds rows.
std::string empty_export(ExportFormat format, const std::vector<std::string>& columns);

// Appends the export `next` to `first` (both complete documents of the same
// format and columns): one JSON array, ndjson lines, or CSV with one header.
std::string merge_export(ExportFormat format, const std::string& first, const std::string& next);

}  // namespace batch_ops::core
