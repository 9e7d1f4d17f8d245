/* smallloop: tight loops of small fixed-size malloc/free, one thread or several.
 *
 * Every thread runs, for each size 16, 32 and 64 B, three loops of N allocations each:
 *   pair  - malloc, stamp, check, free, over and over (the hot path of a thread cache);
 *   lifo  - batches of B blocks: malloc B, then free them newest first;
 *   fifo  - batches of B blocks: malloc B, then free them oldest first.
 * The threads do not share blocks; with -t > 1 this measures how the fast path scales (and any
 * lock or shared atomic on it). The figure is the wall time of all threads' loops.
 *
 * Checks: every block gets a tag in its first and last 8 bytes (thread, size, index), checked before
 * it is freed; the sum of the tags is printed.
 *
 * usage: smallloop [-t threads=1] [-n allocations per size and loop=5000000] [-b batch=1000] */
#include "common.h"

#include <pthread.h>

static long g_n, g_batch;
static const size_t sizes[] = {16, 32, 64};

typedef struct {
    int id;
    uint64_t tagsum, ops;
} targ_t;

static inline void stamp(void *p, size_t sz, uint64_t tag)
{
    memcpy(p, &tag, 8);
    uint64_t inv = ~tag;
    memcpy((char *)p + sz - 8, &inv, 8);
}

static inline void check(const void *p, size_t sz, uint64_t tag, const char *loop)
{
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, (const char *)p + sz - 8, 8);
    if (a != tag || b != ~tag)
        CORRUPT("smallloop %s %zu B: tag %016llx/%016llx, expected %016llx", loop, sz,
                (unsigned long long)a, (unsigned long long)~b, (unsigned long long)tag);
}

#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

static void *worker(void *arg)
{
    targ_t *a = arg;
    void **batch = malloc((size_t)g_batch * sizeof(void *));
    CHECK_ALLOC(batch, (size_t)g_batch * sizeof(void *));
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t sz = sizes[si];
        uint64_t base = ((uint64_t)a->id << 48) ^ ((uint64_t)sz << 40);
        /* pair */
        for (long i = 0; i < g_n; i++) {
            void *p = malloc(sz);
            CHECK_ALLOC(p, sz);
            uint64_t tag = base ^ (uint64_t)i;
            stamp(p, sz, tag);
            ESCAPE(p);
            check(p, sz, tag, "pair");
            a->tagsum += tag;
            free(p);
        }
        /* lifo and fifo */
        for (int fifo = 0; fifo < 2; fifo++) {
            for (long done = 0; done < g_n; done += g_batch) {
                long nb = g_n - done < g_batch ? g_n - done : g_batch;
                for (long j = 0; j < nb; j++) {
                    void *p = malloc(sz);
                    CHECK_ALLOC(p, sz);
                    stamp(p, sz, base ^ (uint64_t)(done + j));
                    batch[j] = p;
                }
                ESCAPE(batch);
                if (fifo) {
                    for (long j = 0; j < nb; j++) {
                        uint64_t tag = base ^ (uint64_t)(done + j);
                        check(batch[j], sz, tag, "fifo");
                        a->tagsum += tag;
                        free(batch[j]);
                    }
                } else {
                    for (long j = nb - 1; j >= 0; j--) {
                        uint64_t tag = base ^ (uint64_t)(done + j);
                        check(batch[j], sz, tag, "lifo");
                        a->tagsum += tag;
                        free(batch[j]);
                    }
                }
            }
        }
        a->ops += 3 * (uint64_t)g_n;
    }
    free(batch);
    return NULL;
}

int main(int argc, char **argv)
{
    ab_check_opts(argc, argv, "tnb", "[-t threads=1] [-n allocations/size/loop=5000000] [-b batch=1000]");
    int nt = (int)ab_opt(argc, argv, 't', 1);
    g_n = ab_opt(argc, argv, 'n', 5000000);
    g_batch = ab_opt(argc, argv, 'b', 1000);
    if (nt < 1 || g_n < 1 || g_batch < 1)
        FAILED("bad parameters");
    targ_t *ta = calloc((size_t)nt, sizeof *ta);
    CHECK_ALLOC(ta, 1);
    for (int i = 0; i < nt; i++)
        ta[i].id = i;
    double t0 = 0, t1 = ab_run_workers(nt, worker, ta, sizeof *ta);
    uint64_t sum = 0, ops = 0;
    for (int i = 0; i < nt; i++) {
        sum += ta[i].tagsum;
        ops += ta[i].ops;
    }
    if (ops != (uint64_t)nt * 9 * (uint64_t)g_n)
        CORRUPT("smallloop: %llu allocations done", (unsigned long long)ops);
    free(ta);
    printf("smallloop seconds=%.4f cpu=%.3f maxrss_kb=%ld threads=%d allocs=%llu ns_per_alloc=%.2f "
           "checksum=%016llx\n",
           t1 - t0, ab_cpu(), ab_maxrss_kb(), nt, (unsigned long long)ops,
           (t1 - t0) * 1e9 / (double)ops, (unsigned long long)sum);
    fflush(stdout); /* before exit: see ab_flush_note in common.h */
    return 0;
}
