// batch_ops_watch: live progress of batch_ops batches in a terminal or a script.
//
// It LISTENs on the progress channel and reads batch_ops.jobs: first the current
// state, then again after every notification (a hint that some batch changed: the
// payload is not read, anyone may NOTIFY on the channel) and at least every
// --interval seconds. What it shows always comes from the view, as the connected
// role may see it (row level security: a user sees its own batches). Usage and
// exit codes: --help and docs/watch.md.
#include "watch/connection.hpp"
#include "watch/display.hpp"
#include "watch/signals.hpp"

#include <getopt.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

#ifndef BATCH_OPS_VERSION
#define BATCH_OPS_VERSION "unknown"
#endif

namespace watch {
namespace {

// Exit codes (docs/watch.md).
constexpr int kExitSucceeded = 0;    // --job: the batch succeeded; --all: stopped by a signal
constexpr int kExitFailed = 1;       // --job: the batch failed
constexpr int kExitCancelled = 2;    // --job: the batch was cancelled
constexpr int kExitConnection = 3;   // could not connect, or gave up reconnecting
constexpr int kExitNotVisible = 4;   // no such batch, not visible to the role, or no access to batch_ops.jobs
constexpr int kExitUsage = 5;        // bad command line
constexpr int kExitError = 6;        // any other error from the server

constexpr double kQueryTimeoutS = 30;  // a statement without an answer by then: the connection is lost
constexpr double kConnectTimeoutS = 10;
constexpr double kMinGapS = 0.2;       // least time between two reads prompted by notifications
constexpr const char* kWindow = "60 s";  // --all: how far back ended batches are read again

struct Options {
    std::optional<std::int64_t> job;
    bool all = false, json = false, plain = false;
    double interval = 1.0;
    double reconnect_timeout = 30.0;
    std::string channel;
    std::string host, port, user, dbname;
};

void usage(FILE* to) {
    std::fputs(
        "batch_ops_watch shows the progress of batch_ops batches, live.\n"
        "\n"
        "Usage:\n"
        "  batch_ops_watch [OPTION]... --job ID [DBNAME]\n"
        "  batch_ops_watch [OPTION]... [--all] [DBNAME]\n"
        "\n"
        "What to watch:\n"
        "  -j, --job=ID                 follow one batch; exit when it ends\n"
        "  -a, --all                    follow every batch the role may see (the default)\n"
        "\n"
        "Output:\n"
        "      --json                   one JSON object per line (built by PostgreSQL)\n"
        "      --plain                  plain lines even on a terminal (no escape codes)\n"
        "  -i, --interval=SECS          read the state at least this often (default 1)\n"
        "\n"
        "Connection (as psql; PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ~/.pgpass apply):\n"
        "  -h, --host=HOST              server host or socket directory\n"
        "  -p, --port=PORT              server port\n"
        "  -U, --username=USER          user name\n"
        "  -d, --dbname=DBNAME          database name or connection string\n"
        "      --channel=NAME           LISTEN channel (default: the server's batch_ops.notify_channel)\n"
        "      --reconnect-timeout=SECS give up reconnecting after this long (default 30)\n"
        "\n"
        "  -V, --version                print the version and exit\n"
        "  -?, --help                   show this help and exit\n"
        "\n"
        "Exit status: 0 the batch succeeded (--all: stopped by Ctrl-C or SIGTERM), 1 it failed,\n"
        "2 it was cancelled, 3 connection failed or lost for good, 4 no such batch (or not\n"
        "visible to the role, or batch_ops.jobs not readable), 5 bad usage, 6 other error,\n"
        "128+N --job stopped by signal N.\n",
        to);
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", s);
    return buf;
}

bool parse_seconds(const char* s, double min, double& out) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !std::isfinite(v) || v < min || v > 86400) return false;
    out = v;
    return true;
}

// Parses the command line; returns an exit code when the program should stop.
std::optional<int> parse_options(int argc, char** argv, Options& o) {
    enum { kJson = 1000, kPlain, kChannel, kReconnect, kHelp };
    static const struct option longopts[] = {
        {"job", required_argument, nullptr, 'j'},
        {"all", no_argument, nullptr, 'a'},
        {"json", no_argument, nullptr, kJson},
        {"plain", no_argument, nullptr, kPlain},
        {"interval", required_argument, nullptr, 'i'},
        {"host", required_argument, nullptr, 'h'},
        {"port", required_argument, nullptr, 'p'},
        {"username", required_argument, nullptr, 'U'},
        {"dbname", required_argument, nullptr, 'd'},
        {"channel", required_argument, nullptr, kChannel},
        {"reconnect-timeout", required_argument, nullptr, kReconnect},
        {"version", no_argument, nullptr, 'V'},
        {"help", no_argument, nullptr, kHelp},
        {nullptr, 0, nullptr, 0},
    };
    auto bad = [](const std::string& msg) {
        std::fprintf(stderr, "batch_ops_watch: %s\nTry \"batch_ops_watch --help\" for more information.\n",
                     msg.c_str());
        return std::optional<int>(kExitUsage);
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":j:ai:h:p:U:d:V?", longopts, nullptr)) != -1) {
        switch (c) {
            case 'j': {
                char* end = nullptr;
                errno = 0;
                long long v = std::strtoll(optarg, &end, 10);
                if (errno != 0 || end == optarg || *end != '\0' || v <= 0)
                    return bad(std::string("invalid batch id \"") + optarg + "\"");
                o.job = v;
                break;
            }
            case 'a': o.all = true; break;
            case kJson: o.json = true; break;
            case kPlain: o.plain = true; break;
            case 'i':
                if (!parse_seconds(optarg, 0.1, o.interval))
                    return bad(std::string("invalid interval \"") + optarg + "\" (seconds, at least 0.1)");
                break;
            case 'h': o.host = optarg; break;
            case 'p': o.port = optarg; break;
            case 'U': o.user = optarg; break;
            case 'd': o.dbname = optarg; break;
            case kChannel:
                if (*optarg == '\0') return bad("the channel name is empty");
                o.channel = optarg;
                break;
            case kReconnect:
                if (!parse_seconds(optarg, 0, o.reconnect_timeout))
                    return bad(std::string("invalid reconnect timeout \"") + optarg + "\" (seconds)");
                break;
            case 'V': std::printf("batch_ops_watch (batch_ops) %s\n", BATCH_OPS_VERSION); return kExitSucceeded;
            case kHelp: usage(stdout); return kExitSucceeded;
            case '?':
                // -? itself, or an option getopt does not know (as psql tells them apart)
                if (optind <= argc && std::string(argv[optind - 1]) == "-?") {
                    usage(stdout);
                    return kExitSucceeded;
                }
                return bad(optopt ? std::string("invalid option -- '") + static_cast<char>(optopt) + "'"
                                  : std::string("invalid option \"") + argv[optind - 1] + "\"");
            case ':': return bad(std::string("option \"") + argv[optind - 1] + "\" requires an argument");
            default: return bad("invalid option");
        }
    }
    if (optind < argc && o.dbname.empty()) o.dbname = argv[optind++];
    if (optind < argc) return bad(std::string("too many command-line arguments (first is \"") + argv[optind] + "\")");
    if (o.job && o.all) return bad("--job and --all cannot be used together");
    if (!o.job) o.all = true;
    return std::nullopt;
}

ConnParams connection_params(const Options& o) {
    ConnParams p;
    // Defaults first: a conninfo string given as the database name overrides them.
    p.emplace_back("fallback_application_name", "batch_ops_watch");
    p.emplace_back("client_encoding", "auto");
    if (std::getenv("PGCONNECT_TIMEOUT") == nullptr)
        p.emplace_back("connect_timeout", std::to_string(static_cast<int>(kConnectTimeoutS)));
    p.emplace_back("keepalives_idle", "10");
    p.emplace_back("keepalives_interval", "5");
    p.emplace_back("keepalives_count", "3");
    if (!o.host.empty()) p.emplace_back("host", o.host);
    if (!o.port.empty()) p.emplace_back("port", o.port);
    if (!o.user.empty()) p.emplace_back("user", o.user);
    if (!o.dbname.empty()) p.emplace_back("dbname", o.dbname);
    return p;
}

// What --all or --job reads: the batches of interest, one row each, plus the
// server's clock (a row with a NULL job_id when none matches). $1: --json.
std::string job_query(bool all) {
    std::string cond = all
        // Active batches, the ones shown as active last time (to see how they ended,
        // or that they are gone), and those that ended since the watch started;
        // ended ones are read again for a while (kWindow) in case their transaction
        // committed after the previous read.
        ? "j.status = ANY ('{queued,running,cancelling}'::text[]) OR j.job_id = ANY ($2::int8[]) "
          "OR j.finished_at >= greatest(to_timestamp($3::float8), to_timestamp($4::float8) - interval '" +
              std::string(kWindow) + "')"
        : std::string("j.job_id = $2::int8");
    return "SELECT EXTRACT(epoch FROM n.now)::text AS observed, s.* "
           "FROM (SELECT statement_timestamp() AS now) n "
           "LEFT JOIN LATERAL ("
           " SELECT j.job_id, j.kind, j.operation, j.target_type, j.status, j.progress::float8 AS progress,"
           "  j.total, j.processed, j.success_count, j.failure_count, j.attempt, e.elapsed,"
           "  EXTRACT(epoch FROM j.estimated_remaining)::float8 AS eta, j.last_error_code, j.last_error,"
           // Every column of the view in its order, then the figures the program adds.
           "  CASE WHEN $1::boolean THEN (SELECT row_to_json(x)::text FROM (SELECT j.*,"
           "   CASE WHEN e.elapsed > 0 THEN round((j.processed / e.elapsed)::numeric, 1) END AS items_per_second,"
           "   round(EXTRACT(epoch FROM j.estimated_remaining), 1) AS eta_seconds,"
           "   j.status = ANY ('{succeeded,failed,cancelled}'::text[]) AS ended,"
           "   n.now AS observed_at) x) END AS json"
           " FROM batch_ops.jobs j"
           " CROSS JOIN LATERAL (SELECT EXTRACT(epoch FROM coalesce(j.duration, clock_timestamp() - j.started_at))"
           "  ::float8 AS elapsed) e"
           " WHERE " + cond + ") s ON true "
           "ORDER BY s.job_id";
}

// Column access by name (so that the query may change without renumbering).
class Columns {
public:
    explicit Columns(PGresult* r) : r_(r) {}
    int col(const char* name) const {
        int c = PQfnumber(r_, name);
        if (c < 0) throw SqlError("XX000", std::string("column \"") + name + "\" missing from the result", "", "");
        return c;
    }
    bool null(int row, const char* name) const { return PQgetisnull(r_, row, col(name)) != 0; }
    std::string text(int row, const char* name) const { return null(row, name) ? "" : PQgetvalue(r_, row, col(name)); }
    std::int64_t int64(int row, const char* name) const {
        return null(row, name) ? 0 : std::strtoll(PQgetvalue(r_, row, col(name)), nullptr, 10);
    }
    std::optional<double> number(int row, const char* name) const {
        if (null(row, name)) return std::nullopt;
        return std::strtod(PQgetvalue(r_, row, col(name)), nullptr);
    }

private:
    PGresult* r_;
};

struct Tracked {
    JobRow row;
    RateMeter meter;
    std::string printed_key, printed_status;  // of the last line printed (plain and JSON)
    double printed_at = -1e18;
};

class Watcher {
public:
    Watcher(Options o, Display& d) : opts_(std::move(o)), display_(d), params_(connection_params(opts_)) {}

    int run();

private:
    void connect();
    void setup();
    // Reads and shows the state; returns an exit code when --job is done.
    std::optional<int> refresh();
    std::optional<int> reconnect(const std::string& why);
    std::optional<int> on_sql_error(const SqlError& e);
    int interrupted() const;

    Options opts_;
    Display& display_;
    ConnParams params_;
    std::unique_ptr<Connection> conn_;
    std::string start_epoch_, last_epoch_;  // server clock: when watching started, the last read
    std::map<std::int64_t, Tracked> tracked_;
    std::string user_;
};

int Watcher::interrupted() const {
    // --all runs until stopped: that is its normal end. --job did not see the end.
    return opts_.all ? kExitSucceeded : 128 + static_cast<int>(stop_signal);
}

void Watcher::connect() {
    conn_.reset();
    conn_ = std::make_unique<Connection>(params_, kConnectTimeoutS);
    setup();
}

void Watcher::setup() {
    // Names in the statements below are resolved in pg_catalog only.
    conn_->exec("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false)", {}, kQueryTimeoutS);
    Result r = conn_->exec(
        "SELECT coalesce(nullif(current_setting('batch_ops.notify_channel', true), ''), 'batch_ops_progress') "
        "AS channel, EXTRACT(epoch FROM statement_timestamp())::text AS now, current_user AS who",
        {}, kQueryTimeoutS);
    Columns c(r.get());
    if (start_epoch_.empty()) start_epoch_ = last_epoch_ = c.text(0, "now");
    user_ = c.text(0, "who");
    std::string channel = opts_.channel.empty() ? c.text(0, "channel") : opts_.channel;
    try {
        // LISTEN before the first read: no change between the two is missed.
        conn_->exec("LISTEN " + conn_->quote_identifier(channel), {}, kQueryTimeoutS);
    } catch (const SqlError& e) {
        if (e.sqlstate.rfind("08", 0) == 0 || e.sqlstate.rfind("57", 0) == 0) throw;
        // A hot standby refuses LISTEN: read the state every --interval instead.
        display_.message(std::string("could not LISTEN on \"") + channel + "\": " + e.what() +
                         "; reading the state every " + seconds_text(opts_.interval) + " s");
    }
}

std::optional<int> Watcher::refresh() {
    std::vector<std::optional<std::string>> params{opts_.json ? "true" : "false"};
    if (opts_.all) {
        std::string ids = "{";
        for (const auto& [id, t] : tracked_)
            if (!t.row.ended()) ids += (ids.size() > 1 ? "," : "") + std::to_string(id);
        ids += "}";
        params.emplace_back(ids);
        params.emplace_back(start_epoch_);
        params.emplace_back(last_epoch_);
    } else {
        params.emplace_back(std::to_string(*opts_.job));
    }
    Result r = conn_->exec(job_query(opts_.all), params, kQueryTimeoutS);
    double now = monotonic_now();
    Columns c(r.get());
    int n = PQntuples(r.get());
    if (n > 0) last_epoch_ = c.text(0, "observed");

    std::vector<std::string> final_lines, live;
    std::map<std::int64_t, Tracked> next;
    std::optional<int> exit_code;
    int active = 0;
    for (int i = 0; i < n; ++i) {
        if (c.null(i, "job_id")) continue;
        JobRow row;
        row.id = c.int64(i, "job_id");
        row.kind = c.text(i, "kind");
        row.operation = c.text(i, "operation");
        row.target = c.text(i, "target_type");
        row.status = c.text(i, "status");
        row.progress = c.number(i, "progress").value_or(0);
        row.total = c.int64(i, "total");
        row.processed = c.int64(i, "processed");
        row.success = c.int64(i, "success_count");
        row.failure = c.int64(i, "failure_count");
        row.attempt = c.int64(i, "attempt");
        row.elapsed_s = c.number(i, "elapsed");
        row.eta_s = c.number(i, "eta");
        row.last_error_code = c.text(i, "last_error_code");
        row.last_error = c.text(i, "last_error");
        row.json = c.text(i, "json");

        auto it = tracked_.find(row.id);
        Tracked t = it != tracked_.end() ? std::move(it->second) : Tracked{};
        t.row = row;
        if (row.status == "running" || row.status == "cancelling") t.meter.observe(now, row.processed);
        std::string line = opts_.json ? row.json : format_line(row, speed_of(row, t.meter), display_.bar_width());
        std::string key = row.status + "|" + std::to_string(row.processed) + "|" + std::to_string(row.failure) +
                          "|" + std::to_string(row.success) + "|" + std::to_string(row.attempt);
        if (row.ended()) {
            if (key != t.printed_key) final_lines.push_back(line);  // once per end
            t.printed_key = key;
            t.printed_status = row.status;
            if (!opts_.all)
                exit_code = row.status == "succeeded" ? kExitSucceeded
                            : row.status == "failed"  ? kExitFailed
                                                      : kExitCancelled;
        } else {
            ++active;
            if (display_.mode() == Mode::terminal) {
                live.push_back(line);
            } else if (key != t.printed_key &&
                       (row.status != t.printed_status || now - t.printed_at >= opts_.interval - 0.05)) {
                final_lines.push_back(line);
                t.printed_key = key;
                t.printed_status = row.status;
                t.printed_at = now;
            }
        }
        next.emplace(row.id, std::move(t));
    }
    tracked_ = std::move(next);

    if (!opts_.all && !exit_code && n > 0 && c.null(0, "job_id")) {
        display_.draw(final_lines, {});
        display_.message("batch " + std::to_string(*opts_.job) + " does not exist or role \"" + user_ +
                         "\" may not see it");
        return kExitNotVisible;
    }
    if (opts_.all && display_.mode() == Mode::terminal) {
        std::time_t t = std::time(nullptr);
        char clock[16];
        std::strftime(clock, sizeof clock, "%H:%M:%S", std::localtime(&t));
        live.insert(live.begin(), "batch_ops_watch: " + std::to_string(active) + " active batch" +
                                      (active == 1 ? "" : "es") + " of role \"" + user_ + "\" at " + clock +
                                      " (Ctrl-C quits)");
    }
    display_.draw(final_lines, live);
    return exit_code;
}

std::optional<int> Watcher::on_sql_error(const SqlError& e) {
    std::string msg = std::string("ERROR: ") + e.what();
    if (!e.detail.empty()) msg += "\nDETAIL: " + e.detail;
    if (!e.hint.empty()) msg += "\nHINT: " + e.hint;
    if (e.sqlstate == "42501") {
        display_.message(msg + "\nbatch_ops_watch: role \"" + user_ +
                         "\" needs to be a member of batch_ops_user to read batch_ops.jobs");
        return kExitNotVisible;
    }
    if (e.sqlstate == "42P01" || e.sqlstate == "3F000") {
        display_.message(msg + "\nbatch_ops_watch: is the batch_ops extension installed in this database?");
        return kExitNotVisible;
    }
    display_.message(msg);
    return kExitError;
}

std::optional<int> Watcher::reconnect(const std::string& why) {
    conn_.reset();
    display_.message("connection lost (" + why + "); reconnecting (for up to " + seconds_text(opts_.reconnect_timeout) +
                     " s)");
    double deadline = monotonic_now() + opts_.reconnect_timeout;
    double delay = 0.25;
    std::string last = why;
    for (int attempt = 1;; ++attempt) {
        if (stop_signal) return interrupted();
        try {
            connect();
            display_.message("reconnected to " + conn_->describe());
            return std::nullopt;
        } catch (const ConnectionLost& e) {
            last = e.what();
        } catch (const SqlError& e) {
            if (e.sqlstate.rfind("08", 0) == 0 || e.sqlstate.rfind("57", 0) == 0)
                last = e.what();
            else
                return on_sql_error(e);
        } catch (const Interrupted&) {
            return interrupted();
        }
        conn_.reset();
        double left = deadline - monotonic_now();
        if (left <= 0) {
            display_.message("giving up after " + std::to_string(attempt) + " attempt" + (attempt == 1 ? "" : "s") +
                             ": " + last);
            return kExitConnection;
        }
        double sleep_s = std::min(delay, left);
        poll(nullptr, 0, static_cast<int>(sleep_s * 1000));  // a signal ends it early
        delay = std::min(delay * 2, 5.0);
    }
}

int Watcher::run() {
    try {
        connect();
    } catch (const ConnectionLost& e) {
        display_.message(e.what());
        return kExitConnection;
    } catch (const SqlError& e) {
        return *on_sql_error(e);
    } catch (const Interrupted&) {
        return interrupted();
    }

    bool dirty = true;  // read now
    double last_read = -1e18, next_read = 0;
    for (;;) {
        if (stop_signal) return interrupted();
        try {
            double now = monotonic_now();
            double due = std::min(next_read, dirty ? last_read + kMinGapS : next_read);
            if (now >= due) {
                if (auto code = refresh()) return *code;
                // Notifications that came while the statement ran may be of later commits.
                dirty = conn_->drain_notifications() > 0;
                last_read = monotonic_now();
                next_read = last_read + opts_.interval;
                continue;
            }
            if (conn_->wait_for_notifications(due - now) > 0) dirty = true;
        } catch (const ConnectionLost& e) {
            if (auto code = reconnect(e.what())) return *code;
            dirty = true;
            last_read = -1e18;
        } catch (const SqlError& e) {
            // Connection exceptions and operator intervention (a server shutting down,
            // a terminated backend): reconnect; anything else ends the program.
            if (e.sqlstate.rfind("08", 0) == 0 || e.sqlstate.rfind("57", 0) == 0) {
                if (auto code = reconnect(e.what())) return *code;
                dirty = true;
                last_read = -1e18;
            } else {
                return *on_sql_error(e);
            }
        } catch (const Interrupted&) {
            return interrupted();
        }
    }
}

}  // namespace
}  // namespace watch

int main(int argc, char** argv) {
    using namespace watch;
    Options opts;
    if (auto code = parse_options(argc, argv, opts)) return *code;
    install_signal_handlers();
    const char* term = std::getenv("TERM");
    Mode mode = opts.json ? Mode::json
                : (!opts.plain && isatty(STDOUT_FILENO) && !(term && std::string(term) == "dumb")) ? Mode::terminal
                                                                                                   : Mode::plain;
    int code;
    {
        Display display(mode);
        Watcher w(opts, display);
        code = w.run();
    }
    return code;
}
