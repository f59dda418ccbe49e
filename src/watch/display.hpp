// batch_ops_watch: what one batch looks like, and how lines reach the screen.
//
// Three modes: a terminal (lines of running batches redrawn in place with ANSI
// codes, ended batches left above them), plain lines (one line per change of a
// batch, no escape codes: stdout is a pipe or a file, or --plain), and JSON lines
// (the text PostgreSQL built for the row, one object per line).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace watch {

// One row of batch_ops.jobs as the program reads it (src/watch/main.cpp, job_query).
struct JobRow {
    std::int64_t id = 0;
    std::string kind, operation, target, status;
    double progress = 0;  // 0..100, the view's progress column
    std::int64_t total = 0, processed = 0, success = 0, failure = 0, attempt = 0;
    std::optional<double> elapsed_s;  // since started_at (duration once ended)
    std::optional<double> eta_s;      // the view's estimated_remaining
    std::string last_error_code, last_error;
    std::string json;  // --json: the row as PostgreSQL rendered it

    bool ended() const { return status == "succeeded" || status == "failed" || status == "cancelled"; }
    // Items that ran: processed, less the items a cancel counted as processed.
    std::int64_t ran() const;
    // The bar's percentage: the view's progress, or for a cancelled batch what ran.
    double shown_progress() const;
};

// Rate of progress from successive observations of one batch.
class RateMeter {
public:
    // Adds an observation (monotonic seconds, processed items).
    void observe(double at, std::int64_t processed);
    // Items per second over the last window, when the observations span at least a
    // second; nullopt otherwise.
    std::optional<double> rate() const;

private:
    std::deque<std::pair<double, std::int64_t>> samples_;
};

// Items per second and seconds left for ROW: from successive observations while it
// runs (METER), else from started_at and processed (the view's figures).
struct Speed {
    std::optional<double> items_per_s;
    std::optional<double> eta_s;
};
Speed speed_of(const JobRow& row, const RateMeter& meter);

// "status_update items [#####-----]  50.0%  120/s  ETA 0:00:04  ok 9  fail 1  running": the
// line of one batch. BAR is the width of the bar; control characters of values
// from the server are replaced (they could move the cursor of a terminal).
std::string format_line(const JobRow& row, const Speed& speed, int bar);

enum class Mode { terminal, plain, json };

class Display {
public:
    explicit Display(Mode mode);
    ~Display();  // shows the cursor again in terminal mode
    Display(const Display&) = delete;
    Display& operator=(const Display&) = delete;

    Mode mode() const { return mode_; }
    int bar_width() const;

    // Terminal: replaces the lines drawn in place (LIVE) after printing FINAL lines
    // above them for good. Plain and JSON: prints FINAL lines (LIVE is ignored).
    void draw(const std::vector<std::string>& final_lines, const std::vector<std::string>& live);
    // A message on stderr; in terminal mode the live lines are cleared first and
    // drawn again at the next draw().
    void message(const std::string& text);
    // Terminal: leaves the live lines on the screen and ends the drawing.
    void finish();

private:
    void measure();
    std::string fit(const std::string& line) const;

    Mode mode_;
    int cols_ = 80, rows_ = 24;
    int live_lines_ = 0;  // lines drawn in place last time (the cursor is below them)
    bool finished_ = false;
};

// Replaces control characters (C0, DEL and C1) with spaces.
std::string sanitize(const std::string& s);

}  // namespace watch
