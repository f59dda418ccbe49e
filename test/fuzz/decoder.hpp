// The fuzzer's input format: bytes -> core::Json, without a JSON text parser.
//
// core receives requests as core::Json trees built from jsonb (src/pg/jsonb.cpp);
// there is no JSON text parser in the extension, and the fuzzer adds none. It reads
// its input as a small structured encoding instead, biased towards the request and
// sync schemas so that mutations stay close to what the checks look at:
//
//   input  := flags:byte value
//   value  := tag:byte ...      (tag & 7 selects the kind; the other bits are ignored)
//     0  null          1  false          2  true
//     3  number  len:varint bytes:len   the bytes made into numeric_out's text (canonical_number)
//     4  string  len:varint bytes:len
//     5  word    index:byte             kWords[index % size]: a schema key or typical value
//     6  array   count:varint value*    (at most count elements, fewer when the input ends)
//     7  object  count:varint (key value)*
//   key    := tag:byte ...  (tag & 1) == 0: index:byte, a word; else len:varint bytes:len
//   varint := LEB128, at most 4 bytes
//
// A missing byte reads as 0. Containers deeper than kMaxDepth read as null (their
// count is not read). Objects are normalised as jsonb stores them: one member per
// key (the last one given wins) in jsonb's order (shorter keys first, then bytewise).
// Numbers are always canonical numeric_out text: an optional '-', an integer part
// without leading zeros, and an optional fraction (jsonb never holds NaN, Infinity or
// exponents).
//
// test/fuzz/make_seeds.py writes this format; it reads kWords from this file (between
// the words-begin and words-end markers), so keep one plain literal per entry there.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.hpp"

namespace batch_ops::fuzz {

using core::Json;

// clang-format off
// words-begin
inline const std::vector<std::string> kWords = {
    // request keys
    "operation", "target_type", "target_ids", "items", "operation_data", "dry_run", "execution",
    "priority", "depends_on", "max_attempts", "idempotency_key",
    // operation_data keys
    "soft_delete", "delete_reason", "fields", "new_status", "reason", "force", "archive_reason",
    "archive_location", "export_format", "include_fields", "exclude_fields", "skip_validation",
    "continue_on_error",
    // values
    "delete", "update", "status_update", "export", "archive", "restore", "bulk_create", "inline",
    "background", "json", "ndjson", "csv",
    // sync options
    "connection", "key_columns", "columns", "mode", "watermark_column", "delete_missing", "chunk_size",
    "connect_timeout", "statement_timeout", "full", "incremental",
    // the fuzzer's targets and their columns and statuses
    "letters", "tags", "docs", "plain", "id", "title", "body", "owner", "status", "deleted_at", "score",
    "flag", "ref", "meta", "total", "code", "label", "deleted", "draft", "sent", "archived",
    "regress_alice",
    // typical values
    "", " ", "0", "1", "-1", "42", " 7 ", "+3", "9223372036854775807", "-9223372036854775808",
    "9223372036854775808", "1.5", "1e5", "NaN", "Infinity", "true", "yes", "off", "o", "t",
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}",
    "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", "2024-01-01 00:00:00+00", "SELECT 1", " (WITH x AS (SELECT 1) TABLE x)",
    "VALUES (1)", "app.src", "upper(name)", "host=/tmp dbname=x", "a,b", "\"", "\n", "x\ny", " edge ",
    "23505", "40001", "40P01", "55P03", "42501", "22P02", "42P01", "57014", "XX000", "08006",
};
// words-end
// clang-format on

inline constexpr int kMaxDepth = 10;
inline constexpr uint32_t kMaxCount = 4096;

// jsonb's order of object keys: shorter first, then bytewise.
inline bool jsonb_key_less(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return a.size() < b.size();
    return a < b;  // std::string compares bytes as unsigned char
}

// numeric_out's text for arbitrary bytes: ASCII digits are kept, '-' first means
// negative, the first '.' starts the fraction, any other byte is a digit (b % 10).
inline std::string canonical_number(const std::string& raw) {
    bool negative = false;
    std::string int_part, frac_part;
    bool in_frac = false;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(raw[i]);
        if (i == 0 && c == '-') {
            negative = true;
            continue;
        }
        if (c == '.' && !in_frac) {
            in_frac = true;
            continue;
        }
        char d = (c >= '0' && c <= '9') ? static_cast<char>(c) : static_cast<char>('0' + c % 10);
        (in_frac ? frac_part : int_part).push_back(d);
    }
    std::size_t nz = int_part.find_first_not_of('0');
    int_part = nz == std::string::npos ? "0" : int_part.substr(nz);
    bool zero = int_part == "0" && frac_part.find_first_not_of('0') == std::string::npos;
    std::string out = (negative && !zero) ? "-" : "";
    out += int_part;
    if (!frac_part.empty()) out += "." + frac_part;
    return out;
}

class Decoder {
public:
    Decoder(const uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}

    bool at_end() const { return p_ >= end_; }

    uint8_t byte() { return at_end() ? 0 : *p_++; }

    uint32_t varint() {
        uint32_t v = 0;
        for (int shift = 0; shift < 28; shift += 7) {
            uint8_t b = byte();
            v |= static_cast<uint32_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) break;
        }
        return v;
    }

    std::string bytes() {
        std::size_t n = varint();
        n = std::min<std::size_t>(n, static_cast<std::size_t>(end_ - p_));
        std::string s(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        return s;
    }

    std::string word() { return kWords[byte() % kWords.size()]; }

    std::string key() { return (byte() & 1) == 0 ? word() : bytes(); }

    Json value(int depth = 0) {
        uint8_t tag = byte();
        switch (tag & 7) {
            case 0: return Json::null();
            case 1: return Json::boolean(false);
            case 2: return Json::boolean(true);
            case 3: return Json::number(canonical_number(bytes()));
            case 4: return Json::string(bytes());
            case 5: return Json::string(word());
            case 6: {
                if (depth >= kMaxDepth) return Json::null();
                uint32_t n = std::min(varint(), kMaxCount);
                Json a = Json::array();
                for (uint32_t i = 0; i < n && !at_end(); ++i) a.push(value(depth + 1));
                return a;
            }
            default: {
                if (depth >= kMaxDepth) return Json::null();
                uint32_t n = std::min(varint(), kMaxCount);
                Json::Object members;
                for (uint32_t i = 0; i < n && !at_end(); ++i) {
                    std::string k = key();
                    Json v = value(depth + 1);
                    members.emplace_back(std::move(k), std::move(v));
                }
                return Json::object(normalise(std::move(members)));
            }
        }
    }

private:
    // One member per key, the last one given, in jsonb's key order.
    static Json::Object normalise(Json::Object members) {
        std::stable_sort(members.begin(), members.end(),
                         [](const Json::Member& a, const Json::Member& b) { return jsonb_key_less(a.first, b.first); });
        Json::Object out;
        for (auto& m : members) {
            if (!out.empty() && out.back().first == m.first) out.back().second = std::move(m.second);
            else out.push_back(std::move(m));
        }
        return out;
    }

    const uint8_t* p_;
    const uint8_t* end_;
};

}  // namespace batch_ops::fuzz
