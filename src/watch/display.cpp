#include "watch/display.hpp"

#include "watch/signals.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace watch {

namespace {

constexpr double kRateWindowS = 10.0;  // observations older than this are dropped

std::string hms(double seconds) {
    long long s = std::llround(std::max(0.0, seconds));
    char buf[48];
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    return buf;
}

std::string rate_text(std::optional<double> r) {
    if (!r) return "-/s";
    char buf[48];
    double v = *r;
    if (v < 10)
        std::snprintf(buf, sizeof buf, "%.1f/s", v);
    else if (v < 10000)
        std::snprintf(buf, sizeof buf, "%.0f/s", v);
    else if (v < 10000000)
        std::snprintf(buf, sizeof buf, "%.1fk/s", v / 1000);
    else
        std::snprintf(buf, sizeof buf, "%.1fM/s", v / 1000000);
    return buf;
}

std::string pad(const std::string& s, std::size_t width) {
    return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string lpad(const std::string& s, std::size_t width) {
    return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

}  // namespace

std::string sanitize(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) {
            out += ' ';
        } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
            out += ' ';  // U+0080..U+009F (C1 controls, e.g. CSI) in UTF-8
            ++i;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

void RateMeter::observe(double at, std::int64_t processed) {
    if (!samples_.empty() && processed < samples_.back().second) samples_.clear();  // a retry started over
    samples_.emplace_back(at, processed);
    // Keep the newest sample older than the window, so the window stays covered.
    while (samples_.size() > 2 && samples_[1].first <= at - kRateWindowS) samples_.pop_front();
}

std::optional<double> RateMeter::rate() const {
    if (samples_.size() < 2) return std::nullopt;
    double dt = samples_.back().first - samples_.front().first;
    if (dt < 1.0) return std::nullopt;
    return static_cast<double>(samples_.back().second - samples_.front().second) / dt;
}

std::int64_t JobRow::ran() const {
    // A cancel counts the items it cancelled as processed (the view's progress of a
    // cancelled batch is 100): show what ran.
    return status == "cancelled" ? std::min(processed, success + failure) : processed;
}

double JobRow::shown_progress() const {
    if (status != "cancelled" || total <= 0) return progress;
    return 100.0 * static_cast<double>(ran()) / static_cast<double>(total);
}

Speed speed_of(const JobRow& row, const RateMeter& meter) {
    Speed s;
    bool running = row.status == "running" || row.status == "cancelling";
    if (!row.ended() && !running) return s;  // queued or created: nothing to measure
    std::optional<double> average;
    if (row.elapsed_s && *row.elapsed_s > 0 && row.ran() > 0)
        average = static_cast<double>(row.ran()) / *row.elapsed_s;
    if (row.ended()) {
        s.items_per_s = average;
        return s;
    }
    s.items_per_s = meter.rate();
    if (!s.items_per_s) s.items_per_s = average;
    std::int64_t left = std::max<std::int64_t>(0, row.total - row.processed);
    if (left == 0)
        s.eta_s = 0;
    else if (s.items_per_s && *s.items_per_s > 0)
        s.eta_s = static_cast<double>(left) / *s.items_per_s;
    else if (!meter.rate())
        s.eta_s = row.eta_s;  // no observations yet: the view's estimate
    return s;
}

std::string format_line(const JobRow& row, const Speed& speed, int bar) {
    double pct = std::clamp(row.shown_progress(), 0.0, 100.0);
    int filled = static_cast<int>(std::floor(pct * bar / 100.0 + 1e-9));
    filled = std::clamp(filled, 0, bar);
    char percent[16];
    std::snprintf(percent, sizeof percent, "%5.1f%%", pct);

    std::string line = lpad(std::to_string(row.id), 6) + "  " + pad(sanitize(row.operation), 13) + "  " +
                       pad(sanitize(row.target.empty() ? "-" : row.target), 10) + "  [" +
                       std::string(static_cast<std::size_t>(filled), '#') +
                       std::string(static_cast<std::size_t>(bar - filled), '-') + "] " + percent + "  " +
                       lpad(rate_text(speed.items_per_s), 8) + "  ";
    if (row.ended())
        line += row.elapsed_s ? "in  " + hms(*row.elapsed_s) : "in  -";
    else
        line += speed.eta_s ? "ETA " + hms(*speed.eta_s) : "ETA -";
    line += "  ok " + std::to_string(row.success) + "  fail " + std::to_string(row.failure) + "  " +
            sanitize(row.status);
    if (row.attempt > 1) line += " (attempt " + std::to_string(row.attempt) + ")";
    if ((row.status == "failed" || row.status == "cancelled") && (!row.last_error.empty() || !row.last_error_code.empty())) {
        line += "  ";
        if (!row.last_error_code.empty()) line += sanitize(row.last_error_code) + ": ";
        line += sanitize(row.last_error);
    }
    return line;
}

Display::Display(Mode mode) : mode_(mode) {
    if (mode_ == Mode::terminal) {
        measure();
        std::fputs("\x1b[?25l", stdout);  // hide the cursor while lines are redrawn
        std::fflush(stdout);
    }
}

Display::~Display() {
    finish();
}

void Display::measure() {
    struct winsize ws {};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        cols_ = ws.ws_col;
        rows_ = ws.ws_row > 0 ? ws.ws_row : 24;
    }
}

int Display::bar_width() const {
    if (mode_ != Mode::terminal) return 20;
    return std::clamp(cols_ - 80, 10, 40);
}

// At most cols-1 characters (counting UTF-8 sequences as one): a line that wraps
// would throw off the redraw.
std::string Display::fit(const std::string& line) const {
    int max = std::max(1, cols_ - 1);
    int n = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        if ((static_cast<unsigned char>(line[i]) & 0xc0) != 0x80) {
            if (n == max) return line.substr(0, i);
            ++n;
        }
    }
    return line;
}

void Display::draw(const std::vector<std::string>& final_lines, const std::vector<std::string>& live) {
    std::string out;
    if (mode_ != Mode::terminal) {
        for (const auto& l : final_lines) out += l + "\n";
    } else {
        if (resized) {
            resized = 0;
            measure();
        }
        if (live_lines_ > 0) out += "\r\x1b[" + std::to_string(live_lines_) + "A";
        out += "\r\x1b[J";  // clear from the first live line to the end of the screen
        for (const auto& l : final_lines) out += l + "\n";
        std::size_t room = static_cast<std::size_t>(std::max(2, rows_ - 1));
        live_lines_ = 0;
        for (std::size_t i = 0; i < live.size(); ++i) {
            if (live.size() > room && i + 1 == room) {
                out += fit("   ... and " + std::to_string(live.size() - i) + " more") + "\n";
                ++live_lines_;
                break;
            }
            out += fit(live[i]) + "\n";
            ++live_lines_;
        }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
}

void Display::message(const std::string& text) {
    if (mode_ == Mode::terminal && live_lines_ > 0) {
        std::string out = "\r\x1b[" + std::to_string(live_lines_) + "A\r\x1b[J";
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
        live_lines_ = 0;
    }
    std::fprintf(stderr, "batch_ops_watch: %s\n", text.c_str());
    std::fflush(stderr);
}

void Display::finish() {
    if (finished_) return;
    finished_ = true;
    if (mode_ == Mode::terminal) {
        std::fputs("\x1b[?25h", stdout);
        std::fflush(stdout);
    }
}

}  // namespace watch
