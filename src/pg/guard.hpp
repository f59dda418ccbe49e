// The guard for calls from C++ into PostgreSQL (see README.md beside this file).
//
// pg::guard(f) runs f under PG_TRY. A PostgreSQL error raised inside f is
// caught, copied (ErrorData, with its SQLSTATE) and thrown as pg::PgError once
// the PG_TRY frame is gone, so C++ destructors run normally. f itself must own
// no destructible objects: keep it to plain PostgreSQL calls.
//
// A caught PgError leaves the (sub)transaction in an undefined state: whoever
// catches it must either roll back a subtransaction (pg::SubTransaction) or let
// it reach the SQL entry boundary, which re-raises it unchanged.
#pragma once

#include "pg/postgres.hpp"

#include <exception>
#include <optional>
#include <utility>
#include <string>
#include <type_traits>

namespace batch_ops::pg {

class PgError : public std::exception {
public:
    explicit PgError(ErrorData* data);
    // Message and SQLSTATE are copied, so they stay readable after the
    // transaction that raised the error is gone (background workers).
    const char* what() const noexcept override { return message_.c_str(); }
    const std::string& sqlstate() const { return sqlstate_; }
    int sqlerrcode() const { return sqlerrcode_; }
    // The whole error, for ReThrowError at the SQL entry boundary; lives in
    // error_memory_context() (until the end of the top transaction).
    ErrorData* data() const { return data_; }

private:
    ErrorData* data_;
    int sqlerrcode_;
    std::string sqlstate_;
    std::string message_;
};

// Where caught errors are kept: lives until the end of the top transaction
// (or for the process, outside one).
MemoryContext error_memory_context();

// Copies the current error into error_memory_context() and clears the error state.
ErrorData* capture_error(MemoryContext return_to);

template <typename F>
auto guard(F&& f) -> decltype(f()) {
    using R = decltype(f());
    if constexpr (std::is_void_v<R>) {
        guard([&f] { f(); return true; });
    } else {
        static_assert(std::is_trivially_copyable_v<R>, "pg::guard returns plain values only");
        MemoryContext oldcxt = CurrentMemoryContext;
        ErrorData* volatile edata = nullptr;
        std::exception_ptr cxx;
        std::exception_ptr* volatile cxx_slot = &cxx;
        R result{};
        R* volatile result_slot = &result;
        PG_TRY();
        {
            try {
                *result_slot = f();
            } catch (...) {
                *cxx_slot = std::current_exception();
            }
        }
        PG_CATCH();
        {
            edata = capture_error(oldcxt);
        }
        PG_END_TRY();
        if (edata) throw PgError(edata);
        if (cxx) std::rethrow_exception(cxx);
        return result;
    }
}

// Runs f(), then leave() in ordinary code (never in a destructor or a catch
// block): also when f throws a C++ exception, before passing it on. When f
// raises a PostgreSQL error (PgError) leave() is not called: the
// (sub)transaction abort that must follow such an error restores what leave()
// would (the SPI stack, the user id, GUC nest levels). Returns what f returns.
template <typename F, typename L>
auto then_leave(F&& f, L&& leave) -> decltype(f()) {
    using R = decltype(f());
    if constexpr (std::is_void_v<R>) {
        then_leave([&f] { f(); return true; }, std::forward<L>(leave));
    } else {
        std::optional<R> result;
        std::exception_ptr failure;
        bool pg_failure = false;
        try {
            result.emplace(f());
        } catch (const PgError&) {
            pg_failure = true;
            failure = std::current_exception();
        } catch (...) {
            failure = std::current_exception();
        }
        if (!pg_failure) leave(!failure);
        if (failure) std::rethrow_exception(failure);
        return std::move(*result);
    }
}

// A subtransaction owned by C++ code: begin in the constructor, then commit()
// or rollback(). If neither ran (an exception is passing through), the
// destructor leaves it for the enclosing transaction's abort to clean up:
// that exception is on its way to the entry boundary.
class SubTransaction {
public:
    SubTransaction();
    ~SubTransaction() = default;
    SubTransaction(const SubTransaction&) = delete;
    SubTransaction& operator=(const SubTransaction&) = delete;
    void commit();
    void rollback();
    bool active() const { return active_; }

private:
    MemoryContext cxt_;
    ResourceOwner owner_;
    bool active_ = false;
};

// Runs f() in a subtransaction, the scoped form of SubTransaction: committed
// when f returns, rolled back when f raises a PostgreSQL error, which is then
// returned (not thrown) for the caller to record; the transaction goes on.
// Any other exception is passed on with the subtransaction left to the
// enclosing transaction's abort. Both ends run in ordinary code.
template <typename F>
std::optional<PgError> subtransaction(F&& f) {
    SubTransaction sub;
    std::optional<PgError> failure;
    try {
        f();
    } catch (const PgError& e) {
        failure = e;
    }
    if (failure) sub.rollback();
    else sub.commit();
    return failure;
}

}  // namespace batch_ops::pg
