#include "pg/spi.hpp"

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

Spi::Spi() {
    guard([] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    });
    connected_ = true;
}

Spi::~Spi() {
    // On the error path the transaction abort closes the connection.
    if (connected_ && std::uncaught_exceptions() == 0) SPI_finish();
}

uint64_t Spi::execute(const std::string& sql, const std::vector<Param>& params, bool read_only) {
    const int n = static_cast<int>(params.size());
    std::vector<Oid> types(n ? n : 1);
    std::vector<Datum> values(n ? n : 1);
    std::vector<char> nulls(n ? n : 1, ' ');
    for (int i = 0; i < n; ++i) {
        types[i] = params[i].type;
        values[i] = params[i].value;
        nulls[i] = params[i].isnull ? 'n' : ' ';
    }
    const char* q = sql.c_str();
    Oid* t = types.data();
    Datum* v = values.data();
    const char* nl = nulls.data();
    return guard([&] {
        int rc = SPI_execute_with_args(q, n, t, v, nl, read_only, 0);
        if (rc < 0) elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
        return SPI_processed;
    });
}

uint64_t Spi::execute_cached(const std::string& sql, const std::vector<Param>& params) {
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
    return execute_plan(it->second, params);
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

uint64_t Spi::execute_plan(SPIPlanPtr plan, const std::vector<Param>& params, bool read_only) {
    const int n = static_cast<int>(params.size());
    std::vector<Datum> values(n ? n : 1);
    std::vector<char> nulls(n ? n : 1, ' ');
    for (int i = 0; i < n; ++i) {
        values[i] = params[i].value;
        nulls[i] = params[i].isnull ? 'n' : ' ';
    }
    Datum* v = values.data();
    const char* nl = nulls.data();
    return guard([&] {
        int rc = SPI_execute_plan(plan, v, nl, read_only, 0);
        if (rc < 0) elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
        return SPI_processed;
    });
}

uint64_t Spi::rows() const { return SPI_tuptable ? SPI_processed : 0; }

Datum Spi::datum(uint64_t row, int col, bool* isnull) const {
    return guard([&] { return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, isnull); });
}

bool Spi::is_null(uint64_t row, int col) const {
    bool isnull;
    datum(row, col, &isnull);
    return isnull;
}

std::string Spi::str(uint64_t row, int col) const {
    auto v = opt_str(row, col);
    return v ? *v : std::string();
}

std::optional<std::string> Spi::opt_str(uint64_t row, int col) const {
    bool isnull = false;
    Oid type = InvalidOid;
    char* s = guard([&] {
        Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, &isnull);
        if (isnull) return static_cast<char*>(nullptr);
        type = SPI_gettypeid(SPI_tuptable->tupdesc, col + 1);
        if (type == TEXTOID) return text_to_cstring(DatumGetTextPP(d));
        return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1);
    });
    if (!s) return std::nullopt;
    std::string out(s);
    pfree(s);
    return out;
}

int64_t Spi::i64(uint64_t row, int col) const {
    bool isnull;
    Datum d = datum(row, col, &isnull);
    if (isnull) return 0;
    Oid type = guard([&] { return SPI_gettypeid(SPI_tuptable->tupdesc, col + 1); });
    if (type == INT4OID) return DatumGetInt32(d);
    if (type == INT2OID) return DatumGetInt16(d);
    return DatumGetInt64(d);
}

bool Spi::boolean(uint64_t row, int col) const {
    bool isnull;
    Datum d = datum(row, col, &isnull);
    return !isnull && DatumGetBool(d);
}

Datum Spi::copy_datum(uint64_t row, int col, bool* isnull) const {
    Datum d = datum(row, col, isnull);
    if (*isnull) return d;
    return guard([&] {
        int16 typlen;
        bool typbyval;
        get_typlenbyval(SPI_gettypeid(SPI_tuptable->tupdesc, col + 1), &typlen, &typbyval);
        return SPI_datumTransfer(d, typbyval, typlen);
    });
}

}  // namespace batch_ops::pg
