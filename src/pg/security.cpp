#include "pg/security.hpp"

#include "pg/spi.hpp"
#include "core/error.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/fmgroids.h"
}

#ifndef BATCH_OPS_VERSION
#error "BATCH_OPS_VERSION must be defined (the Makefile passes EXT_VERSION)"
#endif

namespace batch_ops::pg {

Oid current_role() { return GetUserId(); }

std::string role_name(Oid role) {
    const char* n = guard([&] { return GetUserNameFromId(role, true); });
    return n ? std::string(n) : std::to_string(role);
}

bool is_admin(Oid role) {
    return guard([&] {
        if (superuser_arg(role)) return true;
        Oid admin = get_role_oid("batch_ops_admin", true);
        return OidIsValid(admin) && has_privs_of_role(role, admin);
    });
}

bool is_batch_user(Oid role) {
    return guard([&] {
        if (superuser_arg(role)) return true;
        Oid user = get_role_oid("batch_ops_user", true);
        return OidIsValid(user) && has_privs_of_role(role, user);
    });
}

Oid extension_owner() {
    return guard([] {
        Oid nsp = get_namespace_oid("batch_ops", false);
        Oid rel = get_relname_relid("batch", nsp);
        if (!OidIsValid(rel))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("table batch_ops.batch does not exist"),
                            errhint("Run CREATE EXTENSION batch_ops.")));
        HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
        if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", rel);
        Oid owner = ((Form_pg_class)GETSTRUCT(tup))->relowner;
        ReleaseSysCache(tup);
        return owner;
    });
}

void check_schema_version() {
    // A direct catalog lookup: this runs on every call, so no SPI here.
    char* version = guard([] {
        char* v = nullptr;
        Relation rel = table_open(ExtensionRelationId, AccessShareLock);
        ScanKeyData key;
        ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum("batch_ops"));
        SysScanDesc scan = systable_beginscan(rel, ExtensionNameIndexId, true, nullptr, 1, &key);
        HeapTuple tup = systable_getnext(scan);
        if (HeapTupleIsValid(tup)) {
            bool isnull;
            Datum d = heap_getattr(tup, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);
            if (!isnull) v = text_to_cstring(DatumGetTextPP(d));
        }
        systable_endscan(scan);
        table_close(rel, AccessShareLock);
        return v;
    });
    if (!version) return;  // CREATE EXTENSION in progress
    std::string v(version);
    pfree(version);
    if (v != BATCH_OPS_VERSION)
        throw core::Error("55000",
                          "batch_ops schema version " + v + " does not match library version " BATCH_OPS_VERSION,
                          "The installed extension was created by another release of the library.",
                          "Run ALTER EXTENSION batch_ops UPDATE.");
}

SavedScope enter_role(Oid role, bool restricted) {
    SavedScope s;
    s.role = true;
    guard([&] {
        GetUserIdAndSecContext(&s.user, &s.sec);
        int sec = s.sec | SECURITY_LOCAL_USERID_CHANGE;
        if (restricted) sec |= SECURITY_RESTRICTED_OPERATION;
        SetUserIdAndSecContext(role, sec);
        s.nest_level = NewGUCNestLevel();
        (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                                true, 0, false);
    });
    return s;
}

SavedScope enter_setting(const char* name, const char* value) {
    SavedScope s;
    guard([&] {
        s.nest_level = NewGUCNestLevel();
        (void)set_config_option(name, value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    });
    return s;
}

void leave_scope(const SavedScope& s, bool ok) {
    guard([&] {
        AtEOXact_GUC(ok, s.nest_level);
        if (s.role) SetUserIdAndSecContext(s.user, s.sec);
    });
}

bool role_exists(Oid role) {
    return guard([&] { return SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)); });
}

}  // namespace batch_ops::pg
