// libFuzzer target over src/core: the request parser and the target checks, the sync
// options, status transitions, the planner, item results and the response, export
// documents and core::Json's serialiser. Built with ASan and UBSan by CMakeLists.txt
// (-DBATCH_OPS_FUZZ=ON) and run by `test/check fuzz`; see docs/reliability.md.
//
// The input is decoded into one core::Json value (test/fuzz/decoder.hpp: a structured
// encoding, not JSON text) and handed to every entry point. Besides the sanitizers,
// the checks below are the oracle: a core::Error must carry the SQLSTATE its function
// documents, any other exception escapes and is a crash, and what succeeds must keep
// the invariants the rest of the extension relies on (findings abort with a message).
//
// BATCH_OPS_FUZZ_PRINT=1 prints each decoded input (flags and JSON) to stdout: run the
// binary on a file to see what a seed or a crash input holds.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/export.hpp"
#include "core/json.hpp"
#include "core/planner.hpp"
#include "core/request.hpp"
#include "core/results.hpp"
#include "core/status.hpp"
#include "core/sync.hpp"
#include "core/target.hpp"
#include "decoder.hpp"
#include "json_check.hpp"

using namespace batch_ops::core;
using batch_ops::fuzz::check_dump;
using batch_ops::fuzz::Decoder;

namespace {

const Json* g_input = nullptr;

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "\n==batch_ops fuzz== invariant violated: %s\n", what.c_str());
    if (g_input) std::fprintf(stderr, "==batch_ops fuzz== input: %s\n", g_input->dump().c_str());
    std::fflush(stderr);
    std::abort();
}

#define REQUIRE(cond, what)                                                                   \
    do {                                                                                      \
        if (!(cond)) finding(std::string(#cond) + " (" + std::string(what) + ")");            \
    } while (0)

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

uint64_t fnv(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

// ---------------------------------------------------------------------------------
// The input's flags byte.
struct Flags {
    uint8_t bits = 0;
    int limits_profile() const { return bits & 3; }
    bool admin() const { return bits & 4; }
    bool skip_validation() const { return bits & 8; }
    std::size_t response_limit() const { return (bits & 16) ? 2 : 1000; }
    std::size_t chunk_size() const { return (bits >> 5) & 7; }  // 0 .. 7 (0 means 1)
};

Limits limits_for(const Flags& f) {
    Limits l;
    switch (f.limits_profile()) {
        case 1:  // tiny: every limit is within reach of a short input
            l.max_items = 3;
            l.max_id_length = 8;
            l.max_text_length = 8;
            l.max_key_length = 4;
            l.max_identifier_length = 8;
            l.max_depends_on = 0;  // any dependency is one too many
            break;
        case 2:
            l.max_items = 50;
            l.max_depends_on = 5;
            break;
        default: break;
    }
    return l;
}

// ---------------------------------------------------------------------------------
// Targets: the shapes register_target produces.
Column col(const std::string& name, TypeKind kind, bool not_null = false, bool has_default = false,
           bool generated = false) {
    Column c;
    c.name = name;
    c.kind = kind;
    c.not_null = not_null;
    c.has_default = has_default;
    c.generated = generated;
    return c;
}

// Every optional feature: owner, status with transitions, soft delete, archive.
Target letters() {
    Target t;
    t.name = "letters";
    t.relation = "app.letters";
    t.columns = {col("id", TypeKind::Integer, true, true),  col("title", TypeKind::Text, true),
                 col("body", TypeKind::Text),               col("owner", TypeKind::Text, true),
                 col("status", TypeKind::Text, true, true), col("deleted_at", TypeKind::Timestamp),
                 col("score", TypeKind::Numeric),           col("flag", TypeKind::Boolean),
                 col("ref", TypeKind::Uuid),                col("meta", TypeKind::Json),
                 col("total", TypeKind::Integer, false, false, true)};
    t.key_column = "id";
    t.key_kind = TypeKind::Integer;
    t.owner_column = "owner";
    t.status_column = "status";
    t.soft_delete_column = "deleted_at";
    t.soft_delete_kind = SoftDeleteKind::Timestamp;
    t.has_archive = true;
    t.allowed_statuses = std::vector<std::string>{"draft", "sent", "archived"};
    t.transitions = std::map<std::string, std::vector<std::string>>{{"draft", {"sent"}}, {"sent", {"archived"}}};
    return t;
}

// A text key and a list of updatable columns.
Target tags() {
    Target t;
    t.name = "tags";
    t.relation = "app.tags";
    t.columns = {col("code", TypeKind::Text, true), col("label", TypeKind::Text, true), col("score", TypeKind::Numeric)};
    t.key_column = "code";
    t.key_kind = TypeKind::Text;
    t.updatable_columns = std::vector<std::string>{"label"};
    return t;
}

// A uuid key, a boolean soft-delete column, statuses without transitions, no updatable column.
Target docs() {
    Target t;
    t.name = "docs";
    t.relation = "app.docs";
    t.columns = {col("ref", TypeKind::Uuid, true, true), col("title", TypeKind::Text, true),
                 col("deleted", TypeKind::Boolean, true, true), col("status", TypeKind::Text),
                 col("meta", TypeKind::Json), col("owner", TypeKind::Other)};
    t.key_column = "ref";
    t.key_kind = TypeKind::Uuid;
    t.owner_column = "owner";
    t.status_column = "status";
    t.soft_delete_column = "deleted";
    t.soft_delete_kind = SoftDeleteKind::Boolean;
    t.allowed_statuses = std::vector<std::string>{"draft", "sent"};
    t.updatable_columns = std::vector<std::string>{};
    return t;
}

Target plain() {
    Target t;
    t.name = "plain";
    t.relation = "app.plain";
    t.columns = {col("id", TypeKind::Text, true), col("note", TypeKind::Text)};
    t.key_column = "id";
    t.key_kind = TypeKind::Text;
    return t;
}

// A target whose columns are the names the request uses, so that the per-column
// checks run past "column does not exist".
Target from_request(const Request& r) {
    static const TypeKind kinds[] = {TypeKind::Integer, TypeKind::Text,      TypeKind::Numeric,
                                     TypeKind::Boolean, TypeKind::Uuid,      TypeKind::Timestamp,
                                     TypeKind::Json,    TypeKind::Other};
    std::vector<std::string> names;
    auto add = [&](const std::string& n) {
        if (!contains(names, n)) names.push_back(n);
    };
    for (const auto& f : r.fields) add(f.first);
    for (const auto& item : r.items)
        for (const auto& m : item.members()) add(m.first);
    if (r.include_fields)
        for (const auto& n : *r.include_fields) add(n);
    for (const auto& n : r.exclude_fields) add(n);
    Target t;
    t.name = "dynamic";
    t.relation = "app.dynamic";
    for (std::size_t i = 0; i < names.size(); ++i)
        t.columns.push_back(col(names[i], kinds[fnv(names[i]) % 8], i % 2 == 0, i % 3 == 0, i % 5 == 4));
    if (t.columns.empty()) t.columns.push_back(col("id", TypeKind::Integer, true));
    t.key_column = t.columns.front().name;
    t.key_kind = t.columns.front().kind;
    if (t.columns.size() > 1) t.owner_column = t.columns.back().name;
    return t;
}

// ---------------------------------------------------------------------------------
void expect_error(const Error& e, const char* sqlstate, const char* where) {
    REQUIRE(e.sqlstate() == sqlstate, std::string(where) + " raised " + e.sqlstate() + ": " + e.what());
    REQUIRE(std::string(e.what()).size() > 0, where);
}

void expect_request_error(const Error& e, const char* where) {
    expect_error(e, sqlstate::invalid_parameter_value, where);
    REQUIRE(std::string(e.what()).rfind("invalid batch request: ", 0) == 0, std::string(where) + ": " + e.what());
}

bool is_canonical_integer(const std::string& s) {
    std::size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
    if (i == s.size()) return false;
    if (s[i] == '0') return s.size() == i + 1 && i == 0;
    return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void check_key(const std::string& id, TypeKind kind) {
    std::optional<std::string> k = canonical_key(id, kind);
    if (!k) {
        REQUIRE(kind == TypeKind::Integer || kind == TypeKind::Uuid, "only integer and uuid keys can be invalid");
        return;
    }
    REQUIRE(canonical_key(*k, kind) == k, "canonical_key is idempotent: " + id + " -> " + *k);
    if (kind == TypeKind::Integer) REQUIRE(is_canonical_integer(*k), id + " -> " + *k);
    if (kind == TypeKind::Uuid) REQUIRE(k->size() == 36, id + " -> " + *k);
}

// ---------------------------------------------------------------------------------
// Strings: keys, CSV fields, names, SQLSTATEs.

// Reads back one field written by csv_field (no NULL marker: that is an empty field).
std::optional<std::string> csv_unquote(const std::string& f) {
    if (f.empty() || f[0] != '"') {
        if (f.find_first_of(",\"\r\n") != std::string::npos) return std::nullopt;
        return f;
    }
    if (f.size() < 2 || f.back() != '"') return std::nullopt;
    std::string out;
    for (std::size_t i = 1; i + 1 < f.size(); ++i) {
        if (f[i] == '"') {
            if (i + 2 >= f.size() || f[i + 1] != '"') return std::nullopt;
            ++i;
        }
        out.push_back(f[i]);
    }
    return out;
}

void check_string(const std::string& s) {
    for (TypeKind kind : {TypeKind::Integer, TypeKind::Uuid, TypeKind::Text}) check_key(s, kind);

    std::string field = csv_field(s);
    REQUIRE(csv_unquote(field) == s, "csv_field reads back: " + field);
    if (!s.empty() && (s.front() == ' ' || s.back() == ' ')) REQUIRE(field[0] == '"', "edge spaces are quoted");

    if (auto op = parse_operation(s)) REQUIRE(s == to_string(*op), s);
    if (auto st = parse_batch_status(s)) {
        REQUIRE(s == to_string(*st), s);
        // The state machine: an ended batch only goes back to the queue (a
        // failed one: a retry; a cancelled one: batch_resume), or, when it is
        // a sync, runs again or is queued again; a succeeded operation batch
        // is final.
        for (int k = 0; k <= static_cast<int>(BatchStatus::Cancelled); ++k) {
            const auto to = static_cast<BatchStatus>(k);
            if (can_transition(*st, to, false)) REQUIRE(can_transition(*st, to, true), s);
            if (is_terminal(*st) && can_transition(*st, to, true))
                REQUIRE(to == BatchStatus::Running || to == BatchStatus::Queued, s + " -> " + to_string(to));
            if (is_terminal(*st) && can_transition(*st, to, false))
                REQUIRE((*st == BatchStatus::Failed || *st == BatchStatus::Cancelled) && to == BatchStatus::Queued,
                        s + " -> " + to_string(to));
        }
    }
    if (!s.empty()) {
        if (auto ist = item_status_from_code(s[0])) REQUIRE(static_cast<char>(*ist) == s[0], s);
    }
    if (is_valid_sync_name(s)) REQUIRE(!s.empty() && s.size() <= 63, s);
    if (is_safe_identifier(s, 63)) REQUIRE(!s.empty() && s.size() <= 63 && s.find('"') == std::string::npos, s);
    (void)source_is_query(s);

    Classified c = classify_sqlstate(s);
    static const std::set<std::string> codes = {
        item_error::not_found,         item_error::permission_denied, item_error::invalid_transition,
        item_error::constraint_violation, item_error::validation_failed, item_error::lock_timeout,
        item_error::cancelled,         item_error::upstream_failed,   item_error::error};
    REQUIRE(c.error_code && codes.count(c.error_code), s);
    (void)aborts_batch(s);
    (void)is_item_specific(s);
    REQUIRE(!item_error_message(c, s, "m").empty(), s);
}

void collect_strings(const Json& j, std::vector<const std::string*>& out) {
    if (out.size() >= 256) return;
    switch (j.type()) {
        case Json::Type::String: out.push_back(&j.text()); break;
        case Json::Type::Array:
            for (const auto& e : j.items()) collect_strings(e, out);
            break;
        case Json::Type::Object:
            for (const auto& [k, v] : j.members()) {
                out.push_back(&k);
                collect_strings(v, out);
            }
            break;
        default: break;
    }
}

// ---------------------------------------------------------------------------------
// Export documents, written as RunnerImpl::finish_export writes one chunk's content,
// and merged as batch_store's append_export merges them chunk by chunk.

std::string cell(const Json* v) {
    if (!v || v->is_null()) return csv_field(std::nullopt);
    if (v->is_string() || v->is_number()) return csv_field(v->text());
    if (v->is_bool()) return csv_field(std::string(v->as_bool() ? "t" : "f"));
    return csv_field(v->dump());
}

std::string export_doc(ExportFormat format, const std::vector<std::string>& columns,
                       const std::vector<const Json*>& rows, std::size_t b, std::size_t e) {
    std::string content;
    if (format == ExportFormat::Csv) {
        for (std::size_t c = 0; c < columns.size(); ++c) {
            if (c) content += ",";
            content += csv_field(columns[c]);
        }
        content += "\n";
    } else if (format == ExportFormat::Json) {
        content += "[";
    }
    for (std::size_t i = b; i < e; ++i) {
        std::string line;
        if (format == ExportFormat::Csv) {
            for (std::size_t c = 0; c < columns.size(); ++c) {
                if (c) line += ",";
                line += cell(rows[i]->find(columns[c]));
            }
        } else {
            line = rows[i]->dump();
        }
        if (format == ExportFormat::Json) {
            if (i > b) content += ",";
            content += "\n" + line;
        } else {
            content += line + "\n";
        }
    }
    if (format == ExportFormat::Json) content += e > b ? "\n]\n" : "]\n";
    return content;
}

void collect_objects(const Json& j, std::vector<const Json*>& out) {
    if (out.size() >= 32) return;
    if (j.is_object()) out.push_back(&j);
    if (j.is_array())
        for (const auto& e : j.items()) collect_objects(e, out);
    if (j.is_object())
        for (const auto& m : j.members()) collect_objects(m.second, out);
}

void check_export_merge(const std::vector<std::string>& columns, const std::vector<const Json*>& rows, uint8_t split) {
    if (columns.empty()) return;
    const std::size_t n = rows.size();
    const std::size_t a = n ? split % (n + 1) : 0;
    const std::size_t b = a + (n - a) / 2;
    for (ExportFormat f : {ExportFormat::Json, ExportFormat::Ndjson, ExportFormat::Csv}) {
        std::string merged = merge_export(f, export_doc(f, columns, rows, 0, a), export_doc(f, columns, rows, a, b));
        merged = merge_export(f, merged, export_doc(f, columns, rows, b, n));
        REQUIRE(merged == export_doc(f, columns, rows, 0, n),
                std::string(to_string(f)) + " chunks merge into the whole export: got " + Json::string(merged).dump());
        // A background export starts as the empty document of its submission,
        // and each chunk's export is merged into it.
        std::string from_empty = empty_export(f, columns);
        REQUIRE(from_empty == export_doc(f, columns, rows, 0, 0),
                std::string(to_string(f)) + " empty export is the export of no rows: got " + Json::string(from_empty).dump());
        for (auto [lo, hi] : {std::pair{std::size_t{0}, a}, std::pair{a, b}, std::pair{b, n}})
            from_empty = merge_export(f, from_empty, export_doc(f, columns, rows, lo, hi));
        REQUIRE(from_empty == export_doc(f, columns, rows, 0, n),
                std::string(to_string(f)) + " chunks merge into the empty export: got " + Json::string(from_empty).dump());
        REQUIRE(merged.empty() || merged.back() == '\n',
                std::string(to_string(f)) + " export ends with a line end: got " + Json::string(merged).dump());
    }
}

// ---------------------------------------------------------------------------------
// The planner and the results of a request's items.

std::string item_text(const Request& r, std::size_t i) {
    return r.operation == Operation::BulkCreate ? r.items[i].dump() : r.target_ids[i];
}

void check_planner(const Request& r, const Flags& flags) {
    const std::size_t n = r.item_count();
    const std::size_t cs = flags.chunk_size();
    std::vector<Range> ranges = chunk_ranges(n, cs);
    std::size_t next = 0;
    for (const Range& rg : ranges) {
        REQUIRE(rg.begin == next && rg.end > rg.begin && rg.size() <= std::max<std::size_t>(cs, 1), "chunk_ranges");
        next = rg.end;
    }
    REQUIRE(next == n, "chunk_ranges covers every item");

    std::vector<bool> bad(n);
    for (std::size_t i = 0; i < n; ++i) bad[i] = (fnv(item_text(r, i)) >> 7) % 3 == 0;
    const bool whole = flags.admin();  // some errors fail a whole range
    for (const Range& rg : ranges) {
        std::vector<std::size_t> failed;
        auto apply = [&](Range x) {
            REQUIRE(x.begin >= rg.begin && x.end <= rg.end && x.size() > 0, "attempted range inside the chunk");
            for (std::size_t i = x.begin; i < x.end; ++i)
                if (bad[i]) {
                    bool general = whole && (fnv(item_text(r, i)) & 1);
                    return Attempt{false, general ? "42P01" : "23505", "m"};
                }
            return Attempt{};
        };
        auto fail = [&](std::size_t i, const Attempt& a) {
            REQUIRE(!a.ok, "fail() with a failed attempt");
            REQUIRE(failed.empty() || failed.back() < i, "failures reported once each, in order");
            failed.push_back(i);
        };
        IsolationStats st = whole ? isolate_failures(rg, apply, fail, [](const Attempt& a) { return is_item_specific(a.sqlstate); })
                                  : isolate_failures(rg, apply, fail);
        REQUIRE(st.failed_items == failed.size(), "failed_items counts the failures");
        REQUIRE(st.attempts <= 2 * rg.size(), "at most 2n-1 attempts");
        for (std::size_t i = rg.begin; i < rg.end; ++i) {
            bool reported = std::binary_search(failed.begin(), failed.end(), i);
            if (bad[i]) REQUIRE(reported, "every failing item is reported");
            if (!whole) REQUIRE(reported == bad[i], "only failing items are reported");
        }
    }
}

void check_results(const Request& r, const Flags& flags) {
    static const ItemStatus statuses[] = {ItemStatus::Pending, ItemStatus::Succeeded, ItemStatus::Failed,
                                          ItemStatus::Skipped, ItemStatus::Cancelled};
    const std::size_t n = r.item_count();
    std::vector<ItemResult> items;
    for (std::size_t i = 0; i < n; ++i) {
        std::string text = item_text(r, i);
        uint64_t h = fnv(text);
        ItemStatus st = statuses[h % 5];
        if (st == ItemStatus::Succeeded) items.push_back(succeeded_item(text, success_message(r.operation, h & 8)));
        else if (st == ItemStatus::Failed) {
            Classified c = classify_sqlstate(text);
            items.push_back(failed_item(text, c.error_code, item_error_message(c, "22P02", text)));
        } else {
            ItemResult x;
            x.target_id = text;
            x.status = st;
            x.message = text;
            items.push_back(x);
        }
    }
    Counts c = count(items);
    REQUIRE(c.adds_up() && c.total == static_cast<int64_t>(n), "counts add up");
    BatchStatus fs = final_status(c, flags.admin());
    REQUIRE(is_terminal(fs), "final status is terminal");

    ResponseOptions opts;
    opts.limit = flags.response_limit();
    Json response = Json::object({{"success", Json::boolean(true)}, {"batch_id", Json::number(int64_t{1})}});
    add_results(response, items, opts);
    const Json* results = response.find("results");
    REQUIRE(results && results->is_array(), "results is an array");
    const bool truncated = n > opts.limit;
    std::size_t k = 0;
    for (const auto& it : items) {
        if (truncated && it.status == ItemStatus::Succeeded) continue;
        REQUIRE(k < results->items().size(), "a result per listed item");
        const Json& e = results->items()[k++];
        REQUIRE(e.find("target_id") && e.find("target_id")->text() == it.target_id, "results in item order");
        REQUIRE(e.find("success") && e.find("success")->as_bool() == (it.status == ItemStatus::Succeeded), "success");
    }
    REQUIRE(k == results->items().size(), "no extra results");
    const Json* t = response.find("results_truncated");
    REQUIRE(truncated == (t != nullptr), "results_truncated only when truncated");
    std::string problem = check_dump(response);
    REQUIRE(problem.empty(), "response dump: " + problem);
}

// ---------------------------------------------------------------------------------
void check_on_target(const Request& r, const Target& t, const Actor& actor, const Flags& flags,
                     const std::vector<const Json*>& objects, uint8_t split) {
    try {
        check_supported(r, t);
    } catch (const Error& e) {
        expect_error(e, sqlstate::feature_not_supported, "check_supported");
        return;
    }
    try {
        check_request_privilege(r, t, actor);
    } catch (const Error& e) {
        expect_error(e, sqlstate::insufficient_privilege, "check_request_privilege");
        REQUIRE(!actor.admin, "admins may do anything");
    }
    if (r.operation == Operation::Delete && effective_soft_delete(r, t))
        REQUIRE(t.soft_delete_column.has_value(), "a soft delete needs a soft-delete column");
    if (r.operation != Operation::BulkCreate)
        for (const auto& id : r.target_ids) check_key(id, t.key_kind);

    switch (r.operation) {
        case Operation::Update:
            try {
                check_update_fields(r, t);
                for (const auto& f : r.fields) {
                    const Column* c = t.column(f.first);
                    REQUIRE(c && !c->generated, "updated columns exist and are not generated");
                    if (t.updatable_columns) REQUIRE(contains(*t.updatable_columns, f.first), f.first);
                    else REQUIRE(f.first != t.key_column, "the key is not updatable");
                }
            } catch (const Error& e) {
                expect_error(e, sqlstate::invalid_parameter_value, "check_update_fields");
            }
            break;
        case Operation::StatusUpdate:
            try {
                auto from = allowed_from_statuses(r, t);
                if (t.allowed_statuses) REQUIRE(contains(*t.allowed_statuses, r.new_status), r.new_status);
                if (from) REQUIRE(contains(*from, r.new_status), "the new status is always a source");
                if (from && t.transitions)
                    for (const auto& s : *from)
                        REQUIRE(s == r.new_status || contains(t.transitions->at(s), r.new_status), s);
            } catch (const Error& e) {
                expect_request_error(e, "allowed_from_statuses");
            }
            break;
        case Operation::Export:
            try {
                std::vector<std::string> cols = export_columns(r, t);
                REQUIRE(!cols.empty(), "something to export");
                std::size_t pos = 0;
                for (const auto& c : cols) {
                    while (pos < t.columns.size() && t.columns[pos].name != c) ++pos;
                    REQUIRE(pos < t.columns.size(), "export columns in table order: " + c);
                    REQUIRE(!contains(r.exclude_fields, c), "excluded: " + c);
                    if (r.include_fields) REQUIRE(contains(*r.include_fields, c), "not included: " + c);
                }
                check_export_merge(cols, objects, split);
            } catch (const Error& e) {
                expect_request_error(e, "export_columns");
            }
            break;
        case Operation::BulkCreate:
            for (const auto& item : r.items) {
                auto p = check_bulk_item(item, t, actor, flags.skip_validation());
                if (p) {
                    REQUIRE(p->error_code == item_error::validation_failed || p->error_code == item_error::permission_denied,
                            p->error_code);
                    REQUIRE(!p->message.empty(), "a problem has a message");
                }
                if (flags.skip_validation() && p) REQUIRE(check_bulk_item(item, t, actor, false), "validation finds more");
                if (!flags.skip_validation() && !p)
                    for (const auto& c : t.columns)
                        if (c.not_null && !c.has_default && !c.generated && !(t.owner_column && c.name == *t.owner_column))
                            REQUIRE(item.find(c.name) && !item.find(c.name)->is_null(), "required column " + c.name);
            }
            break;
        default: break;
    }
}

// parse_request under `limits`: the request, or nullopt after checking its error.
std::optional<Request> parse_checked(const Json& j, const Limits& limits) {
    Request r;
    try {
        r = parse_request(j, limits);
    } catch (const Error& e) {
        expect_request_error(e, "parse_request");
        return std::nullopt;
    }
    const std::size_t n = r.item_count();
    REQUIRE(n >= 1 && n <= static_cast<std::size_t>(limits.max_items), "item count within max_items");
    REQUIRE(is_safe_identifier(r.target_type, limits.max_identifier_length), r.target_type);
    REQUIRE(parse_operation(to_string(r.operation)) == r.operation, "operation");
    if (r.operation == Operation::BulkCreate) {
        REQUIRE(r.target_ids.empty(), "bulk_create has items, not ids");
        for (const auto& item : r.items) {
            REQUIRE(item.is_object() && !item.members().empty(), "items are non-empty objects");
            for (const auto& m : item.members()) REQUIRE(is_safe_identifier(m.first, limits.max_identifier_length), m.first);
        }
    } else {
        REQUIRE(r.items.empty(), "ids, not items");
        std::set<std::string> seen;
        for (const auto& id : r.target_ids) {
            REQUIRE(!id.empty() && id.size() <= limits.max_id_length, "id length");
            REQUIRE(std::none_of(id.begin(), id.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }),
                    "no control characters in ids");
            REQUIRE(seen.insert(id).second, "ids are distinct: " + id);
        }
    }
    for (const auto& f : r.fields) REQUIRE(is_safe_identifier(f.first, limits.max_identifier_length), f.first);
    if (r.operation == Operation::Update) REQUIRE(!r.fields.empty(), "update has fields");
    if (r.operation == Operation::StatusUpdate) REQUIRE(!r.new_status.empty(), "status_update has a status");
    if (r.include_fields) REQUIRE(!r.include_fields->empty(), "include_fields is not empty");
    REQUIRE(r.priority >= -1000000 && r.priority <= 1000000, "priority");
    std::set<int64_t> deps;
    for (int64_t d : r.depends_on) REQUIRE(d > 0 && deps.insert(d).second, "depends_on: distinct batch ids");
    REQUIRE(r.depends_on.size() <= static_cast<std::size_t>(limits.max_depends_on), "depends_on count");
    if (r.max_attempts) REQUIRE(*r.max_attempts >= 1 && *r.max_attempts <= 100, "max_attempts");
    if (r.idempotency_key)
        REQUIRE(!r.dry_run && !r.idempotency_key->empty() && r.idempotency_key->size() <= limits.max_key_length,
                "idempotency_key");
    const Json* ex = j.find("execution");
    if (!ex || ex->is_null())
        REQUIRE(r.execution == (r.dry_run ? Execution::Inline : Execution::Background), "default execution");

    return r;
}

void check_request(const Json& j, const Flags& flags) {
    // Every input is also parsed under the tiny limits, so that each limit is
    // within reach of the seeds; the checks below run under the flags' limits,
    // which are never stricter: what the tiny limits accept, they accept too.
    Flags tiny{static_cast<uint8_t>((flags.bits & ~3) | 1)};
    const bool tiny_ok = flags.limits_profile() != 1 && parse_checked(j, limits_for(tiny)).has_value();
    std::optional<Request> parsed = parse_checked(j, limits_for(flags));
    REQUIRE(parsed || !tiny_ok, "raising the limits rejects a request the tiny limits accept");
    if (!parsed) return;
    const Request& r = *parsed;
    const std::size_t n = r.item_count();

    std::vector<const Json*> objects;
    collect_objects(j, objects);
    const uint8_t split = static_cast<uint8_t>(fnv(r.target_type));
    const Actor actor{"regress_alice", flags.admin()};
    for (const Target& t : {letters(), tags(), docs(), plain(), from_request(r)})
        check_on_target(r, t, actor, flags, objects, split);

    // A worker's chunk: every other item, then the chunk in reverse.
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < n; i += 1 + flags.chunk_size() % 2) idx.push_back(i);
    std::vector<std::size_t> rev(idx.rbegin(), idx.rend());
    for (const auto& ix : {idx, rev}) {
        Request s = slice(r, ix);
        REQUIRE(s.item_count() == ix.size() && s.operation == r.operation, "slice");
        for (std::size_t k = 0; k < ix.size(); ++k) REQUIRE(item_text(s, k) == item_text(r, ix[k]), "slice keeps items");
    }

    check_planner(r, flags);
    check_results(r, flags);
}

void check_sync(const Json& j) {
    try {
        SyncOptions o = parse_sync_options(j);
        REQUIRE(!(o.incremental && !o.watermark_column), "incremental needs a watermark column");
        REQUIRE(!(o.incremental && o.delete_missing), "incremental without delete_missing");
        REQUIRE(o.chunk_size >= 0 && o.chunk_size <= 1000000, "chunk_size");
        REQUIRE(o.connect_timeout_s >= 1 && o.connect_timeout_s <= 3600, "connect_timeout");
        REQUIRE(o.statement_timeout_ms >= 0 && o.statement_timeout_ms <= 86400000, "statement_timeout");
        std::set<std::string> seen;
        for (const auto& k : o.key_columns) REQUIRE(is_safe_identifier(k, 63) && seen.insert(k).second, k);
        for (const auto& [c, e] : o.columns) REQUIRE(is_safe_identifier(c, 63) && !e.empty(), c);
        if (o.connection) REQUIRE(!o.connection->empty(), "connection");
    } catch (const Error& e) {
        expect_request_error(e, "parse_sync_options");
    }
}

void check_transitions(const Json& j, const Flags& flags) {
    std::optional<std::vector<std::string>> allowed;
    if (flags.bits & 1) allowed = std::vector<std::string>{"draft", "sent", "archived"};
    try {
        auto t = parse_transitions(j, allowed);
        for (const auto& [from, tos] : t) {
            if (allowed) REQUIRE(contains(*allowed, from), from);
            for (const auto& to : tos)
                if (allowed) REQUIRE(contains(*allowed, to), to);
        }
    } catch (const Error& e) {
        expect_error(e, sqlstate::invalid_parameter_value, "parse_transitions");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    static const bool print = std::getenv("BATCH_OPS_FUZZ_PRINT") != nullptr;
    Decoder d(data, size);
    Flags flags{d.byte()};
    const Json j = d.value();
    g_input = &j;
    if (print) std::printf("%u %s\n", static_cast<unsigned>(flags.bits), j.dump().c_str());

    std::string problem = check_dump(j);
    REQUIRE(problem.empty(), "dump: " + problem);

    std::vector<const std::string*> strings;
    collect_strings(j, strings);
    for (const std::string* s : strings) check_string(*s);

    // Export documents over the input's own objects, their first object's keys as columns.
    std::vector<const Json*> objects;
    collect_objects(j, objects);
    if (!objects.empty()) {
        std::vector<std::string> columns;
        for (const auto& m : objects.front()->members()) columns.push_back(m.first);
        check_export_merge(columns, objects, flags.bits);
    }

    check_sync(j);
    check_transitions(j, flags);
    check_request(j, flags);
    g_input = nullptr;
    return 0;
}
