/* LD_PRELOAD power-cut simulator for tests: the process dies (as at a power cut) after
 * FAULTCUT_BUDGET units of persistent writes. A unit is one byte written to a regular file
 * or block device, or one rename/unlink. The write that crosses the budget is done partly
 * (a torn write), then the process exits at once with status 99, skipping all cleanup.
 * FAULTCUT_TRACE=FILE appends one line per operation ("write <units>", "rename", ...), so a
 * test can pick cut points at operation boundaries. Without FAULTCUT_BUDGET nothing is cut. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static long long budget = -1; /* -1: unlimited */
static int initialised;
static int trace_fd = -1;

static void init(void) {
    if (initialised) return;
    initialised = 1;
    const char *b = getenv("FAULTCUT_BUDGET");
    if (b && *b) budget = atoll(b);
    const char *t = getenv("FAULTCUT_TRACE");
    if (t && *t) trace_fd = open(t, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

static int persistent(int fd) {
    struct stat st;
    if (fd <= 2 || fd == trace_fd || fstat(fd, &st) != 0) return 0;
    return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
}

static void trace(const char *what, long long n) {
    if (trace_fd < 0) return;
    char line[64];
    int len = snprintf(line, sizeof line, "%s %lld\n", what, n);
    ssize_t (*real_write)(int, const void *, size_t) = dlsym(RTLD_NEXT, "write");
    if (len > 0) real_write(trace_fd, line, (size_t)len);
}

/* How many of `n` units may happen; exits after doing them if the budget ends here. */
static size_t allow(size_t n) {
    if (budget < 0) return n;
    if ((long long)n <= budget) {
        budget -= (long long)n;
        return n;
    }
    return (size_t)budget;
}

static void cut(void) { _exit(99); }

ssize_t write(int fd, const void *buf, size_t count) {
    init();
    ssize_t (*real)(int, const void *, size_t) = dlsym(RTLD_NEXT, "write");
    if (!persistent(fd)) return real(fd, buf, count);
    trace("write", (long long)count);
    size_t ok = allow(count);
    if (ok < count) {
        if (ok) real(fd, buf, ok);
        cut();
    }
    return real(fd, buf, count);
}

static ssize_t pwrite_common(int fd, const void *buf, size_t count, off_t off,
                             ssize_t (*real)(int, const void *, size_t, off_t)) {
    if (!persistent(fd)) return real(fd, buf, count, off);
    trace("pwrite", (long long)count);
    size_t ok = allow(count);
    if (ok < count) {
        if (ok) real(fd, buf, ok, off);
        cut();
    }
    return real(fd, buf, count, off);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t off) {
    init();
    return pwrite_common(fd, buf, count, off, dlsym(RTLD_NEXT, "pwrite"));
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t off) {
    init();
    return pwrite_common(fd, buf, count, off, dlsym(RTLD_NEXT, "pwrite64"));
}

int rename(const char *a, const char *b) {
    init();
    int (*real)(const char *, const char *) = dlsym(RTLD_NEXT, "rename");
    trace("rename", 1);
    if (allow(1) < 1) cut();
    return real(a, b);
}

int unlink(const char *p) {
    init();
    int (*real)(const char *) = dlsym(RTLD_NEXT, "unlink");
    trace("unlink", 1);
    if (allow(1) < 1) cut();
    return real(p);
}
