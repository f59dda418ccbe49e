#include "sql/entry.hpp"

#include <cstring>
#include <exception>

#include "core/error.hpp"

namespace batch_ops::sql {

namespace {

// What a caught exception becomes; plain data, so nothing needs destroying
// when ereport longjmps away from call().
struct Failure {
    ErrorData* pg = nullptr;
    bool set = false;
    int sqlerrcode = 0;
    char message[2048];
    char detail[2048];
    char hint[1024];
};

void copy(char* dst, std::size_t cap, const char* src) {
    std::strncpy(dst, src ? src : "", cap - 1);
    dst[cap - 1] = '\0';
}

int sqlerrcode_of(const std::string& s) {
    if (s.size() != 5) return ERRCODE_INTERNAL_ERROR;
    return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

Datum run(Body body, FunctionCallInfo fcinfo, Failure* f) noexcept {
    try {
        return body(fcinfo);
    } catch (const pg::PgError& e) {
        f->pg = e.data();
    } catch (const core::Error& e) {
        f->set = true;
        f->sqlerrcode = sqlerrcode_of(e.sqlstate());
        copy(f->message, sizeof f->message, e.what());
        copy(f->detail, sizeof f->detail, e.detail().c_str());
        copy(f->hint, sizeof f->hint, e.hint().c_str());
    } catch (const std::bad_alloc&) {
        f->set = true;
        f->sqlerrcode = ERRCODE_OUT_OF_MEMORY;
        copy(f->message, sizeof f->message, "out of memory");
        f->detail[0] = f->hint[0] = '\0';
    } catch (const std::exception& e) {
        f->set = true;
        f->sqlerrcode = ERRCODE_INTERNAL_ERROR;
        copy(f->message, sizeof f->message, e.what());
        f->detail[0] = f->hint[0] = '\0';
    } catch (...) {
        f->set = true;
        f->sqlerrcode = ERRCODE_INTERNAL_ERROR;
        copy(f->message, sizeof f->message, "unexpected C++ exception");
        f->detail[0] = f->hint[0] = '\0';
    }
    return (Datum)0;
}

}  // namespace

Datum call(Body body, FunctionCallInfo fcinfo) {
    Failure f;
    Datum result = run(body, fcinfo, &f);
    // This frame owns no destructible object (Failure is a plain struct): the
    // error boundary itself, where C++ hands the error to PostgreSQL.
    if (f.pg) ReThrowError(f.pg);  // pg-boundary: the entry boundary; nothing here needs destroying
    if (f.set)
        ereport(ERROR,  // pg-boundary: the entry boundary; nothing here needs destroying
                (errcode(f.sqlerrcode), errmsg_internal("%s", f.message),
                        f.detail[0] ? errdetail_internal("%s", f.detail) : 0,
                        f.hint[0] ? errhint("%s", f.hint) : 0));
    return result;
}

}  // namespace batch_ops::sql
