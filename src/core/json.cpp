#include "core/json.hpp"

namespace batch_ops::core {

Json Json::boolean(bool b) { Json j; j.type_ = Type::Bool; j.bool_ = b; return j; }
Json Json::number(std::string text) { Json j; j.type_ = Type::Number; j.text_ = std::move(text); return j; }
Json Json::number(int64_t v) { return number(std::to_string(v)); }
Json Json::string(std::string s) { Json j; j.type_ = Type::String; j.text_ = std::move(s); return j; }
Json Json::array(Array items) { Json j; j.type_ = Type::Array; j.array_ = std::move(items); return j; }
Json Json::object(Object members) { Json j; j.type_ = Type::Object; j.object_ = std::move(members); return j; }

const Json* Json::find(const std::string& key) const {
    if (type_ != Type::Object) return nullptr;
    for (const auto& m : object_)
        if (m.first == key) return &m.second;
    return nullptr;
}

Json& Json::set(const std::string& key, Json value) {
    if (type_ != Type::Object) { *this = object(); }
    for (auto& m : object_)
        if (m.first == key) { m.second = std::move(value); return m.second; }
    object_.emplace_back(key, std::move(value));
    return object_.back().second;
}

const char* Json::type_name(Type t) {
    switch (t) {
        case Type::Null: return "null";
        case Type::Bool: return "boolean";
        case Type::Number: return "number";
        case Type::String: return "string";
        case Type::Array: return "array";
        case Type::Object: return "object";
    }
    return "unknown";
}

void append_json_string(std::string& out, const std::string& s) {
    static const char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out.push_back(hex[c >> 4]);
                    out.push_back(hex[c & 0xf]);
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
    }
    out.push_back('"');
}

void Json::dump_to(std::string& out) const {
    switch (type_) {
        case Type::Null: out += "null"; break;
        case Type::Bool: out += bool_ ? "true" : "false"; break;
        case Type::Number: out += text_; break;
        case Type::String: append_json_string(out, text_); break;
        case Type::Array: {
            out.push_back('[');
            bool first = true;
            for (const auto& v : array_) {
                if (!first) out += ", ";
                first = false;
                v.dump_to(out);
            }
            out.push_back(']');
            break;
        }
        case Type::Object: {
            out.push_back('{');
            bool first = true;
            for (const auto& m : object_) {
                if (!first) out += ", ";
                first = false;
                append_json_string(out, m.first);
                out += ": ";
                m.second.dump_to(out);
            }
            out.push_back('}');
            break;
        }
    }
}

std::string Json::dump() const {
    std::string out;
    dump_to(out);
    return out;
}

}  // namespace batch_ops::core
