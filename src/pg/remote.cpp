#include "pg/remote.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "pg/compat.hpp"

extern "C" {
#include "access/table.h"
#include "commands/copy.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
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

bool conninfo_has_password(const std::string& conninfo) {
    // PQconninfoParse does not raise: plain libpq.
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
    bool found = false;
    if (opts) {
        for (PQconninfoOption* o = opts; o->keyword; ++o)
            if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0]) found = true;
        PQconninfoFree(opts);
    }
    if (err) PQfreemem(err);
    return found;
}

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
    static const char* const kPasswordDetail =
        "Roles that are not superusers (members of batch_ops_admin too) must authenticate to the sync source "
        "with the password of the connection string, so that they cannot reach a server as the database "
        "server's OS user.";
    // As dblink_connstr_check: without a password of its own in the string,
    // libpq could take one from the server's environment or password file.
    if (require_password && !conninfo_has_password(conninfo))
        throw RemotePasswordRequired("42501", "password is required to connect to the sync source",
                                     kPasswordDetail, "Put the password into \"options.connection\".");
    // Keywords after the expanded "dbname" override the connection string's:
    // the remote session reads our text in this database's encoding (and
    // sends COPY data in it), whatever the string asks for.
    const char* encoding = GetDatabaseEncodingName();
    const char* keys[] = {"dbname", "fallback_application_name", "client_encoding", nullptr};
    const char* values[] = {conninfo.c_str(), "batch_ops sync", encoding, nullptr};
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
    // As dblink_security_check: the password must actually have been used
    // (trust or peer authentication would let the role in as whoever it names).
    if (require_password && !PQconnectionUsedPassword(conn_))
        throw RemotePasswordRequired("42501", "password is required to connect to the sync source",
                                     kPasswordDetail,
                                     "Connect with a role and a pg_hba.conf line that authenticate by password.");
    if (PQsetnonblocking(conn_, 1) != 0)
        throw core::Error(kConnectionFailure, "could not use the sync source connection: " + trimmed_error(conn_));
    // Whatever the string's options set: backslashes are no escapes in plain
    // string literals, as for our parser, which checked the source text.
    command("SET standard_conforming_strings = on");
    check_session();
    session_checked_ = true;
}

void RemoteConnection::check_session() {
    // The settings the remote server reported last (ParameterStatus): a
    // statement of ours (the source's description) could have changed them
    // with set_config() for the statements after it.
    const char* encoding = GetDatabaseEncodingName();
    const char* scs = PQparameterStatus(conn_, "standard_conforming_strings");
    const char* enc = PQparameterStatus(conn_, "client_encoding");
    if (!scs || strcmp(scs, "on") != 0 || !enc || pg_strcasecmp(enc, encoding) != 0)
        throw core::Error(kConnectionFailure, "could not set up the sync source session",
                          std::string("The remote session has standard_conforming_strings = ") + (scs ? scs : "?") +
                              " and client_encoding = " + (enc ? enc : "?") + "; the sync needs on and " +
                              encoding + ".");
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
    std::string state = kConnectionFailure, detail, hint;
    if (res) {
        // The remote error's parts, as PostgreSQL would report them.
        const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (s && strlen(s) == 5) state = s;
        const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        const char* d = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
        const char* h = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
        if (primary && primary[0]) {
            message += primary;
        } else {
            std::string m = PQresultErrorMessage(res);
            while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
            message += m.empty() ? trimmed_error(conn_) : m;
        }
        if (d) detail = d;
        if (h) hint = h;
        PQclear(res);
    } else {
        message += trimmed_error(conn_);
    }
    throw core::Error(state, message, detail, hint);
}

PGresult* RemoteConnection::wait_result() {
    while (true) {
        if (!PQconsumeInput(conn_)) fail("lost the sync source connection", nullptr);
        if (!PQisBusy(conn_)) return PQgetResult(conn_);
        wait_socket(WL_SOCKET_READABLE, -1);
    }
}

PGresult* RemoteConnection::start(const std::string& sql) {
    if (session_checked_) check_session();
    // The extended protocol, with no parameters: the remote server parses the
    // text as one statement and refuses more ("cannot insert multiple
    // commands into a prepared statement"), so no text of ours can make it
    // run a second one, however its lexer splits the text.
    if (!PQsendQueryParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0))
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
        compat::require_rights(nsitem, ACL_INSERT);
        // The remote session sends the rows in this database's encoding.
        List* options = list_make1(makeDefElem(pstrdup("encoding"),
                                               (Node*)makeString(pstrdup(GetDatabaseEncodingName())), -1));
        CopyFromState cstate = BeginCopyFrom(pstate, rel, nullptr, nullptr, false, copy_source, NIL, options);
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
