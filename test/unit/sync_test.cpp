// Sync options (core/sync.hpp) and export documents (core/export.hpp).
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/export.hpp"
#include "core/sync.hpp"

using namespace batch_ops::core;

namespace {

Json obj(Json::Object m) { return Json::object(std::move(m)); }

std::string error_of(const Json& j) {
    try {
        parse_sync_options(j);
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), "22023");
        return e.what();
    }
    return "";
}

}  // namespace

TEST(SyncOptions, Defaults) {
    SyncOptions o = parse_sync_options(Json::object());
    EXPECT_FALSE(o.connection);
    EXPECT_TRUE(o.key_columns.empty());
    EXPECT_TRUE(o.columns.empty());
    EXPECT_FALSE(o.incremental);
    EXPECT_FALSE(o.delete_missing);
    EXPECT_EQ(o.chunk_size, 0);
    EXPECT_EQ(o.connect_timeout_s, 10);
    EXPECT_EQ(o.statement_timeout_ms, 0);
}

TEST(SyncOptions, AllKeys) {
    SyncOptions o = parse_sync_options(obj({{"connection", Json::string("host=/tmp dbname=x")},
                                            {"key_columns", Json::array({Json::string("a"), Json::string("b")})},
                                            {"columns", obj({{"c", Json::string("upper(d)")}})},
                                            {"mode", Json::string("incremental")},
                                            {"watermark_column", Json::string("changed")},
                                            {"chunk_size", Json::number(500)},
                                            {"connect_timeout", Json::number(3)},
                                            {"statement_timeout", Json::number(60000)}}));
    EXPECT_EQ(*o.connection, "host=/tmp dbname=x");
    EXPECT_EQ(o.key_columns, (std::vector<std::string>{"a", "b"}));
    ASSERT_EQ(o.columns.size(), 1u);
    EXPECT_EQ(o.columns[0].first, "c");
    EXPECT_EQ(o.columns[0].second, "upper(d)");
    EXPECT_TRUE(o.incremental);
    EXPECT_EQ(*o.watermark_column, "changed");
    EXPECT_EQ(o.chunk_size, 500);
    EXPECT_EQ(o.connect_timeout_s, 3);
    EXPECT_EQ(o.statement_timeout_ms, 60000);
}

TEST(SyncOptions, ErrorsNameTheKey) {
    EXPECT_NE(error_of(obj({{"colour", Json::number(1)}})).find("\"options.colour\""), std::string::npos);
    EXPECT_NE(error_of(obj({{"mode", Json::string("sometimes")}})).find("\"options.mode\""), std::string::npos);
    EXPECT_NE(error_of(obj({{"mode", Json::string("incremental")}})).find("\"options.watermark_column\""),
              std::string::npos);
    EXPECT_NE(error_of(obj({{"mode", Json::string("incremental")},
                            {"watermark_column", Json::string("w")},
                            {"delete_missing", Json::boolean(true)}}))
                  .find("\"options.delete_missing\""),
              std::string::npos);
    EXPECT_NE(error_of(obj({{"key_columns", Json::array()}})).find("\"options.key_columns\""), std::string::npos);
    EXPECT_NE(error_of(obj({{"key_columns", Json::array({Json::string("a"), Json::string("a")})}}))
                  .find("twice"),
              std::string::npos);
    EXPECT_NE(error_of(obj({{"key_columns", Json::array({Json::string("a\"; drop")})}})).find("key_columns"),
              std::string::npos);
    EXPECT_NE(error_of(obj({{"columns", obj({{"c", Json::number(1)}})}})).find("\"options.columns\""),
              std::string::npos);
    EXPECT_NE(error_of(obj({{"columns", obj({{"c;", Json::string("1")}})}})).find("invalid column name"),
              std::string::npos);
    EXPECT_NE(error_of(obj({{"chunk_size", Json::number(0)}})).find("\"options.chunk_size\""), std::string::npos);
    EXPECT_NE(error_of(obj({{"chunk_size", Json::number("1.5")}})).find("integer"), std::string::npos);
    EXPECT_NE(error_of(obj({{"connect_timeout", Json::number(0)}})).find("\"options.connect_timeout\""),
              std::string::npos);
    EXPECT_NE(error_of(obj({{"delete_missing", Json::string("yes")}})).find("boolean"), std::string::npos);
    EXPECT_NE(error_of(obj({{"connection", Json::string("")}})).find("\"options.connection\""), std::string::npos);
    EXPECT_NE(error_of(Json::array()).find("JSON object"), std::string::npos);
}

TEST(SyncSource, QueryOrName) {
    EXPECT_TRUE(source_is_query("SELECT 1"));
    EXPECT_TRUE(source_is_query("  select * from t"));
    EXPECT_TRUE(source_is_query("(SELECT 1)"));
    EXPECT_TRUE(source_is_query("WITH x AS (SELECT 1) SELECT * FROM x"));
    EXPECT_TRUE(source_is_query("VALUES (1)"));
    EXPECT_TRUE(source_is_query("TABLE t"));
    EXPECT_FALSE(source_is_query("app.products"));
    EXPECT_FALSE(source_is_query("selected_rows"));
    EXPECT_FALSE(source_is_query("\"SELECT\""));
}

TEST(SyncName, Valid) {
    EXPECT_TRUE(is_valid_sync_name("products"));
    EXPECT_TRUE(is_valid_sync_name("crm.contacts-daily_2"));
    EXPECT_FALSE(is_valid_sync_name(""));
    EXPECT_FALSE(is_valid_sync_name("bad name"));
    EXPECT_FALSE(is_valid_sync_name("x;drop"));
    EXPECT_FALSE(is_valid_sync_name(std::string(64, 'a')));
}

TEST(ExportCsv, Fields) {
    EXPECT_EQ(csv_field(std::nullopt), "");
    EXPECT_EQ(csv_field(std::string("")), "\"\"");
    EXPECT_EQ(csv_field(std::string("plain")), "plain");
    EXPECT_EQ(csv_field(std::string("a,b")), "\"a,b\"");
    EXPECT_EQ(csv_field(std::string("say \"hi\"")), "\"say \"\"hi\"\"\"");
    EXPECT_EQ(csv_field(std::string("two\nlines")), "\"two\nlines\"");
    EXPECT_EQ(csv_field(std::string(" edge")), "\" edge\"");
}

TEST(ExportMerge, JsonArrays) {
    EXPECT_EQ(merge_export(ExportFormat::Json, "[\n{\"id\":1}\n]", "[\n{\"id\":2},\n{\"id\":3}\n]"),
              "[\n{\"id\":1},\n{\"id\":2},\n{\"id\":3}\n]");
    EXPECT_EQ(merge_export(ExportFormat::Json, "[]", "[\n{\"id\":2}\n]"), "[\n{\"id\":2}\n]");
    EXPECT_EQ(merge_export(ExportFormat::Json, "[\n{\"id\":1}\n]", "[]"), "[\n{\"id\":1}\n]");
    EXPECT_EQ(merge_export(ExportFormat::Json, "[]", "[]"), "[]");
}

TEST(ExportMerge, CsvKeepsOneHeader) {
    EXPECT_EQ(merge_export(ExportFormat::Csv, "id,v\n1,a\n", "id,v\n2,b\n3,c\n"), "id,v\n1,a\n2,b\n3,c\n");
    EXPECT_EQ(merge_export(ExportFormat::Csv, "id,v\n", "id,v\n"), "id,v\n");
}

// Found by test/fuzz: a column name may hold a newline (a quoted identifier), which
// csv_field quotes; the header of a later chunk ends at the first newline outside quotes.
TEST(ExportMerge, CsvHeaderWithQuotedNewline) {
    const std::string header = csv_field(std::string("x\ny")) + "," + csv_field(std::string("id")) + "\n";
    EXPECT_EQ(header, "\"x\ny\",id\n");
    EXPECT_EQ(merge_export(ExportFormat::Csv, header + "a,1\n", header + "b,2\n\"c\nd\",3\n"),
              header + "a,1\nb,2\n\"c\nd\",3\n");
    EXPECT_EQ(merge_export(ExportFormat::Csv, header, header), header);
    // A doubled quote inside a quoted name does not end the quoting.
    const std::string tricky = csv_field(std::string("a\"\n,b")) + "\n";
    EXPECT_EQ(merge_export(ExportFormat::Csv, tricky + "1\n", tricky + "2\n"), tricky + "1\n2\n");
}

TEST(ExportMerge, NdjsonAppends) {
    EXPECT_EQ(merge_export(ExportFormat::Ndjson, "{\"id\":1}\n", "{\"id\":2}\n"), "{\"id\":1}\n{\"id\":2}\n");
}
