// Unit tests for batch request parsing (src/core/request.hpp, API.md section 4).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/request.hpp"

using namespace batch_ops::core;

namespace {

Json num(int64_t v) { return Json::number(v); }
Json numtext(const std::string& t) { return Json::number(t); }
Json str(const std::string& s) { return Json::string(s); }
Json boolean(bool b) { return Json::boolean(b); }
Json arr(Json::Array a) { return Json::array(std::move(a)); }
Json obj(Json::Object o) { return Json::object(std::move(o)); }

Json strs(const std::vector<std::string>& v) {
    Json a = Json::array();
    for (const auto& s : v) a.push(str(s));
    return a;
}

// A minimal valid request of an operation with target ids; extra members are
// appended (or replace the defaults).
Json req(const std::string& op, Json::Object extra = {}) {
    Json j = obj({{"operation", str(op)}, {"target_type", str("letters")}});
    if (op == "bulk_create") j.set("items", arr({obj({{"title", str("t")}})}));
    else j.set("target_ids", strs({"L1", "L2"}));
    for (auto& m : extra) j.set(m.first, std::move(m.second));
    return j;
}

Json with_ids(Json j, Json ids) {
    j.set("target_ids", std::move(ids));
    return j;
}

Json without(Json j, const std::string& key) {
    auto& m = j.members();
    for (auto it = m.begin(); it != m.end(); ++it)
        if (it->first == key) { m.erase(it); break; }
    return j;
}

Json ids_n(int n) {
    Json a = Json::array();
    for (int i = 1; i <= n; ++i) a.push(str("id" + std::to_string(i)));
    return a;
}

// The request must be rejected with 22023, "invalid batch request: ..." naming `key`.
::testing::AssertionResult RejectedNaming(const Json& j, const std::string& key, const Limits& limits = Limits{}) {
    try {
        parse_request(j, limits);
    } catch (const Error& e) {
        std::string m = e.what();
        if (e.sqlstate() != "22023")
            return ::testing::AssertionFailure() << "sqlstate " << e.sqlstate() << ", message: " << m;
        if (m.rfind("invalid batch request: ", 0) != 0)
            return ::testing::AssertionFailure() << "message lacks the prefix: " << m;
        if (m.find(key) == std::string::npos)
            return ::testing::AssertionFailure() << "message does not name " << key << ": " << m;
        return ::testing::AssertionSuccess();
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "not a core::Error: " << e.what();
    }
    return ::testing::AssertionFailure() << "accepted: " << j.dump();
}

}  // namespace

// ---------------------------------------------------------------------------
// Valid requests, one per operation

TEST(ParseRequestValid, DeleteWithDefaults) {
    Request r = parse_request(req("delete"), Limits{});
    EXPECT_EQ(r.operation, Operation::Delete);
    EXPECT_EQ(r.target_type, "letters");
    EXPECT_EQ(r.target_ids, (std::vector<std::string>{"L1", "L2"}));
    EXPECT_TRUE(r.items.empty());
    EXPECT_EQ(r.item_count(), 2u);
    EXPECT_FALSE(r.soft_delete.has_value());
    EXPECT_EQ(r.delete_reason, "");
    EXPECT_FALSE(r.dry_run);
    EXPECT_EQ(r.execution, Execution::Background);
    EXPECT_EQ(r.priority, 0);
    EXPECT_TRUE(r.depends_on.empty());
    EXPECT_FALSE(r.max_attempts.has_value());
    EXPECT_FALSE(r.idempotency_key.has_value());
}

TEST(ParseRequestValid, DeleteWithOperationData) {
    Request r = parse_request(
        req("delete", {{"operation_data", obj({{"soft_delete", boolean(false)}, {"delete_reason", str("gdpr")}})}}),
        Limits{});
    ASSERT_TRUE(r.soft_delete.has_value());
    EXPECT_FALSE(*r.soft_delete);
    EXPECT_EQ(r.delete_reason, "gdpr");
    Request r2 = parse_request(req("delete", {{"operation_data", obj({{"soft_delete", boolean(true)}})}}), Limits{});
    ASSERT_TRUE(r2.soft_delete.has_value());
    EXPECT_TRUE(*r2.soft_delete);
}

TEST(ParseRequestValid, Update) {
    Request r = parse_request(
        req("update", {{"operation_data", obj({{"fields", obj({{"title", str("new")}, {"score", num(5)},
                                                                 {"body", Json::null()}})}})}}),
        Limits{});
    EXPECT_EQ(r.operation, Operation::Update);
    ASSERT_EQ(r.fields.size(), 3u);
    EXPECT_EQ(r.fields[0].first, "title");
    EXPECT_EQ(r.fields[0].second.text(), "new");
    EXPECT_EQ(r.fields[1].first, "score");
    EXPECT_TRUE(r.fields[1].second.is_number());
    EXPECT_EQ(r.fields[1].second.text(), "5");
    EXPECT_EQ(r.fields[2].first, "body");
    EXPECT_TRUE(r.fields[2].second.is_null());
}

TEST(ParseRequestValid, StatusUpdate) {
    Request r = parse_request(
        req("status_update",
            {{"operation_data", obj({{"new_status", str("sent")}, {"reason", str("mailed")}, {"force", boolean(true)}})}}),
        Limits{});
    EXPECT_EQ(r.operation, Operation::StatusUpdate);
    EXPECT_EQ(r.new_status, "sent");
    EXPECT_EQ(r.reason, "mailed");
    EXPECT_TRUE(r.force);
    Request r2 = parse_request(req("status_update", {{"operation_data", obj({{"new_status", str("sent")}})}}), Limits{});
    EXPECT_FALSE(r2.force);
    EXPECT_EQ(r2.reason, "");
}

TEST(ParseRequestValid, ExportDefaultsToJson) {
    Request r = parse_request(req("export"), Limits{});
    EXPECT_EQ(r.operation, Operation::Export);
    EXPECT_EQ(r.export_format, ExportFormat::Json);
    EXPECT_FALSE(r.include_fields.has_value());
    EXPECT_TRUE(r.exclude_fields.empty());
}

TEST(ParseRequestValid, ExportFormatsAndFields) {
    Request nd = parse_request(req("export", {{"operation_data", obj({{"export_format", str("ndjson")}})}}), Limits{});
    EXPECT_EQ(nd.export_format, ExportFormat::Ndjson);
    Request js = parse_request(req("export", {{"operation_data", obj({{"export_format", str("json")}})}}), Limits{});
    EXPECT_EQ(js.export_format, ExportFormat::Json);
    Request csv = parse_request(
        req("export", {{"operation_data", obj({{"export_format", str("csv")}, {"include_fields", strs({"title", "id"})},
                                                {"exclude_fields", strs({"body"})}})}}),
        Limits{});
    EXPECT_EQ(csv.export_format, ExportFormat::Csv);
    ASSERT_TRUE(csv.include_fields.has_value());
    EXPECT_EQ(*csv.include_fields, (std::vector<std::string>{"title", "id"}));
    EXPECT_EQ(csv.exclude_fields, (std::vector<std::string>{"body"}));
}

TEST(ParseRequestValid, Archive) {
    Request r = parse_request(
        req("archive",
            {{"operation_data", obj({{"archive_reason", str("old")}, {"archive_location", str("cold storage")}})}}),
        Limits{});
    EXPECT_EQ(r.operation, Operation::Archive);
    EXPECT_EQ(r.archive_reason, "old");
    EXPECT_EQ(r.archive_location, "cold storage");
}

TEST(ParseRequestValid, RestoreWithAndWithoutOperationData) {
    Request r = parse_request(req("restore"), Limits{});
    EXPECT_EQ(r.operation, Operation::Restore);
    Request r2 = parse_request(req("restore", {{"operation_data", obj({})}}), Limits{});
    EXPECT_EQ(r2.operation, Operation::Restore);
}

TEST(ParseRequestValid, BulkCreate) {
    Json items = arr({obj({{"title", str("a")}, {"score", num(1)}}), obj({{"title", str("b")}})});
    Json j = obj({{"operation", str("bulk_create")},
                  {"target_type", str("letters")},
                  {"items", items},
                  {"operation_data", obj({{"skip_validation", boolean(true)}, {"continue_on_error", boolean(true)}})}});
    Request r = parse_request(j, Limits{});
    EXPECT_EQ(r.operation, Operation::BulkCreate);
    EXPECT_TRUE(r.target_ids.empty());
    ASSERT_EQ(r.items.size(), 2u);
    EXPECT_EQ(r.item_count(), 2u);
    EXPECT_EQ(r.items[0].dump(), R"({"title": "a", "score": 1})");
    EXPECT_EQ(r.items[1].dump(), R"({"title": "b"})");
    EXPECT_TRUE(r.skip_validation);
    EXPECT_TRUE(r.continue_on_error);
    Request d = parse_request(req("bulk_create"), Limits{});
    EXPECT_FALSE(d.skip_validation);
    EXPECT_FALSE(d.continue_on_error);
}

TEST(ParseRequestValid, IntegerIdsBecomeDecimalStrings) {
    Request r = parse_request(with_ids(req("delete"), arr({num(7), str("8"), num(-3), num(0)})), Limits{});
    EXPECT_EQ(r.target_ids, (std::vector<std::string>{"7", "8", "-3", "0"}));
    Request big = parse_request(with_ids(req("delete"), arr({numtext("9223372036854775807")})), Limits{});
    EXPECT_EQ(big.target_ids, (std::vector<std::string>{"9223372036854775807"}));
}

TEST(ParseRequestValid, TopLevelOptions) {
    Request r = parse_request(req("delete", {{"priority", num(-5)},
                                             {"depends_on", arr({num(3), num(1)})},
                                             {"max_attempts", num(5)},
                                             {"idempotency_key", str("key-1")},
                                             {"execution", str("inline")}}),
                              Limits{});
    EXPECT_EQ(r.priority, -5);
    EXPECT_EQ(r.depends_on, (std::vector<int64_t>{3, 1}));
    ASSERT_TRUE(r.max_attempts.has_value());
    EXPECT_EQ(*r.max_attempts, 5);
    ASSERT_TRUE(r.idempotency_key.has_value());
    EXPECT_EQ(*r.idempotency_key, "key-1");
    EXPECT_EQ(r.execution, Execution::Inline);
}

TEST(ParseRequestValid, MaxAttemptsBounds) {
    EXPECT_EQ(parse_request(req("delete", {{"max_attempts", num(1)}}), Limits{}).max_attempts, 1);
    EXPECT_EQ(parse_request(req("delete", {{"max_attempts", num(100)}}), Limits{}).max_attempts, 100);
}

TEST(ParseRequestValid, DuplicatesInDependsOnCollapse) {
    Request r = parse_request(req("delete", {{"depends_on", arr({num(3), num(3), num(5), num(3), num(5)})}}), Limits{});
    EXPECT_EQ(r.depends_on, (std::vector<int64_t>{3, 5}));
}

// ---------------------------------------------------------------------------
// Defaults of execution

TEST(ParseRequestDefaults, ExecutionBackgroundByDefault) {
    EXPECT_EQ(parse_request(req("delete"), Limits{}).execution, Execution::Background);
    EXPECT_EQ(parse_request(req("delete", {{"dry_run", boolean(false)}}), Limits{}).execution, Execution::Background);
}

TEST(ParseRequestDefaults, DryRunWithoutExecutionIsInline) {
    Request r = parse_request(req("delete", {{"dry_run", boolean(true)}}), Limits{});
    EXPECT_TRUE(r.dry_run);
    EXPECT_EQ(r.execution, Execution::Inline);
}

TEST(ParseRequestDefaults, DryRunWithExplicitBackgroundStaysBackground) {
    Request r = parse_request(req("delete", {{"dry_run", boolean(true)}, {"execution", str("background")}}), Limits{});
    EXPECT_TRUE(r.dry_run);
    EXPECT_EQ(r.execution, Execution::Background);
}

TEST(ParseRequestDefaults, ExplicitInline) {
    EXPECT_EQ(parse_request(req("delete", {{"execution", str("inline")}}), Limits{}).execution, Execution::Inline);
}

// ---------------------------------------------------------------------------
// Operation names

TEST(Operations, NamesRoundTrip) {
    const std::vector<std::string> expected = {"delete",  "update",  "status_update", "export",
                                               "archive", "restore", "bulk_create"};
    EXPECT_EQ(operation_names(), expected);
    for (const auto& name : expected) {
        auto op = parse_operation(name);
        ASSERT_TRUE(op.has_value()) << name;
        EXPECT_EQ(to_string(*op), name);
    }
    EXPECT_FALSE(parse_operation("Delete").has_value());
    EXPECT_FALSE(parse_operation("purge").has_value());
    EXPECT_FALSE(parse_operation("").has_value());
    EXPECT_STREQ(to_string(Execution::Inline), "inline");
    EXPECT_STREQ(to_string(Execution::Background), "background");
    EXPECT_STREQ(to_string(ExportFormat::Json), "json");
    EXPECT_STREQ(to_string(ExportFormat::Ndjson), "ndjson");
    EXPECT_STREQ(to_string(ExportFormat::Csv), "csv");
}

TEST(Operations, EachOperationParses) {
    for (const auto& name : operation_names()) {
        Json j = req(name);
        if (name == "update") j.set("operation_data", obj({{"fields", obj({{"title", str("x")}})}}));
        if (name == "status_update") j.set("operation_data", obj({{"new_status", str("sent")}}));
        Request r;
        ASSERT_NO_THROW(r = parse_request(j, Limits{})) << name;
        EXPECT_EQ(to_string(r.operation), name);
    }
}

TEST(SafeIdentifier, Rules) {
    EXPECT_TRUE(is_safe_identifier("title", 63));
    EXPECT_TRUE(is_safe_identifier("Mixed Case_1", 63));
    EXPECT_TRUE(is_safe_identifier(std::string(63, 'a'), 63));
    EXPECT_FALSE(is_safe_identifier(std::string(64, 'a'), 63));
    EXPECT_FALSE(is_safe_identifier("", 63));
    EXPECT_FALSE(is_safe_identifier("a\"b", 63));
    EXPECT_FALSE(is_safe_identifier("a'b", 63));
    EXPECT_FALSE(is_safe_identifier("a;b", 63));
    EXPECT_FALSE(is_safe_identifier("a\\b", 63));
    EXPECT_FALSE(is_safe_identifier("a\nb", 63));
    EXPECT_FALSE(is_safe_identifier(std::string("a\0b", 3), 63));
    EXPECT_FALSE(is_safe_identifier("a\x7f", 63));
}

// ---------------------------------------------------------------------------
// Malformed requests: 22023, "invalid batch request: ", naming the key

TEST(ParseRequestInvalid, NotAnObject) {
    EXPECT_TRUE(RejectedNaming(arr({}), "object"));
    EXPECT_TRUE(RejectedNaming(str("delete"), "object"));
    EXPECT_TRUE(RejectedNaming(Json::null(), "object"));
}

TEST(ParseRequestInvalid, UnknownTopLevelKey) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"targetids", strs({"a"})}}), "\"targetids\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"soft_delete", boolean(true)}}), "\"soft_delete\""));
}

TEST(ParseRequestInvalid, UnknownTopLevelKeyDetailListsAllowedKeys) {
    try {
        parse_request(req("delete", {{"bogus", num(1)}}), Limits{});
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.detail().find("target_ids"), std::string::npos) << e.detail();
        EXPECT_NE(e.detail().find("idempotency_key"), std::string::npos) << e.detail();
    }
}

TEST(ParseRequestInvalid, UnknownOperationDataKey) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation_data", obj({{"force", boolean(true)}})}}),
                               "\"operation_data.force\""));
    EXPECT_TRUE(RejectedNaming(req("restore", {{"operation_data", obj({{"reason", str("x")}})}}),
                               "\"operation_data.reason\""));
    EXPECT_TRUE(RejectedNaming(
        req("update", {{"operation_data", obj({{"fields", obj({{"a", num(1)}})}, {"field", obj({})}})}}),
        "\"operation_data.field\""));
    EXPECT_TRUE(RejectedNaming(
        req("status_update", {{"operation_data", obj({{"new_status", str("s")}, {"soft_delete", boolean(true)}})}}),
        "\"operation_data.soft_delete\""));
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"format", str("csv")}})}}),
                               "\"operation_data.format\""));
    EXPECT_TRUE(RejectedNaming(req("archive", {{"operation_data", obj({{"location", str("x")}})}}),
                               "\"operation_data.location\""));
    EXPECT_TRUE(RejectedNaming(req("bulk_create", {{"operation_data", obj({{"validate", boolean(false)}})}}),
                               "\"operation_data.validate\""));
}

TEST(ParseRequestInvalid, OperationDataNotAnObject) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation_data", arr({})}}), "operation_data"));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation_data", str("x")}}), "operation_data"));
}

TEST(ParseRequestInvalid, OperationMissingOrUnknownOrWrongType) {
    EXPECT_TRUE(RejectedNaming(without(req("delete"), "operation"), "\"operation\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation", str("purge")}}), "purge"));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation", num(1)}}), "\"operation\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation", str("")}}), "\"operation\""));
}

TEST(ParseRequestInvalid, TargetType) {
    EXPECT_TRUE(RejectedNaming(without(req("delete"), "target_type"), "\"target_type\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"target_type", num(5)}}), "\"target_type\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"target_type", str("let\"ters")}}), "\"target_type\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"target_type", str("letters;drop table x")}}), "\"target_type\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"target_type", str(std::string(64, 't'))}}), "\"target_type\""));
}

TEST(ParseRequestInvalid, WrongTypesOfTopLevelKeys) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"dry_run", str("true")}}), "\"dry_run\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"dry_run", num(1)}}), "\"dry_run\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"execution", str("later")}}), "\"execution\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"execution", boolean(true)}}), "\"execution\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"priority", str("5")}}), "\"priority\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"priority", numtext("1.5")}}), "\"priority\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"idempotency_key", num(5)}}), "\"idempotency_key\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"idempotency_key", str("")}}), "\"idempotency_key\""));
}

TEST(ParseRequestInvalid, WrongTypesInOperationData) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation_data", obj({{"soft_delete", str("true")}})}}),
                               "\"operation_data.soft_delete\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation_data", obj({{"delete_reason", num(5)}})}}),
                               "\"operation_data.delete_reason\""));
    EXPECT_TRUE(RejectedNaming(
        req("status_update", {{"operation_data", obj({{"new_status", str("s")}, {"force", num(1)}})}}),
        "\"operation_data.force\""));
    EXPECT_TRUE(RejectedNaming(req("status_update", {{"operation_data", obj({{"new_status", num(1)}})}}),
                               "\"operation_data.new_status\""));
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"export_format", str("xml")}})}}),
                               "\"operation_data.export_format\""));
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"export_format", num(1)}})}}),
                               "\"operation_data.export_format\""));
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"include_fields", str("title")}})}}),
                               "\"operation_data.include_fields\""));
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"include_fields", arr({num(1)})}})}}),
                               "\"operation_data.include_fields\""));
    EXPECT_TRUE(RejectedNaming(req("archive", {{"operation_data", obj({{"archive_reason", boolean(true)}})}}),
                               "\"operation_data.archive_reason\""));
    EXPECT_TRUE(RejectedNaming(req("bulk_create", {{"operation_data", obj({{"skip_validation", str("yes")}})}}),
                               "\"operation_data.skip_validation\""));
    EXPECT_TRUE(RejectedNaming(req("bulk_create", {{"operation_data", obj({{"continue_on_error", num(1)}})}}),
                               "\"operation_data.continue_on_error\""));
}

TEST(ParseRequestInvalid, UpdateFieldsMissingOrEmptyOrNotObject) {
    EXPECT_TRUE(RejectedNaming(req("update"), "\"operation_data.fields\""));
    EXPECT_TRUE(RejectedNaming(req("update", {{"operation_data", obj({{"fields", obj({})}})}}),
                               "\"operation_data.fields\""));
    EXPECT_TRUE(RejectedNaming(req("update", {{"operation_data", obj({{"fields", arr({str("title")})}})}}),
                               "\"operation_data.fields\""));
}

TEST(ParseRequestInvalid, StatusUpdateNeedsNewStatus) {
    EXPECT_TRUE(RejectedNaming(req("status_update"), "\"operation_data.new_status\""));
    EXPECT_TRUE(RejectedNaming(req("status_update", {{"operation_data", obj({{"new_status", str("")}})}}),
                               "\"operation_data.new_status\""));
}

TEST(ParseRequestInvalid, TargetIdsMissingEmptyOrNotArray) {
    EXPECT_TRUE(RejectedNaming(without(req("delete"), "target_ids"), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), str("L1")), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), Json::null()), "\"target_ids\""));
}

TEST(ParseRequestInvalid, TooManyTargetIds) {
    Limits lim;
    lim.max_items = 3;
    EXPECT_NO_THROW(parse_request(with_ids(req("delete"), ids_n(3)), lim));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), ids_n(4)), "\"target_ids\"", lim));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), ids_n(4)), "at most 3 ids", lim));
    // The default limit is 1000 (batch_ops.max_items).
    EXPECT_NO_THROW(parse_request(with_ids(req("delete"), ids_n(1000)), Limits{}));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), ids_n(1001)), "at most 1000 ids"));
}

TEST(ParseRequestInvalid, EmptyIdsMessageMatchesContractExample) {
    try {
        parse_request(with_ids(req("delete"), arr({})), Limits{});
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "invalid batch request: \"target_ids\" must be a non-empty array of at most 1000 ids");
    }
}

TEST(ParseRequestInvalid, DuplicateTargetIds) {
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), strs({"a", "b", "a"})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({num(7), num(7)})), "\"target_ids\""));
}

TEST(ParseRequestInvalid, StringAndIntegerIdsCountAsDuplicates) {
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({str("7"), num(7)})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({num(7), str("7")})), "\"7\""));
}

TEST(ParseRequestInvalid, FloatIds) {
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({numtext("7.5")})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({numtext("7.0")})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({str("a"), numtext("1e3")})), "\"target_ids\""));
    // Out of the bigint range: not an integer id either.
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({numtext("99999999999999999999")})), "\"target_ids\""));
}

TEST(ParseRequestInvalid, IdsOfOtherTypes) {
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({boolean(true)})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({Json::null()})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({obj({{"id", num(1)}})})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({arr({num(1)})})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), arr({str("")})), "\"target_ids\""));
}

TEST(ParseRequestInvalid, OversizedId) {
    Limits lim;
    EXPECT_NO_THROW(parse_request(with_ids(req("delete"), strs({std::string(lim.max_id_length, 'x')})), lim));
    EXPECT_TRUE(
        RejectedNaming(with_ids(req("delete"), strs({std::string(lim.max_id_length + 1, 'x')})), "\"target_ids\""));
}

TEST(ParseRequestInvalid, OversizedStrings) {
    Limits lim;
    lim.max_text_length = 10;
    lim.max_key_length = 5;
    const std::string ok10(10, 'r'), long11(11, 'r');
    EXPECT_NO_THROW(parse_request(req("delete", {{"operation_data", obj({{"delete_reason", str(ok10)}})}}), lim));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation_data", obj({{"delete_reason", str(long11)}})}}),
                               "\"operation_data.delete_reason\"", lim));
    EXPECT_TRUE(RejectedNaming(req("status_update", {{"operation_data", obj({{"new_status", str(long11)}})}}),
                               "\"operation_data.new_status\"", lim));
    EXPECT_TRUE(RejectedNaming(
        req("status_update", {{"operation_data", obj({{"new_status", str("s")}, {"reason", str(long11)}})}}),
        "\"operation_data.reason\"", lim));
    EXPECT_TRUE(RejectedNaming(req("archive", {{"operation_data", obj({{"archive_location", str(long11)}})}}),
                               "\"operation_data.archive_location\"", lim));
    EXPECT_NO_THROW(parse_request(req("delete", {{"idempotency_key", str("12345")}}), lim));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"idempotency_key", str("123456")}}), "\"idempotency_key\"", lim));
}

TEST(ParseRequestInvalid, OversizedStringsWithDefaultLimits) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation_data", obj({{"delete_reason", str(std::string(1001, 'x'))}})}}),
                               "\"operation_data.delete_reason\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"idempotency_key", str(std::string(201, 'k'))}}), "\"idempotency_key\""));
}

TEST(ParseRequestInvalid, NulInStrings) {
    const std::string nul("a\0b", 3);
    EXPECT_TRUE(RejectedNaming(req("delete", {{"operation_data", obj({{"delete_reason", str(nul)}})}}),
                               "\"operation_data.delete_reason\""));
    EXPECT_TRUE(RejectedNaming(req("status_update", {{"operation_data", obj({{"new_status", str(nul)}})}}),
                               "\"operation_data.new_status\""));
    EXPECT_TRUE(RejectedNaming(req("archive", {{"operation_data", obj({{"archive_reason", str(nul)}})}}),
                               "\"operation_data.archive_reason\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"idempotency_key", str(nul)}}), "\"idempotency_key\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), strs({"ok", nul})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"target_type", str(std::string("let\0ters", 8))}}), "\"target_type\""));
}

TEST(ParseRequestInvalid, ControlCharactersInIds) {
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), strs({"a\nb"})), "\"target_ids\""));
    EXPECT_TRUE(RejectedNaming(with_ids(req("delete"), strs({"a\x7f"})), "\"target_ids\""));
}

TEST(ParseRequestInvalid, UnsafeIdentifiersInFields) {
    for (const std::string bad : {"ti\"tle", "title; drop table x", "it's", "a\\b", "a\nb"}) {
        EXPECT_TRUE(RejectedNaming(req("update", {{"operation_data", obj({{"fields", obj({{bad, num(1)}})}})}}),
                                   "\"operation_data.fields\""))
            << bad;
    }
    EXPECT_TRUE(RejectedNaming(
        req("update", {{"operation_data", obj({{"fields", obj({{std::string(64, 'c'), num(1)}})}})}}),
        "\"operation_data.fields\""));
}

TEST(ParseRequestInvalid, UnsafeIdentifiersInIncludeAndExcludeFields) {
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"include_fields", strs({"id", "x\"y"})}})}}),
                               "\"operation_data.include_fields\""));
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"include_fields", strs({"id;select 1"})}})}}),
                               "\"operation_data.include_fields\""));
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"exclude_fields", strs({"a;b"})}})}}),
                               "\"operation_data.exclude_fields\""));
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"exclude_fields", strs({"a'b"})}})}}),
                               "\"operation_data.exclude_fields\""));
    // Longer than an identifier may be (NAMEDATALEN - 1 = 63 bytes).
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"include_fields", strs({std::string(64, 'c')})}})}}),
                               "\"operation_data.include_fields\""));
    EXPECT_NO_THROW(parse_request(
        req("export", {{"operation_data", obj({{"include_fields", strs({std::string(63, 'c')})}})}}), Limits{}));
}

TEST(ParseRequestInvalid, IncludeFieldsEmptyOrDuplicated) {
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"include_fields", arr({})}})}}),
                               "\"operation_data.include_fields\""));
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"include_fields", strs({"id", "id"})}})}}),
                               "\"operation_data.include_fields\""));
    EXPECT_TRUE(RejectedNaming(req("export", {{"operation_data", obj({{"exclude_fields", strs({"id", "id"})}})}}),
                               "\"operation_data.exclude_fields\""));
}

TEST(ParseRequestInvalid, UnsafeIdentifiersInItems) {
    Json j = req("bulk_create");
    j.set("items", arr({obj({{"title", str("ok")}}), obj({{"ti\"tle", str("x")}})}));
    EXPECT_TRUE(RejectedNaming(j, "\"items\""));
    j.set("items", arr({obj({{"a;b", str("x")}})}));
    EXPECT_TRUE(RejectedNaming(j, "\"items\""));
    j.set("items", arr({obj({{"a'b", str("x")}})}));
    EXPECT_TRUE(RejectedNaming(j, "\"items\""));
}

TEST(ParseRequestInvalid, ItemsShape) {
    Json j = req("bulk_create");
    j.set("items", arr({}));
    EXPECT_TRUE(RejectedNaming(j, "\"items\""));
    j.set("items", obj({{"title", str("x")}}));
    EXPECT_TRUE(RejectedNaming(j, "\"items\""));
    j.set("items", arr({str("x")}));
    EXPECT_TRUE(RejectedNaming(j, "\"items\""));
    j.set("items", arr({obj({})}));
    EXPECT_TRUE(RejectedNaming(j, "\"items\""));
    EXPECT_TRUE(RejectedNaming(without(req("bulk_create"), "items"), "\"items\""));
}

TEST(ParseRequestInvalid, TooManyItems) {
    Limits lim;
    lim.max_items = 2;
    Json j = req("bulk_create");
    j.set("items", arr({obj({{"a", num(1)}}), obj({{"a", num(2)}})}));
    EXPECT_NO_THROW(parse_request(j, lim));
    j.set("items", arr({obj({{"a", num(1)}}), obj({{"a", num(2)}}), obj({{"a", num(3)}})}));
    EXPECT_TRUE(RejectedNaming(j, "\"items\"", lim));
}

TEST(ParseRequestInvalid, ItemsOnlyForBulkCreate) {
    Json j = req("delete", {{"items", arr({obj({{"title", str("x")}})})}});
    EXPECT_TRUE(RejectedNaming(j, "\"items\""));
    EXPECT_TRUE(RejectedNaming(without(j, "target_ids"), "\"items\""));
}

TEST(ParseRequestInvalid, TargetIdsNotForBulkCreate) {
    EXPECT_TRUE(RejectedNaming(req("bulk_create", {{"target_ids", strs({"a"})}}), "\"target_ids\""));
}

TEST(ParseRequestInvalid, IdempotencyKeyWithDryRun) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"dry_run", boolean(true)}, {"idempotency_key", str("k")}}),
                               "\"idempotency_key\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"idempotency_key", str("k")}, {"dry_run", boolean(true)}}),
                               "\"idempotency_key\""));
    EXPECT_NO_THROW(parse_request(req("delete", {{"dry_run", boolean(false)}, {"idempotency_key", str("k")}}),
                                  Limits{}));
}

TEST(ParseRequestInvalid, MaxAttemptsOutOfRange) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"max_attempts", num(0)}}), "\"max_attempts\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"max_attempts", num(-1)}}), "\"max_attempts\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"max_attempts", num(101)}}), "\"max_attempts\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"max_attempts", numtext("2.5")}}), "\"max_attempts\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"max_attempts", str("3")}}), "\"max_attempts\""));
}

TEST(ParseRequestInvalid, PriorityOutOfRange) {
    EXPECT_NO_THROW(parse_request(req("delete", {{"priority", num(1000000)}}), Limits{}));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"priority", num(1000001)}}), "\"priority\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"priority", numtext("99999999999999999999")}}), "\"priority\""));
}

TEST(ParseRequestInvalid, DependsOnNotIntegers) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"depends_on", num(3)}}), "\"depends_on\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"depends_on", arr({str("3")})}}), "\"depends_on\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"depends_on", arr({numtext("1.5")})}}), "\"depends_on\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"depends_on", arr({num(0)})}}), "\"depends_on\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"depends_on", arr({num(2), num(-1)})}}), "\"depends_on\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"depends_on", arr({Json::null()})}}), "\"depends_on\""));
}

TEST(ParseRequestInvalid, DependsOnTooMany) {
    Limits lim;
    lim.max_depends_on = 2;
    EXPECT_NO_THROW(parse_request(req("delete", {{"depends_on", arr({num(1), num(2)})}}), lim));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"depends_on", arr({num(1), num(2), num(3)})}}), "\"depends_on\"", lim));
}

// ---------------------------------------------------------------------------
// target_filter: rows selected by an SQL expression instead of target_ids

namespace {

Json filtered(const std::string& op, Json filter) {
    Json j = without(req(op), "target_ids");
    j.set("target_filter", std::move(filter));
    return j;
}

}  // namespace

TEST(ParseRequestFilter, SubmittedWithoutIds) {
    Request r = parse_request(filtered("delete", str("status = 'draft'")), Limits{});
    ASSERT_TRUE(r.target_filter.has_value());
    EXPECT_EQ(*r.target_filter, "status = 'draft'");
    EXPECT_TRUE(r.target_ids.empty());
    EXPECT_EQ(r.item_count(), 0u);
    // A null filter is an absent one: target_ids are then required.
    Request plain = parse_request(req("delete", {{"target_filter", Json::null()}}), Limits{});
    EXPECT_FALSE(plain.target_filter.has_value());
    EXPECT_TRUE(RejectedNaming(filtered("delete", Json::null()), "\"target_ids\""));
}

TEST(ParseRequestFilter, NotWithTargetIds) {
    Json both = req("delete", {{"target_filter", str("true")}});
    EXPECT_TRUE(RejectedNaming(both, "\"target_filter\""));
    EXPECT_TRUE(RejectedNaming(both, "\"target_ids\""));
}

TEST(ParseRequestFilter, NotForBulkCreate) {
    EXPECT_TRUE(RejectedNaming(req("bulk_create", {{"target_filter", str("true")}}), "\"target_filter\""));
}

TEST(ParseRequestFilter, MustBeANonEmptyString) {
    EXPECT_TRUE(RejectedNaming(filtered("delete", num(1)), "\"target_filter\""));
    EXPECT_TRUE(RejectedNaming(filtered("delete", arr({str("true")})), "\"target_filter\""));
    EXPECT_TRUE(RejectedNaming(filtered("delete", str("")), "\"target_filter\""));
    EXPECT_TRUE(RejectedNaming(filtered("delete", str(" \n\t ")), "\"target_filter\""));
    EXPECT_TRUE(RejectedNaming(filtered("delete", str(std::string("a\0b", 3))), "\"target_filter\""));
    Limits lim;
    lim.max_filter_length = 10;
    EXPECT_NO_THROW(parse_request(filtered("delete", str("id < 12345")), lim));
    EXPECT_TRUE(RejectedNaming(filtered("delete", str("id < 123456")), "\"target_filter\"", lim));
}

TEST(ParseRequestFilter, StoredWithItsIds) {
    // As batch_ops.batch.request records it: the filter and the ids it selected.
    Json stored = req("delete", {{"target_filter", str("id > 1")}, {"target_ids", strs({"2", "3"})}});
    Request r = parse_request(stored, Limits{}, Origin::Stored);
    EXPECT_EQ(*r.target_filter, "id > 1");
    EXPECT_EQ(r.target_ids, (std::vector<std::string>{"2", "3"}));
    // A filter that selected nothing: a batch of no items.
    Json none = req("delete", {{"target_filter", str("id > 99")}, {"target_ids", Json::array()}});
    Request empty = parse_request(none, Limits{}, Origin::Stored);
    EXPECT_TRUE(empty.target_ids.empty());
    // Without its ids the stored request is broken; a stored request without a
    // filter is checked as a submitted one.
    try {
        parse_request(filtered("delete", str("true")), Limits{}, Origin::Stored);
        ADD_FAILURE() << "accepted a stored filter without its ids";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), "22023");
    }
    EXPECT_THROW(parse_request(with_ids(req("delete"), Json::array()), Limits{}, Origin::Stored), Error);
    // slice keeps the filter with the chunk's ids.
    Request part = slice(r, {1});
    EXPECT_EQ(*part.target_filter, "id > 1");
    EXPECT_EQ(part.target_ids, (std::vector<std::string>{"3"}));
}

// ---------------------------------------------------------------------------
// not_before (API.md section 4): an ISO 8601 timestamp, background only

TEST(NotBefore, AcceptedForms) {
    for (const char* s : {"2026-01-20", "2026-01-20T10:00", "2026-01-20T10:00:00", "2026-01-20 10:00:00",
                          "2026-01-20t10:00:00z", "2026-01-20T10:00:00Z", "2026-01-20T10:00:00.5Z",
                          "2026-01-20T10:00:00.123456+01:00", "2026-01-20T10:00:00-05", "2026-01-20T23:59:59+0530",
                          "2024-02-29T00:00:00Z", "2000-02-29", "0001-01-01", "9999-12-31T23:59:59-15:59"})
        EXPECT_TRUE(is_iso8601_timestamp(s)) << s;
}

TEST(NotBefore, RejectedForms) {
    for (const char* s : {"", "now", "tomorrow", "2026", "2026-01", "26-01-20", "2026/01/20", "2026-1-20",
                          "2026-01-20T", "2026-01-20T10", "2026-01-20T10:0", "2026-01-20T24:00:00",
                          "2026-01-20T10:60:00", "2026-01-20T10:00:60", "2026-00-10", "2026-13-01", "2026-01-00",
                          "2026-01-32", "2026-02-29", "1900-02-29", "2026-04-31", "0000-01-01",
                          "2026-01-20T10:00:00.", "2026-01-20T10:00:00.1234567", "2026-01-20T10:00:00+16",
                          "2026-01-20T10:00:00+01:60", "2026-01-20T10:00:00+1", "2026-01-20T10:00:00Z+01",
                          "2026-01-20T10:00:00 UTC", "2026-01-20T10:00:00+01:00 ", " 2026-01-20",
                          "2026-01-20T10:00:00+01:00:00", "2026-01-20x", "2026-01-20T10:00:00;drop"})
        EXPECT_FALSE(is_iso8601_timestamp(s)) << s;
}

TEST(NotBefore, ParsedForBackgroundBatches) {
    Request r = parse_request(req("delete", {{"not_before", str("2026-01-20T10:00:00Z")}}), Limits{});
    ASSERT_TRUE(r.not_before.has_value());
    EXPECT_EQ(*r.not_before, "2026-01-20T10:00:00Z");
    EXPECT_FALSE(parse_request(req("delete"), Limits{}).not_before.has_value());
    EXPECT_FALSE(parse_request(req("delete", {{"not_before", Json::null()}}), Limits{}).not_before.has_value());
    // A background dry run may wait too.
    Request d = parse_request(req("delete", {{"dry_run", boolean(true)}, {"execution", str("background")},
                                             {"not_before", str("2026-01-20")}}),
                              Limits{});
    EXPECT_EQ(d.not_before.value_or(""), "2026-01-20");
    // A chunk's slice keeps it.
    EXPECT_EQ(slice(r, {0}).not_before.value_or(""), "2026-01-20T10:00:00Z");
}

TEST(NotBefore, Invalid) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"not_before", str("tomorrow")}}), "\"not_before\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"not_before", str("2026-02-30T10:00:00Z")}}), "\"not_before\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"not_before", num(1768903200)}}), "\"not_before\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"not_before", boolean(true)}}), "\"not_before\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"not_before", arr({str("2026-01-20")})}}), "\"not_before\""));
    EXPECT_TRUE(RejectedNaming(req("delete", {{"not_before", str(std::string(65, '1'))}}), "\"not_before\""));
}

TEST(NotBefore, BackgroundOnly) {
    EXPECT_TRUE(RejectedNaming(req("delete", {{"not_before", str("2026-01-20")}, {"execution", str("inline")}}),
                               "\"not_before\" is only allowed for background batches"));
    // A dry run without "execution" is inline.
    EXPECT_TRUE(RejectedNaming(req("delete", {{"not_before", str("2026-01-20")}, {"dry_run", boolean(true)}}),
                               "\"not_before\""));
}
