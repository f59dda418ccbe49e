#include "core/target.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "core/error.hpp"

namespace batch_ops::core {

namespace {


bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

Error unsupported(const Request& r, const Target& t, const std::string& hint) {
    return Error(sqlstate::feature_not_supported,
                 std::string("operation \"") + to_string(r.operation) + "\" is not supported for target " +
                     quoted(t.name),
                 {}, hint);
}

std::string trimmed(const std::string& s) {
    auto b = s.find_first_not_of(" \t\n\r\f\v");
    if (b == std::string::npos) return std::string();
    auto e = s.find_last_not_of(" \t\n\r\f\v");
    return s.substr(b, e - b + 1);
}

// The spellings boolin accepts (case-insensitive, surrounding spaces ignored).
bool is_boolean_text(const std::string& raw) {
    std::string s = trimmed(raw);
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s.empty()) return false;
    for (const char* word : {"true", "false", "yes", "no", "on", "off"}) {
        std::string w(word);
        if (s.size() <= w.size() && w.compare(0, s.size(), s) == 0 && !(s == "o")) return true;
    }
    return s == "1" || s == "0";
}

bool is_integer_text(const std::string& raw) {
    const std::string s = trimmed(raw);
    std::size_t i = 0;
    if (s.empty()) return false;
    if (s[0] == '-' || s[0] == '+') i = 1;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i)
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    return true;
}

bool is_numeric_text(const std::string& s) {
    if (s == "NaN" || s == "Infinity" || s == "-Infinity") return true;
    char* end = nullptr;
    errno = 0;
    std::strtod(s.c_str(), &end);
    return !s.empty() && end && *end == '\0' && !std::isspace(static_cast<unsigned char>(s[0]));
}

}  // namespace

const Column* Target::column(const std::string& n) const {
    for (const auto& c : columns)
        if (c.name == n) return &c;
    return nullptr;
}

void check_supported(const Request& r, const Target& t) {
    switch (r.operation) {
        case Operation::Delete:
            if (r.soft_delete.value_or(false) && !t.soft_delete_column)
                throw Error(sqlstate::feature_not_supported,
                            "\"operation_data.soft_delete\" is not supported for target " + quoted(t.name),
                            "The target has no soft-delete column.",
                            "Register the target with a soft_delete_column, or send \"soft_delete\": false.");
            break;
        case Operation::StatusUpdate:
            if (!t.status_column)
                throw unsupported(r, t, "Register the target with a status_column.");
            break;
        case Operation::Archive:
            if (!t.has_archive)
                throw unsupported(r, t, "Register the target with an archive_relation.");
            break;
        case Operation::Restore:
            if (!t.has_archive && !t.soft_delete_column)
                throw unsupported(r, t, "Register the target with a soft_delete_column or an archive_relation.");
            break;
        case Operation::Update:
            if (t.updatable_columns && t.updatable_columns->empty())
                throw unsupported(r, t, "Register the target with updatable_columns.");
            break;
        case Operation::Export:
        case Operation::BulkCreate:
            break;
    }
}

bool effective_soft_delete(const Request& r, const Target& t) {
    return r.soft_delete.value_or(t.soft_delete_column.has_value());
}

void check_request_privilege(const Request& r, const Target& t, const Actor& actor) {
    if (actor.admin) return;
    if (r.operation == Operation::Delete && !effective_soft_delete(r, t))
        throw Error(sqlstate::insufficient_privilege, "permission denied to hard-delete rows of target " + quoted(t.name),
                    "Only members of batch_ops_admin may hard-delete.",
                    t.soft_delete_column ? "Send \"soft_delete\": true." : std::string());
    if (r.operation == Operation::StatusUpdate && r.force)
        throw Error(sqlstate::insufficient_privilege, "permission denied to force a status change",
                    "Only members of batch_ops_admin may use \"force\".");
}

std::optional<std::string> canonical_key(const std::string& id, TypeKind kind) {
    switch (kind) {
        case TypeKind::Integer: {
            // Surrounding whitespace is ignored, as int8in does.
            const std::string s = trimmed(id);
            if (!is_integer_text(s)) return std::nullopt;
            errno = 0;
            char* end = nullptr;
            long long n = std::strtoll(s.c_str(), &end, 10);
            if (errno != 0 || *end != '\0') return std::nullopt;
            return std::to_string(n);
        }
        case TypeKind::Uuid: {
            // What uuid_in accepts: 32 hex digits, optionally in braces, with
            // an optional hyphen after any group of four digits (not the last).
            std::string s = id;
            if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = s.substr(1, s.size() - 2);
            std::string hex;
            for (std::size_t i = 0; i < s.size(); ++i) {
                char c = s[i];
                if (std::isxdigit(static_cast<unsigned char>(c))) {
                    hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
                } else if (c == '-' && !hex.empty() && hex.size() % 4 == 0 && hex.size() < 32 && s[i - 1] != '-') {
                    continue;
                } else {
                    return std::nullopt;
                }
            }
            if (hex.size() != 32 || s.back() == '-') return std::nullopt;
            return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) +
                   "-" + hex.substr(20);
        }
        default:
            return id;
    }
}

void check_update_fields(const Request& r, const Target& t) {
    for (const auto& f : r.fields) {
        const Column* c = t.column(f.first);
        if (!c && t.updatable_columns && contains(*t.updatable_columns, f.first))
            throw Error(sqlstate::undefined_column,
                        "column " + quoted(f.first) + " of target " + quoted(t.name) + " no longer exists",
                        "It is one of the target's updatable_columns.",
                        "Register the target again with batch_ops.register_target(), or restore the column.");
        if (!c)
            throw Error(sqlstate::invalid_parameter_value,
                        "invalid batch request: \"operation_data.fields\" names column " + quoted(f.first) +
                            ", which target " + quoted(t.name) + " does not have");
        bool updatable;
        if (t.updatable_columns) updatable = contains(*t.updatable_columns, f.first);
        else updatable = f.first != t.key_column && (!t.owner_column || f.first != *t.owner_column);
        if (!updatable || c->generated)
            throw Error(sqlstate::invalid_parameter_value,
                        "invalid batch request: column " + quoted(f.first) + " of target " + quoted(t.name) +
                            " is not updatable",
                        {}, "An admin can list it in the target's updatable_columns.");
    }
}

std::optional<std::vector<std::string>> allowed_from_statuses(const Request& r, const Target& t) {
    if (t.allowed_statuses && !contains(*t.allowed_statuses, r.new_status)) {
        std::string list;
        for (const auto& s : *t.allowed_statuses) list += (list.empty() ? "" : ", ") + s;
        throw request_error("\"operation_data.new_status\" " + quoted(r.new_status) +
                                " is not an allowed status of target " + quoted(t.name),
                            "Allowed statuses are: " + list + ".");
    }
    if (!t.transitions || r.force) return std::nullopt;
    std::vector<std::string> from;
    for (const auto& [src, targets] : *t.transitions)
        if (contains(targets, r.new_status)) from.push_back(src);
    if (!contains(from, r.new_status)) from.push_back(r.new_status);
    return from;
}

std::vector<std::string> export_columns(const Request& r, const Target& t) {
    auto check = [&](const std::vector<std::string>& names, const char* key) {
        for (const auto& n : names)
            if (!t.column(n))
                throw request_error(std::string("\"operation_data.") + key + "\" names column " + quoted(n) +
                                    ", which target " + quoted(t.name) + " does not have");
    };
    if (r.include_fields) check(*r.include_fields, "include_fields");
    check(r.exclude_fields, "exclude_fields");
    std::vector<std::string> out;
    for (const auto& c : t.columns) {
        if (r.include_fields && !contains(*r.include_fields, c.name)) continue;
        if (contains(r.exclude_fields, c.name)) continue;
        out.push_back(c.name);
    }
    if (out.empty())
        throw request_error(std::string("\"operation_data.") +
                            (r.exclude_fields.empty() ? "include_fields" : "exclude_fields") +
                            "\" leaves no column to export");
    return out;
}

std::optional<ItemProblem> check_bulk_item(const Json& item, const Target& t, const Actor& actor,
                                           bool skip_validation) {
    for (const auto& [name, value] : item.members()) {
        const Column* c = t.column(name);
        if (!c) return ItemProblem{"VALIDATION_FAILED", "column " + quoted(name) + " does not exist"};
        if (c->generated) return ItemProblem{"VALIDATION_FAILED", "column " + quoted(name) + " is generated"};
        if (t.owner_column && name == *t.owner_column && !actor.admin &&
            !(value.is_string() && value.text() == actor.role))
            return ItemProblem{"PERMISSION_DENIED", "only an admin may create rows owned by another role"};
    }
    if (skip_validation) return std::nullopt;
    for (const auto& [name, value] : item.members()) {
        const Column* c = t.column(name);
        if (value.is_null()) {
            if (c->not_null) return ItemProblem{"VALIDATION_FAILED", "column " + quoted(name) + " must not be null"};
            continue;
        }
        bool ok = true;
        const char* expected = "";
        switch (c->kind) {
            case TypeKind::Integer:
                expected = "an integer";
                ok = (value.is_number() && is_integer_text(value.text())) ||
                     (value.is_string() && is_integer_text(value.text()));
                break;
            case TypeKind::Numeric:
                expected = "a number";
                ok = value.is_number() || (value.is_string() && is_numeric_text(value.text()));
                break;
            case TypeKind::Boolean:
                expected = "a boolean";
                ok = value.is_bool() || (value.is_string() && is_boolean_text(value.text()));
                break;
            case TypeKind::Uuid:
                expected = "a uuid";
                ok = value.is_string() && canonical_key(value.text(), TypeKind::Uuid).has_value();
                break;
            case TypeKind::Timestamp:
                expected = "a timestamp string";
                ok = value.is_string();
                break;
            case TypeKind::Json:
                break;
            case TypeKind::Text:
            case TypeKind::Other:
                expected = "a scalar value";
                ok = !value.is_array() && !value.is_object();
                break;
        }
        if (!ok)
            return ItemProblem{"VALIDATION_FAILED", "column " + quoted(name) + " expects " + expected + ", not " +
                                                        (value.is_string() ? quoted(value.text())
                                                                           : std::string(Json::type_name(value.type())))};
    }
    for (const auto& c : t.columns) {
        if (!c.not_null || c.has_default || c.generated) continue;
        if (t.owner_column && c.name == *t.owner_column) continue;  // filled with the submitter
        if (!item.find(c.name)) return ItemProblem{"VALIDATION_FAILED", "column " + quoted(c.name) + " is required"};
    }
    return std::nullopt;
}

std::map<std::string, std::vector<std::string>> parse_transitions(
    const Json& j, const std::optional<std::vector<std::string>>& allowed) {
    auto bad = [](const std::string& detail) {
        return Error(sqlstate::invalid_parameter_value, "invalid status_transitions", detail,
                     "Use an object such as {\"draft\": [\"sent\"], \"sent\": [\"archived\"]}.");
    };
    if (!j.is_object()) throw bad("status_transitions must be a JSON object.");
    std::map<std::string, std::vector<std::string>> out;
    auto check_status = [&](const std::string& s) {
        if (allowed && !contains(*allowed, s)) throw bad("Status \"" + s + "\" is not in allowed_statuses.");
    };
    for (const auto& [from, tos] : j.members()) {
        check_status(from);
        if (!tos.is_array()) throw bad("The value of \"" + from + "\" must be an array of statuses.");
        std::vector<std::string> list;
        for (const auto& to : tos.items()) {
            if (!to.is_string()) throw bad("The value of \"" + from + "\" must be an array of statuses.");
            check_status(to.text());
            list.push_back(to.text());
        }
        out[from] = std::move(list);
    }
    return out;
}

}  // namespace batch_ops::core
