#include "watch/connection.hpp"

#include "watch/signals.hpp"

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

namespace watch {

double monotonic_now() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

namespace {

// libpq's message on one line: no trailing newline, inner newlines and tabs as spaces.
std::string trimmed(const char* msg) {
    std::string s;
    for (const char* p = msg ? msg : ""; *p; ++p) {
        char c = (*p == '\n' || *p == '\t') ? ' ' : *p;
        if (c == ' ' && (s.empty() || s.back() == ' ')) continue;
        s += c;
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

// Notices (messages the server sends outside a statement's result): libpq would
// print them on stderr. Keep the last FATAL one, the reason the server is about to
// close the connection (e.g. "terminating connection due to administrator command").
extern "C" void on_notice(void* arg, const PGresult* res) {
    const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char* message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (severity && message && (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0))
        *static_cast<std::string*>(arg) = message;
}

// Waits until SOCK is ready for EVENTS or DEADLINE (monotonic seconds) passes.
// Returns 1 when ready, 0 at the deadline, -1 when interrupted by a stop signal.
int wait_socket(int sock, short events, double deadline) {
    for (;;) {
        if (stop_signal) return -1;
        double left = deadline - monotonic_now();
        if (left <= 0) return 0;
        struct pollfd p {};
        p.fd = sock;
        p.events = events;
        int ms = static_cast<int>(std::ceil(left * 1000.0));
        int rc = poll(&p, 1, ms);
        if (rc > 0) return 1;
        if (rc == 0) continue;  // the loop checks the deadline
        if (errno == EINTR) continue;
        return 1;  // let libpq report the socket's error
    }
}

}  // namespace

Connection::Connection(const ConnParams& params, double timeout_s) {
    std::vector<const char*> keys, values;
    for (const auto& [k, v] : params) {
        keys.push_back(k.c_str());
        values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectStartParams(keys.data(), values.data(), /* expand_dbname */ 1);
    if (conn_ == nullptr) throw ConnectionLost("out of memory");
    if (PQstatus(conn_) == CONNECTION_BAD) lost("could not connect");
    double deadline = monotonic_now() + timeout_s;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        if (st == PGRES_POLLING_OK) break;
        if (st == PGRES_POLLING_FAILED) lost("could not connect");
        // The socket may change between calls (several hosts, a retry without SSL).
        int rc = wait_socket(PQsocket(conn_), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (rc < 0) throw Interrupted{};
        if (rc == 0) {
            PQfinish(conn_);
            conn_ = nullptr;
            throw ConnectionLost("could not connect: timeout expired");
        }
        st = PQconnectPoll(conn_);
    }
    if (PQsetnonblocking(conn_, 1) != 0) lost("could not set the connection non-blocking");
    PQsetNoticeReceiver(conn_, on_notice, &fatal_notice_);
}

Connection::~Connection() {
    if (conn_ != nullptr) PQfinish(conn_);
}

void Connection::lost(const std::string& what) {
    std::string msg = fatal_notice_.empty() ? what + ": " + trimmed(PQerrorMessage(conn_))
                                            : "the server ended the session: " + fatal_notice_;
    PQfinish(conn_);
    conn_ = nullptr;
    throw ConnectionLost(msg);
}

Result Connection::exec(const std::string& sql, const std::vector<std::optional<std::string>>& params,
                        double timeout_s) {
    if (conn_ == nullptr) throw ConnectionLost("not connected");
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                           nullptr, 0))
        lost("could not send a query");
    double deadline = monotonic_now() + timeout_s;
    // Send everything (the connection is non-blocking).
    for (;;) {
        int f = PQflush(conn_);
        if (f == 0) break;
        if (f < 0) lost("could not send a query");
        int rc = wait_socket(PQsocket(conn_), POLLOUT | POLLIN, deadline);
        if (rc < 0) throw Interrupted{};
        if (rc == 0) lost("no answer from the server within " + std::to_string(static_cast<int>(timeout_s)) + " s");
        if (!PQconsumeInput(conn_)) lost("the connection broke");
    }
    Result last;
    std::optional<SqlError> error;
    for (;;) {
        while (PQisBusy(conn_)) {
            int rc = wait_socket(PQsocket(conn_), POLLIN, deadline);
            if (rc < 0) throw Interrupted{};
            if (rc == 0)
                lost("no answer from the server within " + std::to_string(static_cast<int>(timeout_s)) + " s");
            if (!PQconsumeInput(conn_)) lost("the connection broke");
        }
        Result r(PQgetResult(conn_));
        if (!r) break;
        ExecStatusType st = PQresultStatus(r.get());
        if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
            if (PQstatus(conn_) == CONNECTION_BAD) lost("the connection broke");
            if (!error) {
                auto field = [&](int code) {
                    const char* v = PQresultErrorField(r.get(), code);
                    return std::string(v ? v : "");
                };
                std::string msg = field(PG_DIAG_MESSAGE_PRIMARY);
                if (msg.empty()) msg = trimmed(PQresultErrorMessage(r.get()));
                error.emplace(field(PG_DIAG_SQLSTATE), msg, field(PG_DIAG_MESSAGE_DETAIL),
                              field(PG_DIAG_MESSAGE_HINT));
            }
            continue;
        }
        last = std::move(r);
    }
    if (PQstatus(conn_) == CONNECTION_BAD) lost("the connection broke");
    if (error) throw *error;
    if (!last) lost("no result from the server");
    return last;
}

int Connection::drain_notifications() {
    int n = 0;
    while (PGnotify* note = PQnotifies(conn_)) {
        // Only a hint that some batch changed: what is shown is read from the tables.
        PQfreemem(note);
        ++n;
    }
    return n;
}

int Connection::wait_for_notifications(double timeout_s) {
    if (conn_ == nullptr) throw ConnectionLost("not connected");
    int n = drain_notifications();
    if (n > 0) return n;
    if (timeout_s < 0) timeout_s = 0;
    int rc = wait_socket(PQsocket(conn_), POLLIN, monotonic_now() + timeout_s);
    if (rc <= 0) return 0;
    if (!PQconsumeInput(conn_)) lost("the connection broke");
    // A server that shuts down sends an error and closes: PQconsumeInput may have read it.
    if (PQstatus(conn_) == CONNECTION_BAD) lost("the connection broke");
    return drain_notifications();
}

std::string Connection::quote_identifier(const std::string& name) {
    char* q = PQescapeIdentifier(conn_, name.c_str(), name.size());
    if (q == nullptr) throw ConnectionLost(trimmed(PQerrorMessage(conn_)));
    std::string s(q);
    PQfreemem(q);
    return s;
}

std::string Connection::describe() const {
    if (conn_ == nullptr) return "(not connected)";
    std::string host = PQhost(conn_) ? PQhost(conn_) : "";
    std::string s = std::string("database \"") + PQdb(conn_) + "\" as \"" + PQuser(conn_) + "\"";
    if (!host.empty()) {
        if (host[0] == '/')
            s += " via socket in \"" + host + "\"";
        else
            s += " on host \"" + host + "\"";
        s += std::string(" port ") + PQport(conn_);
    }
    return s;
}

}  // namespace watch
