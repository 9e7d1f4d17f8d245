/* larson: a server simulation in the shape of Larson & Krishnan's benchmark (our own code).
 *
 * T chains run at once. Each chain owns an array of S slots holding blocks of random size
 * (16..1000 B by default). A thread of a chain replaces O random slots (check the old block, free it,
 * malloc a new one of random size, stamp it), then starts the next thread of its chain, hands it the
 * array and exits. So almost every block is freed by another thread than the one that allocated it,
 * and threads come and go all the time, as in a server that hands connections between workers.
 * Each chain runs R generations (threads); the figure is the wall time of the whole run.
 *
 * Checks: every block carries its size and a tag in its header and the tag's complement in its last
 * four bytes; both are checked against the slot record before every free and at the end. The sum of
 * the tags freed is deterministic (independent of the schedule) and is printed.
 *
 * usage: larson [-t threads=4] [-n generations=250] [-o ops per generation=20000] [-s slots=1000]
 *               [-m max size=1000] */
#include "common.h"

#include <pthread.h>

typedef struct {
    unsigned char *p;
    uint32_t size;
    uint32_t tag;
} slot_t;

typedef struct {
    int id;
    long gens_left;
    slot_t *slots;
    ab_rng rng;
    uint64_t tagsum;
    uint64_t ops;
} chain_t;

static long g_ops, g_slots, g_maxsz, g_minsz = 16;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_done;

static void stamp(slot_t *s, uint32_t size, uint32_t tag)
{
    unsigned char *p = s->p;
    memcpy(p, &size, 4);
    memcpy(p + 4, &tag, 4);
    uint32_t inv = ~tag;
    memcpy(p + size - 4, &inv, 4);
    s->size = size;
    s->tag = tag;
}

static void check(const slot_t *s, int chain, long idx)
{
    uint32_t size, tag, inv;
    memcpy(&size, s->p, 4);
    memcpy(&tag, s->p + 4, 4);
    memcpy(&inv, s->p + s->size - 4, 4);
    if (size != s->size || tag != s->tag || inv != ~s->tag)
        CORRUPT("larson chain %d slot %ld: header size %u tag %08x tail %08x, expected %u %08x",
                chain, idx, size, tag, ~inv, s->size, s->tag);
}

static void *worker(void *arg)
{
    chain_t *c = arg;
    for (long i = 0; i < g_ops; i++) {
        long k = (long)(ab_next(&c->rng) % (uint64_t)g_slots);
        slot_t *s = &c->slots[k];
        check(s, c->id, k);
        c->tagsum += s->tag;
        free(s->p);
        uint32_t size = (uint32_t)ab_range(&c->rng, (size_t)g_minsz, (size_t)g_maxsz);
        s->p = malloc(size);
        CHECK_ALLOC(s->p, size);
        stamp(s, size, (uint32_t)ab_next(&c->rng));
        c->ops++;
    }
    if (--c->gens_left > 0) {
        /* hand the array to a new thread */
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int e = pthread_create(&t, &at, worker, c);
        pthread_attr_destroy(&at);
        if (e != 0)
            FAILED("pthread_create: %s", strerror(e));
    } else {
        pthread_mutex_lock(&g_mu);
        g_done++;
        pthread_cond_signal(&g_cv);
        pthread_mutex_unlock(&g_mu);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    ab_check_opts(argc, argv, "tnosm",
                  "[-t threads=4] [-n generations=250] [-o ops/generation=20000] [-s slots=1000] "
                  "[-m maxsize=1000]");
    int nthreads = (int)ab_opt(argc, argv, 't', 4);
    long gens = ab_opt(argc, argv, 'n', 250);
    g_ops = ab_opt(argc, argv, 'o', 20000);
    g_slots = ab_opt(argc, argv, 's', 1000);
    g_maxsz = ab_opt(argc, argv, 'm', 1000);
    if (nthreads < 1 || gens < 1 || g_slots < 1 || g_maxsz < g_minsz)
        FAILED("bad parameters");

    chain_t *chains = calloc((size_t)nthreads, sizeof *chains);
    CHECK_ALLOC(chains, sizeof *chains);
    /* the initial arrays are filled by the main thread: generation 1 frees them all elsewhere */
    for (int i = 0; i < nthreads; i++) {
        chain_t *c = &chains[i];
        c->id = i;
        c->gens_left = gens;
        ab_seed(&c->rng, 1000 + (uint64_t)i);
        c->slots = malloc((size_t)g_slots * sizeof(slot_t));
        CHECK_ALLOC(c->slots, (size_t)g_slots * sizeof(slot_t));
        for (long k = 0; k < g_slots; k++) {
            uint32_t size = (uint32_t)ab_range(&c->rng, (size_t)g_minsz, (size_t)g_maxsz);
            c->slots[k].p = malloc(size);
            CHECK_ALLOC(c->slots[k].p, size);
            stamp(&c->slots[k], size, (uint32_t)ab_next(&c->rng));
        }
    }

    double t0 = ab_now();
    for (int i = 0; i < nthreads; i++) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int e = pthread_create(&t, &at, worker, &chains[i]);
        pthread_attr_destroy(&at);
        if (e != 0)
            FAILED("pthread_create: %s", strerror(e));
    }
    pthread_mutex_lock(&g_mu);
    while (g_done < nthreads)
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    double t1 = ab_now();

    uint64_t tagsum = 0, ops = 0;
    for (int i = 0; i < nthreads; i++) {
        chain_t *c = &chains[i];
        for (long k = 0; k < g_slots; k++) {
            check(&c->slots[k], i, k);
            tagsum += c->slots[k].tag;
            free(c->slots[k].p);
        }
        free(c->slots);
        tagsum += c->tagsum;
        ops += c->ops;
    }
    free(chains);
    if (ops != (uint64_t)nthreads * (uint64_t)gens * (uint64_t)g_ops)
        CORRUPT("larson: %llu ops done, expected %llu", (unsigned long long)ops,
                (unsigned long long)nthreads * (unsigned long long)gens * (unsigned long long)g_ops);
    printf("larson seconds=%.4f cpu=%.3f maxrss_kb=%ld threads=%d ops=%llu ns_per_op=%.1f "
           "checksum=%016llx\n",
           t1 - t0, ab_cpu(), ab_maxrss_kb(), nthreads, (unsigned long long)ops,
           (t1 - t0) * 1e9 / (double)ops, (unsigned long long)tagsum);
    fflush(stdout); /* before exit: see ab_flush_note in common.h */
    return 0;
}
