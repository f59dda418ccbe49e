#include "ops/sync.hpp"

#include <algorithm>
#include <exception>
#include <functional>
#include <set>

#include "core/error.hpp"
#include "core/request.hpp"
#include "pg/compat.hpp"
#include "pg/jsonb.hpp"
#include "pg/remote.hpp"
#include "pg/security.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/regproc.h"
#include "utils/varlena.h"
}

namespace batch_ops::ops {

using core::Error;
using core::quoted;
namespace sqlstate = core::sqlstate;

namespace {

// The row of a statement that had to return one: none is an error with a
// SQLSTATE, never a read of a row that is not there.
pg::Row expect_row(const pg::Rows& rows, const char* state, const std::string& message) {
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) throw Error(state, message);
    return *row;
}

bool is_superuser(Oid role) {
    return pg::guard([&] { return superuser_arg(role); });
}

// The message of a failed run: PostgreSQL's message and, on a line of its
// own as psql shows it, its DETAIL.
std::string failure_message(const std::string& message, const std::string& detail) {
    std::string m = "sync failed: " + message;
    if (!detail.empty()) m += "\nDETAIL:  " + detail;
    return m;
}

std::string failure_message(const pg::PgError& e) {
    const ErrorData* ed = e.data();
    return failure_message(e.what(), ed && ed->detail ? ed->detail : "");
}

std::string failure_message(const core::Error& e) { return failure_message(e.what(), e.detail()); }

// A sync runs as its owner: a dropped owner fails the run.
void check_owner_exists(const SyncDef& d) {
    if (!pg::role_exists(d.owner))
        throw Error(sqlstate::undefined_object, "role no longer exists",
                    "The role that created sync " + quoted(d.name) + " (OID " + std::to_string(d.owner) +
                        ") was dropped.");
}

// The one place request text becomes SQL (API.md section 5): the text must
// parse as exactly one SELECT (query) or exactly one expression.
const char* check_query_text(const char* text) {
    List* stmts = raw_parser(text, RAW_PARSE_DEFAULT);  // pg-boundary: only called inside pg::guard (check_query)
    if (list_length(stmts) != 1) return "it must be exactly one statement";
    RawStmt* raw = linitial_node(RawStmt, stmts);
    if (!IsA(raw->stmt, SelectStmt)) return "it must be a SELECT";
    SelectStmt* sel = castNode(SelectStmt, raw->stmt);
    if (sel->intoClause) return "SELECT INTO is not allowed";
    if (sel->lockingClause) return "locking clauses are not allowed";
    return nullptr;
}

const char* check_expression_text(const char* select_text) {
    List* stmts = raw_parser(select_text, RAW_PARSE_DEFAULT);  // pg-boundary: only called inside pg::guard (check_expression)
    if (list_length(stmts) != 1) return "it must be exactly one expression";
    RawStmt* raw = linitial_node(RawStmt, stmts);
    if (!IsA(raw->stmt, SelectStmt)) return "it must be exactly one expression";
    SelectStmt* sel = castNode(SelectStmt, raw->stmt);
    if (list_length(sel->targetList) != 1 || sel->fromClause || sel->whereClause || sel->groupClause ||
        sel->havingClause || sel->windowClause || sel->sortClause || sel->limitCount || sel->limitOffset ||
        sel->intoClause || sel->lockingClause || sel->withClause || sel->distinctClause || sel->op != SETOP_NONE ||
        sel->valuesLists)
        return "it must be exactly one expression";
    ResTarget* rt = linitial_node(ResTarget, sel->targetList);
    if (rt->name) return "it must be exactly one expression, without AS";
    return nullptr;
}

void check_query(const std::string& query) {
    const char* q = query.c_str();
    const char* problem;
    try {
        problem = pg::guard([&] { return check_query_text(q); });
    } catch (const pg::PgError& e) {
        throw core::request_error("the sync source is not a valid query", e.what());
    }
    if (problem) throw core::request_error("the sync source is not a valid query", std::string("The query: ") + problem + ".");
}

void check_expression(const std::string& column, const std::string& expr) {
    std::string text = "SELECT " + expr;
    const char* t = text.c_str();
    const char* problem;
    try {
        problem = pg::guard([&] { return check_expression_text(t); });
    } catch (const pg::PgError& e) {
        throw core::request_error("\"options.columns\" value for column " + quoted(column) + " is not a valid expression",
                                  e.what());
    }
    if (problem)
        throw core::request_error("\"options.columns\" value for column " + quoted(column) + " is not a valid expression",
                                  std::string("The expression: ") + problem + ".");
}

struct Column {
    std::string name;
    std::string type;  // format_type
};

std::vector<Column> relation_columns(pg::Spi& spi, Oid relid) {
    pg::Rows rows = spi.query_cached(
        "SELECT a.attname::pg_catalog.text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type "
        "  FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attnum > 0 "
        "   AND NOT a.attisdropped AND a.attgenerated OPERATOR(pg_catalog.=) '' ORDER BY a.attnum",
        {{OIDOID, ObjectIdGetDatum(relid), false}});
    std::vector<Column> out;
    for (pg::Row row : rows) out.push_back({row.text("name"), row.text("type")});
    return out;
}

// The columns a source yields (runs it with LIMIT 0, as the current user).
std::vector<Column> source_columns(pg::Spi& spi, const std::string& source_sql) {
    pg::Rows rows = spi.query("SELECT * FROM " + source_sql + " AS s LIMIT 0");
    std::vector<Column> out;
    TupleDesc desc = spi.descriptor(rows);
    for (int i = 0; i < desc->natts; ++i) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (a->attisdropped) continue;
        char* type = pg::guard([&] { return format_type_with_typemod(a->atttypid, a->atttypmod); });
        out.push_back({NameStr(a->attname), type});
    }
    return out;
}

const Column* find(const std::vector<Column>& cols, const std::string& name) {
    for (const auto& c : cols)
        if (c.name == name) return &c;
    return nullptr;
}

std::vector<std::string> primary_key(pg::Spi& spi, Oid relid) {
    pg::Rows rows = spi.query_cached(
        "SELECT a.attname::pg_catalog.text AS name FROM pg_catalog.pg_index i "
        "  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
        "   AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::pg_catalog.int2[]) "
        " WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisprimary ORDER BY a.attnum",
        {{OIDOID, ObjectIdGetDatum(relid), false}});
    std::vector<std::string> out;
    for (pg::Row row : rows) out.push_back(row.text("name"));
    return out;
}

bool unique_on(pg::Spi& spi, Oid relid, const std::vector<std::string>& cols) {
    return spi.execute_cached(
        "SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisunique "
        "   AND i.indisvalid AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL "
        "   AND i.indnatts OPERATOR(pg_catalog.=) pg_catalog.cardinality($2::pg_catalog.text[]) "
        "   AND (SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY a.attname) "
        "          FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
        "           AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::pg_catalog.int2[])) "
        "       OPERATOR(pg_catalog.=) (SELECT pg_catalog.array_agg(x ORDER BY x) "
        "          FROM pg_catalog.unnest($2::pg_catalog.text[]) x)",
        {{OIDOID, ObjectIdGetDatum(relid), false}, pg::text_array_param(cols)}) > 0;
}

// A local table or view source, resolved with the current search_path.
Oid source_table(const std::string& name) {
    const char* src = name.c_str();
    try {
        return pg::guard([&] {
            List* names = pg::compat::qualified_name_list(src);
            return RangeVarGetRelid(makeRangeVarFromNameList(names), AccessShareLock, false);
        });
    } catch (const pg::PgError& e) {
        const ErrorData* ed = e.data();
        // A schema that does not exist is a source that does not exist (42P01), as
        // for a missing table: the caller named a relation.
        const std::string state = e.sqlstate() == "3F000" ? "42P01" : e.sqlstate();
        throw Error(state, std::string("sync source: ") + e.what(), ed && ed->detail ? ed->detail : "");
    }
}

// The plan of a sync: what to select from the source and how to load it.
struct Plan {
    std::string source_sql;                                  // "schema.table" or "(query)"
    std::vector<std::pair<std::string, std::string>> map;    // target column -> SQL over s.*
    std::vector<std::string> keys;
    std::string target_sql;
    std::optional<Column> watermark;                          // source column
};

Plan make_plan(pg::Spi& spi, const SyncDef& d, const std::string* staged = nullptr) {
    Plan p;
    if (staged) {
        p.source_sql = *staged;  // a remote source, copied into a staging table
    } else if (d.is_query) {
        check_query(d.source);
        p.source_sql = "(" + d.source + ")";
    } else {
        p.source_sql = pg::qualified_relation(source_table(d.source));
    }
    p.target_sql = pg::qualified_relation(d.target);
    std::vector<Column> target = relation_columns(spi, d.target);
    std::vector<Column> source = source_columns(spi, p.source_sql);
    if (!d.options.columns.empty()) {
        for (const auto& [col, expr] : d.options.columns) {
            if (!find(target, col))
                throw core::request_error("\"options.columns\" names column " + quoted(col) +
                                          ", which the target does not have");
            check_expression(col, expr);
            p.map.emplace_back(col, "(" + expr + ")");
        }
    }
    // Same-named columns fill what the expressions do not.
    for (const auto& c : target) {
        bool mapped = std::any_of(p.map.begin(), p.map.end(), [&](const auto& m) { return m.first == c.name; });
        if (!mapped && find(source, c.name)) p.map.emplace_back(c.name, "s." + pg::ident(c.name));
    }
    if (p.map.empty())
        throw core::request_error("the sync source and target have no column in common",
                                  "Name the target columns and their SQL expressions in \"options.columns\".");
    p.keys = d.options.key_columns.empty() ? primary_key(spi, d.target) : d.options.key_columns;
    if (p.keys.empty())
        throw core::request_error("\"options.key_columns\" is required: the target has no primary key");
    for (const auto& k : p.keys)
        if (std::none_of(p.map.begin(), p.map.end(), [&](const auto& m) { return m.first == k; }))
            throw core::request_error("key column " + quoted(k) + " gets no value from the source",
                                      "Map it in \"options.columns\" or give the source a column of that name.");
    if (!unique_on(spi, d.target, p.keys))
        throw Error(sqlstate::invalid_object_definition, "the sync key has no unique index on the target",
                    "An upsert needs a unique index on exactly the key columns.",
                    "Create one, or choose other \"options.key_columns\".");
    if (d.options.watermark_column) {
        const Column* w = find(source, *d.options.watermark_column);
        if (!w)
            throw core::request_error("\"options.watermark_column\" names column " +
                                      quoted(*d.options.watermark_column) + ", which the source does not have");
        p.watermark = *w;
    }
    return p;
}

// The whole load in one statement: upsert of changed rows only, optional
// delete of rows gone from the source, counts and the new watermark.
std::string load_sql(const Plan& p, const SyncDef& d, bool bounded = false) {
    std::string select, cols, vals, set, distinct_t, distinct_x, key_list, key_join;
    for (const auto& [col, expr] : p.map) {
        const std::string c = pg::ident(col);
        select += (select.empty() ? "" : ", ") + expr + " AS " + c;
        cols += (cols.empty() ? "" : ", ") + c;
        bool is_key = std::find(p.keys.begin(), p.keys.end(), col) != p.keys.end();
        if (!is_key) {
            set += (set.empty() ? "" : ", ") + c + " = EXCLUDED." + c;
            distinct_t += (distinct_t.empty() ? "" : ", ") + std::string("t.") + c;
            distinct_x += (distinct_x.empty() ? "" : ", ") + std::string("EXCLUDED.") + c;
        }
    }
    for (const auto& k : p.keys) {
        key_list += (key_list.empty() ? "" : ", ") + pg::ident(k);
        // "=" (not IS NOT DISTINCT FROM) so the anti-join can hash: keys are
        // upsert keys, and NULL keys never match there either.
        key_join += (key_join.empty() ? "" : " AND ") + std::string("src.") + pg::ident(k) + " OPERATOR(pg_catalog.=) t." +
                    pg::ident(k);
    }
    std::string wm_select, where;
    if (p.watermark) {
        wm_select = ", s." + pg::ident(p.watermark->name) + " AS batch_ops_watermark";
        if (d.options.incremental)
            where = " WHERE ($1::pg_catalog.text IS NULL OR s." + pg::ident(p.watermark->name) + " > $1::" +
                    p.watermark->type + ")";
        if (d.options.incremental && bounded)
            where += " AND ($2::pg_catalog.text IS NULL OR s." + pg::ident(p.watermark->name) + " <= $2::" +
                     p.watermark->type + ")";
    }
    std::string conflict = set.empty() ? "DO NOTHING"
                                       : "DO UPDATE SET " + set + " WHERE (" + distinct_t +
                                             ") IS DISTINCT FROM (" + distinct_x + ")";
    const bool deletes = d.options.delete_missing && !d.options.incremental;
    std::string sql;
    if (!p.watermark && !deletes) {
        // The source is read once: no materialized copy of it.
        sql = "WITH up AS (INSERT INTO " + p.target_sql + " AS t (" + cols + ") SELECT " + select + " FROM " +
              p.source_sql + " AS s" + where + " ON CONFLICT (" + key_list + ") " + conflict +
              " RETURNING (t.xmax::pg_catalog.text OPERATOR(pg_catalog.=) '0') AS inserted)";
    } else {
        sql = "WITH src AS MATERIALIZED (SELECT " + select + wm_select + " FROM " + p.source_sql + " AS s" + where +
              "), "
              "up AS (INSERT INTO " + p.target_sql + " AS t (" + cols + ") SELECT " + cols +
              " FROM src ON CONFLICT (" + key_list + ") " + conflict +
              " RETURNING (t.xmax::pg_catalog.text OPERATOR(pg_catalog.=) '0') AS inserted)";
    }
    if (deletes)
        sql += ", del AS (DELETE FROM " + p.target_sql + " AS t WHERE NOT EXISTS (SELECT 1 FROM src WHERE " +
               key_join + ") RETURNING 1)";
    sql += " SELECT (SELECT pg_catalog.count(*) FROM up WHERE inserted) AS inserted, "
           "(SELECT pg_catalog.count(*) FROM up WHERE NOT inserted) AS updated, " +
           std::string(deletes ? "(SELECT pg_catalog.count(*) FROM del)" : "0::pg_catalog.int8") + " AS deleted, " +
           (p.watermark ? "(SELECT pg_catalog.max(batch_ops_watermark)::pg_catalog.text FROM src)"
                        : "NULL::pg_catalog.text") +
           " AS watermark";
    return sql;
}

// A remote table or view name as given, each part quoted (it is checked
// locally as a qualified name; the remote server resolves it).
std::string remote_relation(const std::string& name) {
    const char* n = name.c_str();
    std::string out;
    try {
        char* q = pg::guard([&] {
            List* parts = pg::compat::qualified_name_list(n);
            StringInfoData buf;
            initStringInfo(&buf);
            ListCell* lc;
            foreach (lc, parts) {
                if (buf.len) appendStringInfoChar(&buf, '.');
                appendStringInfoString(&buf, quote_identifier(strVal(lfirst(lc))));
            }
            return buf.data;
        });
        out = q;
    } catch (const pg::PgError& e) {
        throw core::request_error("the sync source is not a valid table name or query", e.what());
    }
    return out;
}

// An unlogged staging table for rows copied from a remote source, owned by
// the extension owner and readable by the current user; dropped with the
// subtransaction on failure, and after the load on success.
std::string create_staging(pg::Spi& spi, int64_t id, const std::vector<pg::RemoteColumn>& cols, Oid* relid) {
    std::string defs;
    for (const auto& c : cols) {
        // Built-in types are the same on both servers; others arrive as text.
        char* type = pg::guard([&] {
            return c.type < FirstNormalObjectId ? format_type_be(c.type) : pstrdup("pg_catalog.text");
        });
        defs += (defs.empty() ? "" : ", ") + pg::ident(c.name) + " " + type;
    }
    std::string name = "sync_stage_" + std::to_string(id) + "_" + std::to_string(MyProcPid);
    std::string qualified = "batch_ops." + pg::ident(name);
    std::string me = pg::role_name(pg::current_role());
    pg::as_owner([&] {
        spi.execute("CREATE UNLOGGED TABLE " + qualified + " (" + defs + ")");
        spi.execute("GRANT SELECT ON " + qualified + " TO " + pg::ident(me));
    });
    *relid = pg::guard([&] { return get_relname_relid(name.c_str(), get_namespace_oid("batch_ops", false)); });
    return qualified;
}

core::Json options_without_secrets(const core::Json& options) {
    core::Json o = core::Json::object();
    for (const auto& [k, v] : options.members())
        o.set(k, k == "connection" ? core::Json::string("(hidden)") : v);
    return o;
}

// The definition create_sync was given, with the checks that need neither
// the source nor the target.
SyncDef new_sync_def(const std::string& name, const std::string& source, Oid target, const core::Json& options_json,
                     Oid actor) {
    if (!core::is_valid_sync_name(name))
        throw Error(sqlstate::invalid_parameter_value, "invalid sync name " + quoted(name),
                    "Sync names are 1 to 63 letters, digits, underscores, dots and hyphens.");
    if (source.empty() || source.size() > 100000)
        throw Error(sqlstate::invalid_parameter_value, "the sync source must be a table or view name or one SELECT");
    SyncDef d;
    d.name = name;
    d.source = source;
    d.is_query = core::source_is_query(source);
    d.target = target;
    d.options = core::parse_sync_options(options_json);
    d.owner = actor;  // a sync runs as its creator
    if (d.options.connection && !is_superuser(actor) && !pg::conninfo_has_password(*d.options.connection)) {
        // As dblink does for every role that is not a superuser (members of
        // batch_ops_admin too): the connection string must carry a password
        // (checked again, with its use, when connecting).
        throw Error(sqlstate::insufficient_privilege, "password is required in \"options.connection\"",
                    "Roles that are not superusers (members of batch_ops_admin too) must authenticate to the sync "
                    "source with a password, so that they cannot reach a server as the database server's OS user.",
                    "Put the password into the connection string.");
    }
    return d;
}

// Privileges on the target, checked now for a clear error (the load runs
// with the owner's privileges anyway).
void check_target_privileges(const SyncDef& d) {
    const Oid target = d.target, actor = d.owner;
    const AclMode need = ACL_INSERT | ACL_UPDATE | ACL_SELECT | (d.options.delete_missing ? ACL_DELETE : 0);
    bool ok = pg::guard([&] { return pg_class_aclcheck(target, actor, need) == ACLCHECK_OK; });
    if (!ok) {
        const char* rel = pg::guard([&] { return get_rel_name(target); });
        throw Error(sqlstate::insufficient_privilege,
                    std::string("permission denied for table ") + (rel ? rel : "?"),
                    "A sync needs SELECT, INSERT and UPDATE on its target (and DELETE with delete_missing).");
    }
}

// The source, the column expressions and the plan, as far as they can be
// checked now. A local table source is kept schema-qualified in d.
void check_sync_source(pg::Spi& spi, SyncDef& d) {
    if (d.options.connection) {
        // The remote source is read when the sync runs; check here what can
        // be checked without it.
        if (d.is_query) check_query(d.source);
        else (void)remote_relation(d.source);
        for (const auto& [col, expr] : d.options.columns) check_expression(col, expr);
        return;
    }
    // A table source is resolved with the caller's search_path and kept
    // schema-qualified: syncs run with search_path = pg_catalog, pg_temp.
    if (!d.is_query) d.source = pg::qualified_relation(source_table(d.source));
    // Every check of a run, now, as a run makes them: as the owner (the
    // caller), in a security restricted operation, with that search_path.
    pg::as_role(d.owner, true, [&] { (void)make_plan(spi, d); });
}

// The sync's batch row, its definition and its "created" event; returns the id.
int64_t record_new_sync(pg::Spi& spi, const SyncDef& d, const std::string& source, const core::Json& options_json) {
    store::NewSync s;
    s.name = d.name;
    s.source = d.source;
    s.is_query = d.is_query;
    s.target = d.target;
    s.owner = d.owner;
    const Oid target = d.target;
    s.target_name = pg::guard([&] { return DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(target))); });
    s.request = core::Json::object();
    s.request.set("name", core::Json::string(d.name));
    s.request.set("source", core::Json::string(source));
    s.request.set("target", core::Json::string(s.target_name));
    s.request.set("options", options_without_secrets(options_json));
    s.options = options_json;
    std::optional<int64_t> id = store::insert_sync(spi, s);
    if (!id) throw Error(sqlstate::duplicate_object, "sync " + quoted(d.name) + " already exists");
    return *id;
}

// A definition restored by pg_dump (its batch history is not dumped): its
// batch row comes back, with the same id.
void restore_sync_batch(pg::Spi& spi, const SyncDef& d) {
    core::Json request = core::Json::object();
    request.set("name", core::Json::string(d.name));
    request.set("source", core::Json::string(d.source));
    store::restore_sync_batch(spi, d.id, request);
}

// Runs body (the extraction and load of a run or a chunk) in a subtransaction.
// On success commits it and returns nullopt. A PostgreSQL error or a
// core::Error rolls it back and is returned as the run's failure message,
// except a query cancel or a shutdown (not a sync failure) and a missing
// remote password (a missing privilege raises, API.md section 5), which are
// rethrown after the rollback. Nothing is called in the handlers.
std::optional<std::string> run_in_subtransaction(const std::function<void()>& body) {
    pg::SubTransaction sub;
    std::exception_ptr rethrow;
    std::optional<std::string> failure;
    try {
        body();
    } catch (const pg::RemotePasswordRequired&) {
        rethrow = std::current_exception();
    } catch (const pg::PgError& e) {
        const std::string& state = e.sqlstate();
        if (state == "57014" || state.rfind("57P", 0) == 0) rethrow = std::current_exception();
        else failure = failure_message(e);
    } catch (const core::Error& e) {
        failure = failure_message(e);
    }
    if (!rethrow && !failure) {
        sub.commit();
        return std::nullopt;
    }
    sub.rollback();
    if (rethrow) std::rethrow_exception(rethrow);
    return failure;
}

// The counts and the new watermark of a load statement (load_sql).
void read_load(const pg::Rows& rows, SyncResult* r, std::optional<std::string>* watermark) {
    pg::Row row = expect_row(rows, sqlstate::internal_error, "the sync load returned no counts");
    r->inserted = row.i64("inserted");
    r->updated = row.i64("updated");
    r->deleted = row.i64("deleted");
    *watermark = row.opt_text("watermark");
}

// A remote source copied into a staging table; returns the table's name.
// The connection is closed when this returns, before the load.
std::string stage_remote_source(pg::Spi& spi, const SyncDef& d) {
    // The owner's superuser-ness decides, as dblink's for its caller.
    pg::RemoteConnection remote(*d.options.connection, d.options.connect_timeout_s, !is_superuser(d.owner));
    if (d.options.statement_timeout_ms > 0)
        remote.command("SET statement_timeout = " + std::to_string(d.options.statement_timeout_ms));
    std::string remote_source = d.is_query ? "(" + d.source + ")" : remote_relation(d.source);
    std::vector<pg::RemoteColumn> cols = remote.describe(remote_source);
    Oid stage_relid;
    std::string staged = create_staging(spi, d.id, cols, &stage_relid);
    std::string where;
    if (d.options.incremental && d.watermark && d.options.watermark_column)
        where = " WHERE s." + pg::ident(*d.options.watermark_column) + " > " + remote.literal(*d.watermark);
    (void)remote.copy_into("SELECT * FROM " + remote_source + " AS s" + where, stage_relid);
    return staged;
}

// Extract, transform and load. The source query, the column expressions and
// the load run as the sync's owner, in a security restricted operation,
// whoever started the run (API.md section 5): never with the caller's rights.
void extract_and_load(pg::Spi& spi, const SyncDef& d, SyncResult* r, std::optional<std::string>* new_watermark) {
    check_owner_exists(d);
    pg::as_role(d.owner, true, [&] {
        std::string staged;
        if (d.options.connection) staged = stage_remote_source(spi, d);
        Plan p = make_plan(spi, d, staged.empty() ? nullptr : &staged);
        std::string sql = load_sql(p, d);
        std::vector<pg::Param> params;
        if (p.watermark && d.options.incremental)
            params.push_back(d.watermark ? pg::text_param(*d.watermark) : pg::null_param(TEXTOID));
        read_load(spi.query(sql, params), r, new_watermark);
        if (!staged.empty()) pg::as_owner([&] { spi.execute("DROP TABLE " + staged); });
    });
}

// The end of a run: its sync_run row, the batch's status and counts, the
// event, the new watermark (incremental) and the notification.
void record_sync_run(pg::Spi& spi, const SyncDef& d, const SyncResult& r,
                     const std::optional<std::string>& new_watermark, Oid actor, int64_t elapsed_us) {
    if (r.success && new_watermark && d.options.incremental) store::save_watermark(spi, d.id, *new_watermark);
    store::record_sync_run(spi, d.id, r, new_watermark ? new_watermark : d.watermark, actor, elapsed_us);
}

int64_t microseconds_since(TimestampTz t0) {
    long secs;
    int usecs;
    TimestampDifference(t0, GetCurrentTimestamp(), &secs, &usecs);  // pg-boundary: TimestampDifference is arithmetic, it does not raise
    return static_cast<int64_t>(secs) * 1000000 + usecs;
}

}  // namespace

int64_t create_sync(pg::Spi& spi, const std::string& name, const std::string& source, Oid target,
                    const core::Json& options_json, Oid actor) {
    SyncDef d = new_sync_def(name, source, target, options_json, actor);
    check_target_privileges(d);
    check_sync_source(spi, d);
    return record_new_sync(spi, d, source, options_json);
}

SyncDef load_sync(pg::Spi& spi, int64_t id, Oid actor) {
    std::optional<store::SyncRecord> row = store::find_sync(spi, id);
    if (!row) throw Error(sqlstate::no_data_found, "batch " + std::to_string(id) + " does not exist");
    // Ownership first, with the words of any other batch (store::load_batch):
    // another role learns nothing of a batch beyond the 42501 that API.md
    // section 12 gives for another role's batch or sync (not its kind).
    if (row->owner != actor && !pg::is_admin(actor))
        throw Error(sqlstate::insufficient_privilege, "permission denied for batch " + std::to_string(id),
                    "The batch was submitted by another role.");
    if (row->has_batch && (!row->has_sync || row->kind != std::optional<std::string>("sync")))
        throw Error(sqlstate::invalid_parameter_value, "batch " + std::to_string(id) + " is not a sync batch", {},
                    "Sync batches are made by batch_ops.create_sync().");
    SyncDef d;
    d.id = id;
    d.name = row->name;
    d.source = row->source;
    d.is_query = row->is_query;
    d.target = row->target;
    d.owner = row->owner;
    d.watermark = row->watermark;
    if (!row->has_batch) restore_sync_batch(spi, d);
    d.options = core::parse_sync_options(pg::from_jsonb_text(row->options));
    return d;
}

SyncResult run_sync(pg::Spi& spi, const SyncDef& d) {
    // Who started the run, the actor of its events: the caller of batch_sync
    // inline; in a worker (batch_retry, batch_sync in the background) the
    // sync's owner, as which the worker runs it.
    const Oid actor = pg::current_role();
    SyncResult r;
    TimestampTz t0 = GetCurrentTimestamp();
    r.sync_time = pg::iso_timestamp(t0);
    std::optional<std::string> new_watermark;
    store::mark_sync_started(spi, d.id, actor);
    // Extract, transform and load in a subtransaction: a failure leaves no
    // partial load behind and is reported, not raised.
    std::optional<std::string> failure = run_in_subtransaction([&] { extract_and_load(spi, d, &r, &new_watermark); });
    r.success = !failure;
    r.message = failure ? *failure : "synced";
    record_sync_run(spi, d, r, new_watermark, actor, microseconds_since(t0));
    return r;
}

core::Json sync_statistics(pg::Spi& spi, int64_t id, Oid actor) {
    (void)load_sync(spi, id, actor);
    store::SyncStatistics st = store::sync_statistics(spi, id);
    core::Json j = core::Json::object();
    j.set("batch_id", core::Json::number(id));
    j.set("runs", core::Json::number(st.runs));
    j.set("successes", core::Json::number(st.successes));
    j.set("failures", core::Json::number(st.failures));
    j.set("records_synced", core::Json::number(st.records_synced));
    j.set("last_sync_time", st.last_sync_time ? core::Json::string(*st.last_sync_time) : core::Json::null());
    j.set("avg_duration_ms", st.avg_duration_ms ? core::Json::number(*st.avg_duration_ms) : core::Json::null());
    return j;
}

int64_t begin_sync_run(pg::Spi& spi, int64_t id) { return store::begin_sync_run(spi, id); }

namespace {

// Loads the rows of one chunk (see run_sync_chunk), as the sync's owner;
// returns whether rows after it remain.
bool load_chunk(pg::Spi& spi, const SyncDef& d, int chunk_size, SyncStep* st) {
    Plan p = make_plan(spi, d);
    const std::string wm = "s." + pg::ident(p.watermark->name);
    pg::Param last = d.watermark ? pg::text_param(*d.watermark) : pg::null_param(TEXTOID);
    // The chunk ends at the watermark of its chunk_size-th row, and takes
    // every row with that watermark (none is split across chunks).
    pg::Rows bound = spi.query("SELECT (" + wm + ")::pg_catalog.text AS upper FROM " + p.source_sql +
                                   " AS s WHERE ($1::pg_catalog.text IS NULL OR " + wm + " > $1::" +
                                   p.watermark->type + ") ORDER BY " + wm + " OFFSET $2 LIMIT 1",
                               {last, pg::int8_param(chunk_size > 0 ? chunk_size - 1 : 0)});
    std::optional<pg::Row> bound_row = bound.maybe_one();
    std::optional<std::string> upper = bound_row ? bound_row->opt_text("upper") : std::nullopt;
    read_load(spi.query(load_sql(p, d, true), {last, upper ? pg::text_param(*upper) : pg::null_param(TEXTOID)}),
              &st->result, &st->watermark);
    return upper.has_value();
}

}  // namespace

SyncStep run_sync_chunk(pg::Spi& spi, const SyncDef& d, int chunk_size) {
    SyncStep st;
    bool more = false;
    std::optional<std::string> failure = run_in_subtransaction([&] {
        check_owner_exists(d);
        // as run_sync: the owner, restricted
        more = pg::as_role(d.owner, true, [&] { return load_chunk(spi, d, chunk_size, &st); });
    });
    if (failure) {
        st.result.message = *failure;
    } else {
        st.result.success = true;
        st.more = more;
    }
    if (st.result.success && st.watermark) store::save_watermark(spi, d.id, *st.watermark);
    return st;
}

void record_sync_chunk(pg::Spi& spi, int64_t id, int64_t run_id, const SyncStep& st, bool last) {
    store::record_sync_chunk(spi, id, run_id, st.result, st.watermark, last);
}

}  // namespace batch_ops::ops
