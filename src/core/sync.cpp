#include "core/sync.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/error.hpp"
#include "core/request.hpp"

namespace batch_ops::core {

namespace {

std::string key(const std::string& k) { return "\"options." + k + "\""; }

int int_option(const Json& v, const std::string& k, int lo, int hi) {
    if (!v.is_number() || v.text().find_first_of(".eE") != std::string::npos)
        throw request_error(key(k) + " must be an integer");
    long long n = std::strtoll(v.text().c_str(), nullptr, 10);
    if (n < lo || n > hi)
        throw request_error(key(k) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return static_cast<int>(n);
}

}  // namespace

SyncOptions parse_sync_options(const Json& j) {
    static const std::vector<std::string> allowed = {"connection", "key_columns", "columns", "mode",
                                                     "watermark_column", "delete_missing", "chunk_size",
                                                     "connect_timeout", "statement_timeout"};
    if (!j.is_object()) throw request_error("the sync options must be a JSON object");
    SyncOptions o;
    for (const auto& [k, v] : j.members()) {
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
            std::string list;
            for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
            throw request_error("unknown key " + key(k), "Allowed keys are: " + list + ".");
        }
        if (v.is_null()) continue;
        if (k == "connection") {
            if (!v.is_string() || v.text().empty() || v.text().size() > 2000)
                throw request_error(key(k) + " must be a libpq connection string");
            o.connection = v.text();
        } else if (k == "key_columns") {
            if (!v.is_array() || v.items().empty())
                throw request_error(key(k) + " must be a non-empty array of column names");
            std::set<std::string> seen;
            for (const auto& c : v.items()) {
                if (!c.is_string() || !is_safe_identifier(c.text(), 63))
                    throw request_error(key(k) + " must be a non-empty array of column names");
                if (!seen.insert(c.text()).second) throw request_error(key(k) + " names a column twice");
                o.key_columns.push_back(c.text());
            }
        } else if (k == "columns") {
            if (!v.is_object() || v.members().empty())
                throw request_error(key(k) + " must be an object of target column: SQL expression");
            for (const auto& [col, expr] : v.members()) {
                if (!is_safe_identifier(col, 63))
                    throw request_error(key(k) + " has an invalid column name " + Json::string(col).dump());
                if (!expr.is_string() || expr.text().empty() || expr.text().size() > 2000)
                    throw request_error(key(k) + " value for column " + Json::string(col).dump() +
                                        " must be an SQL expression");
                o.columns.emplace_back(col, expr.text());
            }
        } else if (k == "mode") {
            if (!v.is_string() || (v.text() != "full" && v.text() != "incremental"))
                throw request_error(key(k) + " must be \"full\" or \"incremental\"");
            o.incremental = v.text() == "incremental";
        } else if (k == "watermark_column") {
            if (!v.is_string() || !is_safe_identifier(v.text(), 63))
                throw request_error(key(k) + " must be a column name");
            o.watermark_column = v.text();
        } else if (k == "delete_missing") {
            if (!v.is_bool()) throw request_error(key(k) + " must be a boolean");
            o.delete_missing = v.as_bool();
        } else if (k == "chunk_size") {
            o.chunk_size = int_option(v, k, 1, 1000000);
        } else if (k == "connect_timeout") {
            o.connect_timeout_s = int_option(v, k, 1, 3600);
        } else if (k == "statement_timeout") {
            o.statement_timeout_ms = int_option(v, k, 0, 86400000);
        }
    }
    if (o.incremental && !o.watermark_column)
        throw request_error(key("watermark_column") + " is required when \"options.mode\" is \"incremental\"");
    if (o.incremental && o.delete_missing)
        throw request_error(key("delete_missing") + " is only allowed in full mode",
                            "An incremental sync sees only the rows that changed, not the ones that are gone.");
    return o;
}

bool source_is_query(const std::string& source) {
    std::size_t i = 0;
    while (i < source.size() && (std::isspace(static_cast<unsigned char>(source[i])) || source[i] == '(')) ++i;
    std::string word;
    while (i < source.size() && std::isalpha(static_cast<unsigned char>(source[i])))
        word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(source[i++]))));
    return word == "select" || word == "with" || word == "values" || word == "table";
}

bool is_valid_sync_name(const std::string& name) {
    if (name.empty() || name.size() > 63) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
}

}  // namespace batch_ops::core
