#include "ops/runner.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "core/error.hpp"
#include "core/export.hpp"
#include "core/flat_set.hpp"
#include "core/planner.hpp"
#include "pg/jsonb.hpp"
#include "pg/security.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "utils/rls.h"
}

namespace batch_ops::ops {

using core::ItemResult;
using core::quoted;
using core::failed_item;
using core::succeeded_item;
using core::ItemStatus;
using core::Operation;
namespace item_error = core::item_error;

namespace {

// Runs body in a subtransaction. A PostgreSQL error rolls it back and becomes
// a failed Attempt, unless it must end the whole call (then it is rethrown).
core::Attempt attempt(const std::function<void()>& body, bool report_transient) {
    std::optional<pg::PgError> failure = pg::subtransaction(body);
    if (!failure) return {};
    const std::string state = failure->sqlstate();
    if (core::aborts_batch(state)) throw *failure;
    if (core::classify_sqlstate(state).transient && !report_transient) throw *failure;
    core::Attempt a;
    a.ok = false;
    a.sqlstate = state;
    a.message = failure->what();
    return a;
}

using core::csv_field;

class RunnerImpl {
public:
    RunnerImpl(pg::Spi& spi, const TargetInfo& t, const core::Request& r, const core::Actor& a, const RunOptions& o)
        : spi_(spi), t_(t), m_(t.model), r_(r), actor_(a), opts_(o) {}

    void prepare();
    RunOutput run();

private:
    // Keyed operations: everything but bulk_create.
    void prepare_keys();
    void build_keyed_sql();
    // The statement of each keyed operation (main_sql_, and for restore the
    // archive's), `ret` its RETURNING clause; what explain_missing reads.
    void build_delete_sql(const std::string& ret);
    void build_update_sql(const std::string& ret);
    void build_status_update_sql(const std::string& ret);
    void build_archive_sql(const std::string& ret);
    void build_restore_sql(const std::string& ret);
    void build_export_sql();
    void build_explain_sql();
    core::Attempt apply_keys(core::Range range);
    void apply_key_round(const std::vector<std::size_t>& items, std::vector<std::size_t>* again,
                         std::vector<std::pair<std::size_t, ItemResult>>& explained,
                         std::vector<std::pair<std::size_t, std::string>>& rows);
    // Why the statement did not change these items. An item the rules say it
    // should have changed (a live row of the caller's, in an allowed status:
    // it was changed, deleted or re-inserted concurrently after the
    // statement's snapshot) goes to `again` when given, to be run once more,
    // so that its code describes what a statement saw, never a newer row.
    void explain_missing(const std::vector<std::size_t>& missing, std::vector<std::pair<std::size_t, ItemResult>>& out,
                         std::vector<std::size_t>* again);
    bool rls_applies() const;

    // bulk_create
    void prepare_items();
    core::Attempt apply_items(core::Range range);
    const std::string& insert_sql(const std::vector<std::string>& columns, bool fill_owner);

    void run_ranges(const std::function<core::Attempt(core::Range)>& apply);
    std::optional<std::string> missing_privilege() const;
    void fail_all(const std::string& message);
    void finish_export();

    std::string key_filter(const char* alias = nullptr) const;
    double table_rows() const;  // the planner's estimate (pg_class.reltuples)
    // $1: the keys of the given items, as bigint[] for integer keys (no text
    // to parse) or text[], cast in SQL to the key column's array type.
    pg::Param key_array(const std::vector<std::size_t>& items) const;
    std::string live_filter(const char* alias = nullptr) const;
    std::string deleted_filter() const;
    std::string owner_filter(const char* alias = nullptr) const;
    std::string column_list(const char* prefix, bool skip_generated) const;
    bool owner_rule() const { return m_.owner_column && !actor_.admin; }
    std::string item_id(std::size_t index) const;

    pg::Spi& spi_;
    const TargetInfo& t_;
    const core::Target& m_;
    const core::Request& r_;
    core::Actor actor_;
    RunOptions opts_;

    RunOutput out_;
    std::vector<std::string> keys_;       // canonical key per item
    std::vector<int64_t> int_keys_;       // the same, for integer keys
    int64_t key_min_ = INT64_MIN, key_max_ = INT64_MAX;  // range of the key's integer type
    std::vector<std::size_t> runnable_;   // items that reach the database
    std::string main_sql_;
    std::string restore_archive_sql_;
    std::string explain_sql_;
    std::string explain_archive_sql_;
    std::vector<pg::Param> extra_params_;  // $3 ...
    bool soft_ = false;
    std::optional<std::vector<std::string>> from_statuses_;  // status_update: the statuses it may change
    std::unordered_map<std::size_t, std::string> export_rows_;  // item -> row text
    std::vector<std::string> export_columns_;
    std::map<std::string, std::string> insert_sql_;
};

std::string RunnerImpl::item_id(std::size_t i) const {
    if (r_.operation == Operation::BulkCreate) return "#" + std::to_string(i + 1);
    return r_.target_ids[i];
}

std::string RunnerImpl::key_filter(const char* alias) const {
    std::string a = alias ? std::string(alias) + "." : std::string();
    return a + pg::ident(m_.key_column) + " OPERATOR(pg_catalog.=) ANY ($1::" + t_.key_array_type + ")";
}

double RunnerImpl::table_rows() const {
    return pg::guard([&] {
        double rows = 0;
        HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(t_.relid));
        if (HeapTupleIsValid(tup)) {
            rows = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->reltuples;
            ReleaseSysCache(tup);
        }
        return rows;
    });
}

pg::Param RunnerImpl::key_array(const std::vector<std::size_t>& items) const {
    if (m_.key_kind == core::TypeKind::Integer) {
        std::vector<int64_t> v;
        v.reserve(items.size());
        for (auto i : items) v.push_back(int_keys_[i]);
        return pg::int8_array_param(v);
    }
    std::vector<const std::string*> v;
    v.reserve(items.size());
    for (auto i : items) v.push_back(&keys_[i]);
    return pg::text_array_param(v);
}

std::string RunnerImpl::live_filter(const char* alias) const {
    if (!m_.soft_delete_column) return std::string();
    std::string c = (alias ? std::string(alias) + "." : std::string()) + pg::ident(*m_.soft_delete_column);
    return m_.soft_delete_kind == core::SoftDeleteKind::Boolean ? " AND " + c + " IS NOT TRUE"
                                                                : " AND " + c + " IS NULL";
}

std::string RunnerImpl::deleted_filter() const {
    std::string c = pg::ident(*m_.soft_delete_column);
    return m_.soft_delete_kind == core::SoftDeleteKind::Boolean ? " AND " + c + " IS TRUE"
                                                                : " AND " + c + " IS NOT NULL";
}

std::string RunnerImpl::owner_filter(const char* alias) const {
    if (!owner_rule()) return std::string();
    std::string c = (alias ? std::string(alias) + "." : std::string()) + pg::ident(*m_.owner_column);
    return " AND " + c + "::pg_catalog.text OPERATOR(pg_catalog.=) $2";
}

std::string RunnerImpl::column_list(const char* prefix, bool skip_generated) const {
    std::string out;
    for (const auto& c : m_.columns) {
        if (skip_generated && c.generated) continue;
        if (!out.empty()) out += ", ";
        if (prefix) out += prefix;
        out += pg::ident(c.name);
    }
    return out;
}

void RunnerImpl::prepare_keys() {
    const std::size_t n = r_.target_ids.size();
    out_.items.resize(n);
    keys_.resize(n);
    runnable_.reserve(n);
    bool rewritten = false;  // some id is not already in its canonical form
    const bool integer = m_.key_kind == core::TypeKind::Integer;
    if (integer) {
        int_keys_.resize(n);
        const ColumnInfo* key = t_.column(m_.key_column);
        Oid base = pg::guard([&] { return getBaseType(key->type); });
        if (base == INT2OID) key_min_ = INT16_MIN, key_max_ = INT16_MAX;
        if (base == INT4OID) key_min_ = INT32_MIN, key_max_ = INT32_MAX;
    }
    for (std::size_t i = 0; i < n; ++i) {
        out_.items[i].target_id = r_.target_ids[i];
        auto k = core::canonical_key(r_.target_ids[i], m_.key_kind);
        if (!k) {
            const char* type = m_.key_kind == core::TypeKind::Uuid ? "uuid" : "integer";
            out_.items[i] = failed_item(r_.target_ids[i], item_error::validation_failed,
                                   quoted(r_.target_ids[i]) + " is not a valid " + type + " key");
            continue;
        }
        if (integer) {
            int64_t v = std::strtoll(k->c_str(), nullptr, 10);
            if (v < key_min_ || v > key_max_) {
                out_.items[i] = failed_item(r_.target_ids[i], item_error::validation_failed,
                                       quoted(r_.target_ids[i]) + " is out of range for the key column");
                continue;
            }
            int_keys_[i] = v;
        }
        rewritten = rewritten || *k != r_.target_ids[i];
        keys_[i] = std::move(*k);
        runnable_.push_back(i);
    }
    // parse_request rejected duplicate ids as given; two different spellings
    // of one key ("07" and 7) are only found here.
    if (rewritten) {
        core::FlatStringSet seen(runnable_.size());
        for (auto i : runnable_) {
            std::size_t first;
            if (!seen.insert(keys_[i], i, &first))
                throw core::request_error("\"target_ids\" contains duplicate id " + quoted(r_.target_ids[i]),
                                          "It names the same row as " + quoted(r_.target_ids[first]) + ".");
        }
    }
}

}  // namespace

Datum input_value(const core::Json& v, const ColumnInfo& c, bool* isnull, const char* key) {
    *isnull = v.is_null();
    if (*isnull) return (Datum)0;
    std::string text;
    Oid base = pg::guard([&] { return getBaseType(c.type); });
    if (base == JSONOID || base == JSONBOID) text = v.dump();
    else if (v.is_string() || v.is_number()) text = v.text();
    else if (v.is_bool()) text = v.as_bool() ? "true" : "false";
    else text = v.dump();
    const char* s = text.c_str();
    if (c.type == base && (base == TEXTOID || (base == VARCHAROID && c.typmod < 0))) {
        // textin accepts any (already valid UTF-8) string: nothing to catch.
        return pg::guard([&] { return CStringGetTextDatum(s); });
    }
    // In a subtransaction, so that a value the type rejects can be reported as
    // a request error with PostgreSQL's state cleaned up (the worker goes on).
    Datum d = (Datum)0;
    std::optional<pg::PgError> failure = pg::subtransaction([&] {
        d = pg::guard([&] {
            Oid func, ioparam;
            getTypeInputInfo(c.type, &func, &ioparam);
            return OidInputFunctionCall(func, const_cast<char*>(s), ioparam, c.typmod);
        });
    });
    if (failure)
        throw core::request_error(std::string("\"") + key + "\" value for column " + quoted(c.name) + " is not valid",
                                  failure->what());
    return d;
}

namespace {

void RunnerImpl::build_keyed_sql() {
    // The key as stored: only read (through its output function, giving the
    // canonical text) when some item did not match.
    const std::string ret = " RETURNING " + pg::ident(m_.key_column) + " AS k";
    switch (r_.operation) {
        case Operation::Delete: build_delete_sql(ret); break;
        case Operation::Update: build_update_sql(ret); break;
        case Operation::StatusUpdate: build_status_update_sql(ret); break;
        case Operation::Archive: build_archive_sql(ret); break;
        case Operation::Restore: build_restore_sql(ret); break;
        case Operation::Export: build_export_sql(); break;
        case Operation::BulkCreate: break;
    }
    build_explain_sql();
}

void RunnerImpl::build_delete_sql(const std::string& ret) {
    const std::string& T = t_.table;
    soft_ = core::effective_soft_delete(r_, m_);
    if (soft_) {
        const std::string sd = pg::ident(*m_.soft_delete_column);
        const std::string value = m_.soft_delete_kind == core::SoftDeleteKind::Boolean ? "true" : "pg_catalog.now()";
        main_sql_ = "UPDATE " + T + " SET " + sd + " = " + value + " WHERE " + key_filter() + live_filter() +
                    owner_filter() + ret;
    } else {
        main_sql_ = "DELETE FROM " + T + " WHERE " + key_filter() + owner_filter() + ret;
    }
}

void RunnerImpl::build_update_sql(const std::string& ret) {
    core::check_update_fields(r_, m_);
    std::string set;
    int p = 3;
    for (const auto& [name, value] : r_.fields) {
        const ColumnInfo* c = t_.column(name);
        bool isnull;
        Datum d = input_value(value, *c, &isnull);
        extra_params_.push_back({c->type, d, isnull});
        if (!set.empty()) set += ", ";
        set += pg::ident(name) + " = $" + std::to_string(p++);
    }
    main_sql_ = "UPDATE " + t_.table + " SET " + set + " WHERE " + key_filter() + live_filter() + owner_filter() + ret;
}

void RunnerImpl::build_status_update_sql(const std::string& ret) {
    auto from = core::allowed_from_statuses(r_, m_);
    from_statuses_ = from;
    const ColumnInfo* c = t_.column(*m_.status_column);
    if (!c)
        throw core::Error(core::sqlstate::undefined_column, "status column of target " + quoted(m_.name) +
                                                                " no longer exists");
    bool isnull;
    Datum d = input_value(core::Json::string(r_.new_status), *c, &isnull, "operation_data.new_status");
    extra_params_.push_back({c->type, d, false});
    const std::string st = pg::ident(*m_.status_column);
    std::string cond;
    if (from) {
        extra_params_.push_back(pg::text_array_param(*from));
        cond = " AND " + st + "::pg_catalog.text OPERATOR(pg_catalog.=) ANY ($4::pg_catalog.text[])";
    }
    main_sql_ = "UPDATE " + t_.table + " SET " + st + " = $3 WHERE " + key_filter() + live_filter() + owner_filter() +
                cond + ret;
}

void RunnerImpl::build_archive_sql(const std::string& ret) {
    const std::string cols = column_list(nullptr, true);
    std::string extra_cols, extra_vals;
    extra_params_.push_back(r_.archive_reason.empty() ? pg::null_param(TEXTOID) : pg::text_param(r_.archive_reason));
    extra_params_.push_back(r_.archive_location.empty() ? pg::null_param(TEXTOID)
                                                        : pg::text_param(r_.archive_location));
    for (const auto& e : t_.archive_extra) {
        extra_cols += ", " + pg::ident(e);
        if (e == "archived_at") extra_vals += ", pg_catalog.now()";
        else if (e == "archive_reason") extra_vals += ", $3";
        else extra_vals += ", $4";
    }
    main_sql_ = "WITH moved AS (DELETE FROM " + t_.table + " WHERE " + key_filter() + live_filter() + owner_filter() +
                " RETURNING " + cols + ") INSERT INTO " + t_.archive_table + " (" + cols + extra_cols + ") SELECT " +
                cols + extra_vals + " FROM moved" + ret;
}

void RunnerImpl::build_restore_sql(const std::string& ret) {
    const std::string& T = t_.table;
    if (m_.soft_delete_column) {
        const std::string sd = pg::ident(*m_.soft_delete_column);
        const std::string value = m_.soft_delete_kind == core::SoftDeleteKind::Boolean ? "false" : "NULL";
        main_sql_ = "UPDATE " + T + " SET " + sd + " = " + value + " WHERE " + key_filter() + deleted_filter() +
                    owner_filter() + ret;
    }
    if (m_.has_archive) {
        const std::string cols = column_list(nullptr, true);
        restore_archive_sql_ = "WITH moved AS (DELETE FROM " + t_.archive_table + " WHERE " + key_filter() +
                               owner_filter() + " RETURNING " + cols + ") INSERT INTO " + T + " (" + cols +
                               ") SELECT " + cols + " FROM moved" + ret;
        explain_archive_sql_ = "SELECT a." + pg::ident(m_.key_column) + "::pg_catalog.text AS k, " +
                               (m_.owner_column ? "a." + pg::ident(*m_.owner_column) + "::pg_catalog.text"
                                                : std::string("NULL::pg_catalog.text")) +
                               " AS owner" + " FROM " + t_.archive_table + " a WHERE " + key_filter("a");
    }
}

void RunnerImpl::build_export_sql() {
    export_columns_ = core::export_columns(r_, m_);
    std::string sel;
    if (r_.export_format == core::ExportFormat::Csv) {
        for (std::size_t i = 0; i < export_columns_.size(); ++i)
            sel += ", t." + pg::ident(export_columns_[i]) + "::pg_catalog.text AS c" + std::to_string(i + 1);
    } else {
        std::string inner;
        for (const auto& c : export_columns_) inner += (inner.empty() ? "t." : ", t.") + pg::ident(c);
        sel = ", (SELECT pg_catalog.to_json(r) FROM (SELECT " + inner + ") r)::pg_catalog.text AS j";
    }
    main_sql_ = "SELECT t." + pg::ident(m_.key_column) + "::pg_catalog.text AS k" + sel + " FROM " + t_.table +
                " t WHERE " + key_filter("t") + live_filter("t") + owner_filter("t");
}

// What explain_missing reads of the rows a statement did not change.
void RunnerImpl::build_explain_sql() {
    std::string deleted = "false";
    if (m_.soft_delete_column) {
        const std::string sd = "t." + pg::ident(*m_.soft_delete_column);
        deleted = m_.soft_delete_kind == core::SoftDeleteKind::Boolean ? "(" + sd + " IS TRUE)"
                                                                       : "(" + sd + " IS NOT NULL)";
    }
    explain_sql_ = "SELECT t." + pg::ident(m_.key_column) + "::pg_catalog.text AS k, " + deleted + " AS deleted, " +
                   (m_.owner_column ? "t." + pg::ident(*m_.owner_column) + "::pg_catalog.text"
                                    : std::string("NULL::pg_catalog.text")) +
                   " AS owner, " +
                   (m_.status_column ? "t." + pg::ident(*m_.status_column) + "::pg_catalog.text"
                                     : std::string("NULL::pg_catalog.text")) +
                   " AS status FROM " + t_.table + " t WHERE " + key_filter("t");
}

bool RunnerImpl::rls_applies() const {
    Oid relid = t_.relid;
    return pg::guard([&] { return check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED; });
}

void RunnerImpl::explain_missing(const std::vector<std::size_t>& missing,
                                 std::vector<std::pair<std::size_t, ItemResult>>& out, std::vector<std::size_t>* again) {
    pg::Param ks = key_array(missing);
    struct Seen {
        bool deleted;
        std::optional<std::string> owner;
        std::optional<std::string> status;
    };
    std::unordered_map<std::string, Seen> found;
    for (pg::Row row : spi_.query(explain_sql_, {ks}))
        found[row.text("k")] = Seen{row.boolean("deleted"), row.opt_text("owner"), row.opt_text("status")};
    std::unordered_map<std::string, std::optional<std::string>> archived;
    if (r_.operation == Operation::Restore && !explain_archive_sql_.empty()) {
        for (pg::Row row : spi_.query(explain_archive_sql_, {ks})) archived[row.text("k")] = row.opt_text("owner");
    }
    for (auto i : missing) {
        const std::string& id = r_.target_ids[i];
        auto it = found.find(keys_[i]);
        if (it == found.end()) {
            auto a = archived.find(keys_[i]);
            if (a != archived.end() && owner_rule() && a->second != actor_.role)
                out.emplace_back(i, failed_item(id, item_error::permission_denied, "row is owned by another role"));
            else if (a != archived.end())
                out.emplace_back(i, failed_item(id, item_error::permission_denied,
                                           "row level security does not allow restoring this row"));
            else
                out.emplace_back(i, failed_item(id, item_error::not_found, "row not found"));
            continue;
        }
        const Seen& row = it->second;
        if (owner_rule() && row.owner != actor_.role) {
            out.emplace_back(i, failed_item(id, item_error::permission_denied, "row is owned by another role"));
        } else if (r_.operation == Operation::Delete && soft_ && row.deleted) {
            out.emplace_back(i, succeeded_item(id, "already deleted"));
        } else if (r_.operation == Operation::Restore && !row.deleted) {
            out.emplace_back(i, succeeded_item(id, "not deleted"));
        } else if (r_.operation != Operation::Restore && row.deleted && m_.soft_delete_column) {
            out.emplace_back(i, failed_item(id, item_error::not_found, "row is deleted"));
        } else if (r_.operation == Operation::StatusUpdate && from_statuses_ &&
                   std::find(from_statuses_->begin(), from_statuses_->end(), row.status.value_or("")) ==
                       from_statuses_->end()) {
            out.emplace_back(i, failed_item(id, item_error::invalid_transition,
                                       "cannot change status from " + quoted(row.status.value_or("")) + " to " +
                                           quoted(r_.new_status)));
        } else if (rls_applies()) {
            out.emplace_back(i, failed_item(id, item_error::permission_denied,
                                       "row level security does not allow this change"));
        } else if (again) {
            again->push_back(i);
        } else {
            out.emplace_back(i, failed_item(id, item_error::error,
                                       "the row was changed concurrently while the batch ran; retry the batch"));
        }
    }
}

core::Attempt RunnerImpl::apply_keys(core::Range range) {
    std::vector<std::pair<std::size_t, ItemResult>> explained;
    std::vector<std::pair<std::size_t, std::string>> rows;
    core::Attempt a = attempt(
        [&] {
            explained.clear();
            rows.clear();
            std::vector<std::size_t> items(runnable_.begin() + range.begin, runnable_.begin() + range.end);
            // At most three statements: the items a statement missed because
            // they changed concurrently run again (see explain_missing).
            for (int round = 0; !items.empty(); ++round) {
                std::vector<std::size_t> again;
                apply_key_round(items, round < 2 ? &again : nullptr, explained, rows);
                items.swap(again);
            }
        },
        opts_.dry_run);
    if (a.ok) {
        const std::string ok_message = core::success_message(r_.operation, soft_);
        for (std::size_t p = range.begin; p < range.end; ++p) {
            ItemResult& it = out_.items[runnable_[p]];
            it.status = ItemStatus::Succeeded;
            it.message = ok_message;
            it.error_code.clear();
            it.attempts = 1;
        }
        for (auto& [i, res] : explained) out_.items[i] = std::move(res);
        for (auto& [i, row] : rows) export_rows_[i] = std::move(row);
    }
    return a;
}

void RunnerImpl::apply_key_round(const std::vector<std::size_t>& items, std::vector<std::size_t>* again,
                                 std::vector<std::pair<std::size_t, ItemResult>>& explained,
                                 std::vector<std::pair<std::size_t, std::string>>& rows) {
    const bool is_export = r_.operation == Operation::Export;
    std::vector<pg::Param> params = {key_array(items), pg::text_param(actor_.role)};
    params.insert(params.end(), extra_params_.begin(), extra_params_.end());

    // Keys are distinct, so when the statement changed as many rows as there
    // are keys, every item succeeded and the returned keys need not be read:
    // the common case costs no per-row work here.
    bool all_done = false;
    std::unordered_set<std::string> done;
    std::unordered_map<std::string, std::string> payload;
    if (!main_sql_.empty()) {
        // A range that is a small slice of the table (a worker's chunk) is
        // found through the key's unique index; the planner's default costs
        // would scan the whole table for every chunk.
        auto run_main = [&] { return spi_.query(main_sql_, params); };
        pg::Rows result = static_cast<double>(items.size()) * 20.0 < table_rows()
                              ? pg::with_setting("enable_seqscan", "off", run_main)
                              : run_main();
        const uint64_t n = result.size();
        all_done = n == items.size() && !is_export;
        if (!all_done) {
            done.reserve(n * 2);
            for (pg::Row row : result) {
                std::string k = row.text("k");
                if (is_export) {
                    if (r_.export_format == core::ExportFormat::Csv) {
                        std::string line;
                        for (std::size_t c = 0; c < export_columns_.size(); ++c) {
                            if (c) line += ",";
                            line += csv_field(row.opt_text(("c" + std::to_string(c + 1)).c_str()));
                        }
                        payload[k] = std::move(line);
                    } else {
                        payload[k] = row.text("j");
                    }
                }
                done.insert(std::move(k));
            }
        }
    }
    if (!restore_archive_sql_.empty() && !all_done) {
        std::vector<std::size_t> rest;
        for (auto i : items)
            if (!done.count(keys_[i])) rest.push_back(i);
        if (!rest.empty()) {
            params[0] = key_array(rest);
            for (pg::Row row : spi_.query(restore_archive_sql_, params)) done.insert(row.text("k"));
        }
    }
    if (all_done) return;
    std::vector<std::size_t> missing;
    for (std::size_t i : items) {
        auto it = done.find(keys_[i]);
        if (it == done.end()) missing.push_back(i);
        else if (is_export) rows.emplace_back(i, std::move(payload[keys_[i]]));
    }
    if (!missing.empty()) explain_missing(missing, explained, again);
}

void RunnerImpl::prepare_items() {
    const std::size_t n = r_.items.size();
    out_.items.resize(n);
    runnable_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        out_.items[i].target_id = item_id(i);
        if (auto problem = core::check_bulk_item(r_.items[i], m_, actor_, r_.skip_validation)) {
            out_.items[i] = failed_item(item_id(i), problem->error_code.c_str(), problem->message);
            continue;
        }
        runnable_.push_back(i);
    }
}

const std::string& RunnerImpl::insert_sql(const std::vector<std::string>& columns, bool fill_owner) {
    std::string sig;
    for (const auto& c : columns) sig += c + '\x1f';
    if (fill_owner) sig += "\x1e";
    auto it = insert_sql_.find(sig);
    if (it != insert_sql_.end()) return it->second;
    std::string cols, vals;
    for (const auto& c : columns) {
        cols += (cols.empty() ? "" : ", ") + pg::ident(c);
        vals += (vals.empty() ? "r." : ", r.") + pg::ident(c);
    }
    if (fill_owner) {
        cols += (cols.empty() ? "" : ", ") + pg::ident(*m_.owner_column);
        vals += std::string(vals.empty() ? "" : ", ") + "$2";
    }
    std::string sql = "INSERT INTO " + t_.table + " (" + cols + ") SELECT " + vals +
                      " FROM pg_catalog.jsonb_populate_recordset(NULL::" + t_.table + ", $1) r RETURNING " +
                      pg::ident(m_.key_column) + "::pg_catalog.text AS k";
    return insert_sql_.emplace(sig, std::move(sql)).first->second;
}

core::Attempt RunnerImpl::apply_items(core::Range range) {
    std::vector<std::pair<std::size_t, ItemResult>> outcomes;
    // Runs of consecutive items with the same column set, one INSERT each, in
    // request order (so rows are created, and keys drawn, in that order).
    std::vector<std::pair<std::vector<std::string>, std::vector<std::size_t>>> groups;
    for (std::size_t p = range.begin; p < range.end; ++p) {
        std::size_t i = runnable_[p];
        std::vector<std::string> cols;
        for (const auto& m : r_.items[i].members()) cols.push_back(m.first);
        std::sort(cols.begin(), cols.end());
        if (!groups.empty() && groups.back().first == cols) groups.back().second.push_back(i);
        else groups.push_back({std::move(cols), {i}});
    }
    core::Attempt a = attempt(
        [&] {
            outcomes.clear();
            for (const auto& [cols, members] : groups) {
                const bool fill_owner = m_.owner_column && std::find(cols.begin(), cols.end(), *m_.owner_column) == cols.end();
                core::Json arr = core::Json::array();
                for (auto i : members) arr.push(r_.items[i]);
                pg::Rows created =
                    spi_.query(insert_sql(cols, fill_owner), {pg::jsonb_text_param(arr.dump()), pg::text_param(actor_.role)});
                if (created.size() != members.size()) {
                    if (members.size() == 1) {
                        outcomes.emplace_back(members[0], failed_item(item_id(members[0]), item_error::error,
                                                                 "row was not created: a trigger skipped it"));
                        continue;
                    }
                    pg::guard([] {
                        ereport(ERROR, (errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
                                        errmsg("a trigger skipped some of the rows")));
                    });
                }
                const char* ok = core::success_message(Operation::BulkCreate, false);
                for (std::size_t k = 0; k < members.size(); ++k)
                    outcomes.emplace_back(members[k], succeeded_item(created.at(k).text("k"), ok));
            }
        },
        opts_.dry_run);
    if (a.ok)
        for (auto& [i, res] : outcomes) out_.items[i] = std::move(res);
    return a;
}

void RunnerImpl::run_ranges(const std::function<core::Attempt(core::Range)>& apply) {
    if (runnable_.empty()) return;
    auto stats = core::isolate_failures(
        {0, runnable_.size()}, apply,
        [&](std::size_t p, const core::Attempt& a) {
            std::size_t i = runnable_[p];
            auto c = core::classify_sqlstate(a.sqlstate);
            out_.items[i] = failed_item(item_id(i), c.error_code, core::item_error_message(c, a.sqlstate, a.message));
        },
        [](const core::Attempt& a) { return core::is_item_specific(a.sqlstate); });
    out_.statements += stats.attempts;
}

// The table privileges an operation needs. Checked before any statement runs
// so that a caller without them gets one clear PERMISSION_DENIED per item
// instead of a split of every chunk down to single items.
std::optional<std::string> RunnerImpl::missing_privilege() const {
    struct Need {
        Oid rel;
        AclMode mode;
        const char* what;
    };
    std::vector<Need> needs = {{t_.relid, ACL_SELECT, "SELECT"}};
    const Oid archive = t_.archive_relid;
    switch (r_.operation) {
        case Operation::Delete:
            needs.push_back(soft_ ? Need{t_.relid, ACL_UPDATE, "UPDATE"} : Need{t_.relid, ACL_DELETE, "DELETE"});
            break;
        case Operation::Update:
        case Operation::StatusUpdate: needs.push_back({t_.relid, ACL_UPDATE, "UPDATE"}); break;
        case Operation::Archive:
            needs.push_back({t_.relid, ACL_DELETE, "DELETE"});
            needs.push_back({archive, ACL_INSERT, "INSERT"});
            break;
        case Operation::Restore:
            if (m_.soft_delete_column) needs.push_back({t_.relid, ACL_UPDATE, "UPDATE"});
            if (m_.has_archive) {
                needs.push_back({archive, ACL_SELECT, "SELECT"});
                needs.push_back({archive, ACL_DELETE, "DELETE"});
                needs.push_back({t_.relid, ACL_INSERT, "INSERT"});
            }
            break;
        case Operation::Export: break;
        case Operation::BulkCreate: needs.push_back({t_.relid, ACL_INSERT, "INSERT"}); break;
    }
    Oid user = GetUserId();
    for (const auto& n : needs) {
        if (!OidIsValid(n.rel)) continue;
        bool ok = pg::guard([&] {
            return pg_class_aclcheck(n.rel, user, n.mode) == ACLCHECK_OK ||
                   pg_attribute_aclcheck_all(n.rel, user, n.mode, ACLMASK_ANY) == ACLCHECK_OK;
        });
        if (!ok) {
            const char* rel = pg::guard([&] { return get_rel_name(n.rel); });
            return std::string("permission denied for table ") + (rel ? rel : "?") + " (" + n.what + ")";
        }
    }
    return std::nullopt;
}

void RunnerImpl::fail_all(const std::string& message) {
    for (auto p : runnable_) out_.items[p] = failed_item(item_id(p), item_error::permission_denied, message);
    runnable_.clear();
}

void RunnerImpl::finish_export() {
    std::string content;
    int64_t n = 0;
    if (r_.export_format == core::ExportFormat::Csv) {
        for (std::size_t c = 0; c < export_columns_.size(); ++c) {
            if (c) content += ",";
            content += csv_field(export_columns_[c]);
        }
        content += "\n";
    } else if (r_.export_format == core::ExportFormat::Json) {
        content += "[";
    }
    for (std::size_t i = 0; i < out_.items.size(); ++i) {
        auto it = export_rows_.find(i);
        if (it == export_rows_.end()) continue;
        if (r_.export_format == core::ExportFormat::Json) {
            if (n) content += ",";
            content += "\n" + it->second;
        } else {
            content += it->second + "\n";
        }
        ++n;
    }
    if (r_.export_format == core::ExportFormat::Json) content += n ? "\n]" : "]";
    out_.export_content = std::move(content);
    out_.export_rows = n;
}

void RunnerImpl::prepare() {
    // What the batch may do was fixed when it was submitted (a delete records
    // whether it is soft); it is checked again here, when it runs: the target
    // may have been registered again since, and the submitter's rights changed.
    if (r_.operation == Operation::Delete && r_.soft_delete.value_or(false) && !m_.soft_delete_column)
        throw core::Error(core::sqlstate::object_not_in_state,
                          "target " + quoted(m_.name) + " no longer has a soft-delete column",
                          "The batch was submitted as a soft delete; it is never run as a hard delete.",
                          "Register the target again with its soft_delete_column, or submit a new batch.");
    core::check_supported(r_, m_);
    core::check_request_privilege(r_, m_, actor_);
    if (r_.operation == Operation::BulkCreate) {
        prepare_items();
        out_.success_message = core::success_message(Operation::BulkCreate, false);
    } else {
        prepare_keys();
        build_keyed_sql();
        out_.success_message = core::success_message(r_.operation, soft_);
    }
}

RunOutput RunnerImpl::run() {
    const bool bulk = r_.operation == Operation::BulkCreate;
    // A dry run, and an all-or-nothing bulk_create, run inside one outer
    // subtransaction that is rolled back at the end (or on the first failure).
    const bool all_or_nothing = bulk && !r_.continue_on_error;
    std::optional<pg::SubTransaction> outer;
    if (opts_.dry_run || all_or_nothing) {
        outer.emplace();
        if (opts_.dry_run) {
            spi_.execute("SET CONSTRAINTS ALL IMMEDIATE");
            if (opts_.lock_timeout_ms > 0) {
                std::string v = std::to_string(opts_.lock_timeout_ms);
                spi_.execute("SELECT pg_catalog.set_config('lock_timeout', $1, true)", {pg::text_param(v)});
            }
        }
    }
    if (auto denied = missing_privilege()) fail_all(*denied);
    if (bulk) {
        const bool precheck_failed = std::any_of(out_.items.begin(), out_.items.end(),
                                                 [](const ItemResult& r) { return r.status == ItemStatus::Failed; });
        if (!(all_or_nothing && precheck_failed)) run_ranges([this](core::Range r) { return apply_items(r); });
    } else {
        run_ranges([this](core::Range r) { return apply_keys(r); });
        if (r_.operation == Operation::Export) finish_export();
    }
    if (outer) {
        bool any_failed = std::any_of(out_.items.begin(), out_.items.end(),
                                      [](const ItemResult& r) { return r.status == ItemStatus::Failed; });
        if (opts_.dry_run || (all_or_nothing && any_failed)) outer->rollback();
        else outer->commit();
        if (all_or_nothing && any_failed) {
            std::size_t first = 0;
            while (out_.items[first].status != ItemStatus::Failed) ++first;
            for (std::size_t i = 0; i < out_.items.size(); ++i) {
                if (out_.items[i].status == ItemStatus::Failed) continue;
                out_.items[i].target_id = item_id(i);
                out_.items[i].status = ItemStatus::Skipped;
                out_.items[i].error_code.clear();
                out_.items[i].message = "not created: item " + item_id(first) + " failed";
                out_.items[i].attempts = out_.items[i].attempts ? out_.items[i].attempts : 1;
            }
        }
    }
    return std::move(out_);
}

}  // namespace

class Runner : public RunnerImpl {
    using RunnerImpl::RunnerImpl;
};

ItemRun::ItemRun(pg::Spi& spi, const TargetInfo& target, const core::Request& request, const core::Actor& actor,
                 const RunOptions& options)
    : runner_(std::make_unique<Runner>(spi, target, request, actor, options)) {}

ItemRun::~ItemRun() = default;

void ItemRun::prepare() { runner_->prepare(); }

RunOutput ItemRun::run() { return runner_->run(); }

}  // namespace batch_ops::ops
