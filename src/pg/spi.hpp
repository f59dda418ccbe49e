// SPI from C++: every value is a parameter; SQL text is built only from
// catalog identifiers passed through quote_identifier (see ident()).
#pragma once

#include "pg/guard.hpp"

#include <optional>
#include <string>
#include <vector>

namespace batch_ops::pg {

struct Param {
    Oid type;
    Datum value;
    bool isnull;
};

Param text_param(const std::string& s);
Param null_param(Oid type);
Param int8_param(int64_t v);
Param int4_param(int32_t v);
Param bool_param(bool b);
Param jsonb_text_param(const std::string& json);  // parsed by jsonb_in
// A one-dimensional text[] (nulls where `present` is false).
Param text_array_param(const std::vector<std::string>& values, const std::vector<bool>* present = nullptr);
Param text_array_param(const std::vector<const std::string*>& values);
Param int8_array_param(const std::vector<int64_t>& values);

// quote_identifier of a catalog name.
std::string ident(const std::string& name);
// schema-qualified, quoted name of a relation.
std::string qualified_relation(Oid relid);

// A connection to SPI for the length of one C++ scope.
class Spi {
public:
    Spi();
    ~Spi();
    Spi(const Spi&) = delete;
    Spi& operator=(const Spi&) = delete;

    // Runs sql with parameters $1..$n; returns the number of rows processed.
    uint64_t execute(const std::string& sql, const std::vector<Param>& params = {}, bool read_only = false);

    // Runs one of the extension's own fixed statements through a plan kept for
    // the life of the backend (parsed and planned once; PostgreSQL's plan
    // cache replans it when the objects it uses change). Only for SQL text that
    // is a constant of the extension, never for statements on user tables.
    uint64_t execute_cached(const std::string& sql, const std::vector<Param>& params = {});

    // A statement planned once for repeated execution within this connection.
    SPIPlanPtr prepare(const std::string& sql, const std::vector<Oid>& types);
    uint64_t execute_plan(SPIPlanPtr plan, const std::vector<Param>& params, bool read_only = false);

    // Access to the rows of the last execute (valid until the next one).
    uint64_t rows() const;
    bool is_null(uint64_t row, int col) const;
    std::string str(uint64_t row, int col) const;                  // via the type's output function
    std::optional<std::string> opt_str(uint64_t row, int col) const;
    int64_t i64(uint64_t row, int col) const;
    bool boolean(uint64_t row, int col) const;
    Datum datum(uint64_t row, int col, bool* isnull) const;
    // jsonb, json or text[] values copied to the caller's memory context.
    Datum copy_datum(uint64_t row, int col, bool* isnull) const;

private:
    bool connected_ = false;
};

}  // namespace batch_ops::pg
