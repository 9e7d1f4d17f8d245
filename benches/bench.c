/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * bench.c - the benchmark workloads of benches/run.sh.
 *
 * The same source is built twice: against the system memkind
 * (gcc -O2 bench.c -lmemkind) and against morselkind (-DBENCH_OURS
 * -I include -lmorselkind). It uses only the memkind API; the one
 * morselkind addition, MORSELKIND_HUGE, is compiled only with -DBENCH_OURS.
 *
 * Each run does one workload and prints one line on stdout: the main figure
 * first, then optional `name=value` extras, e.g. "12.34 faults=1024".
 * Anything that goes wrong (a NULL allocation, corrupted memory, a leaked
 * file descriptor, a file left in the PMEM directory, a failed kind call
 * where none may fail) is reported on stderr with a non-zero exit status.
 *
 *   bench pairs  -k KIND -t THREADS -n ITERS [-N] [-d DIR]
 *       random-size (16-1040 B) malloc/free pairs over a 1024-slot working
 *       set per thread; prints ns per pair per thread (wall time / ITERS)
 *       and cpu= (CPU ns per pair: the threads' CPU time / all pairs).
 *       -N frees with memkind_free(NULL, p) instead of memkind_free(kind, p); -M
 *       alternates rounds of 50,000 pairs freeing each way, in one process, after a
 *       first round as warm-up, and prints both (ns/pair with free(kind, p),
 *       null=ns/pair with free(NULL, p)).
 *   bench scaling -k KIND -n ITERS [-d DIR]
 *       2-thread scaling in one process: rounds of ITERS/10 pairs alternate
 *       one thread alone and two threads at once; prints 2-thread throughput
 *       over 1-thread throughput, ns1= (ns per pair, one thread) and ns2= (ns
 *       per pair per thread, two threads).
 *   bench scale  -k KIND -t THREADS -n TOTAL [-d DIR]
 *       the pairs workload with TOTAL pairs split evenly over THREADS threads
 *       (each its own working set; with -k pmem they share one PMEM kind), all
 *       started at once, however many cores there are, each after as many untimed
 *       pairs of its own (so every thread's working set has reached its steady
 *       footprint: a thread of 64 runs 1/64 of the pairs, and the first touch of
 *       its pages would otherwise weigh 64 times as much per pair); prints CPU ns per pair
 *       (the threads' CPU time / all pairs: with more threads than cores, wall
 *       time only says how the cores were shared, CPU time says what a pair
 *       costs, lock waits and spinning included), wall= (ns per pair, wall time
 *       / all pairs) and live= (bytes the kind still counts as allocated once
 *       every thread has freed its blocks and exited: 0 when nothing is lost;
 *       not measured for DEFAULT, which the C library's own start-up may use).
 *   bench kchurn -t THREADS -s SECONDS -d DIR
 *       THREADS threads at once, each running memkind_create_pmem / 100
 *       mallocs+frees / memkind_destroy_kind cycles for SECONDS; prints CPU
 *       microseconds per cycle (the threads' CPU time / all cycles), cycles=,
 *       failed= (failed calls), fdleak= and dirleft=.
 *   bench churn  -d DIR -s SECONDS
 *       memkind_create_pmem / 100 mallocs+frees / memkind_destroy_kind cycles
 *       for SECONDS while two threads allocate from MEMKIND_DEFAULT; prints
 *       cycles completed, failed=, fdleak=, dirleft=, bgpairs= (the DEFAULT
 *       threads' pairs) and cpurate= (cycles per CPU second of the churning
 *       thread).
 *   bench shared -d DIR -t THREADS -n ITERS
 *       THREADS threads share one PMEM kind (the pmem_multithreads_onekind
 *       pattern: each thread allocates a batch of 100 random sizes, writes
 *       its id into them, checks them, frees them); prints ns per malloc/free
 *       pair (wall time / all pairs of all threads) and cpu= (CPU ns per pair).
 *   bench fill   -k KIND -p PIECE -T TOTAL [-d DIR]
 *       first touch: allocate TOTAL bytes in PIECE-byte pieces, memset each;
 *       prints GiB/s over malloc+memset, faults= (ru_minflt delta),
 *       majflt=; then frees everything (untimed).
 *
 * KIND is default, pmem (memkind_create_pmem(DIR, 0)) or huge
 * (MORSELKIND_HUGE, morselkind only).
 */

#define _GNU_SOURCE
#ifdef BENCH_OURS
#include <morselkind.h>
#else
#include <memkind.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

#define SLOTS 1024
#define MIN_SIZE 16
#define MAX_SIZE 1040
#define CHURN_ALLOCS 100
#define SHARED_BATCH 100
#define MAX_THREADS 256

static const char *prog = "bench";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: FAIL: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void die_kind(int err, const char *what)
{
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(err, msg, sizeof msg);
    die("%s: error %d: %s", what, err, msg);
}

/* xorshift64*: cheap enough not to matter next to a malloc. */
static inline uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline size_t rnd_size(uint64_t r)
{
    return MIN_SIZE + (size_t)(r % (MAX_SIZE - MIN_SIZE + 1));
}

/* ---------------------------------------------------------------- options */

static struct {
    const char *kind_name;
    const char *dir;
    int threads;
    long iters;
    int free_null;
    int mixed;
    double seconds;
    size_t piece;
    size_t total;
} opt = {"default", NULL, 1, 10000000, 0, 0, 10.0, 64 << 20, (size_t)2 << 30};

static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        die("bad size '%s'", s);
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end)
        die("bad size '%s'", s);
    return (size_t)v;
}

/* Kind "malloc": plain malloc/free, for the baseline of whatever allocator LD_PRELOAD puts
 * under the program (benches/run.sh runs it on the system's libjemalloc). A sentinel no
 * library hands out. */
static char malloc_kind_tag;
#define MALLOC_KIND ((memkind_t)(void *)&malloc_kind_tag)

static inline void *bench_malloc(memkind_t kind, size_t size)
{
    return kind == MALLOC_KIND ? malloc(size) : memkind_malloc(kind, size);
}

static inline void bench_free(memkind_t kind, void *p)
{
    if (kind == MALLOC_KIND)
        free(p);
    else
        memkind_free(kind, p);
}

/* The kind a workload runs on; PMEM kinds are created in opt.dir. */
static memkind_t open_kind(void)
{
    memkind_t kind = NULL;
    if (!strcmp(opt.kind_name, "malloc"))
        return MALLOC_KIND;
    if (!strcmp(opt.kind_name, "default"))
        return MEMKIND_DEFAULT;
    if (!strcmp(opt.kind_name, "huge")) {
#ifdef BENCH_OURS
        return MORSELKIND_HUGE;
#else
        die("kind 'huge' (MORSELKIND_HUGE) exists only in morselkind");
#endif
    }
    if (!strcmp(opt.kind_name, "pmem")) {
        if (!opt.dir)
            die("kind pmem needs -d DIR");
        int err = memkind_create_pmem(opt.dir, 0, &kind);
        if (err)
            die_kind(err, "memkind_create_pmem");
        return kind;
    }
    die("unknown kind '%s'", opt.kind_name);
}

static void close_kind(memkind_t kind)
{
    if (kind == MEMKIND_DEFAULT || kind == MALLOC_KIND)
        return;
#ifdef BENCH_OURS
    if (kind == MORSELKIND_HUGE)
        return;
#endif
    int err = memkind_destroy_kind(kind);
    if (err)
        die_kind(err, "memkind_destroy_kind");
}

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        die("opendir %s: %s", path, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Open descriptors, not counting the one opendir itself holds. */
static int count_fds(void)
{
    return count_dir("/proc/self/fd") - 1;
}

static void check_dir_empty(void)
{
    if (opt.dir) {
        int n = count_dir(opt.dir);
        if (n)
            die("%d file(s) left in PMEM directory %s", n, opt.dir);
    }
}

/* ------------------------------------------------------------------ pairs */

/* Joins n workers; *wall is from the first one's start to the last one's end (the main thread
 * may get the CPU back only after the workers began), *cpu their CPU seconds summed. */
static void join_timed(pthread_t *th, timed *const *t, int n, double *wall, double *cpu)
{
    double t0 = 0, t1 = 0;
    *cpu = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (i == 0 || t[i]->begin < t0)
            t0 = t[i]->begin;
        if (t[i]->end > t1)
            t1 = t[i]->end;
        *cpu += t[i]->cpu;
    }
    *wall = t1 - t0;
}

typedef struct {
    pthread_barrier_t *start;
    memkind_t kind;
    memkind_t free_kind;
    long iters;
    int id;
    timed time;
    atomic_int *stop; /* churn's background threads: run until set */
    long done;
    double wall_null; /* -M: wall seconds of the rounds that freed with NULL */
    long warm;        /* scale: untimed pairs before the timed ones */
} pairs_arg;

/* -M: rounds of this many pairs alternate free(kind, p) and free(NULL, p) in one process. */
#define MIXED_ROUND 50000

/* Tag every block with its own address, so a block handed out twice shows. */
static inline void tag(void *p, size_t size)
{
    uintptr_t v = (uintptr_t)p;
    memcpy(p, &v, sizeof v);
    memcpy((char *)p + size - sizeof v, &v, sizeof v);
}

static inline void check_tag(void *p, size_t size)
{
    uintptr_t a, b;
    memcpy(&a, p, sizeof a);
    memcpy(&b, (char *)p + size - sizeof b, sizeof b);
    if (a != (uintptr_t)p || b != (uintptr_t)p)
        die("block %p of %zu bytes was overwritten", p, size);
}

/* One thread's working set: SLOTS live blocks of random sizes, each tagged. */
typedef struct {
    void *slot[SLOTS];
    size_t sz[SLOTS];
    uint64_t seed;
} working_set;

static void ws_fill(working_set *w, memkind_t kind, int id)
{
    w->seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(id + 1);
    for (int i = 0; i < SLOTS; i++) {
        w->sz[i] = rnd_size(rnd(&w->seed));
        w->slot[i] = bench_malloc(kind, w->sz[i]);
        if (!w->slot[i])
            die("memkind_malloc(%zu) returned NULL", w->sz[i]);
        tag(w->slot[i], w->sz[i]);
    }
}

/* One pair: a random slot is checked, freed (with free_kind) and allocated again. */
static inline void ws_pair(working_set *w, memkind_t kind, memkind_t free_kind)
{
    uint64_t r = rnd(&w->seed);
    unsigned i = (unsigned)(r >> 40) & (SLOTS - 1);
    check_tag(w->slot[i], w->sz[i]);
    bench_free(free_kind, w->slot[i]);
    w->sz[i] = rnd_size(r);
    w->slot[i] = bench_malloc(kind, w->sz[i]);
    if (!w->slot[i])
        die("memkind_malloc(%zu) returned NULL", w->sz[i]);
    tag(w->slot[i], w->sz[i]);
}

static void ws_drain(working_set *w, memkind_t free_kind)
{
    for (int i = 0; i < SLOTS; i++) {
        check_tag(w->slot[i], w->sz[i]);
        bench_free(free_kind, w->slot[i]);
    }
}

static void *pairs_thread(void *varg)
{
    pairs_arg *a = varg;
    working_set w;
    ws_fill(&w, a->kind, a->id); /* untimed warm-up */
    for (long i = 0; i < a->warm; i++)
        ws_pair(&w, a->kind, a->free_kind);
    if (a->start)
        pthread_barrier_wait(a->start);
    timed_start(&a->time);

    long n = 0;
    memkind_t free_kind = a->free_kind;
    double round_start = a->time.begin;
    for (;;) {
        if (a->stop) {
            if ((n & 1023) == 0 && atomic_load_explicit(a->stop, memory_order_relaxed))
                break;
        } else if (n == a->iters) {
            break;
        }
        if (opt.mixed && n % MIXED_ROUND == 0 && n > 0) {
            /* Round 0 is a warm-up (the bins and slabs fill: several times slower), left out
             * of both figures; odd rounds free with NULL, and their wall time is kept apart. */
            double t = now_s();
            if (n == MIXED_ROUND)
                a->time.begin = t;
            else if ((n / MIXED_ROUND) % 2 == 0)
                a->wall_null += t - round_start;
            round_start = t;
            free_kind = (n / MIXED_ROUND) % 2 ? NULL : a->free_kind;
        }
        ws_pair(&w, a->kind, free_kind);
        n++;
    }
    timed_stop(&a->time);
    if (opt.mixed && n > 0 && ((n - 1) / MIXED_ROUND) % 2 == 1)
        a->wall_null += a->time.end - round_start;
    a->done = n;

    ws_drain(&w, a->free_kind);
    return NULL;
}

/* Runs `n` pairs_thread workers over `args` (whose `start` this sets), started together by a
 * barrier; returns the wall time and the CPU time of all of them (join_timed). */
static void run_pairs_threads(pairs_arg *args, int n, double *wall, double *cpu)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    pthread_t th[MAX_THREADS];
    timed *times[MAX_THREADS];
    for (int t = 0; t < n; t++) {
        args[t].start = &start;
        times[t] = &args[t].time;
        if (pthread_create(&th[t], NULL, pairs_thread, &args[t]))
            die("pthread_create failed");
    }
    pthread_barrier_wait(&start);
    join_timed(th, times, n, wall, cpu);
    pthread_barrier_destroy(&start);
}

static int run_pairs(void)
{
    if (opt.threads < 1 || opt.threads > MAX_THREADS)
        die("bad thread count %d", opt.threads);
    if (opt.mixed && (opt.threads != 1 || opt.free_null))
        die("-M runs one thread, and chooses the free calls itself");
    memkind_t kind = open_kind();
    pairs_arg args[MAX_THREADS];
    for (int t = 0; t < opt.threads; t++)
        args[t] = (pairs_arg){.kind = kind, .free_kind = opt.free_null ? NULL : kind, .iters = opt.iters, .id = t};
    double wall, cpu;
    run_pairs_threads(args, opt.threads, &wall, &cpu);
    close_kind(kind);
    check_dir_empty();
    if (opt.mixed) {
        /* free(kind, p) rounds are the even ones, free(NULL, p) the odd ones (one thread). */
        long n_null = 0;
        for (long at = MIXED_ROUND; at < opt.iters; at += 2 * MIXED_ROUND)
            n_null += opt.iters - at < MIXED_ROUND ? opt.iters - at : MIXED_ROUND;
        long n_kind = opt.iters - MIXED_ROUND - n_null;
        if (n_kind <= 0)
            die("-M needs more than %d pairs", 3 * MIXED_ROUND);
        double w_null = args[0].wall_null, w_kind = wall - w_null;
        double ns_kind = w_kind * 1e9 / (double)n_kind, ns_null = w_null * 1e9 / (double)n_null;
        printf("%.3f null=%.3f ratio=%.4f\n", ns_kind, ns_null, ns_null / ns_kind);
        return 0;
    }
    printf("%.3f cpu=%.3f\n", wall * 1e9 / (double)opt.iters, cpu * 1e9 / ((double)opt.iters * opt.threads));
    return 0;
}

/* ---------------------------------------------------------------- scaling */

/*
 * 2-thread scaling measured in one process: rounds alternate one thread running ITERS/10 pairs
 * alone and two threads running ITERS/10 pairs each at once (each thread over its own working
 * set, as in `pairs`), after one untimed round of each. Separate 1- and 2-thread runs minutes
 * apart on a shared machine compare two different machines; alternating rounds of one process
 * compare the same one.
 */
#define SCALING_ROUNDS 10

typedef struct {
    pthread_barrier_t *go, *done;
    memkind_t kind;
    int id;
    long per_round;
    atomic_int *phase; /* 1: only thread 0 runs; 2: both; 0: exit */
} scaling_arg;

static void *scaling_thread(void *varg)
{
    scaling_arg *a = varg;
    working_set w;
    ws_fill(&w, a->kind, a->id);
    for (;;) {
        pthread_barrier_wait(a->go);
        int phase = atomic_load(a->phase);
        if (phase == 0)
            break;
        if (phase == 2 || a->id == 0)
            for (long n = 0; n < a->per_round; n++)
                ws_pair(&w, a->kind, a->kind);
        pthread_barrier_wait(a->done);
    }
    ws_drain(&w, a->kind);
    return NULL;
}

static int run_scaling(void)
{
    memkind_t kind = open_kind();
    pthread_barrier_t go, done;
    pthread_barrier_init(&go, NULL, 3);
    pthread_barrier_init(&done, NULL, 3);
    atomic_int phase = 1;
    long per_round = opt.iters / SCALING_ROUNDS;
    if (per_round < 1)
        die("scaling needs at least %d pairs", SCALING_ROUNDS);
    pthread_t th[2];
    scaling_arg args[2];
    for (int t = 0; t < 2; t++) {
        args[t] = (scaling_arg){&go, &done, kind, t, per_round, &phase};
        if (pthread_create(&th[t], NULL, scaling_thread, &args[t]))
            die("pthread_create failed");
    }
    double one = 0, two = 0;
    for (int round = -1; round < SCALING_ROUNDS; round++) {
        for (int p = 1; p <= 2; p++) {
            atomic_store(&phase, p);
            double t0 = now_s();
            pthread_barrier_wait(&go);
            pthread_barrier_wait(&done);
            double t = now_s() - t0;
            if (round >= 0)
                *(p == 1 ? &one : &two) += t;
        }
    }
    atomic_store(&phase, 0);
    pthread_barrier_wait(&go);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&go);
    pthread_barrier_destroy(&done);
    close_kind(kind);
    check_dir_empty();
    double pairs = (double)per_round * SCALING_ROUNDS;
    /* Throughput with two threads over throughput with one: 2 pairs per 1-thread pair time. */
    printf("%.4f ns1=%.3f ns2=%.3f\n", 2.0 * one / two, one * 1e9 / pairs, two * 1e9 / pairs);
    return 0;
}

/* ------------------------------------------------------------------ churn */

/* One create/use/destroy cycle; returns the number of failed calls. */
static int churn_cycle(uint64_t *seed)
{
    memkind_t k = NULL;
    void *p[CHURN_ALLOCS];
    size_t s[CHURN_ALLOCS];
    int failed = 0;
    int err = memkind_create_pmem(opt.dir, 0, &k);
    if (err) {
        static atomic_int said; /* kchurn runs cycles on many threads */
        if (!atomic_fetch_add(&said, 1)) {
            char msg[MEMKIND_ERROR_MESSAGE_SIZE];
            memkind_error_message(err, msg, sizeof msg);
            fprintf(stderr, "%s: churn: first failed memkind_create_pmem: %d: %s\n", prog, err, msg);
        }
        return 1;
    }
    for (int i = 0; i < CHURN_ALLOCS; i++) {
        s[i] = rnd_size(rnd(seed));
        p[i] = memkind_malloc(k, s[i]);
        if (p[i])
            tag(p[i], s[i]);
        else
            failed++;
    }
    for (int i = 0; i < CHURN_ALLOCS; i++) {
        if (p[i]) {
            check_tag(p[i], s[i]);
            memkind_free(k, p[i]);
        }
    }
    err = memkind_destroy_kind(k);
    if (err) {
        static atomic_int said;
        if (!atomic_fetch_add(&said, 1))
            fprintf(stderr, "%s: churn: first failed memkind_destroy_kind: %d\n", prog, err);
        failed++;
    }
    return failed;
}

static int run_churn(void)
{
    if (!opt.dir)
        die("churn needs -d DIR");
    uint64_t seed = 42;
    long failed = churn_cycle(&seed); /* untimed: lets lazy initialisation open what it opens */
    if (failed)
        die("the warm-up create/use/destroy cycle failed");
    int fds0 = count_fds();

    atomic_int stop = 0;
    pthread_t th[2];
    pairs_arg args[2];
    for (int t = 0; t < 2; t++) {
        args[t] = (pairs_arg){.kind = MEMKIND_DEFAULT, .free_kind = MEMKIND_DEFAULT, .id = t + 1, .stop = &stop};
        if (pthread_create(&th[t], NULL, pairs_thread, &args[t]))
            die("pthread_create failed");
    }
    long cycles = 0;
    double c0 = cpu_s();
    double t0 = now_s(), end = t0 + opt.seconds;
    while (now_s() < end) {
        int f = churn_cycle(&seed);
        failed += f;
        if (!f)
            cycles++;
    }
    double cpu = cpu_s() - c0;
    atomic_store(&stop, 1);
    long bg = 0;
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        bg += args[t].done;
    }
    int fdleak = count_fds() - fds0;
    int left = count_dir(opt.dir);
    printf("%ld failed=%ld fdleak=%d dirleft=%d bgpairs=%ld cpurate=%.1f\n", cycles, failed, fdleak, left, bg,
           cpu > 0 ? (double)cycles / cpu : 0.0);
    if (fdleak || left)
        die("churn left %d descriptor(s) open and %d file(s) in %s", fdleak, left, opt.dir);
    return 0;
}

/* ----------------------------------------------------------------- shared */

typedef struct {
    pthread_barrier_t *start;
    memkind_t kind;
    long iters;
    int id;
    timed time;
} shared_arg;

static void *shared_thread(void *varg)
{
    shared_arg *a = varg;
    void *p[SHARED_BATCH];
    size_t s[SHARED_BATCH];
    uint64_t seed = 0xD1B54A32D192ED03ULL * (uint64_t)(a->id + 1);
    pthread_barrier_wait(a->start);
    timed_start(&a->time);
    for (long done = 0; done < a->iters; done += SHARED_BATCH) {
        for (int i = 0; i < SHARED_BATCH; i++) {
            s[i] = rnd_size(rnd(&seed));
            p[i] = memkind_malloc(a->kind, s[i]);
            if (!p[i])
                die("thread %d: memkind_malloc(%zu) returned NULL", a->id, s[i]);
            /* The example's int holding the thread id, after the block's address. */
            uintptr_t self = (uintptr_t)p[i];
            memcpy(p[i], &self, sizeof self);
            memcpy((char *)p[i] + sizeof self, &a->id, sizeof a->id);
        }
        for (int i = 0; i < SHARED_BATCH; i++) {
            uintptr_t self;
            int id;
            memcpy(&self, p[i], sizeof self);
            memcpy(&id, (char *)p[i] + sizeof self, sizeof id);
            if (self != (uintptr_t)p[i] || id != a->id)
                die("thread %d: block %p was overwritten (id %d)", a->id, p[i], id);
            memkind_free(a->kind, p[i]);
        }
    }
    timed_stop(&a->time);
    return NULL;
}

static int run_shared(void)
{
    if (opt.threads < 1 || opt.threads > MAX_THREADS)
        die("bad thread count %d", opt.threads);
    opt.kind_name = "pmem";
    memkind_t kind = open_kind();
    long per = (opt.iters + SHARED_BATCH - 1) / SHARED_BATCH * SHARED_BATCH;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)opt.threads + 1);
    pthread_t th[MAX_THREADS];
    shared_arg args[MAX_THREADS];
    timed *times[MAX_THREADS];
    for (int t = 0; t < opt.threads; t++) {
        args[t] = (shared_arg){.start = &start, .kind = kind, .iters = per, .id = t};
        times[t] = &args[t].time;
        if (pthread_create(&th[t], NULL, shared_thread, &args[t]))
            die("pthread_create failed");
    }
    pthread_barrier_wait(&start);
    double wall, cpu;
    join_timed(th, times, opt.threads, &wall, &cpu);
    pthread_barrier_destroy(&start);
    close_kind(kind);
    check_dir_empty();
    printf("%.3f cpu=%.3f\n", wall * 1e9 / ((double)per * opt.threads), cpu * 1e9 / ((double)per * opt.threads));
    return 0;
}

/* ------------------------------------------------------------------ scale */

/* Bytes `kind` counts as allocated (memkind_get_stat after a refresh), or -1 where unknown. */
static long kind_allocated(memkind_t kind)
{
    size_t v = 0;
    if (memkind_update_cached_stats() || memkind_get_stat(kind, MEMKIND_STAT_TYPE_ALLOCATED, &v))
        return -1;
    return (long)v;
}

static int run_scale(void)
{
    if (opt.threads < 1 || opt.threads > MAX_THREADS)
        die("bad thread count %d", opt.threads);
    long per = opt.iters / opt.threads;
    if (per < 1)
        die("scale needs at least one pair per thread");
    memkind_t kind = open_kind();
    pairs_arg args[MAX_THREADS];
    for (int t = 0; t < opt.threads; t++)
        args[t] = (pairs_arg){.kind = kind, .free_kind = kind, .iters = per, .id = t, .warm = per};
    double wall, cpu;
    run_pairs_threads(args, opt.threads, &wall, &cpu);
    long done = 0;
    for (int t = 0; t < opt.threads; t++)
        done += args[t].done;
    if (done != per * opt.threads)
        die("%ld pairs done of %ld", done, per * opt.threads);
    /* Every thread has freed its blocks and exited (its cache went back with it). */
    long live = kind == MEMKIND_DEFAULT || kind == MALLOC_KIND ? 0 : kind_allocated(kind);
    close_kind(kind);
    check_dir_empty();
    double pairs = (double)done;
    printf("%.3f wall=%.3f live=%ld\n", cpu * 1e9 / pairs, wall * 1e9 / pairs, live);
    return 0;
}

/* ----------------------------------------------------------------- kchurn */

typedef struct {
    pthread_barrier_t *start;
    int id;
    double end;
    long cycles, failed;
    timed time;
} kchurn_arg;

static void *kchurn_thread(void *varg)
{
    kchurn_arg *a = varg;
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(a->id + 7);
    pthread_barrier_wait(a->start);
    timed_start(&a->time);
    while (now_s() < a->end) {
        int f = churn_cycle(&seed);
        a->failed += f;
        if (!f)
            a->cycles++;
    }
    timed_stop(&a->time);
    return NULL;
}

static int run_kchurn(void)
{
    if (!opt.dir)
        die("kchurn needs -d DIR");
    if (opt.threads < 1 || opt.threads > MAX_THREADS)
        die("bad thread count %d", opt.threads);
    uint64_t seed = 42;
    if (churn_cycle(&seed)) /* untimed: lets lazy initialisation open what it opens */
        die("the warm-up create/use/destroy cycle failed");
    int fds0 = count_fds();
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)opt.threads + 1);
    pthread_t th[MAX_THREADS];
    kchurn_arg args[MAX_THREADS];
    timed *times[MAX_THREADS];
    double end = now_s() + opt.seconds;
    for (int t = 0; t < opt.threads; t++) {
        args[t] = (kchurn_arg){.start = &start, .id = t, .end = end};
        times[t] = &args[t].time;
        if (pthread_create(&th[t], NULL, kchurn_thread, &args[t]))
            die("pthread_create failed");
    }
    pthread_barrier_wait(&start);
    double wall, cpu;
    join_timed(th, times, opt.threads, &wall, &cpu);
    pthread_barrier_destroy(&start);
    long cycles = 0, failed = 0;
    for (int t = 0; t < opt.threads; t++) {
        cycles += args[t].cycles;
        failed += args[t].failed;
    }
    int fdleak = count_fds() - fds0;
    int left = count_dir(opt.dir);
    printf("%.3f cycles=%ld failed=%ld fdleak=%d dirleft=%d\n", cycles ? cpu * 1e6 / (double)cycles : 0.0,
           cycles, failed, fdleak, left);
    if (fdleak || left)
        die("kchurn left %d descriptor(s) open and %d file(s) in %s", fdleak, left, opt.dir);
    return 0;
}

/* ------------------------------------------------------------------- fill */

static int run_fill(void)
{
    if (opt.piece < 4096 || opt.total < opt.piece)
        die("bad piece %zu / total %zu", opt.piece, opt.total);
    size_t n = opt.total / opt.piece;
    void **p = calloc(n, sizeof *p);
    if (!p)
        die("calloc failed");
    memkind_t kind = open_kind();

    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        p[i] = memkind_malloc(kind, opt.piece);
        if (!p[i])
            die("memkind_malloc(%zu) returned NULL after %zu pieces", opt.piece, i);
        memset(p[i], (int)(i & 0x7f) + 1, opt.piece);
    }
    double t1 = now_s();
    getrusage(RUSAGE_SELF, &r1);

    /* Spot-check the fill: first, middle and last byte of every piece. */
    for (size_t i = 0; i < n; i++) {
        const unsigned char *c = p[i];
        unsigned char want = (unsigned char)((i & 0x7f) + 1);
        if (c[0] != want || c[opt.piece / 2] != want || c[opt.piece - 1] != want)
            die("piece %zu lost its contents", i);
    }
    for (size_t i = 0; i < n; i++)
        memkind_free(kind, p[i]);
    close_kind(kind);
    free(p);
    check_dir_empty();

    double gib = (double)(n * opt.piece) / (double)(1 << 30);
    printf("%.3f faults=%ld majflt=%ld secs=%.4f\n", gib / (t1 - t0), r1.ru_minflt - r0.ru_minflt,
           r1.ru_majflt - r0.ru_majflt, t1 - t0);
    return 0;
}

/* ------------------------------------------------------------------- warm */

/*
 * Touches TOTAL bytes of plain anonymous memory (no allocator) and gives them back. Run before
 * every fill, for both sides: on this machine (a Firecracker guest with free page reporting,
 * page_reporting_order=11) memory freed for about 2 s is handed back to the host, and the next
 * process to touch it pays a host fault per page. Which side meets such memory depended on who
 * ran after an idle moment; warming the same amount first makes both sides meet memory the
 * host still backs, so the fill measures the allocator and the guest kernel.
 */
static int run_warm(void)
{
    /* Huge pages where the machine gives them: they come from the same large free blocks a
     * huge fill takes (4 KiB requests use up small fragments first), and 4 KiB fills take
     * whatever is left. */
    size_t len = opt.total, huge = 2u << 20;
    char *raw = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        die("warm: mmap failed");
    char *p = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
    madvise(p, len, MADV_HUGEPAGE);
    for (size_t off = 0; off < len; off += 4096)
        p[off] = 1;
    munmap(raw, len + huge);
    return 0;
}

/* ------------------------------------------------------------------- main */

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
    fprintf(stderr,
            "usage: %s pairs  -k default|pmem|huge|malloc -t THREADS -n ITERS [-N|-M] [-d DIR]\n"
            "       %s scale  -k default|pmem|huge|malloc -t THREADS -n TOTAL [-d DIR]\n"
            "       %s kchurn -t THREADS -s SECONDS -d DIR\n"
            "       %s churn  -d DIR -s SECONDS\n"
            "       %s shared -d DIR -t THREADS -n ITERS\n"
            "       %s fill   -k default|pmem|huge -p PIECE -T TOTAL [-d DIR]\n"
            "       %s warm   -T TOTAL\n"
            "       %s scaling -k default|pmem|huge -n ITERS [-d DIR]\n",
            prog, prog, prog, prog, prog, prog, prog, prog);
    exit(2);
}

int main(int argc, char **argv)
{
    prog = argv[0];
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    optind = 2;
    int c;
    while ((c = getopt(argc, argv, "k:t:n:NMd:s:p:T:")) != -1) {
        switch (c) {
        case 'k': opt.kind_name = optarg; break;
        case 't': opt.threads = atoi(optarg); break;
        case 'n': opt.iters = atol(optarg); break;
        case 'N': opt.free_null = 1; break;
        case 'M': opt.mixed = 1; break;
        case 'd': opt.dir = optarg; break;
        case 's': opt.seconds = atof(optarg); break;
        case 'p': opt.piece = parse_size(optarg); break;
        case 'T': opt.total = parse_size(optarg); break;
        default: usage();
        }
    }
    if (optind != argc || opt.iters < 1 || opt.seconds <= 0)
        usage();
    if (!strcmp(mode, "pairs"))
        return run_pairs();
    if (!strcmp(mode, "churn"))
        return run_churn();
    if (!strcmp(mode, "scale"))
        return run_scale();
    if (!strcmp(mode, "kchurn"))
        return run_kchurn();
    if (!strcmp(mode, "shared"))
        return run_shared();
    if (!strcmp(mode, "fill"))
        return run_fill();
    if (!strcmp(mode, "scaling"))
        return run_scaling();
    if (!strcmp(mode, "warm"))
        return run_warm();
    usage();
}
