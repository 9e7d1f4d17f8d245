/* churn: mixed-size allocation churn with realloc, 8 B to 1 MiB.
 *
 * A working set of S slots holds byte strings. Each step picks a random slot and
 *   appends (40%)   - realloc to a little more (1 B .. a quarter of the length) and writes the new
 *                     tail, the way a string or vector is built up;
 *   shrinks (15%)   - realloc to between half and all of the length (trim to fit);
 *   replaces (35%)  - free, then malloc (or every fourth time calloc) a new size: 90% 8 B..1 KiB,
 *                     9% 1..64 KiB, 1% 64 KiB..1 MiB, log-uniform within each band;
 *   empties (10%)   - free the slot (a later step fills it again).
 * Strings never grow past 1 MiB (an append beyond it becomes a shrink).
 *
 * Checks: the contents of a slot are a function of its seed and the byte offset (one byte value per
 * 4 KiB run); after every realloc the first, last and middle byte and four random bytes of the kept
 * prefix are checked, a calloc'd block is checked to be zero, and at the end every byte of every
 * string is checked.
 *
 * usage: churn [-n steps=1000000] [-s slots=2000] [-t threads=1] */
#include "common.h"

#include <pthread.h>

#define MAXLEN ((size_t)1 << 20)

typedef struct {
    unsigned char *p;
    size_t len;
    unsigned char seed;
} str_t;

typedef struct {
    int id;
    uint64_t reallocs, moved, bytes_written;
} targ_t;

static long g_steps, g_slots;

static inline unsigned char pat(unsigned char seed, size_t i)
{
    return (unsigned char)(seed ^ (unsigned char)(i >> 12) ^ (unsigned char)((i >> 20) * 37));
}

static void fill(str_t *s, size_t from, size_t to, targ_t *a)
{
    size_t i = from;
    while (i < to) {
        size_t run_end = (i | 4095) + 1;
        if (run_end > to)
            run_end = to;
        memset(s->p + i, pat(s->seed, i), run_end - i);
        i = run_end;
    }
    a->bytes_written += to - from;
}

static void spot_check(const str_t *s, size_t upto, ab_rng *r, const char *what)
{
    if (upto == 0)
        return;
    size_t pos[7] = {0, upto - 1, upto / 2, 0, 0, 0, 0};
    for (int k = 3; k < 7; k++)
        pos[k] = (size_t)(ab_next(r) % upto);
    for (int k = 0; k < 7; k++)
        if (s->p[pos[k]] != pat(s->seed, pos[k]))
            CORRUPT("churn: after %s byte %zu of %zu is %02x, expected %02x", what, pos[k], s->len,
                    s->p[pos[k]], pat(s->seed, pos[k]));
}

static size_t new_size(ab_rng *r)
{
    uint64_t band = ab_next(r) % 100;
    if (band < 90)
        return ab_logrange(r, 8, 1024);
    if (band < 99)
        return ab_logrange(r, 1025, 64 << 10);
    return ab_logrange(r, (64 << 10) + 1, MAXLEN);
}

static void *worker(void *arg)
{
    targ_t *a = arg;
    ab_rng r;
    ab_seed(&r, 31337 + (uint64_t)a->id);
    str_t *slots = calloc((size_t)g_slots, sizeof *slots);
    CHECK_ALLOC(slots, (size_t)g_slots * sizeof *slots);
    for (long step = 0; step < g_steps; step++) {
        str_t *s = &slots[ab_next(&r) % (uint64_t)g_slots];
        uint64_t op = ab_next(&r) % 100;
        if (s->p == NULL || op >= 45) {
            if (s->p != NULL && op >= 90) { /* empty */
                spot_check(s, s->len, &r, "free");
                free(s->p);
                s->p = NULL;
                s->len = 0;
                continue;
            }
            /* replace */
            if (s->p != NULL) {
                spot_check(s, s->len, &r, "replace");
                free(s->p);
            }
            size_t n = new_size(&r);
            s->seed = (unsigned char)ab_next(&r);
            if ((step & 3) == 0) {
                s->p = calloc(1, n);
                CHECK_ALLOC(s->p, n);
                for (size_t i = 0; i < n; i += 509)
                    if (s->p[i] != 0)
                        CORRUPT("churn: calloc(%zu) byte %zu is %02x", n, i, s->p[i]);
                if (s->p[n - 1] != 0)
                    CORRUPT("churn: calloc(%zu) last byte is %02x", n, s->p[n - 1]);
            } else {
                s->p = malloc(n);
                CHECK_ALLOC(s->p, n);
            }
            s->len = n;
            fill(s, 0, n, a);
            continue;
        }
        size_t n;
        int grow = op < 40 && s->len < MAXLEN;
        if (grow) {
            n = s->len + 1 + (size_t)(ab_next(&r) % (s->len / 4 + 1));
            if (n > MAXLEN)
                n = MAXLEN;
        } else {
            n = s->len / 2 + (size_t)(ab_next(&r) % (s->len - s->len / 2 + 1));
            if (n == 0)
                n = 1;
        }
        unsigned char *old = s->p;
        unsigned char *q = realloc(s->p, n);
        CHECK_ALLOC(q, n);
        a->reallocs++;
        a->moved += q != old;
        s->p = q;
        size_t kept = n < s->len ? n : s->len;
        size_t oldlen = s->len;
        s->len = n;
        spot_check(s, kept, &r, grow ? "realloc grow" : "realloc shrink");
        if (n > oldlen)
            fill(s, oldlen, n, a);
    }
    for (long k = 0; k < g_slots; k++) {
        str_t *s = &slots[k];
        for (size_t i = 0; i < s->len; i++)
            if (s->p[i] != pat(s->seed, i))
                CORRUPT("churn: final check: slot %ld byte %zu of %zu is %02x, expected %02x", k, i,
                        s->len, s->p[i], pat(s->seed, i));
        free(s->p);
    }
    free(slots);
    return NULL;
}

int main(int argc, char **argv)
{
    ab_check_opts(argc, argv, "nst", "[-n steps=1000000] [-s slots=2000] [-t threads=1]");
    g_steps = ab_opt(argc, argv, 'n', 1000000);
    g_slots = ab_opt(argc, argv, 's', 2000);
    int nt = (int)ab_opt(argc, argv, 't', 1);
    if (g_slots < 1 || nt < 1)
        FAILED("bad parameters");
    targ_t *ta = calloc((size_t)nt, sizeof *ta);
    CHECK_ALLOC(ta, 1);
    for (int i = 0; i < nt; i++)
        ta[i].id = i;
    double t0 = 0, t1 = ab_run_workers(nt, worker, ta, sizeof *ta);
    uint64_t re = 0, mv = 0, wr = 0;
    for (int i = 0; i < nt; i++) {
        re += ta[i].reallocs;
        mv += ta[i].moved;
        wr += ta[i].bytes_written;
    }
    free(ta);
    printf("churn seconds=%.4f cpu=%.3f maxrss_kb=%ld threads=%d steps=%ld reallocs=%llu moved=%llu "
           "mib_written=%.0f\n",
           t1 - t0, ab_cpu(), ab_maxrss_kb(), nt, g_steps * nt, (unsigned long long)re,
           (unsigned long long)mv, (double)wr / 1048576.0);
    fflush(stdout); /* before exit: see ab_flush_note in common.h */
    return 0;
}
