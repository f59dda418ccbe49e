#include "core/export.hpp"

namespace batch_ops::core {

std::string csv_field(const std::optional<std::string>& v) {
    if (!v) return std::string();
    const std::string& s = *v;
    bool quote = s.empty() || s.find_first_of(",\"\r\n") != std::string::npos || s.front() == ' ' || s.back() == ' ';
    if (!quote) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += "\"\"";
        else out.push_back(c);
    }
    out += "\"";
    return out;
}

namespace {

// The rows of a JSON array document as written by the exporter: "[", then
// "\n<row>" separated by ",", then "\n]" (or "]" when empty).
std::string json_rows(const std::string& doc) {
    std::size_t b = doc.find('[');
    std::size_t e = doc.rfind(']');
    if (b == std::string::npos || e == std::string::npos || e <= b) return std::string();
    std::string inner = doc.substr(b + 1, e - b - 1);
    while (!inner.empty() && (inner.back() == '\n' || inner.back() == ' ')) inner.pop_back();
    return inner;  // "\n{..},\n{..}" or ""
}

// Where the first CSV record (the header) ends: its first newline outside double
// quotes. Column names may hold newlines, which csv_field quotes.
std::size_t csv_header_end(const std::string& doc) {
    bool quoted = false;
    for (std::size_t i = 0; i < doc.size(); ++i) {
        if (doc[i] == '"') quoted = !quoted;  // a doubled quote toggles twice
        else if (doc[i] == '\n' && !quoted) return i;
    }
    return std::string::npos;
}

}  // namespace

std::string merge_export(ExportFormat format, const std::string& first, const std::string& next) {
    switch (format) {
        case ExportFormat::Ndjson:
            return first + next;
        case ExportFormat::Csv: {
            std::size_t nl = csv_header_end(next);
            return first + (nl == std::string::npos ? std::string() : next.substr(nl + 1));
        }
        case ExportFormat::Json: {
            std::string a = json_rows(first), b = json_rows(next);
            std::string rows = a.empty() ? b : (b.empty() ? a : a + "," + b);
            return rows.empty() ? "[]" : "[" + rows + "\n]";
        }
    }
    return first + next;
}

}  // namespace batch_ops::core
