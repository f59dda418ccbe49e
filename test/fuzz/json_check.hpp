// The fuzzer's oracle for core::Json::dump(): the text must be one well-formed JSON
// value (RFC 8259 grammar; bytes >= 0x80 in strings are passed through as they are,
// since the core does not validate encodings) that reads back as the very tree that
// was dumped: same types, same member order, same string bytes, same number text.
//
// This is test code, not part of the extension (which reads JSON only through
// PostgreSQL's jsonb API): it checks the core's serialiser against an independent
// reading of its output.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "core/json.hpp"

namespace batch_ops::fuzz {

class DumpChecker {
public:
    explicit DumpChecker(std::string text) : s_(std::move(text)) {}

    // Empty when the text is exactly `expected`; otherwise what differs.
    std::string check(const core::Json& expected) {
        value(expected);
        if (error_.empty()) {
            ws();
            if (i_ != s_.size()) fail("trailing text");
        }
        return error_;
    }

private:
    void fail(const std::string& what) {
        if (error_.empty()) error_ = what + " at offset " + std::to_string(i_);
    }
    bool ok() const { return error_.empty(); }
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool eat(char c) {
        ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool literal(const char* w) {
        ws();
        std::string word(w);
        if (s_.compare(i_, word.size(), word) == 0) {
            i_ += word.size();
            return true;
        }
        return false;
    }

    static void put_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else {
            out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        }
    }

    bool hex4(uint32_t& cp) {
        if (i_ + 4 > s_.size()) return false;
        cp = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[i_++];
            cp <<= 4;
            if (c >= '0' && c <= '9') cp |= static_cast<uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') cp |= static_cast<uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') cp |= static_cast<uint32_t>(c - 'A' + 10);
            else return false;
        }
        return true;
    }

    // A string literal; its decoded bytes in out.
    bool string(std::string& out) {
        ws();
        if (i_ >= s_.size() || s_[i_] != '"') {
            fail("expected a string");
            return false;
        }
        ++i_;
        while (i_ < s_.size()) {
            unsigned char c = static_cast<unsigned char>(s_[i_++]);
            if (c == '"') return true;
            if (c < 0x20) {
                fail("unescaped control character in a string");
                return false;
            }
            if (c != '\\') {
                out.push_back(static_cast<char>(c));
                continue;
            }
            if (i_ >= s_.size()) break;
            char e = s_[i_++];
            switch (e) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    uint32_t cp;
                    if (!hex4(cp)) {
                        fail("bad \\u escape");
                        return false;
                    }
                    if (cp >= 0xd800 && cp < 0xdc00) {
                        uint32_t lo;
                        if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') {
                            fail("lone high surrogate");
                            return false;
                        }
                        i_ += 2;
                        if (!hex4(lo) || lo < 0xdc00 || lo >= 0xe000) {
                            fail("bad low surrogate");
                            return false;
                        }
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    } else if (cp >= 0xdc00 && cp < 0xe000) {
                        fail("lone low surrogate");
                        return false;
                    }
                    put_utf8(out, cp);
                    break;
                }
                default: fail("bad escape"); return false;
            }
        }
        fail("unterminated string");
        return false;
    }

    // A number per the RFC grammar; its text in out.
    bool number(std::string& out) {
        ws();
        std::size_t b = i_;
        auto digit = [&] { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; };
        if (i_ < s_.size() && s_[i_] == '-') ++i_;
        if (!digit()) return false;
        if (s_[i_] == '0') ++i_;
        else while (digit()) ++i_;
        if (i_ < s_.size() && s_[i_] == '.') {
            ++i_;
            if (!digit()) return false;
            while (digit()) ++i_;
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            if (!digit()) return false;
            while (digit()) ++i_;
        }
        out = s_.substr(b, i_ - b);
        return true;
    }

    void value(const core::Json& want) {
        using T = core::Json::Type;
        if (!ok()) return;
        switch (want.type()) {
            case T::Null:
                if (!literal("null")) fail("expected null");
                return;
            case T::Bool:
                if (!literal(want.as_bool() ? "true" : "false")) fail("expected a boolean");
                return;
            case T::Number: {
                std::string t;
                if (!number(t)) fail("expected a number");
                else if (t != want.text()) fail("number " + t + " instead of " + want.text());
                return;
            }
            case T::String: {
                std::string t;
                if (string(t) && t != want.text()) fail("string differs");
                return;
            }
            case T::Array: {
                if (!eat('[')) return fail("expected [");
                bool first = true;
                for (const auto& e : want.items()) {
                    if (!first && !eat(',')) return fail("expected ,");
                    first = false;
                    value(e);
                    if (!ok()) return;
                }
                if (!eat(']')) fail("expected ]");
                return;
            }
            case T::Object: {
                if (!eat('{')) return fail("expected {");
                bool first = true;
                for (const auto& [k, v] : want.members()) {
                    if (!first && !eat(',')) return fail("expected ,");
                    first = false;
                    std::string key;
                    if (!string(key)) return;
                    if (key != k) return fail("key differs");
                    if (!eat(':')) return fail("expected :");
                    value(v);
                    if (!ok()) return;
                }
                if (!eat('}')) fail("expected }");
                return;
            }
        }
    }

    std::string s_;
    std::size_t i_ = 0;
    std::string error_;
};

inline std::string check_dump(const core::Json& j) { return DumpChecker(j.dump()).check(j); }

}  // namespace batch_ops::fuzz
