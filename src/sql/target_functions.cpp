// SQL entry points for registering targets (admin only).
#include "sql/entry.hpp"

#include "core/error.hpp"
#include "ops/citus.hpp"
#include "ops/target_catalog.hpp"
#include "pg/jsonb.hpp"
#include "pg/security.hpp"

namespace {

using namespace batch_ops;

std::optional<std::string> name_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n)) return std::nullopt;
    // text and name arguments alike
    Oid type = pg::guard([&] { return get_fn_expr_argtype(fcinfo->flinfo, n); });
    Datum d = PG_GETARG_DATUM(n);
    if (type == NAMEOID) return std::string(NameStr(*DatumGetName(d)));
    char* s = pg::guard([&] { return text_to_cstring(DatumGetTextPP(d)); });
    return std::string(s);
}

std::optional<std::vector<std::string>> array_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n)) return std::nullopt;
    ArrayType* a = pg::guard([&] { return PG_GETARG_ARRAYTYPE_P(n); });
    Oid elem = ARR_ELEMTYPE(a);
    Datum* elems;
    bool* nulls;
    int count;
    pg::guard([&] {
        int16 typlen;
        bool byval;
        char align;
        get_typlenbyvalalign(elem, &typlen, &byval, &align);
        deconstruct_array(a, elem, typlen, byval, align, &elems, &nulls, &count);
    });
    std::vector<std::string> out;
    for (int i = 0; i < count; ++i) {
        if (nulls[i]) throw core::Error(core::sqlstate::invalid_parameter_value, "array arguments must not contain nulls");
        if (elem == NAMEOID) out.emplace_back(NameStr(*DatumGetName(elems[i])));
        else out.emplace_back(pg::guard([&] { return text_to_cstring(DatumGetTextPP(elems[i])); }));
    }
    return out;
}

}  // namespace

BATCH_OPS_FUNCTION(batch_ops_register_target) {
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("register_target()"); });
    ops::citus::refuse_on_worker_node("register_target()");
    ops::Registration r;
    auto name = name_arg(fcinfo, 0);
    if (!name) throw core::Error(core::sqlstate::invalid_parameter_value, "target name must not be null");
    if (PG_ARGISNULL(1)) throw core::Error(core::sqlstate::invalid_parameter_value, "relation must not be null");
    r.name = *name;
    r.relation = PG_GETARG_OID(1);
    if (auto k = name_arg(fcinfo, 2)) r.key_column = *k;
    r.owner_column = name_arg(fcinfo, 3);
    r.status_column = name_arg(fcinfo, 4);
    r.soft_delete_column = name_arg(fcinfo, 5);
    if (!PG_ARGISNULL(6)) r.archive_relation = PG_GETARG_OID(6);
    r.allowed_statuses = array_arg(fcinfo, 7);
    r.updatable_columns = array_arg(fcinfo, 8);
    if (!PG_ARGISNULL(9)) {
        Jsonb* jb = pg::guard([&] { return PG_GETARG_JSONB_P(9); });
        r.status_transitions = pg::from_jsonb(jb);
    }
    pg::with_spi([&](pg::Spi& spi) { ops::register_target(spi, r, pg::current_role()); });
    PG_RETURN_VOID();
}

BATCH_OPS_FUNCTION(batch_ops_unregister_target) {
    pg::check_schema_version();
    auto name = name_arg(fcinfo, 0);
    pg::with_spi([&](pg::Spi& spi) { ops::unregister_target(spi, *name); });
    PG_RETURN_VOID();
}
