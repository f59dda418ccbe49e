// Unit tests for the target-dependent checks (src/core/target.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/request.hpp"
#include "core/target.hpp"

using namespace batch_ops::core;

namespace {

Json num(int64_t v) { return Json::number(v); }
Json numtext(const std::string& t) { return Json::number(t); }
Json str(const std::string& s) { return Json::string(s); }
Json obj(Json::Object o) { return Json::object(std::move(o)); }
Json strs(const std::vector<std::string>& v) {
    Json a = Json::array();
    for (const auto& s : v) a.push(str(s));
    return a;
}

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

// A target with every optional feature: owner, status, soft delete, archive.
Target letters() {
    Target t;
    t.name = "letters";
    t.relation = "public.letters";
    t.columns = {
        col("id", TypeKind::Integer, true, true),
        col("title", TypeKind::Text, true),
        col("body", TypeKind::Text),
        col("owner", TypeKind::Text, true),
        col("status", TypeKind::Text, true, true),
        col("deleted_at", TypeKind::Timestamp),
        col("score", TypeKind::Numeric),
        col("flag", TypeKind::Boolean),
        col("ref", TypeKind::Uuid),
        col("meta", TypeKind::Json),
        col("total", TypeKind::Integer, false, false, true),
    };
    t.key_column = "id";
    t.key_kind = TypeKind::Integer;
    t.owner_column = "owner";
    t.status_column = "status";
    t.soft_delete_column = "deleted_at";
    t.soft_delete_kind = SoftDeleteKind::Timestamp;
    t.has_archive = true;
    return t;
}

// A target with none of the optional features.
Target plain() {
    Target t;
    t.name = "plain";
    t.relation = "public.plain";
    t.columns = {col("id", TypeKind::Text, true), col("note", TypeKind::Text)};
    t.key_column = "id";
    t.key_kind = TypeKind::Text;
    return t;
}

Request request(Operation op) {
    Request r;
    r.operation = op;
    r.target_type = "letters";
    r.target_ids = {"1"};
    return r;
}

Actor user(const std::string& role = "alice") { return Actor{role, false}; }
Actor admin(const std::string& role = "root") { return Actor{role, true}; }

template <class F>
::testing::AssertionResult ThrowsError(F&& f, const std::string& sqlstate, const std::string& needle = {},
                                       Error* out = nullptr) {
    try {
        f();
    } catch (const Error& e) {
        if (e.sqlstate() != sqlstate)
            return ::testing::AssertionFailure() << "sqlstate " << e.sqlstate() << ", message: " << e.what();
        if (!needle.empty() && std::string(e.what()).find(needle) == std::string::npos)
            return ::testing::AssertionFailure() << "message does not contain " << needle << ": " << e.what();
        if (out) *out = e;
        return ::testing::AssertionSuccess();
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "not a core::Error: " << e.what();
    }
    return ::testing::AssertionFailure() << "no error";
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

// ---------------------------------------------------------------------------
// check_supported

TEST(CheckSupported, SoftDeleteNeedsSoftDeleteColumn) {
    Request r = request(Operation::Delete);
    r.soft_delete = true;
    Error e("", "");
    EXPECT_TRUE(ThrowsError([&] { check_supported(r, plain()); }, "0A000",
                            "\"operation_data.soft_delete\" is not supported for target \"plain\"", &e));
    EXPECT_FALSE(e.hint().empty());
    EXPECT_NE(e.hint().find("soft_delete_column"), std::string::npos) << e.hint();
    EXPECT_NO_THROW(check_supported(r, letters()));
    // Without soft_delete (hard delete by default) the plain target supports delete.
    r.soft_delete.reset();
    EXPECT_NO_THROW(check_supported(r, plain()));
    r.soft_delete = false;
    EXPECT_NO_THROW(check_supported(r, plain()));
}

TEST(CheckSupported, StatusUpdateNeedsStatusColumn) {
    Request r = request(Operation::StatusUpdate);
    r.new_status = "sent";
    Error e("", "");
    EXPECT_TRUE(ThrowsError([&] { check_supported(r, plain()); }, "0A000", "\"status_update\"", &e));
    EXPECT_NE(e.hint().find("status_column"), std::string::npos) << e.hint();
    EXPECT_NO_THROW(check_supported(r, letters()));
}

TEST(CheckSupported, ArchiveNeedsArchiveRelation) {
    Request r = request(Operation::Archive);
    Error e("", "");
    EXPECT_TRUE(ThrowsError([&] { check_supported(r, plain()); }, "0A000",
                            "operation \"archive\" is not supported for target \"plain\"", &e));
    EXPECT_NE(e.hint().find("archive_relation"), std::string::npos) << e.hint();
    EXPECT_NO_THROW(check_supported(r, letters()));
    Target soft_only = letters();
    soft_only.has_archive = false;
    EXPECT_TRUE(ThrowsError([&] { check_supported(r, soft_only); }, "0A000"));
}

TEST(CheckSupported, RestoreNeedsArchiveOrSoftDelete) {
    Request r = request(Operation::Restore);
    Error e("", "");
    EXPECT_TRUE(ThrowsError([&] { check_supported(r, plain()); }, "0A000", "\"restore\"", &e));
    EXPECT_FALSE(e.hint().empty());
    Target archive_only = plain();
    archive_only.has_archive = true;
    EXPECT_NO_THROW(check_supported(r, archive_only));
    Target soft_only = plain();
    soft_only.soft_delete_column = "deleted";
    soft_only.soft_delete_kind = SoftDeleteKind::Boolean;
    EXPECT_NO_THROW(check_supported(r, soft_only));
}

TEST(CheckSupported, UpdateNeedsUpdatableColumnsWhenListed) {
    Request r = request(Operation::Update);
    r.fields = {{"note", str("x")}};
    EXPECT_NO_THROW(check_supported(r, plain()));
    Target none = plain();
    none.updatable_columns = std::vector<std::string>{};
    Error e("", "");
    EXPECT_TRUE(ThrowsError([&] { check_supported(r, none); }, "0A000", "\"update\"", &e));
    EXPECT_NE(e.hint().find("updatable_columns"), std::string::npos) << e.hint();
}

TEST(CheckSupported, ExportAndBulkCreateAlwaysSupported) {
    EXPECT_NO_THROW(check_supported(request(Operation::Export), plain()));
    EXPECT_NO_THROW(check_supported(request(Operation::BulkCreate), plain()));
}

// ---------------------------------------------------------------------------
// check_request_privilege and effective_soft_delete

TEST(EffectiveSoftDelete, DefaultsFromTarget) {
    Request r = request(Operation::Delete);
    EXPECT_TRUE(effective_soft_delete(r, letters()));
    EXPECT_FALSE(effective_soft_delete(r, plain()));
    r.soft_delete = false;
    EXPECT_FALSE(effective_soft_delete(r, letters()));
    r.soft_delete = true;
    EXPECT_TRUE(effective_soft_delete(r, letters()));
    EXPECT_TRUE(effective_soft_delete(r, plain()));
}

TEST(CheckRequestPrivilege, NonAdminHardDeleteDenied) {
    Request r = request(Operation::Delete);
    // plain has no soft-delete column: the default is a hard delete.
    EXPECT_TRUE(ThrowsError([&] { check_request_privilege(r, plain(), user()); }, "42501", "hard-delete"));
    r.soft_delete = false;
    EXPECT_TRUE(ThrowsError([&] { check_request_privilege(r, letters(), user()); }, "42501", "\"letters\""));
}

TEST(CheckRequestPrivilege, NonAdminSoftDeleteAllowed) {
    Request r = request(Operation::Delete);
    EXPECT_NO_THROW(check_request_privilege(r, letters(), user()));
    r.soft_delete = true;
    EXPECT_NO_THROW(check_request_privilege(r, letters(), user()));
}

TEST(CheckRequestPrivilege, NonAdminForceDenied) {
    Request r = request(Operation::StatusUpdate);
    r.new_status = "sent";
    EXPECT_NO_THROW(check_request_privilege(r, letters(), user()));
    r.force = true;
    EXPECT_TRUE(ThrowsError([&] { check_request_privilege(r, letters(), user()); }, "42501", "force"));
}

TEST(CheckRequestPrivilege, AdminPasses) {
    Request del = request(Operation::Delete);
    del.soft_delete = false;
    EXPECT_NO_THROW(check_request_privilege(del, letters(), admin()));
    del.soft_delete.reset();
    EXPECT_NO_THROW(check_request_privilege(del, plain(), admin()));
    Request st = request(Operation::StatusUpdate);
    st.new_status = "sent";
    st.force = true;
    EXPECT_NO_THROW(check_request_privilege(st, letters(), admin()));
}

TEST(CheckRequestPrivilege, OtherOperationsNeedNoAdmin) {
    for (Operation op : {Operation::Update, Operation::Export, Operation::Archive, Operation::Restore,
                         Operation::BulkCreate}) {
        EXPECT_NO_THROW(check_request_privilege(request(op), plain(), user())) << to_string(op);
    }
}

// ---------------------------------------------------------------------------
// canonical_key

TEST(CanonicalKey, Integers) {
    EXPECT_EQ(canonical_key("7", TypeKind::Integer), "7");
    EXPECT_EQ(canonical_key("007", TypeKind::Integer), "7");
    EXPECT_EQ(canonical_key(" 42 ", TypeKind::Integer), "42");
    EXPECT_EQ(canonical_key("\t42\n", TypeKind::Integer), "42");
    EXPECT_EQ(canonical_key("-5", TypeKind::Integer), "-5");
    EXPECT_EQ(canonical_key("+5", TypeKind::Integer), "5");
    EXPECT_EQ(canonical_key("-0", TypeKind::Integer), "0");
    EXPECT_EQ(canonical_key("0", TypeKind::Integer), "0");
    EXPECT_EQ(canonical_key("9223372036854775807", TypeKind::Integer), "9223372036854775807");
    EXPECT_EQ(canonical_key("-9223372036854775808", TypeKind::Integer), "-9223372036854775808");
}

TEST(CanonicalKey, BadIntegers) {
    for (const std::string bad : {"abc", "", "   ", "9223372036854775808", "-9223372036854775809",
                                  "99999999999999999999999", "1.5", "1e3", "4 2", "-", "+", "0x10", "12abc", "--1"}) {
        EXPECT_EQ(canonical_key(bad, TypeKind::Integer), std::nullopt) << "'" << bad << "'";
    }
}

TEST(CanonicalKey, Uuids) {
    const std::string canon = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    EXPECT_EQ(canonical_key(canon, TypeKind::Uuid), canon);
    EXPECT_EQ(canonical_key("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", TypeKind::Uuid), canon);
    EXPECT_EQ(canonical_key("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", TypeKind::Uuid), canon);
    EXPECT_EQ(canonical_key("a0eebc999c0b4ef8bb6d6bb9bd380a11", TypeKind::Uuid), canon);
    EXPECT_EQ(canonical_key("{A0EEBC999C0B4EF8BB6D6BB9BD380A11}", TypeKind::Uuid), canon);
    // uuid_in accepts a hyphen after any group of four digits.
    EXPECT_EQ(canonical_key("a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", TypeKind::Uuid), canon);
    EXPECT_EQ(canonical_key("a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11", TypeKind::Uuid), canon);
}

TEST(CanonicalKey, BadUuids) {
    for (const std::string bad : {
             "", "{}", "not-a-uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",    // 31 digits
             "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",                           // 33 digits
             "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",                            // not hex
             "-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",                           // leading hyphen
             "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",                           // trailing hyphen
             "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",                           // double hyphen
             "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",                           // unbalanced brace
             "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",                           // unbalanced brace
             " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",                           // whitespace
             "a0eebc99 9c0b 4ef8 bb6d 6bb9bd380a11",                            // spaces
         }) {
        EXPECT_EQ(canonical_key(bad, TypeKind::Uuid), std::nullopt) << "'" << bad << "'";
    }
}

TEST(CanonicalKey, UuidHyphenOnlyAfterGroupsOfFour) {
    // PostgreSQL's uuid_in rejects these; canonical_key must not turn them into keys.
    EXPECT_EQ(canonical_key("a0eeb-c999c0b4ef8bb6d6bb9bd380a11", TypeKind::Uuid), std::nullopt);
    EXPECT_EQ(canonical_key("a-0eebc999c0b4ef8bb6d6bb9bd380a11", TypeKind::Uuid), std::nullopt);
    EXPECT_EQ(canonical_key("a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11", TypeKind::Uuid), std::nullopt);
}

TEST(CanonicalKey, TextUnchanged) {
    EXPECT_EQ(canonical_key(" Abc 007 ", TypeKind::Text), " Abc 007 ");
    EXPECT_EQ(canonical_key("007", TypeKind::Text), "007");
    EXPECT_EQ(canonical_key("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", TypeKind::Text),
              "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11");
    EXPECT_EQ(canonical_key("x", TypeKind::Other), "x");
}

// ---------------------------------------------------------------------------
// check_update_fields

namespace {
Request update_of(std::vector<std::string> names) {
    Request r = request(Operation::Update);
    for (auto& n : names) r.fields.emplace_back(n, str("v"));
    return r;
}
}  // namespace

TEST(CheckUpdateFields, DefaultUpdatableColumns) {
    EXPECT_NO_THROW(check_update_fields(update_of({"title", "body", "score", "flag", "ref", "meta"}), letters()));
    // A target without owner, status or soft-delete column: all but the key.
    EXPECT_NO_THROW(check_update_fields(update_of({"note"}), plain()));
    EXPECT_TRUE(ThrowsError([] { check_update_fields(update_of({"id"}), plain()); }, "22023", "\"id\""));
}

// Not in API.md 12 (which says "every column but the key and the owner
// column"): status and soft-delete columns are changed through status_update
// and delete / restore only, unless listed in updatable_columns.
// API.md section 12: updatable_columns NULL means every column but the key and the owner column.
TEST(CheckUpdateFields, StatusAndSoftDeleteColumnsUpdatableByDefault) {
    EXPECT_NO_THROW(check_update_fields(update_of({"status", "deleted_at"}), letters()));
    Target t = letters();
    t.updatable_columns = std::vector<std::string>{"title"};
    EXPECT_TRUE(ThrowsError([&] { check_update_fields(update_of({"status"}), t); }, "22023", "\"status\""));
}

TEST(CheckUpdateFields, UnknownColumn) {
    Error e("", "");
    try {
        check_update_fields(update_of({"title", "nope"}), letters());
        FAIL() << "accepted";
    } catch (const Error& err) {
        e = err;
    }
    EXPECT_TRUE(e.sqlstate() == "22023" || e.sqlstate() == "42703") << e.sqlstate();
    EXPECT_NE(std::string(e.what()).find("\"nope\""), std::string::npos) << e.what();
}

// An updatable column of the registration that the table no longer has: 42703
// saying so, with a hint to register again (not "which the target does not have").
TEST(CheckUpdateFields, VanishedUpdatableColumn) {
    Target t = letters();
    t.updatable_columns = std::vector<std::string>{"title", "subtitle"};
    Error e("", "");
    EXPECT_TRUE(ThrowsError([&] { check_update_fields(update_of({"subtitle"}), t); }, "42703",
                            "column \"subtitle\" of target \"letters\" no longer exists", &e));
    EXPECT_NE(e.hint().find("register_target"), std::string::npos) << e.hint();
}

TEST(CheckUpdateFields, KeyAndOwnerNotUpdatableByDefault) {
    EXPECT_TRUE(ThrowsError([] { check_update_fields(update_of({"id"}), letters()); }, "22023", "\"id\""));
    EXPECT_TRUE(ThrowsError([] { check_update_fields(update_of({"title", "owner"}), letters()); }, "22023",
                            "\"owner\""));
    EXPECT_TRUE(ThrowsError([] { check_update_fields(update_of({"id"}), letters()); }, "22023", "not updatable"));
}

TEST(CheckUpdateFields, GeneratedColumnNotUpdatable) {
    EXPECT_TRUE(ThrowsError([] { check_update_fields(update_of({"total"}), letters()); }, "22023", "\"total\""));
}

TEST(CheckUpdateFields, OnlyListedColumnsWhenSet) {
    Target t = letters();
    t.updatable_columns = std::vector<std::string>{"title", "owner"};
    EXPECT_NO_THROW(check_update_fields(update_of({"title"}), t));
    EXPECT_NO_THROW(check_update_fields(update_of({"owner", "title"}), t));
    Error e("", "");
    EXPECT_TRUE(ThrowsError([&] { check_update_fields(update_of({"title", "body"}), t); }, "22023", "\"body\"", &e));
    EXPECT_FALSE(e.hint().empty());
    EXPECT_TRUE(ThrowsError([&] { check_update_fields(update_of({"status"}), t); }, "22023", "\"status\""));
}

// ---------------------------------------------------------------------------
// allowed_from_statuses

namespace {
Target with_statuses() {
    Target t = letters();
    t.allowed_statuses = std::vector<std::string>{"draft", "sent", "archived"};
    t.transitions = std::map<std::string, std::vector<std::string>>{
        {"draft", {"sent"}}, {"sent", {"archived"}}, {"archived", {}}};
    return t;
}
Request status_to(const std::string& s, bool force = false) {
    Request r = request(Operation::StatusUpdate);
    r.new_status = s;
    r.force = force;
    return r;
}
}  // namespace

TEST(AllowedFromStatuses, StatusNotAllowed) {
    Error e("", "");
    EXPECT_TRUE(ThrowsError([] { allowed_from_statuses(status_to("deleted"), with_statuses()); }, "22023",
                            "\"deleted\"", &e));
    EXPECT_EQ(std::string(e.what()).rfind("invalid batch request: ", 0), 0u) << e.what();
    EXPECT_NE(e.detail().find("draft"), std::string::npos) << e.detail();
    // force does not bypass allowed_statuses.
    EXPECT_TRUE(ThrowsError([] { allowed_from_statuses(status_to("deleted", true), with_statuses()); }, "22023"));
    // Without transitions, allowed_statuses still applies.
    Target t = with_statuses();
    t.transitions.reset();
    EXPECT_TRUE(ThrowsError([&] { allowed_from_statuses(status_to("deleted"), t); }, "22023"));
}

TEST(AllowedFromStatuses, NulloptWithoutTransitionsOrWithForce) {
    Target t = with_statuses();
    t.transitions.reset();
    EXPECT_EQ(allowed_from_statuses(status_to("sent"), t), std::nullopt);
    EXPECT_EQ(allowed_from_statuses(status_to("sent", true), with_statuses()), std::nullopt);
    EXPECT_EQ(allowed_from_statuses(status_to("draft", true), with_statuses()), std::nullopt);
    EXPECT_EQ(allowed_from_statuses(status_to("anything"), letters()), std::nullopt);
}

TEST(AllowedFromStatuses, SourcesIncludeNewStatusItself) {
    auto sent = allowed_from_statuses(status_to("sent"), with_statuses());
    ASSERT_TRUE(sent.has_value());
    EXPECT_EQ(sorted(*sent), (std::vector<std::string>{"draft", "sent"}));
    auto archived = allowed_from_statuses(status_to("archived"), with_statuses());
    ASSERT_TRUE(archived.has_value());
    EXPECT_EQ(sorted(*archived), (std::vector<std::string>{"archived", "sent"}));
    // Nothing leads to draft: only draft itself.
    auto draft = allowed_from_statuses(status_to("draft"), with_statuses());
    ASSERT_TRUE(draft.has_value());
    EXPECT_EQ(*draft, (std::vector<std::string>{"draft"}));
}

TEST(AllowedFromStatuses, SelfTransitionListedOnce) {
    Target t = with_statuses();
    t.transitions = std::map<std::string, std::vector<std::string>>{{"sent", {"sent", "archived"}},
                                                                    {"draft", {"sent"}}};
    auto from = allowed_from_statuses(status_to("sent"), t);
    ASSERT_TRUE(from.has_value());
    EXPECT_EQ(sorted(*from), (std::vector<std::string>{"draft", "sent"}));
}

TEST(AllowedFromStatuses, SeveralSources) {
    Target t = with_statuses();
    t.transitions = std::map<std::string, std::vector<std::string>>{
        {"draft", {"archived"}}, {"sent", {"archived"}}, {"archived", {"draft"}}};
    auto from = allowed_from_statuses(status_to("archived"), t);
    ASSERT_TRUE(from.has_value());
    EXPECT_EQ(sorted(*from), (std::vector<std::string>{"archived", "draft", "sent"}));
}

// ---------------------------------------------------------------------------
// export_columns

namespace {
Request export_req(std::optional<std::vector<std::string>> include, std::vector<std::string> exclude = {}) {
    Request r = request(Operation::Export);
    r.include_fields = std::move(include);
    r.exclude_fields = std::move(exclude);
    return r;
}
}  // namespace

TEST(ExportColumns, AllColumnsInTableOrder) {
    EXPECT_EQ(export_columns(export_req(std::nullopt), plain()), (std::vector<std::string>{"id", "note"}));
    std::vector<std::string> all;
    for (const auto& c : letters().columns) all.push_back(c.name);
    EXPECT_EQ(export_columns(export_req(std::nullopt), letters()), all);
}

TEST(ExportColumns, IncludeKeepsTableOrder) {
    EXPECT_EQ(export_columns(export_req(std::vector<std::string>{"score", "title", "id"}), letters()),
              (std::vector<std::string>{"id", "title", "score"}));
}

TEST(ExportColumns, Exclude) {
    EXPECT_EQ(export_columns(export_req(std::nullopt, {"body", "meta", "ref", "flag", "score", "total", "deleted_at"}),
                             letters()),
              (std::vector<std::string>{"id", "title", "owner", "status"}));
}

TEST(ExportColumns, IncludeAndExclude) {
    EXPECT_EQ(export_columns(export_req(std::vector<std::string>{"title", "id", "body"}, {"body"}), letters()),
              (std::vector<std::string>{"id", "title"}));
}

TEST(ExportColumns, UnknownColumn) {
    EXPECT_TRUE(ThrowsError([] { export_columns(export_req(std::vector<std::string>{"id", "nope"}), letters()); },
                            "22023", "\"nope\""));
    EXPECT_TRUE(ThrowsError([] { export_columns(export_req(std::vector<std::string>{"nope"}), letters()); }, "22023",
                            "include_fields"));
    EXPECT_TRUE(ThrowsError([] { export_columns(export_req(std::nullopt, {"gone"}), letters()); }, "22023",
                            "exclude_fields"));
    EXPECT_TRUE(ThrowsError([] { export_columns(export_req(std::nullopt, {"gone"}), letters()); }, "22023",
                            "invalid batch request: "));
}

TEST(ExportColumns, EmptyResult) {
    EXPECT_TRUE(ThrowsError([] { export_columns(export_req(std::vector<std::string>{"id"}, {"id"}), letters()); },
                            "22023", "invalid batch request: "));
    EXPECT_TRUE(ThrowsError([] { export_columns(export_req(std::nullopt, {"id", "note"}), plain()); }, "22023"));
}

// ---------------------------------------------------------------------------
// check_bulk_item

namespace {
::testing::AssertionResult Problem(const std::optional<ItemProblem>& p, const std::string& code,
                                   const std::string& message_part) {
    if (!p) return ::testing::AssertionFailure() << "no problem reported";
    if (p->error_code != code)
        return ::testing::AssertionFailure() << "code " << p->error_code << ", message " << p->message;
    if (p->message.find(message_part) == std::string::npos)
        return ::testing::AssertionFailure() << "message '" << p->message << "' lacks '" << message_part << "'";
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult NoProblem(const std::optional<ItemProblem>& p) {
    if (p) return ::testing::AssertionFailure() << p->error_code << ": " << p->message;
    return ::testing::AssertionSuccess();
}
}  // namespace

TEST(CheckBulkItem, ValidItems) {
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"title", str("t")}, {"owner", str("alice")}}), letters(), user(),
                                          false)));
    // The owner column is not required: it is filled with the submitter.
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"title", str("t")}}), letters(), user(), false)));
    // Columns with defaults (id, status) are not required.
    EXPECT_TRUE(NoProblem(check_bulk_item(
        obj({{"id", num(5)}, {"title", str("t")}, {"status", str("draft")}, {"body", Json::null()},
             {"score", numtext("1.5")}, {"flag", Json::boolean(true)},
             {"ref", str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}, {"deleted_at", str("2026-01-20T10:00:00Z")},
             {"meta", obj({{"a", Json::array({num(1)})}})}}),
        letters(), user(), false)));
}

TEST(CheckBulkItem, StringFormsOfScalarsAccepted) {
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"title", str("t")}, {"id", str("12")}}), letters(), user(), false)));
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"title", str("t")}, {"id", str("-12")}}), letters(), user(), false)));
    EXPECT_TRUE(
        NoProblem(check_bulk_item(obj({{"title", str("t")}, {"score", str("1.25")}}), letters(), user(), false)));
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"title", str("t")}, {"flag", str("false")}}), letters(), user(), false)));
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"title", num(7)}}), letters(), user(), false)));
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"title", Json::boolean(true)}}), letters(), user(), false)));
}

TEST(CheckBulkItem, UnknownColumnEvenWithSkipValidation) {
    auto item = obj({{"title", str("t")}, {"nope", num(1)}});
    EXPECT_TRUE(Problem(check_bulk_item(item, letters(), user(), false), "VALIDATION_FAILED", "\"nope\""));
    EXPECT_TRUE(Problem(check_bulk_item(item, letters(), user(), true), "VALIDATION_FAILED", "\"nope\""));
    EXPECT_TRUE(Problem(check_bulk_item(item, letters(), admin(), true), "VALIDATION_FAILED", "does not exist"));
}

TEST(CheckBulkItem, GeneratedColumnEvenWithSkipValidation) {
    auto item = obj({{"title", str("t")}, {"total", num(1)}});
    EXPECT_TRUE(Problem(check_bulk_item(item, letters(), user(), false), "VALIDATION_FAILED", "\"total\""));
    EXPECT_TRUE(Problem(check_bulk_item(item, letters(), admin(), true), "VALIDATION_FAILED", "generated"));
}

TEST(CheckBulkItem, OwnerSetToAnotherRoleByNonAdmin) {
    auto item = obj({{"title", str("t")}, {"owner", str("bob")}});
    EXPECT_TRUE(Problem(check_bulk_item(item, letters(), user("alice"), false), "PERMISSION_DENIED", ""));
    EXPECT_TRUE(Problem(check_bulk_item(item, letters(), user("alice"), true), "PERMISSION_DENIED", ""));
    // Not a role name at all.
    EXPECT_TRUE(Problem(check_bulk_item(obj({{"title", str("t")}, {"owner", num(1)}}), letters(), user("alice"), true),
                        "PERMISSION_DENIED", ""));
    // Own role: fine.
    EXPECT_TRUE(NoProblem(check_bulk_item(item, letters(), user("bob"), false)));
}

TEST(CheckBulkItem, AdminMaySetAnyOwner) {
    auto item = obj({{"title", str("t")}, {"owner", str("bob")}});
    EXPECT_TRUE(NoProblem(check_bulk_item(item, letters(), admin("root"), false)));
    EXPECT_TRUE(NoProblem(check_bulk_item(item, letters(), admin("root"), true)));
}

TEST(CheckBulkItem, OwnerCheckOnlyWithOwnerColumn) {
    Target t = letters();
    t.owner_column.reset();
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"title", str("t")}, {"owner", str("bob")}}), t, user("alice"), false)));
    // Without an owner column, a NOT NULL "owner" column without default is required.
    EXPECT_TRUE(Problem(check_bulk_item(obj({{"title", str("t")}}), t, user("alice"), false), "VALIDATION_FAILED",
                        "\"owner\" is required"));
}

TEST(CheckBulkItem, TypeMismatchMessages) {
    auto check = [](const std::string& column, Json value) {
        return check_bulk_item(obj({{"title", str("t")}, {column, std::move(value)}}), letters(), user(), false);
    };
    EXPECT_TRUE(Problem(check("id", str("abc")), "VALIDATION_FAILED", "column \"id\" expects an integer, not \"abc\""));
    EXPECT_TRUE(Problem(check("id", numtext("1.5")), "VALIDATION_FAILED", "column \"id\" expects an integer, not number"));
    EXPECT_TRUE(Problem(check("id", Json::boolean(true)), "VALIDATION_FAILED", "expects an integer, not boolean"));
    EXPECT_TRUE(Problem(check("score", Json::boolean(true)), "VALIDATION_FAILED",
                        "column \"score\" expects a number, not boolean"));
    EXPECT_TRUE(Problem(check("score", str("lots")), "VALIDATION_FAILED", "column \"score\" expects a number, not \"lots\""));
    EXPECT_TRUE(Problem(check("flag", num(5)), "VALIDATION_FAILED", "column \"flag\" expects a boolean, not number"));
    EXPECT_TRUE(Problem(check("flag", str("maybe")), "VALIDATION_FAILED", "expects a boolean, not \"maybe\""));
    EXPECT_TRUE(Problem(check("ref", str("not-a-uuid")), "VALIDATION_FAILED",
                        "column \"ref\" expects a uuid, not \"not-a-uuid\""));
    EXPECT_TRUE(Problem(check("ref", num(5)), "VALIDATION_FAILED", "expects a uuid, not number"));
    EXPECT_TRUE(Problem(check("deleted_at", num(5)), "VALIDATION_FAILED",
                        "column \"deleted_at\" expects a timestamp string, not number"));
    EXPECT_TRUE(Problem(check("body", Json::array({num(1)})), "VALIDATION_FAILED",
                        "column \"body\" expects a scalar value, not array"));
    EXPECT_TRUE(Problem(check("body", obj({{"a", num(1)}})), "VALIDATION_FAILED", "expects a scalar value, not object"));
}

TEST(CheckBulkItem, NullInNotNullColumn) {
    EXPECT_TRUE(Problem(check_bulk_item(obj({{"title", Json::null()}}), letters(), user(), false), "VALIDATION_FAILED",
                        "column \"title\" must not be null"));
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"title", Json::null()}}), letters(), user(), true)));
}

TEST(CheckBulkItem, RequiredColumnMissing) {
    EXPECT_TRUE(Problem(check_bulk_item(obj({{"body", str("b")}}), letters(), user(), false), "VALIDATION_FAILED",
                        "column \"title\" is required"));
}

TEST(CheckBulkItem, SkipValidationSkipsTypeAndRequiredChecks) {
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"id", str("abc")}}), letters(), user(), true)));
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"body", str("b")}}), letters(), user(), true)));
    EXPECT_TRUE(NoProblem(check_bulk_item(obj({{"flag", num(3)}, {"ref", str("x")}}), letters(), user(), true)));
}

// ---------------------------------------------------------------------------
// parse_transitions

TEST(ParseTransitions, Valid) {
    Json j = obj({{"draft", strs({"sent"})}, {"sent", strs({"archived", "draft"})}, {"archived", strs({})}});
    auto m = parse_transitions(j, std::vector<std::string>{"draft", "sent", "archived"});
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m.at("draft"), (std::vector<std::string>{"sent"}));
    EXPECT_EQ(m.at("sent"), (std::vector<std::string>{"archived", "draft"}));
    EXPECT_TRUE(m.at("archived").empty());
    // Without allowed_statuses any status may be named.
    auto free = parse_transitions(obj({{"a", strs({"b"})}}), std::nullopt);
    EXPECT_EQ(free.at("a"), (std::vector<std::string>{"b"}));
    EXPECT_TRUE(parse_transitions(obj({}), std::nullopt).empty());
}

TEST(ParseTransitions, Invalid) {
    const std::optional<std::vector<std::string>> allowed = std::vector<std::string>{"draft", "sent"};
    Error e("", "");
    EXPECT_TRUE(ThrowsError([&] { parse_transitions(strs({"draft"}), allowed); }, "22023", "status_transitions", &e));
    EXPECT_FALSE(e.hint().empty());
    EXPECT_TRUE(ThrowsError([&] { parse_transitions(obj({{"draft", str("sent")}}), allowed); }, "22023"));
    EXPECT_TRUE(ThrowsError([&] { parse_transitions(obj({{"draft", Json::array({num(1)})}}), allowed); }, "22023"));
    EXPECT_TRUE(ThrowsError([&] { parse_transitions(obj({{"gone", strs({"sent"})}}), allowed); }, "22023", "", &e));
    EXPECT_NE(e.detail().find("\"gone\""), std::string::npos) << e.detail();
    EXPECT_TRUE(ThrowsError([&] { parse_transitions(obj({{"draft", strs({"sent", "lost"})}}), allowed); }, "22023", "",
                            &e));
    EXPECT_NE(e.detail().find("\"lost\""), std::string::npos) << e.detail();
}
