// batch_ops_watch: a libpq connection that never blocks without a deadline.
//
// Every wait (connecting, a query, waiting for notifications) polls the socket
// with a timeout and gives up early when a signal asks the program to stop, so
// a dead server or Ctrl-C never leaves the program stuck inside libpq.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace watch {

// The connection is gone (or could not be made): reconnect, or give up (exit 3).
struct ConnectionLost : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The server answered a statement with an error.
struct SqlError : std::runtime_error {
    std::string sqlstate, detail, hint;
    SqlError(std::string state, const std::string& message, std::string det, std::string hnt)
        : std::runtime_error(message), sqlstate(std::move(state)), detail(std::move(det)), hint(std::move(hnt)) {}
};

// A signal asked the program to stop while it waited.
struct Interrupted {};

struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Connection keywords and values in the order libpq processes them (later ones win;
// a conninfo string given as dbname is expanded in its place).
using ConnParams = std::vector<std::pair<std::string, std::string>>;

// Seconds on a monotonic clock.
double monotonic_now();

class Connection {
public:
    // Connects within timeout_s seconds; throws ConnectionLost with libpq's message.
    Connection(const ConnParams& params, double timeout_s);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Runs one statement with text parameters (NULL for nullopt) and returns its
    // result. Throws SqlError for an error from the server, ConnectionLost when the
    // connection breaks or no answer comes within timeout_s, Interrupted on a signal.
    Result exec(const std::string& sql, const std::vector<std::optional<std::string>>& params, double timeout_s);

    // Waits up to timeout_s for the server to send something; reads it and returns
    // the number of notifications received (they are consumed: the program treats
    // them only as a hint that something changed). Returns 0 at the timeout or when
    // a signal interrupted the wait. Throws ConnectionLost.
    int wait_for_notifications(double timeout_s);

    // Notifications already read (e.g. while a statement ran); consumed.
    int drain_notifications();

    // A quoted identifier for SQL text (PQescapeIdentifier).
    std::string quote_identifier(const std::string& name);

    std::string describe() const;  // "db as user on host:port" for messages

private:
    [[noreturn]] void lost(const std::string& what);
    PGconn* conn_ = nullptr;
    std::string fatal_notice_;  // the reason the server gave for closing, if any
};

}  // namespace watch
