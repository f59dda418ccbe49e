// A small JSON value model for the PostgreSQL-independent core.
//
// The extension reads jsonb with PostgreSQL's own iterator API (src/pg/jsonb.cpp)
// and hands the core this tree; the core never parses JSON text itself. Objects
// keep their members in the order they were given (jsonb orders them already).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace batch_ops::core {

class Json {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };
    using Array = std::vector<Json>;
    using Member = std::pair<std::string, Json>;
    using Object = std::vector<Member>;

    Json() = default;
    static Json null() { return Json(); }
    static Json boolean(bool b);
    static Json number(std::string text);  // canonical numeric text, as numeric_out prints it
    static Json number(int64_t v);
    static Json string(std::string s);
    static Json array(Array items = {});
    static Json object(Object members = {});

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }
    bool is_bool() const { return type_ == Type::Bool; }
    bool is_number() const { return type_ == Type::Number; }
    bool is_string() const { return type_ == Type::String; }
    bool is_array() const { return type_ == Type::Array; }
    bool is_object() const { return type_ == Type::Object; }

    bool as_bool() const { return bool_; }
    const std::string& text() const { return text_; }  // string value, or number text
    const Array& items() const { return array_; }
    Array& items() { return array_; }
    const Object& members() const { return object_; }
    Object& members() { return object_; }

    // Object access: nullptr when absent.
    const Json* find(const std::string& key) const;
    Json& set(const std::string& key, Json value);  // append or replace
    void push(Json value) { array_.push_back(std::move(value)); }

    // Serialisation (compact, member order kept). Strings are escaped per RFC 8259.
    std::string dump() const;
    void dump_to(std::string& out) const;

    static const char* type_name(Type t);

private:
    Type type_ = Type::Null;
    bool bool_ = false;
    std::string text_;
    Array array_;
    Object object_;
};

// Appends s as a JSON string literal (with quotes) to out.
void append_json_string(std::string& out, const std::string& s);

}  // namespace batch_ops::core
