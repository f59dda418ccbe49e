// Unit tests for the core JSON value model (src/core/json.hpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "core/json.hpp"

using batch_ops::core::append_json_string;
using batch_ops::core::Json;

namespace {

Json num(int64_t v) { return Json::number(v); }
Json str(const std::string& s) { return Json::string(s); }

std::string quote(const std::string& s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

}  // namespace

TEST(JsonDump, Scalars) {
    EXPECT_EQ(Json().dump(), "null");
    EXPECT_EQ(Json::null().dump(), "null");
    EXPECT_EQ(Json::boolean(true).dump(), "true");
    EXPECT_EQ(Json::boolean(false).dump(), "false");
    EXPECT_EQ(num(42).dump(), "42");
    EXPECT_EQ(num(-7).dump(), "-7");
    EXPECT_EQ(num(std::numeric_limits<int64_t>::min()).dump(), "-9223372036854775808");
    EXPECT_EQ(num(std::numeric_limits<int64_t>::max()).dump(), "9223372036854775807");
    // Numbers keep the canonical text they were given.
    EXPECT_EQ(Json::number(std::string("1.50")).dump(), "1.50");
    EXPECT_EQ(str("plain").dump(), "\"plain\"");
    EXPECT_EQ(str("").dump(), "\"\"");
}

TEST(JsonDump, EscapesQuotesAndBackslash) {
    EXPECT_EQ(str("a\"b").dump(), R"("a\"b")");
    EXPECT_EQ(str("a\\b").dump(), R"("a\\b")");
    EXPECT_EQ(str("\\\"").dump(), R"("\\\"")");
    // A slash needs no escaping.
    EXPECT_EQ(str("a/b").dump(), R"("a/b")");
}

TEST(JsonDump, EscapesNewlineAndShortForms) {
    EXPECT_EQ(str("line1\nline2").dump(), R"("line1\nline2")");
    EXPECT_EQ(str("\r").dump(), R"("\r")");
    EXPECT_EQ(str("\t").dump(), R"("\t")");
    EXPECT_EQ(str("\b").dump(), R"("\b")");
    EXPECT_EQ(str("\f").dump(), R"("\f")");
}

TEST(JsonDump, EscapesOtherControlCharactersAsU00XX) {
    EXPECT_EQ(str(std::string("\x01", 1)).dump(), R"("\u0001")");
    EXPECT_EQ(str(std::string("\x1f", 1)).dump(), R"("\u001f")");
    EXPECT_EQ(str(std::string("\x0b", 1)).dump(), R"("\u000b")");
    EXPECT_EQ(str(std::string("\x10", 1)).dump(), R"("\u0010")");
    EXPECT_EQ(str(std::string("a\0b", 3)).dump(), R"("a\u0000b")");
    // Every control character is escaped; no raw byte below 0x20 survives.
    for (int c = 0; c < 0x20; ++c) {
        std::string out = str(std::string(1, static_cast<char>(c))).dump();
        for (char o : out) EXPECT_GE(static_cast<unsigned char>(o), 0x20) << "control char " << c;
    }
}

TEST(JsonDump, NonAsciiPassesThrough) {
    EXPECT_EQ(str("caf\xc3\xa9").dump(), "\"caf\xc3\xa9\"");
    EXPECT_EQ(str("\xe2\x82\xac").dump(), "\"\xe2\x82\xac\"");
}

TEST(JsonDump, ArraysAndNesting) {
    EXPECT_EQ(Json::array().dump(), "[]");
    EXPECT_EQ(Json::object().dump(), "{}");
    Json a = Json::array({num(1), str("a"), Json::null(), Json::boolean(true)});
    EXPECT_EQ(a.dump(), R"([1, "a", null, true])");
    Json nested = Json::object({{"list", a}, {"obj", Json::object({{"k", str("v")}})}});
    EXPECT_EQ(nested.dump(), R"({"list": [1, "a", null, true], "obj": {"k": "v"}})");
}

TEST(JsonDump, ObjectKeysAreEscaped) {
    Json o = Json::object({{"a\"b\n", num(1)}});
    EXPECT_EQ(o.dump(), R"({"a\"b\n": 1})");
}

TEST(JsonObject, MemberOrderIsKept) {
    Json o = Json::object({{"zeta", num(1)}, {"alpha", num(2)}, {"mid", num(3)}});
    EXPECT_EQ(o.dump(), R"({"zeta": 1, "alpha": 2, "mid": 3})");
    Json built;
    built.set("b", num(1));
    built.set("a", num(2));
    built.set("c", num(3));
    EXPECT_EQ(built.dump(), R"({"b": 1, "a": 2, "c": 3})");
}

TEST(JsonObject, SetReplacesExistingMemberInPlace) {
    Json o = Json::object({{"a", num(1)}, {"b", num(2)}});
    Json& ref = o.set("a", str("x"));
    EXPECT_EQ(ref.text(), "x");
    ASSERT_EQ(o.members().size(), 2u);
    EXPECT_EQ(o.dump(), R"({"a": "x", "b": 2})");
    o.set("c", num(3));
    EXPECT_EQ(o.dump(), R"({"a": "x", "b": 2, "c": 3})");
    o.set("b", Json::null());
    EXPECT_EQ(o.dump(), R"({"a": "x", "b": null, "c": 3})");
}

TEST(JsonObject, SetOnNonObjectMakesAnObject) {
    Json j;  // null
    j.set("k", num(1));
    EXPECT_TRUE(j.is_object());
    EXPECT_EQ(j.dump(), R"({"k": 1})");
}

TEST(JsonObject, Find) {
    Json o = Json::object({{"a", num(1)}, {"b", str("two")}});
    ASSERT_NE(o.find("b"), nullptr);
    EXPECT_EQ(o.find("b")->text(), "two");
    EXPECT_EQ(o.find("missing"), nullptr);
    EXPECT_EQ(Json::array({num(1)}).find("a"), nullptr);
    EXPECT_EQ(str("a").find("a"), nullptr);
}

TEST(JsonValue, TypesAndAccessors) {
    EXPECT_TRUE(Json().is_null());
    EXPECT_TRUE(Json::boolean(false).is_bool());
    EXPECT_FALSE(Json::boolean(false).as_bool());
    EXPECT_TRUE(Json::boolean(true).as_bool());
    EXPECT_TRUE(num(1).is_number());
    EXPECT_FALSE(num(1).is_string());
    EXPECT_TRUE(str("1").is_string());
    EXPECT_FALSE(str("1").is_number());
    EXPECT_EQ(num(12).text(), "12");
    Json a = Json::array();
    a.push(num(1));
    a.push(str("b"));
    ASSERT_EQ(a.items().size(), 2u);
    EXPECT_EQ(a.dump(), R"([1, "b"])");
    EXPECT_STREQ(Json::type_name(Json::Type::Null), "null");
    EXPECT_STREQ(Json::type_name(Json::Type::Bool), "boolean");
    EXPECT_STREQ(Json::type_name(Json::Type::Number), "number");
    EXPECT_STREQ(Json::type_name(Json::Type::String), "string");
    EXPECT_STREQ(Json::type_name(Json::Type::Array), "array");
    EXPECT_STREQ(Json::type_name(Json::Type::Object), "object");
}

TEST(JsonAppendString, AppendsWithQuotes) {
    std::string out = "x=";
    append_json_string(out, "a\"b");
    EXPECT_EQ(out, R"(x="a\"b")");
    EXPECT_EQ(quote("tab\there"), R"("tab\there")");
}
