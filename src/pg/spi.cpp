#include "pg/spi.hpp"

#include "core/error.hpp"

#include <memory>
#include <unordered_map>

extern "C" {
#include "utils/datum.h"
}

namespace batch_ops::pg {

Param text_param(const std::string& s) {
    Datum d = guard([&] { return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))); });
    return {TEXTOID, d, false};
}

Param null_param(Oid type) { return {type, (Datum)0, true}; }
Param int8_param(int64_t v) { return {INT8OID, Int64GetDatum(v), false}; }
Param int4_param(int32_t v) { return {INT4OID, Int32GetDatum(v), false}; }
Param bool_param(bool b) { return {BOOLOID, BoolGetDatum(b), false}; }

Param jsonb_text_param(const std::string& json) {
    const char* s = json.c_str();
    Datum d = guard([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(s)); });
    return {JSONBOID, d, false};
}

namespace {

Datum build_text_array(std::size_t n, const std::string* const* values, const bool* present) {
    return guard([&] {
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (n ? n : 1)));
        bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * (n ? n : 1)));
        for (std::size_t i = 0; i < n; ++i) {
            bool isnull = present ? !present[i] : false;
            nulls[i] = isnull;
            elems[i] = isnull ? (Datum)0
                              : PointerGetDatum(cstring_to_text_with_len(values[i]->data(),
                                                                         static_cast<int>(values[i]->size())));
        }
        int dims[1] = {static_cast<int>(n)};
        int lbs[1] = {1};
        ArrayType* a = construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT);
        return PointerGetDatum(a);
    });
}

}  // namespace

Param text_array_param(const std::vector<std::string>& values, const std::vector<bool>* present) {
    std::vector<const std::string*> ptrs;
    ptrs.reserve(values.size());
    for (const auto& v : values) ptrs.push_back(&v);
    std::unique_ptr<bool[]> p;
    if (present) {
        p.reset(new bool[values.size() + 1]);
        for (std::size_t i = 0; i < values.size(); ++i) p[i] = (*present)[i];
    }
    return {TEXTARRAYOID, build_text_array(values.size(), ptrs.data(), p.get()), false};
}

Param text_array_param(const std::vector<const std::string*>& values) {
    return {TEXTARRAYOID, build_text_array(values.size(), values.data(), nullptr), false};
}

Param int8_array_param(const std::vector<int64_t>& values) {
    const std::size_t n = values.size();
    const int64_t* v = values.data();
    Datum d = guard([&] {
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (n ? n : 1)));
        for (std::size_t i = 0; i < n; ++i) elems[i] = Int64GetDatum(v[i]);
        return PointerGetDatum(construct_array(elems, static_cast<int>(n), INT8OID, 8, true, TYPALIGN_DOUBLE));
    });
    return {INT8ARRAYOID, d, false};
}

std::string ident(const std::string& name) {
    const char* n = name.c_str();
    const char* q = guard([&] { return quote_identifier(n); });
    return std::string(q);
}

std::string qualified_relation(Oid relid) {
    char* s = guard([&] {
        char* nsp = get_namespace_name(get_rel_namespace(relid));
        char* rel = get_rel_name(relid);
        if (!nsp || !rel)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
        return quote_qualified_identifier(nsp, rel);
    });
    return std::string(s);
}

namespace {

[[noreturn]] void internal(const std::string& what) {
    throw core::Error(core::sqlstate::internal_error, "batch_ops internal error: " + what);
}

// The value of a column that must not be null.
template <typename T>
T not_null(std::optional<T>&& v, const char* col) {
    if (!v) internal(std::string("column ") + col + " is null");
    return std::move(*v);
}

}  // namespace

Spi::Spi() {
    guard([] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    });
    connected_ = true;
}

Spi::Spi(Scoped) : Spi() { scoped_ = true; }

Spi::~Spi() {
    // Legacy scope-bound connections only (with_spi finishes before this runs).
    // On the error path the transaction abort closes the connection.
    if (!scoped_ && connected_ && std::uncaught_exceptions() == 0) SPI_finish();  // pg-boundary: SPI_finish does not raise; legacy path, removed with the public constructor
}

void Spi::finish() {
    if (!connected_) return;
    connected_ = false;
    has_rows_ = false;
    table_ = nullptr;
    ++generation_;
    guard([] { SPI_finish(); });
}

Rows Spi::take(uint64_t processed) {
    ++generation_;
    table_ = SPI_tuptable;
    table_subxact_ = GetCurrentSubTransactionId();
    has_rows_ = table_ != nullptr;
    count_ = has_rows_ ? processed : 0;
    return Rows(this, generation_, has_rows_ ? count_ : processed);
}

void Spi::check(uint64_t generation) const {
    if (!connected_) internal("a result was used after its SPI connection ended");
    if (generation != generation_) internal("a result was used after the next statement replaced it");
}

namespace {

// Frees the rows of the previous statement, so that a loop of statements on
// one connection keeps one result at a time. Only when they were made in the
// subtransaction still running: a rolled-back subtransaction has freed its
// results already, and results of a committed one stay until SPI_finish.
void free_previous(SPITupleTable* t, SubTransactionId made_in) {
    if (t && made_in == GetCurrentSubTransactionId()) SPI_freetuptable(t);
}

}  // namespace

Rows Spi::query(const std::string& sql, const std::vector<Param>& params, bool read_only) {
    const int n = static_cast<int>(params.size());
    std::vector<Oid> types(n ? n : 1);
    std::vector<Datum> values(n ? n : 1);
    std::vector<char> nulls(n ? n : 1, ' ');
    for (int i = 0; i < n; ++i) {
        types[i] = params[i].type;
        values[i] = params[i].value;
        nulls[i] = params[i].isnull ? 'n' : ' ';
    }
    struct Call {
        const char* q; int n; Oid* t; Datum* v; const char* nl; bool read_only;
    } call{sql.c_str(), n, types.data(), values.data(), nulls.data(), read_only};
    return run_statement([](void* a) {
        auto* c = static_cast<Call*>(a);
        return SPI_execute_with_args(c->q, c->n, c->t, c->v, c->nl, c->read_only, 0);
    }, &call, "SPI_execute_with_args");
}

Rows Spi::run_statement(int (*execute)(void*), void* arg, const char* what) {
    SPITupleTable* previous = has_rows_ ? table_ : nullptr;
    SubTransactionId made_in = table_subxact_;
    has_rows_ = false;
    table_ = nullptr;
    ++generation_;
    uint64_t processed = guard([&] {
        free_previous(previous, made_in);
        int rc = execute(arg);
        if (rc < 0) elog(ERROR, "%s failed: %s", what, SPI_result_code_string(rc));
        return SPI_processed;
    });
    return take(processed);
}

Rows Spi::query_cached(const std::string& sql, const std::vector<Param>& params) {
    // Keyed by the statement text; the parameter types of a given text never change.
    static std::unordered_map<std::string, SPIPlanPtr> plans;
    auto it = plans.find(sql);
    if (it == plans.end()) {
        std::vector<Oid> types;
        for (const auto& p : params) types.push_back(p.type);
        SPIPlanPtr plan = prepare(sql, types);
        guard([&] {
            if (SPI_keepplan(plan) != 0) elog(ERROR, "SPI_keepplan failed");
        });
        it = plans.emplace(sql, plan).first;
    }
    return query_plan(it->second, params);
}

SPIPlanPtr Spi::prepare(const std::string& sql, const std::vector<Oid>& types) {
    const char* q = sql.c_str();
    std::vector<Oid> t(types);
    Oid* tp = t.empty() ? nullptr : t.data();
    const int n = static_cast<int>(t.size());
    return guard([&] {
        SPIPlanPtr plan = SPI_prepare(q, n, tp);
        if (!plan) elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
        return plan;
    });
}

Rows Spi::query_plan(SPIPlanPtr plan, const std::vector<Param>& params, bool read_only) {
    const int n = static_cast<int>(params.size());
    std::vector<Datum> values(n ? n : 1);
    std::vector<char> nulls(n ? n : 1, ' ');
    for (int i = 0; i < n; ++i) {
        values[i] = params[i].value;
        nulls[i] = params[i].isnull ? 'n' : ' ';
    }
    struct Call {
        SPIPlanPtr plan; Datum* v; const char* nl; bool read_only;
    } call{plan, values.data(), nulls.data(), read_only};
    return run_statement([](void* a) {
        auto* c = static_cast<Call*>(a);
        return SPI_execute_plan(c->plan, c->v, c->nl, c->read_only, 0);
    }, &call, "SPI_execute_plan");
}

TupleDesc Spi::descriptor(const Rows& rows) const {
    check(rows.generation_);
    if (!has_rows_) internal("the statement returned no rows to describe");
    return table_->tupdesc;
}

Datum Spi::value(uint64_t row, int attnum, bool* isnull) const {
    if (!has_rows_) internal("the statement returned no rows");
    if (row >= count_)
        internal("row " + std::to_string(row) + " was read, but the statement returned " + std::to_string(count_));
    if (attnum < 1 || attnum > table_->tupdesc->natts) internal("column " + std::to_string(attnum) + " does not exist");
    HeapTuple tuple = table_->vals[row];
    TupleDesc desc = table_->tupdesc;
    bool n = false;
    Datum d = guard([&] { return SPI_getbinval(tuple, desc, attnum, &n); });
    *isnull = n;
    return d;
}

Oid Spi::type_of(int attnum) const {
    TupleDesc desc = table_->tupdesc;
    return guard([&] { return SPI_gettypeid(desc, attnum); });
}

namespace {

std::string output_text(Datum d, Oid type) {
    char* s = guard([&] {
        if (type == TEXTOID || type == VARCHAROID) return text_to_cstring(DatumGetTextPP(d));
        Oid out;
        bool varlena;
        getTypeOutputInfo(type, &out, &varlena);
        return OidOutputFunctionCall(out, d);
    });
    std::string r(s);
    pfree(s);  // pg-boundary: pfree of our own palloc'd string does not raise
    return r;
}

int64_t integer_value(Datum d, Oid type, const char* what) {
    switch (type) {
        case INT2OID: return DatumGetInt16(d);
        case INT4OID: return DatumGetInt32(d);
        case INT8OID: return DatumGetInt64(d);
        case OIDOID: return static_cast<int64_t>(DatumGetObjectId(d));
        default: internal(std::string("column ") + what + " is not an integer");
    }
}

}  // namespace

// ---- Rows and Row --------------------------------------------------------------------

uint64_t Rows::size() const {
    spi_->check(generation_);
    return count_;
}

Row Rows::at(uint64_t i) const {
    if (i >= size())
        internal("row " + std::to_string(i) + " was read, but the statement returned " + std::to_string(count_));
    return Row(spi_, generation_, i);
}

std::optional<Row> Rows::maybe_one() const {
    if (size() > 1) internal("one row was expected, the statement returned " + std::to_string(count_));
    if (count_ == 0) return std::nullopt;
    return at(0);
}

Row Rows::one() const {
    if (size() != 1) internal("one row was expected, the statement returned " + std::to_string(count_));
    return at(0);
}

int Row::column(const char* col, bool* isnull, Datum* value) const {
    spi_->check(generation_);
    if (!spi_->has_rows_) internal("the statement returned no rows");
    TupleDesc desc = spi_->table_->tupdesc;
    int attnum = guard([&] { return SPI_fnumber(desc, col); });
    if (attnum <= 0) internal(std::string("the statement has no column ") + col);
    *value = spi_->value(index_, attnum, isnull);
    return attnum;
}

bool Row::is_null(const char* col) const {
    bool isnull;
    Datum d;
    column(col, &isnull, &d);
    return isnull;
}

std::optional<std::string> Row::opt_text(const char* col) const {
    bool isnull;
    Datum d;
    int attnum = column(col, &isnull, &d);
    if (isnull) return std::nullopt;
    return output_text(d, spi_->type_of(attnum));
}

std::string Row::text(const char* col) const {
    return not_null(opt_text(col), col);
}

std::optional<int64_t> Row::opt_i64(const char* col) const {
    bool isnull;
    Datum d;
    int attnum = column(col, &isnull, &d);
    if (isnull) return std::nullopt;
    return integer_value(d, spi_->type_of(attnum), col);
}

int64_t Row::i64(const char* col) const {
    return not_null(opt_i64(col), col);
}

std::optional<bool> Row::opt_bool(const char* col) const {
    bool isnull;
    Datum d;
    int attnum = column(col, &isnull, &d);
    if (isnull) return std::nullopt;
    if (spi_->type_of(attnum) != BOOLOID) internal(std::string("column ") + col + " is not a boolean");
    return DatumGetBool(d);
}

bool Row::boolean(const char* col) const {
    return not_null(opt_bool(col), col);
}

Datum Row::copy_datum(const char* col, bool* isnull) const {
    Datum d;
    int attnum = column(col, isnull, &d);
    if (*isnull) return d;
    Oid type = spi_->type_of(attnum);
    return guard([&] {
        int16 typlen;
        bool typbyval;
        get_typlenbyval(type, &typlen, &typbyval);
        return SPI_datumTransfer(d, typbyval, typlen);
    });
}

}  // namespace batch_ops::pg
