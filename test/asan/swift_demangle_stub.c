/*
 * test/asan/swift_demangle_stub.c: preloaded after libasan into the sanitized test server
 * (test/check asan; docs/reliability.md, "Sanitized server run"). Without it the
 * postmaster hangs before its first log line, in main() -> set_pglocale_pgservice() ->
 * bindtextdomain(), waiting for glibc's gettext lock:
 *
 *   A preloaded library is initialized after every library the executable needs, so
 *   libasan's constructor has not run yet when libgpg-error's (pulled in through
 *   libgnutls / libgcrypt) calls bindtextdomain(). That takes the gettext lock
 *   (_nl_state_lock) for writing and calls malloc(), and ASan's malloc initializes the
 *   runtime there and then. Its initialization looks up the optional symbol
 *   `swift_demangle` and calls dlerror() to clear the failure; dlerror() translates its
 *   message with dcgettext(), which read-locks the same lock (EDEADLK, ignored) and then
 *   unlocks it, releasing bindtextdomain's write lock; bindtextdomain's own unlock then
 *   drives the reader count below zero. The next writer (PostgreSQL's own
 *   bindtextdomain() in main) waits forever.
 *
 * Defining swift_demangle makes that lookup succeed: dlerror() is never called. ASan
 * calls it only for Swift-mangled names, and a NULL result means "not demangled".
 */
#include <stddef.h>

char *swift_demangle(const char *mangled, size_t mangled_len, char *out, size_t *out_len,
                     unsigned flags);

char *swift_demangle(const char *mangled, size_t mangled_len, char *out, size_t *out_len,
                     unsigned flags)
{
    (void) mangled;
    (void) mangled_len;
    (void) out;
    (void) out_len;
    (void) flags;
    return NULL;
}
