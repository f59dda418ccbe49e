// SPI from C++: every value is a parameter; SQL text is built only from
// catalog identifiers passed through quote_identifier (see ident()).
#pragma once

#include "pg/guard.hpp"

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
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

class Spi;

// One row of a Rows result. Columns are found by name and read as a type; a
// column that is not there, a value of another type, a NULL where a value is
// required, or a row used after the statement that produced it was replaced
// is a core::Error (XX000), never a read of freed or foreign memory.
class Row {
public:
    bool is_null(const char* col) const;
    std::string text(const char* col) const;                // NULL: error
    std::optional<std::string> opt_text(const char* col) const;
    int64_t i64(const char* col) const;                     // smallint, integer or bigint; NULL: error
    std::optional<int64_t> opt_i64(const char* col) const;
    bool boolean(const char* col) const;                    // NULL: error
    std::optional<bool> opt_bool(const char* col) const;
    // The value copied into the caller's memory context (jsonb, arrays, records).
    Datum copy_datum(const char* col, bool* isnull) const;

private:
    friend class Rows;
    Row(const Spi* spi, uint64_t generation, uint64_t index) : spi_(spi), generation_(generation), index_(index) {}
    int column(const char* col, bool* isnull, Datum* value) const;  // 1-based number; checks everything
    const Spi* spi_;
    uint64_t generation_;
    uint64_t index_;
};

// The rows of one statement, valid until the next statement on the same Spi
// (which frees them) or the end of the Spi. Access is checked: there is no
// way to read row 0 of an empty result.
class Rows {
public:
    uint64_t size() const;
    bool empty() const { return size() == 0; }
    Row at(uint64_t i) const;                 // i >= size(): error
    std::optional<Row> maybe_one() const;     // 0 rows: nullopt; more than one: error
    Row one() const;                          // exactly one row, else error (XX000)

    class iterator {
    public:
        iterator(const Rows* rows, uint64_t i) : rows_(rows), i_(i) {}
        Row operator*() const { return rows_->at(i_); }
        iterator& operator++() { ++i_; return *this; }
        bool operator!=(const iterator& o) const { return i_ != o.i_; }
    private:
        const Rows* rows_;
        uint64_t i_;
    };
    iterator begin() const { return iterator(this, 0); }
    iterator end() const { return iterator(this, size()); }

private:
    friend class Spi;
    Rows(const Spi* spi, uint64_t generation, uint64_t count) : spi_(spi), generation_(generation), count_(count) {}
    const Spi* spi_;
    uint64_t generation_;
    uint64_t count_;
};

// A connection to SPI. Open one with pg::with_spi, which connects, runs the
// body and disconnects in ordinary code (never in a destructor): on a C++
// exception that is not a PostgreSQL error it disconnects before passing it
// on; on a PostgreSQL error the (sub)transaction abort that must follow
// closes the connection (see README.md).
class Spi {
public:
    // Legacy: a connection for the length of a C++ scope, finished by the
    // destructor. Being replaced by with_spi; do not use in new code.
    Spi();
    ~Spi();
    Spi(const Spi&) = delete;
    Spi& operator=(const Spi&) = delete;

    // Runs sql with parameters $1..$n and returns its rows (for SELECT and
    // RETURNING). The previous statement's rows are freed.
    Rows query(const std::string& sql, const std::vector<Param>& params = {}, bool read_only = false);
    // The same for one of the extension's own fixed statements, through a plan
    // kept for the life of the backend (parsed and planned once; PostgreSQL's
    // plan cache replans it when the objects it uses change). Only for SQL text
    // that is a constant of the extension, never for statements on user tables.
    Rows query_cached(const std::string& sql, const std::vector<Param>& params = {});
    // A statement planned once for repeated execution within this connection.
    SPIPlanPtr prepare(const std::string& sql, const std::vector<Oid>& types);
    Rows query_plan(SPIPlanPtr plan, const std::vector<Param>& params, bool read_only = false);

    // As above, for statements whose rows are not read: returns the number of
    // rows processed.
    uint64_t execute(const std::string& sql, const std::vector<Param>& params = {}, bool read_only = false) {
        return query(sql, params, read_only).size();
    }
    uint64_t execute_cached(const std::string& sql, const std::vector<Param>& params = {}) {
        return query_cached(sql, params).size();
    }
    uint64_t execute_plan(SPIPlanPtr plan, const std::vector<Param>& params, bool read_only = false) {
        return query_plan(plan, params, read_only).size();
    }

    // The tuple descriptor of the rows (for code that inspects a result's
    // columns, such as a sync source); checked like the rows.
    TupleDesc descriptor(const Rows& rows) const;


private:
    template <typename F>
    friend auto with_spi(F&& f) -> decltype(f(std::declval<Spi&>()));
    friend class Row;
    friend class Rows;
    struct Scoped {};
    explicit Spi(Scoped);
    void finish();
    // Checks that (row, 1-based column) exists in the current rows; returns the value.
    Datum value(uint64_t row, int attnum, bool* isnull) const;
    Oid type_of(int attnum) const;
    Rows take(uint64_t processed);
    // Runs one statement (EXECUTE returns SPI's code and sets SPI_processed) in
    // the guard, after freeing the previous statement's rows; WHAT names it in
    // the error when SPI fails.
    Rows run_statement(int (*execute)(void*), void* arg, const char* what);
    void check(uint64_t generation) const;

    uint64_t generation_ = 0;   // bumped by every statement: older Rows become invalid
    bool has_rows_ = false;
    SPITupleTable* table_ = nullptr;
    SubTransactionId table_subxact_ = InvalidSubTransactionId;
    uint64_t count_ = 0;
    bool connected_ = false;
    bool scoped_ = false;   // made by with_spi, which finishes it
};

// Runs f(Spi&) on a fresh SPI connection; returns what f returns. The
// connection ends when f returns or throws (see then_leave).
template <typename F>
auto with_spi(F&& f) -> decltype(f(std::declval<Spi&>())) {
    Spi spi(Spi::Scoped{});
    return then_leave([&]() { return f(spi); }, [&](bool) { spi.finish(); });
}

}  // namespace batch_ops::pg
