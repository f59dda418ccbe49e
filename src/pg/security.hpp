// Who is calling, and the switch to the extension owner for bookkeeping.
//
// Item work always runs as the caller (inline) or the submitter (workers).
// Writes to the extension's own state tables, which users may only read, run
// as the owner of those tables with a safe search_path (pg_catalog, pg_temp),
// like PostgreSQL's own maintenance commands.
#pragma once

#include "pg/guard.hpp"

#include <string>

namespace batch_ops::pg {

Oid current_role();
std::string role_name(Oid role);
// superuser, or a member of batch_ops_admin (with its privileges)
bool is_admin(Oid role);
bool is_batch_user(Oid role);
// The owner of the extension's tables.
Oid extension_owner();

// Raises (55000, with a hint) unless the installed schema version is the
// one this library was built for.
void check_schema_version();

// The state a role or setting switch saved, restored by leave_scope().
struct SavedScope {
    Oid user = InvalidOid;
    int sec = 0;
    int nest_level = 0;
    bool role = false;
};
SavedScope enter_role(Oid role, bool restricted);
SavedScope enter_setting(const char* name, const char* value);
void leave_scope(const SavedScope& saved, bool ok);

// Runs f() with current_user = `role` and search_path "pg_catalog, pg_temp";
// with `restricted`, inside a security restricted operation (as PostgreSQL
// runs maintenance commands), so nothing run in it can switch back to the
// worker's own role. Restored when f returns or throws a C++ exception; after
// a PostgreSQL error, by the (sub)transaction abort (see then_leave).
template <typename F>
auto as_role(Oid role, bool restricted, F&& f) -> decltype(f()) {
    SavedScope saved = enter_role(role, restricted);
    return then_leave(std::forward<F>(f), [&](bool ok) { leave_scope(saved, ok); });
}

// f() as the owner of the extension's tables (its bookkeeping), not restricted.
template <typename F>
auto as_owner(F&& f) -> decltype(f()) {
    return as_role(extension_owner(), false, std::forward<F>(f));
}

// f() with a setting changed as SET LOCAL would, restored as as_role restores.
template <typename F>
auto with_setting(const char* name, const char* value, F&& f) -> decltype(f()) {
    SavedScope saved = enter_setting(name, value);
    return then_leave(std::forward<F>(f), [&](bool ok) { leave_scope(saved, ok); });
}

// True when the role still exists.
bool role_exists(Oid role);

}  // namespace batch_ops::pg
