#include "pg/remote.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"

extern "C" {
#include "access/table.h"
#include "commands/copy.h"
#include "miscadmin.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

namespace batch_ops::pg {

namespace {

const char* const kConnectionFailure = "08001";

// State of the COPY stream read by copy_source (COPY FROM calls it back with
// no context argument). Plain data: PostgreSQL errors may pass through it.
struct CopyStream {
    PGconn* conn;
    char* buf;
    int len;
    int pos;
    bool done;
};
CopyStream g_stream;

void wait_readable(PGconn* conn) {
    int rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_SOCKET_READABLE | WL_EXIT_ON_PM_DEATH, PQsocket(conn), -1,
                               PG_WAIT_EXTENSION);
    if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
}

// copy_data_source_cb: hands COPY FROM the bytes of the remote COPY TO STDOUT.
int copy_source(void* outbuf, int minread, int maxread) {
    int copied = 0;
    while (copied < minread) {
        if (g_stream.buf && g_stream.pos < g_stream.len) {
            int n = std::min(g_stream.len - g_stream.pos, maxread - copied);
            memcpy(static_cast<char*>(outbuf) + copied, g_stream.buf + g_stream.pos, n);
            g_stream.pos += n;
            copied += n;
            continue;
        }
        if (g_stream.buf) {
            PQfreemem(g_stream.buf);
            g_stream.buf = nullptr;
        }
        if (g_stream.done) break;
        int r = PQgetCopyData(g_stream.conn, &g_stream.buf, 1);
        if (r > 0) {
            g_stream.len = r;
            g_stream.pos = 0;
        } else if (r == 0) {
            wait_readable(g_stream.conn);
            if (!PQconsumeInput(g_stream.conn))
                ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE),
                                errmsg("could not read from the sync source: %s", PQerrorMessage(g_stream.conn))));
        } else if (r == -1) {
            g_stream.done = true;
        } else {
            ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE),
                            errmsg("could not read from the sync source: %s", PQerrorMessage(g_stream.conn))));
        }
    }
    return copied;
}

std::string trimmed_error(PGconn* conn) {
    std::string m = PQerrorMessage(conn);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

}  // namespace

RemoteConnection::RemoteConnection(const std::string& conninfo, int connect_timeout_s, bool require_password) {
    try {
        connect(conninfo, connect_timeout_s, require_password);
    } catch (...) {
        // The destructor does not run for an object whose constructor threw.
        if (conn_) PQfinish(conn_);
        conn_ = nullptr;
        throw;
    }
}

void RemoteConnection::connect(const std::string& conninfo, int connect_timeout_s, bool require_password) {
    const char* keys[] = {"dbname", "fallback_application_name", nullptr};
    const char* values[] = {conninfo.c_str(), "batch_ops sync", nullptr};
    conn_ = PQconnectStartParams(keys, values, 1);
    if (!conn_) throw core::Error(kConnectionFailure, "could not connect to the sync source: out of memory");
    if (PQstatus(conn_) == CONNECTION_BAD)
        throw core::Error(kConnectionFailure, "could not connect to the sync source: " + trimmed_error(conn_));
    TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), connect_timeout_s * 1000);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED)
            throw core::Error(kConnectionFailure, "could not connect to the sync source: " + trimmed_error(conn_));
        long remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
        if (remaining <= 0)
            throw core::Error(kConnectionFailure, "could not connect to the sync source: connection timeout after " +
                                                      std::to_string(connect_timeout_s) + " s");
        wait_socket(st == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE, remaining);
        st = PQconnectPoll(conn_);
    }
    if (require_password && !PQconnectionUsedPassword(conn_))
        throw core::Error("42501", "password is required to connect to the sync source",
                          "Roles that are not superusers or batch_ops_admin members must authenticate with a "
                          "password, so that they cannot reach a server as the database server's OS user.",
                          "Put the password into \"options.connection\".");
    if (PQsetnonblocking(conn_, 1) != 0)
        throw core::Error(kConnectionFailure, "could not use the sync source connection: " + trimmed_error(conn_));
}

RemoteConnection::~RemoteConnection() {
    if (conn_) PQfinish(conn_);
}

void RemoteConnection::wait_socket(int events, long timeout_ms) {
    PGconn* c = conn_;
    guard([&] {
        int rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | events | WL_EXIT_ON_PM_DEATH | (timeout_ms >= 0 ? WL_TIMEOUT : 0),
                                   PQsocket(c), timeout_ms, PG_WAIT_EXTENSION);
        if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    });
}

void RemoteConnection::fail(const char* what, PGresult* res) {
    std::string message = std::string(what) + ": ";
    std::string state = kConnectionFailure;
    if (res) {
        const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (s && strlen(s) == 5) state = s;
        std::string m = PQresultErrorMessage(res);
        while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
        message += m.empty() ? trimmed_error(conn_) : m;
        PQclear(res);
    } else {
        message += trimmed_error(conn_);
    }
    throw core::Error(state, message);
}

PGresult* RemoteConnection::wait_result() {
    while (true) {
        if (!PQconsumeInput(conn_)) fail("lost the sync source connection", nullptr);
        if (!PQisBusy(conn_)) return PQgetResult(conn_);
        wait_socket(WL_SOCKET_READABLE, -1);
    }
}

PGresult* RemoteConnection::start(const std::string& sql) {
    if (!PQsendQuery(conn_, sql.c_str()))
        throw core::Error(kConnectionFailure, "could not send a query to the sync source: " + trimmed_error(conn_));
    int r;
    while ((r = PQflush(conn_)) == 1) wait_socket(WL_SOCKET_WRITEABLE | WL_SOCKET_READABLE, -1);
    if (r < 0) fail("could not send a query to the sync source", nullptr);
    return wait_result();
}

void RemoteConnection::drain() {
    PGresult* res;
    while ((res = wait_result()) != nullptr) PQclear(res);
}

void RemoteConnection::command(const std::string& sql) {
    PGresult* res = start(sql);
    if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK))
        fail("the sync source refused a command", res);
    PQclear(res);
    drain();
}

std::vector<RemoteColumn> RemoteConnection::describe(const std::string& query) {
    PGresult* res = start("SELECT * FROM " + query + " AS s LIMIT 0");
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) fail("could not read the sync source", res);
    std::vector<RemoteColumn> cols;
    for (int i = 0; i < PQnfields(res); ++i) cols.push_back({PQfname(res, i), PQftype(res, i)});
    PQclear(res);
    drain();
    return cols;
}

std::string RemoteConnection::literal(const std::string& value) {
    char* q = PQescapeLiteral(conn_, value.data(), value.size());
    if (!q) fail("could not quote a value for the sync source", nullptr);
    std::string out(q);
    PQfreemem(q);
    return out;
}

uint64_t RemoteConnection::copy_into(const std::string& query, Oid relid) {
    PGresult* res = start("COPY (" + query + ") TO STDOUT");
    if (!res || PQresultStatus(res) != PGRES_COPY_OUT) fail("could not read the sync source", res);
    PQclear(res);
    g_stream = CopyStream{conn_, nullptr, 0, 0, false};
    uint64_t rows = guard([&] {
        Relation rel = table_open(relid, RowExclusiveLock);
        ParseState* pstate = make_parsestate(nullptr);
        // COPY FROM's executor state needs the relation in a range table, as
        // DoCopy sets it up.
        ParseNamespaceItem* nsitem = addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, nullptr, false, false);
        nsitem->p_rte->requiredPerms = ACL_INSERT;
        CopyFromState cstate = BeginCopyFrom(pstate, rel, nullptr, nullptr, false, copy_source, NIL, NIL);
        uint64 n = CopyFrom(cstate);
        EndCopyFrom(cstate);
        free_parsestate(pstate);
        table_close(rel, NoLock);
        return n;
    });
    if (g_stream.buf) {
        PQfreemem(g_stream.buf);
        g_stream.buf = nullptr;
    }
    // The end of the COPY: its final result says whether the remote query succeeded.
    while ((res = wait_result()) != nullptr) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) fail("the sync source failed", res);
        PQclear(res);
    }
    return rows;
}

}  // namespace batch_ops::pg
