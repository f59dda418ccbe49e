#include "core/request.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "core/error.hpp"
#include "core/flat_set.hpp"

namespace batch_ops::core {

namespace {

const std::vector<std::string> kOperationNames = {"delete", "update", "status_update", "export",
                                                  "archive", "restore", "bulk_create"};


std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += sep;
        out += s;
    }
    return out;
}

// Parses a JSON number that must be an integer within [lo, hi].
std::optional<int64_t> integer_value(const Json& v, int64_t lo, int64_t hi) {
    if (!v.is_number()) return std::nullopt;
    const std::string& t = v.text();
    if (t.empty() || t.find_first_of(".eE") != std::string::npos) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    long long n = std::strtoll(t.c_str(), &end, 10);
    if (errno != 0 || end == nullptr || *end != '\0') return std::nullopt;
    if (n < lo || n > hi) return std::nullopt;
    return static_cast<int64_t>(n);
}

bool has_control_chars(const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        unsigned char u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

class Reader {
public:
    Reader(const Json& obj, std::string where, std::vector<std::string> allowed)
        : obj_(obj), where_(std::move(where)) {
        for (const auto& m : obj.members()) {
            if (std::find(allowed.begin(), allowed.end(), m.first) == allowed.end()) {
                std::string key = where_.empty() ? m.first : where_ + "." + m.first;
                throw request_error("unknown key " + quoted(key),
                                    "Allowed keys" + (where_.empty() ? std::string() : " in " + quoted(where_)) +
                                        " are: " + join(allowed) + ".");
            }
        }
    }

    std::string name(const std::string& key) const { return where_.empty() ? key : where_ + "." + key; }

    const Json* get(const std::string& key) const { return obj_.find(key); }

    std::optional<bool> boolean(const std::string& key) const {
        const Json* v = get(key);
        if (!v || v->is_null()) return std::nullopt;
        if (!v->is_bool()) throw request_error(quoted(name(key)) + " must be a boolean");
        return v->as_bool();
    }

    std::optional<std::string> text(const std::string& key, std::size_t max_len, bool allow_empty = false) const {
        const Json* v = get(key);
        if (!v || v->is_null()) return std::nullopt;
        if (!v->is_string()) throw request_error(quoted(name(key)) + " must be a string");
        if (!allow_empty && v->text().empty()) throw request_error(quoted(name(key)) + " must not be empty");
        if (v->text().size() > max_len)
            throw request_error(quoted(name(key)) + " must be at most " + std::to_string(max_len) + " bytes long");
        if (v->text().find('\0') != std::string::npos)
            throw request_error(quoted(name(key)) + " must not contain NUL characters");
        return v->text();
    }

    std::optional<int64_t> integer(const std::string& key, int64_t lo, int64_t hi) const {
        const Json* v = get(key);
        if (!v || v->is_null()) return std::nullopt;
        auto n = integer_value(*v, lo, hi);
        if (!n)
            throw request_error(quoted(name(key)) + " must be an integer between " + std::to_string(lo) + " and " +
                                std::to_string(hi));
        return n;
    }

    std::vector<std::string> identifiers(const std::string& key, const Limits& limits) const {
        const Json* v = get(key);
        std::vector<std::string> out;
        if (!v || v->is_null()) return out;
        if (!v->is_array()) throw request_error(quoted(name(key)) + " must be an array of column names");
        std::set<std::string> seen;
        for (const auto& e : v->items()) {
            if (!e.is_string())
                throw request_error(quoted(name(key)) + " must be an array of column names");
            if (!is_safe_identifier(e.text(), limits.max_identifier_length))
                throw request_error(quoted(name(key)) + " has an invalid column name " + e.dump(),
                                    "Column names are at most 63 bytes and contain no quotes, semicolons, "
                                    "backslashes or control characters.");
            if (!seen.insert(e.text()).second)
                throw request_error(quoted(name(key)) + " names column " + quoted(e.text()) + " twice");
            out.push_back(e.text());
        }
        return out;
    }

private:
    const Json& obj_;
    std::string where_;
};

void parse_target_ids(const Json* v, const Limits& limits, Request& r) {
    const std::string what = "\"target_ids\" must be a non-empty array of at most " +
                             std::to_string(limits.max_items) + " ids";
    if (!v) throw request_error(what, {}, "Name the rows in \"target_ids\", or select them with \"target_filter\".");
    if (!v->is_array() || v->items().empty()) throw request_error(what);
    if (v->items().size() > static_cast<std::size_t>(limits.max_items))
        throw request_error(what, "The request has " + std::to_string(v->items().size()) + " ids.",
                            "Split the request, select the rows with \"target_filter\", or raise "
                            "batch_ops.max_items.");
    r.target_ids.reserve(v->items().size());
    std::size_t index = 0;
    for (const auto& e : v->items()) {
        ++index;
        std::string id;
        if (e.is_string()) {
            id = e.text();
        } else if (e.is_number()) {
            auto n = integer_value(e, INT64_MIN, INT64_MAX);
            if (!n)
                throw request_error("\"target_ids\" element " + std::to_string(index) + " is not an integer",
                                    "Ids are strings or integers.");
            id = std::to_string(*n);
        } else {
            throw request_error("\"target_ids\" element " + std::to_string(index) + " must be a string or an integer",
                                std::string("It is of type ") + Json::type_name(e.type()) + ".");
        }
        if (id.empty() || id.size() > limits.max_id_length || has_control_chars(id))
            throw request_error("\"target_ids\" element " + std::to_string(index) + " is not a valid id",
                                "Ids are 1 to " + std::to_string(limits.max_id_length) +
                                    " bytes long and contain no control characters.");
        r.target_ids.push_back(std::move(id));
    }
    // The strings live in r.target_ids now, which no longer grows.
    FlatStringSet seen(r.target_ids.size());
    for (std::size_t i = 0; i < r.target_ids.size(); ++i)
        if (!seen.insert(r.target_ids[i], i))
            throw request_error("\"target_ids\" contains duplicate id " + quoted(r.target_ids[i]));
}

// target_filter: the SQL text is checked by ops/target_filter when it is
// resolved; here only its shape as a JSON value.
void parse_target_filter(const Reader& rd, const Limits& limits, Request& r) {
    const Json* v = rd.get("target_filter");
    if (!v->is_string())
        throw request_error("\"target_filter\" must be a string: one boolean SQL expression over the target's columns");
    const std::string& f = v->text();
    if (f.find_first_not_of(" \t\r\n\f\v") == std::string::npos)
        throw request_error("\"target_filter\" must not be empty");
    if (f.size() > limits.max_filter_length)
        throw request_error("\"target_filter\" must be at most " + std::to_string(limits.max_filter_length) +
                            " bytes long");
    if (f.find('\0') != std::string::npos)
        throw request_error("\"target_filter\" must not contain NUL characters");
    r.target_filter = f;
}

void parse_items(const Json* v, const Limits& limits, Request& r) {
    const std::string what =
        "\"items\" must be a non-empty array of at most " + std::to_string(limits.max_items) + " objects";
    if (!v || !v->is_array() || v->items().empty()) throw request_error(what);
    if (v->items().size() > static_cast<std::size_t>(limits.max_items))
        throw request_error(what, "The request has " + std::to_string(v->items().size()) + " items.",
                            "Split the request, or raise batch_ops.max_items.");
    std::size_t index = 0;
    for (const auto& e : v->items()) {
        ++index;
        if (!e.is_object() || e.members().empty())
            throw request_error("\"items\" element " + std::to_string(index) + " must be a non-empty object");
        for (const auto& m : e.members())
            if (!is_safe_identifier(m.first, limits.max_identifier_length))
                throw request_error("\"items\" element " + std::to_string(index) + " has an invalid column name " +
                                        Json::string(m.first).dump(),
                                    "Column names are at most 63 bytes and contain no quotes, semicolons, "
                                    "backslashes or control characters.");
    }
    r.items = v->items();
}

void parse_operation_data(const Json* v, const Limits& limits, Request& r) {
    if (v && !v->is_null() && !v->is_object()) throw request_error("\"operation_data\" must be an object");
    static const Json empty = Json::object();
    const Json& od = (v && v->is_object()) ? *v : empty;
    const std::string where = "operation_data";
    switch (r.operation) {
        case Operation::Delete: {
            Reader rd(od, where, {"soft_delete", "delete_reason"});
            r.soft_delete = rd.boolean("soft_delete");
            r.delete_reason = rd.text("delete_reason", limits.max_text_length).value_or("");
            break;
        }
        case Operation::Update: {
            Reader rd(od, where, {"fields"});
            const Json* f = rd.get("fields");
            if (!f || !f->is_object() || f->members().empty())
                throw request_error("\"operation_data.fields\" must be a non-empty object of column values");
            for (const auto& m : f->members())
                if (!is_safe_identifier(m.first, limits.max_identifier_length))
                    throw request_error("\"operation_data.fields\" has an invalid column name " +
                                            Json::string(m.first).dump(),
                                        "Column names are at most 63 bytes and contain no quotes, semicolons, "
                                        "backslashes or control characters.");
            r.fields = f->members();
            break;
        }
        case Operation::StatusUpdate: {
            Reader rd(od, where, {"new_status", "reason", "force"});
            auto s = rd.text("new_status", limits.max_text_length);
            if (!s) throw request_error("\"operation_data.new_status\" is required for status_update");
            r.new_status = *s;
            r.reason = rd.text("reason", limits.max_text_length).value_or("");
            r.force = rd.boolean("force").value_or(false);
            break;
        }
        case Operation::Archive: {
            Reader rd(od, where, {"archive_reason", "archive_location"});
            r.archive_reason = rd.text("archive_reason", limits.max_text_length).value_or("");
            r.archive_location = rd.text("archive_location", limits.max_text_length).value_or("");
            break;
        }
        case Operation::Restore: {
            Reader rd(od, where, {});
            break;
        }
        case Operation::Export: {
            Reader rd(od, where, {"export_format", "include_fields", "exclude_fields"});
            auto fmt = rd.text("export_format", 16);
            if (!fmt || *fmt == "json") r.export_format = ExportFormat::Json;
            else if (*fmt == "ndjson") r.export_format = ExportFormat::Ndjson;
            else if (*fmt == "csv") r.export_format = ExportFormat::Csv;
            else throw request_error("\"operation_data.export_format\" must be one of json, ndjson, csv");
            if (rd.get("include_fields") && !rd.get("include_fields")->is_null()) {
                r.include_fields = rd.identifiers("include_fields", limits);
                if (r.include_fields->empty())
                    throw request_error("\"operation_data.include_fields\" must not be empty");
            }
            r.exclude_fields = rd.identifiers("exclude_fields", limits);
            break;
        }
        case Operation::BulkCreate: {
            Reader rd(od, where, {"skip_validation", "continue_on_error"});
            r.skip_validation = rd.boolean("skip_validation").value_or(false);
            r.continue_on_error = rd.boolean("continue_on_error").value_or(false);
            break;
        }
    }
}

}  // namespace

const char* to_string(Operation op) {
    switch (op) {
        case Operation::Delete: return "delete";
        case Operation::Update: return "update";
        case Operation::StatusUpdate: return "status_update";
        case Operation::Export: return "export";
        case Operation::Archive: return "archive";
        case Operation::Restore: return "restore";
        case Operation::BulkCreate: return "bulk_create";
    }
    return "unknown";
}

std::optional<Operation> parse_operation(const std::string& s) {
    for (std::size_t i = 0; i < kOperationNames.size(); ++i)
        if (kOperationNames[i] == s) return static_cast<Operation>(i);
    return std::nullopt;
}

const std::vector<std::string>& operation_names() { return kOperationNames; }

const char* to_string(Execution e) { return e == Execution::Inline ? "inline" : "background"; }

const char* to_string(ExportFormat f) {
    switch (f) {
        case ExportFormat::Json: return "json";
        case ExportFormat::Ndjson: return "ndjson";
        case ExportFormat::Csv: return "csv";
    }
    return "json";
}

bool is_iso8601_timestamp(const std::string& s) {
    std::size_t i = 0;
    // n digits at i, as a number; false if they are not there.
    auto digits = [&](int n, int* out) {
        if (i + static_cast<std::size_t>(n) > s.size()) return false;
        int v = 0;
        for (int k = 0; k < n; ++k) {
            char c = s[i + static_cast<std::size_t>(k)];
            if (c < '0' || c > '9') return false;
            v = v * 10 + (c - '0');
        }
        i += static_cast<std::size_t>(n);
        *out = v;
        return true;
    };
    auto accept = [&](char c) {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    };
    int year, month, day;
    if (!digits(4, &year) || !accept('-') || !digits(2, &month) || !accept('-') || !digits(2, &day)) return false;
    if (year < 1 || month < 1 || month > 12 || day < 1) return false;
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > kDays[month - 1] + (month == 2 && leap ? 1 : 0)) return false;
    if (i == s.size()) return true;
    if (!accept('T') && !accept('t') && !accept(' ')) return false;
    int hour, minute, second = 0;
    if (!digits(2, &hour) || !accept(':') || !digits(2, &minute) || hour > 23 || minute > 59) return false;
    if (accept(':')) {
        if (!digits(2, &second) || second > 59) return false;
        if (accept('.')) {
            std::size_t start = i;
            while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
            if (i == start || i - start > 6) return false;
        }
    }
    if (i == s.size()) return true;
    if (accept('Z') || accept('z')) return i == s.size();
    if (!accept('+') && !accept('-')) return false;
    int oh, om = 0;
    if (!digits(2, &oh) || oh > 15) return false;
    if (accept(':')) {
        if (!digits(2, &om)) return false;
    } else if (i < s.size() && !digits(2, &om)) {
        return false;
    }
    return om <= 59 && i == s.size();
}

bool is_safe_identifier(const std::string& s, std::size_t max_len) {
    if (s.empty() || s.size() > max_len) return false;
    for (char c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '"' || c == '\'' || c == ';' || c == '\\') return false;
    }
    return true;
}

Request slice(const Request& r, const std::vector<std::size_t>& indices) {
    Request out;
    // Everything but the item lists, without copying those.
    out.operation = r.operation;
    out.target_type = r.target_type;
    out.target_filter = r.target_filter;
    out.soft_delete = r.soft_delete;
    out.delete_reason = r.delete_reason;
    out.fields = r.fields;
    out.new_status = r.new_status;
    out.reason = r.reason;
    out.force = r.force;
    out.archive_reason = r.archive_reason;
    out.archive_location = r.archive_location;
    out.export_format = r.export_format;
    out.include_fields = r.include_fields;
    out.exclude_fields = r.exclude_fields;
    out.skip_validation = r.skip_validation;
    out.continue_on_error = r.continue_on_error;
    out.dry_run = r.dry_run;
    out.execution = r.execution;
    out.priority = r.priority;
    out.depends_on = r.depends_on;
    out.max_attempts = r.max_attempts;
    out.idempotency_key = r.idempotency_key;
    out.not_before = r.not_before;
    if (r.operation == Operation::BulkCreate) {
        out.items.reserve(indices.size());
        for (auto i : indices) out.items.push_back(r.items.at(i));
    } else {
        out.target_ids.reserve(indices.size());
        for (auto i : indices) out.target_ids.push_back(r.target_ids.at(i));
    }
    return out;
}

Request parse_request(const Json& j, const Limits& limits, Origin origin) {
    if (!j.is_object()) throw request_error("the request must be a JSON object");
    Reader rd(j, "",
              {"operation", "target_type", "target_ids", "target_filter", "items", "operation_data", "dry_run",
               "execution", "priority", "depends_on", "max_attempts", "idempotency_key", "not_before"});
    Request r;

    auto op = rd.text("operation", 32);
    if (!op) throw request_error("\"operation\" is required", "Use one of: " + join(kOperationNames) + ".");
    auto parsed = parse_operation(*op);
    if (!parsed)
        throw request_error("unknown operation " + quoted(*op), "Use one of: " + join(kOperationNames) + ".");
    r.operation = *parsed;

    auto tt = rd.text("target_type", limits.max_identifier_length);
    if (!tt) throw request_error("\"target_type\" is required");
    if (!is_safe_identifier(*tt, limits.max_identifier_length))
        throw request_error("\"target_type\" is not a valid target name");
    r.target_type = *tt;

    const bool has_filter = rd.get("target_filter") && !rd.get("target_filter")->is_null();
    if (r.operation == Operation::BulkCreate) {
        if (rd.get("target_ids")) throw request_error("\"target_ids\" is not allowed for bulk_create; use \"items\"");
        if (has_filter)
            throw request_error("\"target_filter\" is not allowed for bulk_create; use \"items\"");
        parse_items(rd.get("items"), limits, r);
    } else {
        if (rd.get("items"))
            throw request_error("\"items\" is only allowed for bulk_create; use \"target_ids\"");
        if (has_filter) {
            parse_target_filter(rd, limits, r);
            const Json* ids = rd.get("target_ids");
            if (origin == Origin::Submitted && ids)
                throw request_error("\"target_ids\" and \"target_filter\" cannot be given together",
                                    "A request names its rows by id or selects them with a filter.",
                                    "Send one of the two keys.");
            // Stored: the ids the filter selected at submission (none is a
            // batch of no items).
            if (origin == Origin::Stored && ids && ids->is_array() && !ids->items().empty())
                parse_target_ids(ids, limits, r);
            else if (origin == Origin::Stored && (!ids || !ids->is_array()))
                throw request_error("the stored request has a \"target_filter\" without its \"target_ids\"");
        } else {
            parse_target_ids(rd.get("target_ids"), limits, r);
        }
    }

    parse_operation_data(rd.get("operation_data"), limits, r);

    r.dry_run = rd.boolean("dry_run").value_or(false);
    auto ex = rd.text("execution", 16);
    if (!ex) r.execution = r.dry_run ? Execution::Inline : Execution::Background;
    else if (*ex == "inline") r.execution = Execution::Inline;
    else if (*ex == "background") r.execution = Execution::Background;
    else throw request_error("\"execution\" must be \"background\" or \"inline\"");

    r.priority = static_cast<int>(rd.integer("priority", -1000000, 1000000).value_or(0));

    if (const Json* d = rd.get("depends_on"); d && !d->is_null()) {
        if (!d->is_array())
            throw request_error("\"depends_on\" must be an array of batch ids");
        if (d->items().size() > static_cast<std::size_t>(limits.max_depends_on))
            throw request_error("\"depends_on\" must list at most " + std::to_string(limits.max_depends_on) +
                                " batches");
        std::set<int64_t> seen;
        for (const auto& e : d->items()) {
            auto n = integer_value(e, 1, INT64_MAX);
            if (!n) throw request_error("\"depends_on\" must be an array of batch ids",
                                        "Batch ids are positive integers.");
            if (seen.insert(*n).second) r.depends_on.push_back(*n);
        }
    }

    if (auto m = rd.integer("max_attempts", 1, 100)) r.max_attempts = static_cast<int>(*m);

    if (auto k = rd.text("idempotency_key", limits.max_key_length)) {
        if (r.dry_run) throw request_error("\"idempotency_key\" is not allowed with \"dry_run\"");
        r.idempotency_key = *k;
    }

    if (const Json* nb = rd.get("not_before"); nb && !nb->is_null()) {
        const char* example = "For example \"2026-01-20T10:00:00Z\" or \"2026-01-20 10:00:00+01:00\"; "
                              "without an offset, the session's TimeZone applies.";
        if (!nb->is_string() || nb->text().size() > 64 || !is_iso8601_timestamp(nb->text()))
            throw request_error("\"not_before\" must be an ISO 8601 timestamp", example);
        if (r.execution != Execution::Background)
            throw request_error("\"not_before\" is only allowed for background batches",
                                "An inline batch runs at once, in the caller's transaction.",
                                "Send \"execution\": \"background\", or leave \"not_before\" out.");
        r.not_before = nb->text();
    }
    return r;
}

}  // namespace batch_ops::core
