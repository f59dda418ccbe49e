// batch_ops_watch: signals set flags; the waits check them (no work in handlers).
#pragma once

#include <csignal>

namespace watch {

// Set by SIGINT, SIGTERM and SIGHUP: stop at the next check.
extern volatile std::sig_atomic_t stop_signal;
// Set by SIGWINCH: measure the terminal again before the next redraw.
extern volatile std::sig_atomic_t resized;

// Installs the handlers without SA_RESTART, so that poll() returns EINTR at once.
void install_signal_handlers();

}  // namespace watch
