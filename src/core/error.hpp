// Errors raised by the core: a SQLSTATE plus PostgreSQL-style message parts.
// The SQL entry boundary (src/sql/entry.hpp) turns them into ereport(ERROR).
#pragma once

#include <stdexcept>
#include <string>

namespace batch_ops::core {

namespace sqlstate {
inline constexpr const char* invalid_parameter_value = "22023";
inline constexpr const char* undefined_object = "42704";
inline constexpr const char* undefined_column = "42703";
inline constexpr const char* feature_not_supported = "0A000";
inline constexpr const char* no_data_found = "P0002";
inline constexpr const char* object_not_in_state = "55000";
inline constexpr const char* insufficient_privilege = "42501";
inline constexpr const char* invalid_object_definition = "42P17";
inline constexpr const char* duplicate_object = "42710";
inline constexpr const char* datatype_mismatch = "42804";
inline constexpr const char* internal_error = "XX000";
}  // namespace sqlstate

class Error : public std::runtime_error {
public:
    Error(std::string sqlstate, std::string message, std::string detail = {}, std::string hint = {})
        : std::runtime_error(message), sqlstate_(std::move(sqlstate)), detail_(std::move(detail)),
          hint_(std::move(hint)) {}
    const std::string& sqlstate() const { return sqlstate_; }
    const std::string& detail() const { return detail_; }
    const std::string& hint() const { return hint_; }

private:
    std::string sqlstate_;
    std::string detail_;
    std::string hint_;
};

// A name or value in double quotes, as messages show them ("column \"qty\"").
inline std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// A malformed batch request: 22023 with the primary message
// `invalid batch request: <what>`.
inline Error request_error(const std::string& what, std::string detail = {}, std::string hint = {}) {
    return Error(sqlstate::invalid_parameter_value, "invalid batch request: " + what, std::move(detail),
                 std::move(hint));
}

}  // namespace batch_ops::core
