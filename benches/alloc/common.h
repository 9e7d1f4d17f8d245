/* Shared helpers for the allocator stress programs in benches/alloc/.
 *
 * Every program: parses a few "-x N" options, runs a fixed amount of work (so that wall time, not
 * throughput over a fixed time, is the figure), checks its own data, and prints one line
 *   <name> seconds=<wall of the timed part> cpu=<user+sys of the process> maxrss_kb=<ru_maxrss> ...
 * Corruption or an allocation failure prints "CORRUPT: ..." / "FAIL: ..." on stderr and exits 2.
 *
 * ab_flush_note: every program fflush()es stdout right after its result line. Under memkind 1.14's
 * libmemtier with an FS_DAX tier, stdout's buffer (malloc'd, so it may lie in the tier's file
 * mapping) is unmapped by memkind's destructor before libc flushes stdio at exit, and output still
 * buffered then (stdout to a file or pipe) is silently lost, with exit status 0. */
#ifndef ALLOC_BENCH_COMMON_H
#define ALLOC_BENCH_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifdef __cplusplus
#define AB_UNUSED [[maybe_unused]]
#else
#define AB_UNUSED __attribute__((unused))
#endif

AB_UNUSED static void ab_die(const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _Exit(2);
}

#define CORRUPT(...) ab_die("CORRUPT", __VA_ARGS__)
#define FAILED(...) ab_die("FAIL", __VA_ARGS__)
#define CHECK_ALLOC(p, sz)                                                                         \
    do {                                                                                           \
        if ((p) == NULL)                                                                           \
            FAILED("allocation of %zu bytes returned NULL at %s:%d", (size_t)(sz), __FILE__,       \
                   __LINE__);                                                                      \
    } while (0)

AB_UNUSED static double ab_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

AB_UNUSED static double ab_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

AB_UNUSED static long ab_maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* splitmix64 to seed, xorshift64* to draw: cheap, deterministic, per-thread state. */
static inline uint64_t ab_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

typedef struct {
    uint64_t s;
} ab_rng;

static inline void ab_seed(ab_rng *r, uint64_t seed)
{
    r->s = ab_mix(seed) | 1;
}

static inline uint64_t ab_next(ab_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* uniform in [lo, hi] */
static inline size_t ab_range(ab_rng *r, size_t lo, size_t hi)
{
    return lo + (size_t)(ab_next(r) % (uint64_t)(hi - lo + 1));
}

/* log-uniform in [lo, hi]: as many blocks of 8-16 B as of 512 KiB-1 MiB, so mostly small ones */
static inline size_t ab_logrange(ab_rng *r, size_t lo, size_t hi)
{
    unsigned lo2 = 63 - (unsigned)__builtin_clzll(lo), hi2 = 63 - (unsigned)__builtin_clzll(hi);
    unsigned b = lo2 + (unsigned)(ab_next(r) % (hi2 - lo2 + 1));
    size_t base = (size_t)1 << b;
    size_t s = base + (size_t)(ab_next(r) % base);
    if (s < lo)
        s = lo;
    if (s > hi)
        s = hi;
    return s;
}

/* "-n 123 -t 4" style options: ab_opt(argc, argv, 'n', default) */
AB_UNUSED static long ab_opt(int argc, char **argv, char flag, long def)
{
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == flag && argv[i][2] == '\0') {
            if (i + 1 >= argc)
                FAILED("option -%c needs a value", flag);
            char *end;
            long v = strtol(argv[i + 1], &end, 0);
            if (*end != '\0' || v < 0)
                FAILED("bad value for -%c: %s", flag, argv[i + 1]);
            return v;
        }
    }
    return def;
}

/* Reject options the program does not know (a typo must not silently run the default). */
AB_UNUSED static void ab_check_opts(int argc, char **argv, const char *known, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: %s %s\n", argv[0], usage);
            exit(0);
        }
        if (argv[i][0] != '-' || argv[i][1] == '\0' || argv[i][2] != '\0' ||
            strchr(known, argv[i][1]) == NULL || i + 1 >= argc) {
            fprintf(stderr, "usage: %s %s\n", argv[0], usage);
            exit(64);
        }
        i++;
    }
}

/* Runs worker(args[i]) for i < nt, each on a thread of its own; one worker runs on the calling
 * thread, with no pthread machinery at all. args points at nt elements of arg_size bytes.
 * Returns the wall seconds the workers took. */
#include <pthread.h>
AB_UNUSED static double ab_run_workers(int nt, void *(*worker)(void *), void *args, size_t arg_size)
{
    char *a = (char *)args;
    double t0 = ab_now();
    if (nt == 1) {
        worker(a);
        return ab_now() - t0;
    }
    pthread_t *th = (pthread_t *)calloc((size_t)nt, sizeof *th);
    CHECK_ALLOC(th, 1);
    for (int i = 0; i < nt; i++)
        if (pthread_create(&th[i], NULL, worker, a + (size_t)i * arg_size) != 0)
            FAILED("pthread_create");
    for (int i = 0; i < nt; i++)
        pthread_join(th[i], NULL);
    double t = ab_now() - t0;
    free(th);
    return t;
}

#endif
