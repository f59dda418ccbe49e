// Unit tests for item results and the response (src/core/results.hpp, API.md sections 2, 4, 12).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/request.hpp"
#include "core/results.hpp"
#include "core/status.hpp"

using namespace batch_ops::core;

namespace {

ItemResult item(const std::string& id, ItemStatus st, const std::string& code = {}, const std::string& msg = {}) {
    ItemResult r;
    r.target_id = id;
    r.status = st;
    r.error_code = code;
    r.message = msg;
    return r;
}

Counts counts(int64_t total, int64_t success, int64_t failure, int64_t skipped, int64_t cancelled) {
    Counts c;
    c.total = total;
    c.success = success;
    c.failure = failure;
    c.skipped = skipped;
    c.cancelled = cancelled;
    c.processed = success + failure + skipped + cancelled;
    return c;
}

const Json& results_of(const Json& response) {
    const Json* r = response.find("results");
    static const Json missing;
    EXPECT_NE(r, nullptr);
    if (!r) return missing;
    EXPECT_TRUE(r->is_array());
    return *r;
}

}  // namespace

// ---------------------------------------------------------------------------
// count / adds_up

TEST(ItemResults, FailedAndSucceededRanOnce) {
    ItemResult f = failed_item("7", item_error::not_found, "row not found");
    EXPECT_EQ(f.target_id, "7");
    EXPECT_EQ(f.status, ItemStatus::Failed);
    EXPECT_EQ(f.error_code, "NOT_FOUND");
    EXPECT_EQ(f.message, "row not found");
    EXPECT_EQ(f.attempts, 1);
    ItemResult s = succeeded_item("8", "deleted");
    EXPECT_EQ(s.target_id, "8");
    EXPECT_EQ(s.status, ItemStatus::Succeeded);
    EXPECT_EQ(s.error_code, "");
    EXPECT_EQ(s.message, "deleted");
    EXPECT_EQ(s.attempts, 1);
    Counts c = count({f, s});
    EXPECT_EQ(c.failure, 1);
    EXPECT_EQ(c.success, 1);
}

TEST(Count, AddsUp) {
    std::vector<ItemResult> items = {
        item("1", ItemStatus::Succeeded), item("2", ItemStatus::Failed, "NOT_FOUND"),
        item("3", ItemStatus::Succeeded), item("4", ItemStatus::Skipped),
        item("5", ItemStatus::Cancelled, "CANCELLED"), item("6", ItemStatus::Pending),
        item("7", ItemStatus::Pending),   item("8", ItemStatus::Failed, "ERROR"),
    };
    Counts c = count(items);
    EXPECT_EQ(c.total, 8);
    EXPECT_EQ(c.processed, 6);
    EXPECT_EQ(c.success, 2);
    EXPECT_EQ(c.failure, 2);
    EXPECT_EQ(c.skipped, 1);
    EXPECT_EQ(c.cancelled, 1);
    EXPECT_EQ(c.success + c.failure + c.skipped + c.cancelled, c.processed);
    EXPECT_TRUE(c.adds_up());
}

TEST(Count, EmptyAndAllDone) {
    Counts empty = count({});
    EXPECT_EQ(empty.total, 0);
    EXPECT_EQ(empty.processed, 0);
    EXPECT_TRUE(empty.adds_up());
    Counts done = count({item("a", ItemStatus::Succeeded), item("b", ItemStatus::Skipped)});
    EXPECT_EQ(done.total, 2);
    EXPECT_EQ(done.processed, done.total);
    EXPECT_TRUE(done.adds_up());
}

TEST(Count, AllPending) {
    Counts c = count({item("a", ItemStatus::Pending), item("b", ItemStatus::Pending)});
    EXPECT_EQ(c.total, 2);
    EXPECT_EQ(c.processed, 0);
    EXPECT_EQ(c.success + c.failure + c.skipped + c.cancelled, 0);
}

TEST(Count, AddsUpDetectsMismatch) {
    Counts c = counts(10, 3, 2, 1, 1);
    EXPECT_TRUE(c.adds_up());
    c.processed = 8;
    EXPECT_FALSE(c.adds_up());
    Counts over = counts(2, 3, 0, 0, 0);  // processed 3 > total 2
    EXPECT_FALSE(over.adds_up());
}

// ---------------------------------------------------------------------------
// final_status

TEST(FinalStatus, Outcomes) {
    EXPECT_EQ(final_status(counts(3, 3, 0, 0, 0), false), BatchStatus::Succeeded);
    EXPECT_EQ(final_status(counts(0, 0, 0, 0, 0), false), BatchStatus::Succeeded);
    EXPECT_EQ(final_status(counts(3, 2, 1, 0, 0), false), BatchStatus::Failed);
    EXPECT_EQ(final_status(counts(3, 0, 3, 0, 0), false), BatchStatus::Failed);
    EXPECT_EQ(final_status(counts(3, 2, 0, 1, 0), false), BatchStatus::Failed);
    EXPECT_EQ(final_status(counts(3, 2, 0, 0, 1), false), BatchStatus::Failed);
}

TEST(FinalStatus, CancelledEvenWithFailures) {
    EXPECT_EQ(final_status(counts(4, 1, 0, 0, 3), true), BatchStatus::Cancelled);
    EXPECT_EQ(final_status(counts(4, 1, 2, 0, 1), true), BatchStatus::Cancelled);
}

// ---------------------------------------------------------------------------
// classify_sqlstate / item_error_message

TEST(ClassifySqlstate, Codes) {
    struct Case {
        const char* sqlstate;
        const char* code;
        bool transient;
    };
    const std::vector<Case> cases = {
        {"23505", "CONSTRAINT_VIOLATION", false},  // unique_violation
        {"23503", "CONSTRAINT_VIOLATION", false},  // foreign_key_violation
        {"23502", "CONSTRAINT_VIOLATION", false},  // not_null_violation
        {"23514", "CONSTRAINT_VIOLATION", false},  // check_violation
        {"42501", "PERMISSION_DENIED", false},
        {"22P02", "VALIDATION_FAILED", false},     // invalid_text_representation
        {"22001", "VALIDATION_FAILED", false},     // string_data_right_truncation
        {"22003", "VALIDATION_FAILED", false},     // numeric_value_out_of_range
        {"55P03", "LOCK_TIMEOUT", true},
        {"40001", "ERROR", true},                  // serialization_failure
        {"40P01", "ERROR", true},                  // deadlock_detected
        {"57014", "ERROR", false},                 // query_canceled
        {"08006", "ERROR", true},                  // connection_failure (a Citus worker node down)
        {"08001", "ERROR", true},                  // sqlclient_unable_to_establish_sqlconnection
        {"57P01", "ERROR", true},                  // admin_shutdown of a remote session (worker restart)
        {"57P02", "ERROR", true},                  // crash_shutdown of a remote session
        {"57P03", "ERROR", true},                  // cannot_connect_now (a node starting up)
        {"42P01", "ERROR", false},
        {"XX000", "ERROR", false},
        {"P0001", "ERROR", false},                 // raise_exception from a trigger
        {"", "ERROR", false},
        {"2350", "ERROR", false},
    };
    for (const auto& c : cases) {
        Classified got = classify_sqlstate(c.sqlstate);
        EXPECT_STREQ(got.error_code, c.code) << c.sqlstate;
        EXPECT_EQ(got.transient, c.transient) << c.sqlstate;
    }
}

TEST(ItemErrorMessage, AppendsSqlstateForErrorOnly) {
    EXPECT_EQ(item_error_message(classify_sqlstate("42P01"), "42P01", "relation \"x\" does not exist"),
              "relation \"x\" does not exist (SQLSTATE 42P01)");
    EXPECT_EQ(item_error_message(classify_sqlstate("23505"), "23505", "duplicate key value"), "duplicate key value");
    EXPECT_EQ(item_error_message(classify_sqlstate("42501"), "42501", "permission denied"), "permission denied");
    EXPECT_EQ(item_error_message(classify_sqlstate("22P02"), "22P02", "bad input"), "bad input");
    EXPECT_EQ(item_error_message(classify_sqlstate("55P03"), "55P03", "could not obtain lock"), "could not obtain lock");
    EXPECT_EQ(item_error_message(Classified{"ERROR", false}, "P0001", "boom"), "boom (SQLSTATE P0001)");
}

// ---------------------------------------------------------------------------
// add_results

TEST(AddResults, KeepsRequestOrderAndShape) {
    Json response = Json::object({{"operation_id", Json::number(int64_t{42})}, {"operation", Json::string("delete")}});
    std::vector<ItemResult> items = {
        item("L1", ItemStatus::Succeeded, "", "deleted"),
        item("7", ItemStatus::Failed, "PERMISSION_DENIED", "row is owned by another role"),
        item("L0", ItemStatus::Skipped, "", "skipped"),
        item("A", ItemStatus::Cancelled, "CANCELLED", "cancelled"),
    };
    add_results(response, items);
    // Existing members stay, results come after them.
    EXPECT_NE(response.find("operation_id"), nullptr);
    EXPECT_EQ(response.members().front().first, "operation_id");
    EXPECT_EQ(response.find("results_truncated"), nullptr);
    const Json& results = results_of(response);
    ASSERT_EQ(results.items().size(), 4u);
    const std::vector<std::string> order = {"L1", "7", "L0", "A"};
    for (std::size_t i = 0; i < order.size(); ++i) {
        const Json& r = results.items()[i];
        ASSERT_NE(r.find("target_id"), nullptr);
        EXPECT_TRUE(r.find("target_id")->is_string()) << i;
        EXPECT_EQ(r.find("target_id")->text(), order[i]);
        ASSERT_NE(r.find("success"), nullptr);
        EXPECT_TRUE(r.find("success")->is_bool());
        ASSERT_NE(r.find("message"), nullptr);
    }
    const Json& ok = results.items()[0];
    EXPECT_TRUE(ok.find("success")->as_bool());
    EXPECT_EQ(ok.find("message")->text(), "deleted");
    EXPECT_EQ(ok.find("error_code"), nullptr);
    const Json& bad = results.items()[1];
    EXPECT_FALSE(bad.find("success")->as_bool());
    ASSERT_NE(bad.find("error_code"), nullptr);
    EXPECT_EQ(bad.find("error_code")->text(), "PERMISSION_DENIED");
    EXPECT_EQ(bad.find("message")->text(), "row is owned by another role");
    EXPECT_FALSE(results.items()[2].find("success")->as_bool());
    EXPECT_FALSE(results.items()[3].find("success")->as_bool());
    ASSERT_NE(results.items()[3].find("error_code"), nullptr);
    EXPECT_EQ(results.items()[3].find("error_code")->text(), "CANCELLED");
}

TEST(AddResults, NumericLookingIdsStayStrings) {
    Json response = Json::object();
    add_results(response, {item("7", ItemStatus::Succeeded, "", "ok"), item("007", ItemStatus::Succeeded, "", "ok")});
    const Json& results = results_of(response);
    ASSERT_EQ(results.items().size(), 2u);
    EXPECT_EQ(results.dump().find("\"target_id\": 7"), std::string::npos) << results.dump();
    EXPECT_NE(results.dump().find("\"target_id\": \"7\""), std::string::npos) << results.dump();
    EXPECT_NE(results.dump().find("\"target_id\": \"007\""), std::string::npos) << results.dump();
}

TEST(AddResults, ExactlyLimitIsNotTruncated) {
    std::vector<ItemResult> items;
    for (int i = 0; i < 3; ++i) items.push_back(item(std::to_string(i), ItemStatus::Succeeded, "", "ok"));
    Json response = Json::object();
    add_results(response, items, ResponseOptions{3});
    EXPECT_EQ(results_of(response).items().size(), 3u);
    EXPECT_EQ(response.find("results_truncated"), nullptr);
}

TEST(AddResults, TruncatesToNonSucceededItems) {
    std::vector<ItemResult> items = {
        item("a", ItemStatus::Succeeded, "", "ok"),     item("b", ItemStatus::Failed, "NOT_FOUND", "no row"),
        item("c", ItemStatus::Succeeded, "", "ok"),     item("d", ItemStatus::Skipped, "", "skipped"),
        item("e", ItemStatus::Succeeded, "", "ok"),     item("f", ItemStatus::Failed, "ERROR", "boom"),
    };
    Json response = Json::object();
    add_results(response, items, ResponseOptions{5});
    const Json& results = results_of(response);
    ASSERT_EQ(results.items().size(), 3u);
    EXPECT_EQ(results.items()[0].find("target_id")->text(), "b");
    EXPECT_EQ(results.items()[1].find("target_id")->text(), "d");
    EXPECT_EQ(results.items()[2].find("target_id")->text(), "f");
    for (const auto& r : results.items()) EXPECT_FALSE(r.find("success")->as_bool());
    ASSERT_NE(response.find("results_truncated"), nullptr);
    EXPECT_TRUE(response.find("results_truncated")->is_bool());
    EXPECT_TRUE(response.find("results_truncated")->as_bool());
}

TEST(AddResults, DefaultLimitIsOneThousand) {
    std::vector<ItemResult> items;
    for (int i = 0; i < 1000; ++i) items.push_back(item(std::to_string(i), ItemStatus::Succeeded, "", "ok"));
    Json all = Json::object();
    add_results(all, items);
    EXPECT_EQ(results_of(all).items().size(), 1000u);
    EXPECT_EQ(all.find("results_truncated"), nullptr);

    items[500] = item("500", ItemStatus::Failed, "CONSTRAINT_VIOLATION", "dup");
    items.push_back(item("1000", ItemStatus::Succeeded, "", "ok"));
    Json truncated = Json::object();
    add_results(truncated, items);
    const Json& results = results_of(truncated);
    ASSERT_EQ(results.items().size(), 1u);
    EXPECT_EQ(results.items()[0].find("target_id")->text(), "500");
    ASSERT_NE(truncated.find("results_truncated"), nullptr);
    EXPECT_TRUE(truncated.find("results_truncated")->as_bool());
}

TEST(AddResults, TruncatedAllSucceededGivesEmptyList) {
    std::vector<ItemResult> items;
    for (int i = 0; i < 4; ++i) items.push_back(item(std::to_string(i), ItemStatus::Succeeded, "", "ok"));
    Json response = Json::object();
    add_results(response, items, ResponseOptions{2});
    EXPECT_TRUE(results_of(response).items().empty());
    ASSERT_NE(response.find("results_truncated"), nullptr);
    EXPECT_TRUE(response.find("results_truncated")->as_bool());
}

TEST(AddResults, EmptyItems) {
    Json response = Json::object();
    add_results(response, {});
    EXPECT_TRUE(results_of(response).items().empty());
    EXPECT_EQ(response.find("results_truncated"), nullptr);
}

// ---------------------------------------------------------------------------
// success_message

TEST(SuccessMessage, PerOperation) {
    EXPECT_STREQ(success_message(Operation::Delete, false), "deleted");
    EXPECT_STREQ(success_message(Operation::Delete, true), "soft-deleted");
    EXPECT_STREQ(success_message(Operation::Update, false), "updated");
    EXPECT_STREQ(success_message(Operation::StatusUpdate, false), "status updated");
    EXPECT_STREQ(success_message(Operation::Export, false), "exported");
    EXPECT_STREQ(success_message(Operation::Archive, false), "archived");
    EXPECT_STREQ(success_message(Operation::Restore, false), "restored");
    EXPECT_STREQ(success_message(Operation::BulkCreate, false), "created");
    // soft_delete only matters for delete.
    EXPECT_STREQ(success_message(Operation::Update, true), "updated");
}

// ---------------------------------------------------------------------------
// aborts_batch / is_item_specific

TEST(AbortsBatch, CancellationShutdownResourcesInternalConnection) {
    for (const char* s : {"57014",    // query_canceled
                          "57P01",    // admin_shutdown
                          "53100",    // disk_full
                          "53200",    // out_of_memory
                          "58030",    // io_error
                          "XX000",    // internal_error
                          "08006",    // connection_failure
                          "F0000"}) {  // config_file_error
        EXPECT_TRUE(aborts_batch(s)) << s;
    }
    EXPECT_TRUE(aborts_batch("")) << "malformed SQLSTATE";
}

TEST(AbortsBatch, ItemAndTransientErrorsDoNotAbort) {
    for (const char* s : {"23505", "23503", "22P02", "42501", "42P01", "40001", "40P01", "55P03", "P0001", "0A000"})
        EXPECT_FALSE(aborts_batch(s)) << s;
}

TEST(IsItemSpecific, RowErrors) {
    for (const char* s : {"23505", "23503", "23514", "22P02", "22001", "42501", "P0001", "40001", "55P03"})
        EXPECT_TRUE(is_item_specific(s)) << s;
}

TEST(IsItemSpecific, ErrorsThatConcernEveryItem) {
    for (const char* s : {"42P01",    // undefined_table
                          "42703",    // undefined_column
                          "42883",    // undefined_function
                          "0A000",    // feature_not_supported
                          "25006",    // read_only_sql_transaction
                          "2F005",    // function executed no return statement
                          "39P01"}) {  // trigger_protocol_violated
        EXPECT_FALSE(is_item_specific(s)) << s;
    }
}
