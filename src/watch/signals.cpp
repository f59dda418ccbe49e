#include "watch/signals.hpp"

#include <signal.h>

namespace watch {

volatile std::sig_atomic_t stop_signal = 0;
volatile std::sig_atomic_t resized = 0;

namespace {

extern "C" void on_stop(int sig) {
    stop_signal = sig;
}

extern "C" void on_winch(int) {
    resized = 1;
}

void set_handler(int sig, void (*handler)(int)) {
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocking poll() returns EINTR
    sigaction(sig, &sa, nullptr);
}

}  // namespace

void install_signal_handlers() {
    set_handler(SIGINT, on_stop);
    set_handler(SIGTERM, on_stop);
    set_handler(SIGHUP, on_stop);
    set_handler(SIGWINCH, on_winch);
}

}  // namespace watch
