// A libpq connection to a remote PostgreSQL, used from inside a backend:
// non-blocking connect and reads that wait on the socket with
// WaitLatchOrSocket, so the backend stays cancellable (pg_cancel_backend,
// statement timeouts, shutdown) and never blocks in libpq.
//
// Every statement goes to the remote server through the extended query
// protocol (one Parse message: never more than one statement, whatever the
// text), in a session whose standard_conforming_strings is on and whose
// client_encoding is this database's encoding, so that the remote server
// splits and reads the text as our parser did.
//
// Errors are thrown as core::Error (08001 for connection problems, the
// remote SQLSTATE, message, detail and hint for remote query errors); the
// connection is closed by the destructor on every path.
#pragma once

#include "pg/guard.hpp"

#include <string>
#include <vector>

#include "core/error.hpp"

extern "C" {
#include "libpq-fe.h"
}

namespace batch_ops::pg {

// 42501: the connection did not authenticate with a password of the
// connection string although the role had to. A missing privilege, not a
// failure of the source: sync runs raise it instead of recording a failed run.
class RemotePasswordRequired : public core::Error {
public:
    using core::Error::Error;
};

// True when the libpq connection string sets a non-empty password.
bool conninfo_has_password(const std::string& conninfo);

struct RemoteColumn {
    std::string name;
    Oid type;  // remote type OID
};

class RemoteConnection {
public:
    // Connects within `connect_timeout_s`; `require_password`: the
    // connection string must carry a password and the connection must have
    // used it (as dblink demands of non-superusers), else
    // RemotePasswordRequired (42501), before any query is sent.
    RemoteConnection(const std::string& conninfo, int connect_timeout_s, bool require_password);
    ~RemoteConnection();
    RemoteConnection(const RemoteConnection&) = delete;
    RemoteConnection& operator=(const RemoteConnection&) = delete;

    // Runs one command that returns no rows (SET ...).
    void command(const std::string& sql);
    // The columns the query yields (runs it wrapped in LIMIT 0).
    std::vector<RemoteColumn> describe(const std::string& query);
    // Quotes a value as an SQL literal for the remote server.
    std::string literal(const std::string& value);

    // Streams `COPY (query) TO STDOUT` into the local relation `relid` (its
    // columns in order) with COPY FROM's own code path; returns the rows loaded.
    uint64_t copy_into(const std::string& query, Oid relid);

    PGconn* raw() { return conn_; }

private:
    void connect(const std::string& conninfo, int connect_timeout_s, bool require_password);
    PGresult* start(const std::string& sql);  // sends a query; its first result
    void drain();                              // reads the rest of its results
    PGresult* wait_result();  // next result of an async query, waiting on the socket
    void wait_socket(int events, long timeout_ms);
    [[noreturn]] void fail(const char* what, PGresult* res);
    // 08001 unless the session reads text as ours does (standard_conforming_strings
    // on, client_encoding this database's), as the server last reported.
    void check_session();

    PGconn* conn_ = nullptr;
    bool session_checked_ = false;  // checked once set up; then before every statement
};

}  // namespace batch_ops::pg
