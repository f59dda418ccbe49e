#include "pg/jsonb.hpp"

#include <vector>

extern "C" {
#include "utils/datetime.h"
#include "utils/json.h"
}

namespace batch_ops::pg {

namespace {

core::Json scalar(const JsonbValue& v) {
    switch (v.type) {
        case jbvNull: return core::Json::null();
        case jbvBool: return core::Json::boolean(v.val.boolean);
        case jbvString: return core::Json::string(std::string(v.val.string.val, v.val.string.len));
        case jbvNumeric: {
            Numeric n = v.val.numeric;
            char* s = guard([&] { return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n))); });
            core::Json j = core::Json::number(std::string(s));
            pfree(s);
            return j;
        }
        default: return core::Json::null();
    }
}

}  // namespace

core::Json from_jsonb(Jsonb* jb) {
    JsonbIterator* it = guard([&] { return JsonbIteratorInit(&jb->root); });
    JsonbValue v;
    // A stack of open containers; the pending key of an object being filled.
    std::vector<core::Json> stack;
    std::vector<std::string> keys;
    core::Json root;
    bool done = false;
    auto attach = [&](core::Json value) {
        if (stack.empty()) {
            root = std::move(value);
            done = true;
            return;
        }
        core::Json& top = stack.back();
        if (top.is_array()) {
            top.push(std::move(value));
        } else {
            top.members().emplace_back(std::move(keys.back()), std::move(value));
            keys.pop_back();
        }
    };
    while (!done) {
        JsonbIteratorToken tok = guard([&] { return JsonbIteratorNext(&it, &v, false); });
        switch (tok) {
            case WJB_BEGIN_ARRAY:
                if (v.val.array.rawScalar) {
                    // A top-level scalar is wrapped in a one-element raw array.
                    stack.push_back(core::Json::array());
                } else {
                    stack.push_back(core::Json::array());
                    stack.back().items().reserve(v.val.array.nElems);
                }
                break;
            case WJB_BEGIN_OBJECT:
                stack.push_back(core::Json::object());
                break;
            case WJB_KEY:
                keys.emplace_back(v.val.string.val, v.val.string.len);
                break;
            case WJB_VALUE:
            case WJB_ELEM:
                attach(scalar(v));
                break;
            case WJB_END_ARRAY:
            case WJB_END_OBJECT: {
                core::Json c = std::move(stack.back());
                stack.pop_back();
                if (tok == WJB_END_ARRAY && JB_ROOT_IS_SCALAR(jb) && stack.empty() && c.items().size() == 1) {
                    core::Json only = std::move(c.items()[0]);
                    attach(std::move(only));
                } else {
                    attach(std::move(c));
                }
                break;
            }
            case WJB_DONE:
                done = true;
                break;
        }
    }
    return root;
}

Datum jsonb_from_text(const std::string& json) {
    const char* s = json.c_str();
    return guard([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(s)); });
}

core::Json from_jsonb_text(const std::string& json) {
    Datum d = jsonb_from_text(json);
    return from_jsonb(guard([&] { return DatumGetJsonbP(d); }));
}

namespace {

// Builds the jsonb with pushJsonbValue. Runs inside one guard: it owns no
// destructible objects (references and pointers only), so a longjmp out of
// it leaks nothing.
JsonbValue* push(JsonbParseState** state, const core::Json& j, JsonbIteratorToken token) {
    JsonbValue v;
    switch (j.type()) {
        case core::Json::Type::Null:
            v.type = jbvNull;
            return pushJsonbValue(state, token, &v);
        case core::Json::Type::Bool:
            v.type = jbvBool;
            v.val.boolean = j.as_bool();
            return pushJsonbValue(state, token, &v);
        case core::Json::Type::Number:
            v.type = jbvNumeric;
            v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(j.text().c_str()),
                                                                ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
            return pushJsonbValue(state, token, &v);
        case core::Json::Type::String:
            v.type = jbvString;
            v.val.string.val = const_cast<char*>(j.text().data());
            v.val.string.len = static_cast<int>(j.text().size());
            return pushJsonbValue(state, token, &v);
        case core::Json::Type::Array:
            pushJsonbValue(state, WJB_BEGIN_ARRAY, nullptr);
            for (const auto& e : j.items()) push(state, e, WJB_ELEM);
            return pushJsonbValue(state, WJB_END_ARRAY, nullptr);
        case core::Json::Type::Object:
            pushJsonbValue(state, WJB_BEGIN_OBJECT, nullptr);
            for (const auto& m : j.members()) {
                JsonbValue k;
                k.type = jbvString;
                k.val.string.val = const_cast<char*>(m.first.data());
                k.val.string.len = static_cast<int>(m.first.size());
                pushJsonbValue(state, WJB_KEY, &k);
                push(state, m.second, WJB_VALUE);
            }
            return pushJsonbValue(state, WJB_END_OBJECT, nullptr);
    }
    return nullptr;
}

}  // namespace

Datum to_jsonb(const core::Json& value) {
    if (!value.is_object() && !value.is_array()) return jsonb_from_text(value.dump());
    return guard([&] {
        JsonbParseState* state = nullptr;
        JsonbValue* res = push(&state, value, WJB_VALUE);
        return JsonbPGetDatum(JsonbValueToJsonb(res));
    });
}

std::string iso_timestamp(TimestampTz ts) {
    char buf[MAXDATELEN + 1];
    guard([&] { JsonEncodeDateTime(buf, TimestampTzGetDatum(ts), TIMESTAMPTZOID, nullptr); });
    return buf;
}

std::string jsonb_text(Jsonb* jb) {
    char* s = guard([&] { return JsonbToCString(nullptr, &jb->root, VARSIZE(jb)); });
    std::string out(s);
    pfree(s);
    return out;
}

}  // namespace batch_ops::pg
