/* prodcons: producer/consumer message passing, every message freed by another thread.
 *
 * P producer threads each allocate N messages of random size (log-uniform 16 B..4 KiB, so mostly
 * small), stamp them and pass them, in batches of B (a malloc'd batch record too), through one
 * bounded queue (mutex + condition variables, at most Q batches waiting) to C consumer threads,
 * which check every message and free it and its batch. This is the shape of a pipeline stage or a
 * logging thread: the allocating thread never frees, the freeing thread never allocates.
 *
 * Checks: each message carries producer id, sequence number, size and a check word in its header,
 * and a fill byte derived from them at its start, middle and end; the consumers sum per producer the
 * count and the sequence numbers received, which must equal what was sent.
 *
 * usage: prodcons [-p producers=2] [-c consumers=2] [-n messages per producer=1500000]
 *                 [-b batch=64] [-q queue batches=64] [-m max size=4096] */
#include "common.h"

#include <pthread.h>

typedef struct {
    uint32_t producer;
    uint32_t size;
    uint64_t seq;
    uint64_t check;
} msg_t;

typedef struct {
    int n;
    msg_t *m[];
} batch_t;

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_notfull = PTHREAD_COND_INITIALIZER, q_notempty = PTHREAD_COND_INITIALIZER;
static batch_t **q_ring;
static long q_cap, q_head, q_len, q_producers_left;

static long g_n, g_batch, g_maxsz;

typedef struct {
    int id;
    uint64_t *count, *seqsum; /* consumer side: per producer */
    int nprod;
} targ_t;

static uint64_t check_word(uint32_t prod, uint64_t seq, uint32_t size)
{
    return ab_mix(((uint64_t)prod << 40) ^ (seq << 8) ^ size);
}

static void push(batch_t *b)
{
    pthread_mutex_lock(&q_mu);
    while (q_len == q_cap)
        pthread_cond_wait(&q_notfull, &q_mu);
    q_ring[(q_head + q_len) % q_cap] = b;
    q_len++;
    pthread_cond_signal(&q_notempty);
    pthread_mutex_unlock(&q_mu);
}

static batch_t *pop(void)
{
    pthread_mutex_lock(&q_mu);
    while (q_len == 0 && q_producers_left > 0)
        pthread_cond_wait(&q_notempty, &q_mu);
    batch_t *b = NULL;
    if (q_len > 0) {
        b = q_ring[q_head];
        q_head = (q_head + 1) % q_cap;
        q_len--;
        pthread_cond_signal(&q_notfull);
    }
    pthread_mutex_unlock(&q_mu);
    return b;
}

static void *producer(void *arg)
{
    targ_t *a = arg;
    ab_rng rng;
    ab_seed(&rng, 7000 + (uint64_t)a->id);
    batch_t *b = NULL;
    for (long i = 0; i < g_n; i++) {
        if (b == NULL) {
            size_t bs = sizeof(batch_t) + (size_t)g_batch * sizeof(msg_t *);
            b = malloc(bs);
            CHECK_ALLOC(b, bs);
            b->n = 0;
        }
        uint32_t size = (uint32_t)ab_logrange(&rng, sizeof(msg_t) + 1, (size_t)g_maxsz);
        msg_t *m = malloc(size);
        CHECK_ALLOC(m, size);
        m->producer = (uint32_t)a->id;
        m->size = size;
        m->seq = (uint64_t)i;
        m->check = check_word(m->producer, m->seq, size);
        unsigned char fill = (unsigned char)m->check;
        unsigned char *p = (unsigned char *)m;
        p[sizeof(msg_t)] = fill;
        p[sizeof(msg_t) + (size - sizeof(msg_t)) / 2] = fill;
        p[size - 1] = fill;
        b->m[b->n++] = m;
        if (b->n == g_batch) {
            push(b);
            b = NULL;
        }
    }
    if (b != NULL)
        push(b);
    pthread_mutex_lock(&q_mu);
    q_producers_left--;
    pthread_cond_broadcast(&q_notempty);
    pthread_mutex_unlock(&q_mu);
    return NULL;
}

static void *consumer(void *arg)
{
    targ_t *a = arg;
    batch_t *b;
    while ((b = pop()) != NULL) {
        if (b->n < 1 || b->n > g_batch)
            CORRUPT("prodcons: batch holds %d messages", b->n);
        for (int i = 0; i < b->n; i++) {
            msg_t *m = b->m[i];
            unsigned char *p = (unsigned char *)m;
            if (m->producer >= (uint32_t)a->nprod || m->size <= sizeof(msg_t) ||
                m->size > (uint32_t)g_maxsz ||
                m->check != check_word(m->producer, m->seq, m->size))
                CORRUPT("prodcons: bad message header (producer %u seq %llu size %u)", m->producer,
                        (unsigned long long)m->seq, m->size);
            unsigned char fill = (unsigned char)m->check;
            if (p[sizeof(msg_t)] != fill || p[sizeof(msg_t) + (m->size - sizeof(msg_t)) / 2] != fill ||
                p[m->size - 1] != fill)
                CORRUPT("prodcons: message payload overwritten (producer %u seq %llu)", m->producer,
                        (unsigned long long)m->seq);
            a->count[m->producer]++;
            a->seqsum[m->producer] += m->seq;
            free(m);
        }
        free(b);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    ab_check_opts(argc, argv, "pcnbqm",
                  "[-p producers=2] [-c consumers=2] [-n messages/producer=1500000] [-b batch=64] "
                  "[-q queue batches=64] [-m maxsize=4096]");
    int np = (int)ab_opt(argc, argv, 'p', 2);
    int nc = (int)ab_opt(argc, argv, 'c', 2);
    g_n = ab_opt(argc, argv, 'n', 1500000);
    g_batch = ab_opt(argc, argv, 'b', 64);
    q_cap = ab_opt(argc, argv, 'q', 64);
    g_maxsz = ab_opt(argc, argv, 'm', 4096);
    if (np < 1 || nc < 1 || g_batch < 1 || q_cap < 1 || g_maxsz <= (long)sizeof(msg_t) + 1)
        FAILED("bad parameters");
    q_ring = malloc((size_t)q_cap * sizeof *q_ring);
    CHECK_ALLOC(q_ring, (size_t)q_cap * sizeof *q_ring);
    q_producers_left = np;

    targ_t *pa = calloc((size_t)np, sizeof *pa), *ca = calloc((size_t)nc, sizeof *ca);
    pthread_t *pt = calloc((size_t)np, sizeof *pt), *ct = calloc((size_t)nc, sizeof *ct);
    CHECK_ALLOC(pa, 1);
    CHECK_ALLOC(ca, 1);
    CHECK_ALLOC(pt, 1);
    CHECK_ALLOC(ct, 1);
    for (int i = 0; i < nc; i++) {
        ca[i].id = i;
        ca[i].nprod = np;
        ca[i].count = calloc((size_t)np, sizeof(uint64_t));
        ca[i].seqsum = calloc((size_t)np, sizeof(uint64_t));
        CHECK_ALLOC(ca[i].count, 1);
        CHECK_ALLOC(ca[i].seqsum, 1);
    }

    double t0 = ab_now();
    for (int i = 0; i < nc; i++)
        if (pthread_create(&ct[i], NULL, consumer, &ca[i]) != 0)
            FAILED("pthread_create");
    for (int i = 0; i < np; i++) {
        pa[i].id = i;
        pa[i].nprod = np;
        if (pthread_create(&pt[i], NULL, producer, &pa[i]) != 0)
            FAILED("pthread_create");
    }
    for (int i = 0; i < np; i++)
        pthread_join(pt[i], NULL);
    for (int i = 0; i < nc; i++)
        pthread_join(ct[i], NULL);
    double t1 = ab_now();

    uint64_t want_sum = (uint64_t)g_n * (uint64_t)(g_n - 1) / 2, total = 0;
    for (int p = 0; p < np; p++) {
        uint64_t cnt = 0, sum = 0;
        for (int i = 0; i < nc; i++) {
            cnt += ca[i].count[p];
            sum += ca[i].seqsum[p];
        }
        if (cnt != (uint64_t)g_n || sum != want_sum)
            CORRUPT("prodcons: producer %d: %llu messages received (seq sum %llu), sent %ld (%llu)",
                    p, (unsigned long long)cnt, (unsigned long long)sum, g_n,
                    (unsigned long long)want_sum);
        total += cnt;
    }
    for (int i = 0; i < nc; i++) {
        free(ca[i].count);
        free(ca[i].seqsum);
    }
    free(pa);
    free(ca);
    free(pt);
    free(ct);
    free(q_ring);
    printf("prodcons seconds=%.4f cpu=%.3f maxrss_kb=%ld producers=%d consumers=%d messages=%llu "
           "ns_per_msg=%.1f\n",
           t1 - t0, ab_cpu(), ab_maxrss_kb(), np, nc, (unsigned long long)total,
           (t1 - t0) * 1e9 / (double)total);
    fflush(stdout); /* before exit: see ab_flush_note in common.h */
    return 0;
}
