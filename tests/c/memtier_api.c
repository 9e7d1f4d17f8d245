/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Differential: memkind_memtier.h. The builder's error cases (no tiers, a zero ratio, a NULL, a
 * repeated or a destroyed kind, a bad policy, memtier_ctl_set's names, indices and values, the
 * threshold checks at construction), the heap calls' edge cases, where each size goes under
 * DYNAMIC_THRESHOLD's default thresholds, how STATIC_RATIO splits bytes, and
 * memtier_kind_allocated_size. Usage: memtier_api PMEM_DIR. Prints one line per case.
 */
#define _GNU_SOURCE
#include <memkind_memtier.h>

#include "diff.h"

static const char *kname(memkind_t k, memkind_t pmem)
{
    if (k == NULL) return "NULL";
    if (k == MEMKIND_DEFAULT) return "DEFAULT";
    if (k == MEMKIND_REGULAR) return "REGULAR";
    if (k == pmem) return "PMEM";
    return "other";
}

static const char *P(const void *p)
{
    return p ? "ptr" : "NULL";
}

static void builder_cases(const char *dir)
{
    struct memtier_builder *b;
    struct memtier_memory *m;
    int rc;

    b = memtier_builder_new(MEMTIER_POLICY_MAX_VALUE);
    OUT("builder_new(MAX_VALUE)", "%s", P(b));
    b = memtier_builder_new((memtier_policy_t)7);
    OUT("builder_new(7)", "%s", P(b));

    /* No tiers at all. */
    b = memtier_builder_new(MEMTIER_POLICY_STATIC_RATIO);
    OUT("builder_new(STATIC_RATIO)", "%s", P(b));
    m = memtier_builder_construct_memtier_memory(b);
    OUT("static: construct with no tiers", "%s", P(m));
    rc = memtier_builder_add_tier(b, NULL, 1);
    OUT("static: add_tier(NULL kind)", "%d", rc);
    rc = memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1);
    OUT("static: add_tier(DEFAULT, 1)", "%d", rc);
    rc = memtier_builder_add_tier(b, MEMKIND_DEFAULT, 3);
    OUT("static: add_tier(DEFAULT again)", "%d", rc);
    rc = memtier_builder_add_tier(b, MEMKIND_REGULAR, 0);
    OUT("static: add_tier(REGULAR, ratio 0)", "%d", rc);
    size_t v = 100;
    rc = memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].val", &v);
    OUT("static: ctl_set(thresholds[0].val)", "%d", rc);
    unsigned cnt = 5;
    rc = memtier_ctl_set(b, "policy.dynamic_threshold.check_cnt", &cnt);
    OUT("static: ctl_set(check_cnt)", "%d", rc);
    m = memtier_builder_construct_memtier_memory(b);
    OUT("static: construct with a zero-ratio tier", "%s", P(m));
    if (m) {
        /* A zero-ratio tier never gets anything. */
        int to_regular = 0;
        void *ps[64];
        for (int i = 0; i < 64; i++) {
            ps[i] = memtier_malloc(m, 4096);
            if (ps[i] && memkind_detect_kind(ps[i]) == MEMKIND_REGULAR) to_regular++;
        }
        OUT("static: zero-ratio tier's share of 64 mallocs", "%d", to_regular);
        for (int i = 0; i < 64; i++) memtier_free(ps[i]);
        memtier_delete_memtier_memory(m);
    }
    memtier_builder_delete(b);

    /* A single tier. */
    b = memtier_builder_new(MEMTIER_POLICY_STATIC_RATIO);
    rc = memtier_builder_add_tier(b, MEMKIND_REGULAR, 5);
    m = memtier_builder_construct_memtier_memory(b);
    OUT("static: one tier", "add=%d memory=%s", rc, P(m));
    /* The memory outlives its builder. */
    memtier_builder_delete(b);
    if (m) {
        void *p = memtier_malloc(m, 100);
        OUT("static one tier: malloc(100) after builder_delete", "%s %s", P(p), kname(memkind_detect_kind(p), NULL));
        memtier_free(p);
        memtier_delete_memtier_memory(m);
    }

    /* Dynamic threshold with one tier, then the ctl names. */
    b = memtier_builder_new(MEMTIER_POLICY_DYNAMIC_THRESHOLD);
    OUT("builder_new(DYNAMIC_THRESHOLD)", "%s", P(b));
    m = memtier_builder_construct_memtier_memory(b);
    OUT("dynamic: construct with no tiers", "%s", P(m));
    rc = memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1);
    m = memtier_builder_construct_memtier_memory(b);
    OUT("dynamic: construct with one tier", "add=%d memory=%s", rc, P(m));
    v = 2000;
    rc = memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].val", &v);
    OUT("dynamic one tier: ctl_set(thresholds[0].val)", "%d", rc);
    rc = memtier_builder_add_tier(b, MEMKIND_REGULAR, 4);
    OUT("dynamic: add_tier(REGULAR, 4)", "%d", rc);

    static const char *names[] = {
        "policy.dynamic_threshold.thresholds[0].val",
        "policy.dynamic_threshold.thresholds[0].min",
        "policy.dynamic_threshold.thresholds[0].max",
        "policy.dynamic_threshold.thresholds[1].val",
        "policy.dynamic_threshold.thresholds[-1].val",
        "policy.dynamic_threshold.thresholds[0].foo",
        "policy.dynamic_threshold.thresholds[0]",
        "policy.dynamic_threshold.thresholds",
        "policy.dynamic_threshold.bogus",
        "policy.static_ratio.check_cnt",
        "policy.dynamic_threshold.",
        "",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t sv = 1024;
        rc = memtier_ctl_set(b, names[i], &sv);
        char what[160];
        snprintf(what, sizeof what, "dynamic: ctl_set(\"%s\")", names[i]);
        OUT(what, "%d", rc);
    }
    cnt = 20;
    rc = memtier_ctl_set(b, "policy.dynamic_threshold.check_cnt", &cnt);
    OUT("dynamic: ctl_set(check_cnt, 20u)", "%d", rc);
    float f = 0.02f;
    rc = memtier_ctl_set(b, "policy.dynamic_threshold.trigger", &f);
    OUT("dynamic: ctl_set(trigger, 0.02f)", "%d", rc);
    f = 0.15f;
    rc = memtier_ctl_set(b, "policy.dynamic_threshold.degree", &f);
    OUT("dynamic: ctl_set(degree, 0.15f)", "%d", rc);
    m = memtier_builder_construct_memtier_memory(b);
    OUT("dynamic: construct with two tiers", "%s", P(m));
    if (m) memtier_delete_memtier_memory(m);

    /* The checks made at construction. */
    struct {
        const char *what;
        const char *name;
        size_t val;
    } bad[] = {
        {"min above val", "policy.dynamic_threshold.thresholds[0].min", 1500},
        {"max below val", "policy.dynamic_threshold.thresholds[0].max", 600},
        {"val below min", "policy.dynamic_threshold.thresholds[0].val", 100},
        {"val above max", "policy.dynamic_threshold.thresholds[0].val", 100000},
        {"val = min", "policy.dynamic_threshold.thresholds[0].val", 512},
        {"val = max", "policy.dynamic_threshold.thresholds[0].val", 1535},
        {"val = max+1", "policy.dynamic_threshold.thresholds[0].val", 1536},
        {"val = min-1", "policy.dynamic_threshold.thresholds[0].val", 511},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct memtier_builder *bb = memtier_builder_new(MEMTIER_POLICY_DYNAMIC_THRESHOLD);
        memtier_builder_add_tier(bb, MEMKIND_DEFAULT, 1);
        memtier_builder_add_tier(bb, MEMKIND_REGULAR, 1);
        rc = memtier_ctl_set(bb, bad[i].name, &bad[i].val);
        m = memtier_builder_construct_memtier_memory(bb);
        char what[160];
        snprintf(what, sizeof what, "dynamic: construct with %s", bad[i].what);
        OUT(what, "set=%d memory=%s", rc, P(m));
        if (m) memtier_delete_memtier_memory(m);
        memtier_builder_delete(bb);
    }
    {
        struct memtier_builder *bb = memtier_builder_new(MEMTIER_POLICY_DYNAMIC_THRESHOLD);
        memtier_builder_add_tier(bb, MEMKIND_DEFAULT, 1);
        memtier_builder_add_tier(bb, MEMKIND_REGULAR, 1);
        f = -0.5f;
        rc = memtier_ctl_set(bb, "policy.dynamic_threshold.degree", &f);
        m = memtier_builder_construct_memtier_memory(bb);
        OUT("dynamic: construct with degree -0.5", "set=%d memory=%s", rc, P(m));
        if (m) memtier_delete_memtier_memory(m);
        f = 0.15f;
        memtier_ctl_set(bb, "policy.dynamic_threshold.degree", &f);
        f = -1.0f;
        rc = memtier_ctl_set(bb, "policy.dynamic_threshold.trigger", &f);
        m = memtier_builder_construct_memtier_memory(bb);
        OUT("dynamic: construct with trigger -1", "set=%d memory=%s", rc, P(m));
        if (m) memtier_delete_memtier_memory(m);
        memtier_builder_delete(bb);
    }
    memtier_builder_delete(b);

    /* Three tiers: the second threshold's defaults, and overlapping ranges. */
    memkind_t pmem = NULL;
    rc = memkind_create_pmem(dir, 0, &pmem);
    OUT("create_pmem", "%s", codename(rc));
    if (rc) return;
    b = memtier_builder_new(MEMTIER_POLICY_DYNAMIC_THRESHOLD);
    memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1);
    memtier_builder_add_tier(b, MEMKIND_REGULAR, 1);
    rc = memtier_builder_add_tier(b, pmem, 1);
    OUT("dynamic: add_tier(PMEM) as the third tier", "%d", rc);
    v = 4096;
    rc = memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[2].val", &v);
    OUT("dynamic three tiers: ctl_set(thresholds[2].val)", "%d", rc);
    m = memtier_builder_construct_memtier_memory(b);
    OUT("dynamic: construct with three tiers", "%s", P(m));
    if (m) {
        static const size_t sizes[] = {1, 511, 512, 1023, 1024, 1535, 1536, 2047, 2048, 2559, 2560, 100000};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            /* A fresh memory per size, so the thresholds have not moved yet. */
            void *p = memtier_malloc(m, sizes[i]);
            char what[64];
            snprintf(what, sizeof what, "dynamic three tiers: malloc(%zu) goes to", sizes[i]);
            OUT(what, "%s", kname(memkind_detect_kind(p), pmem));
            memtier_free(p);
        }
        memtier_delete_memtier_memory(m);
    }
    v = 1600;
    rc = memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].max", &v);
    m = memtier_builder_construct_memtier_memory(b);
    OUT("dynamic three tiers: construct with max[0] above min[1]", "set=%d memory=%s", rc, P(m));
    if (m) memtier_delete_memtier_memory(m);
    memtier_builder_delete(b);

    /* A destroyed kind. */
    memkind_t gone = NULL;
    rc = memkind_create_pmem(dir, 0, &gone);
    rc = memkind_destroy_kind(gone);
    OUT("destroy_kind", "%s", codename(rc));
    b = memtier_builder_new(MEMTIER_POLICY_STATIC_RATIO);
    rc = memtier_builder_add_tier(b, gone, 1);
    /* memkind takes any non-NULL pointer; we refuse a kind that is not live (-1, as for NULL). */
    INFO("static: add_tier(a destroyed kind)", "%d", rc);
    rc = memtier_builder_add_tier(b, MEMKIND_HBW, 1);
    OUT("static: add_tier(HBW: a static kind this machine may lack)", "%d", rc);
    memtier_builder_delete(b);
    b = memtier_builder_new(MEMTIER_POLICY_STATIC_RATIO);
    rc = memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1);
    rc = memtier_builder_add_tier(b, pmem, 1);
    OUT("static: add_tier(PMEM, 1)", "%d", rc);
    memkind_destroy_kind(pmem);
    m = memtier_builder_construct_memtier_memory(b);
    /* memkind keeps the dangling kind and would crash on the first allocation from it; we
     * refuse to build a memory over a destroyed kind. Shown, not compared. */
    INFO("static: construct after a tier's kind was destroyed", "%s", P(m));
    memtier_builder_delete(b);
}

static struct memtier_memory *g_m;

static int memalign_garbage(void)
{
    void *p = (void *)0x1234;
    int rc = memtier_posix_memalign(g_m, &p, 3, 100);
    return rc == EINVAL && p == (void *)0x1234 ? 0 : 1;
}

static void heap_cases(void)
{
    struct memtier_builder *b = memtier_builder_new(MEMTIER_POLICY_STATIC_RATIO);
    memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1);
    struct memtier_memory *m = memtier_builder_construct_memtier_memory(b);
    memtier_builder_delete(b);
    void *p, *q;
    int rc;

    size_t before = memtier_kind_allocated_size(MEMKIND_DEFAULT);
    errno = 0;
    p = memtier_malloc(m, 0);
    OUT("malloc(m, 0)", "%s", P(p));
    memtier_free(p);
    errno = 0;
    p = memtier_malloc(m, SIZE_MAX);
    OUT("malloc(m, SIZE_MAX)", "%s errno=%s", P(p), errname(errno));
    p = memtier_calloc(m, 0, 8);
    OUT("calloc(m, 0, 8)", "%s", P(p));
    memtier_free(p);
    errno = 0;
    p = memtier_calloc(m, SIZE_MAX, SIZE_MAX);
    OUT("calloc(m, SIZE_MAX, SIZE_MAX)", "%s errno=%s", P(p), errname(errno));
    p = memtier_calloc(m, 100, 10);
    OUT("calloc(m, 100, 10)", "%s zero=%d usable=%zu", P(p), p && all_zero(p, 1000), memtier_usable_size(p));
    q = memtier_realloc(m, p, 5000);
    OUT("realloc(m, p, 5000)", "%s zero-kept=%d usable=%zu", P(q), q && all_zero(q, 1000), memtier_usable_size(q));
    p = memtier_realloc(m, q, 0);
    OUT("realloc(m, p, 0)", "%s", P(p));
    p = memtier_realloc(m, NULL, 64);
    OUT("realloc(m, NULL, 64)", "%s usable=%zu", P(p), memtier_usable_size(p));
    memtier_free(p);
    OUT("usable_size(NULL)", "%zu", memtier_usable_size(NULL));
    memtier_free(NULL);
    memtier_kind_free(MEMKIND_DEFAULT, NULL);
    OUT("free(NULL)", "ok");

    static const size_t aligns[] = {0, 1, 4, 8, 16, 24, 64, 4096, 1 << 21};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        p = NULL;
        rc = memtier_posix_memalign(m, &p, aligns[i], 100);
        char what[64];
        snprintf(what, sizeof what, "posix_memalign(m, align %zu, 100)", aligns[i]);
        OUT(what, "rc=%s %s aligned=%d", errname(rc), P(p),
            p && ((uintptr_t)p % (aligns[i] ? aligns[i] : 1)) == 0);
        if (rc == 0) memtier_free(p);
    }
    p = NULL;
    rc = memtier_posix_memalign(m, &p, 64, 0);
    OUT("posix_memalign(m, 64, 0)", "rc=%s %s", errname(rc), P(p));
    if (rc == 0) memtier_free(p);
    /* memkind leaves *memptr untouched on EINVAL, then reads the usable size of whatever it
     * holds: a garbage *memptr crashes it. Ours leaves it untouched and returns EINVAL. */
    g_m = m;
    INFO("posix_memalign(m, align 3) with garbage in *memptr", "%s", forked(memalign_garbage));

    p = memtier_kind_malloc(MEMKIND_DEFAULT, 0);
    OUT("kind_malloc(DEFAULT, 0)", "%s", P(p));
    memtier_kind_free(MEMKIND_DEFAULT, p);
    p = memtier_kind_calloc(MEMKIND_REGULAR, 10, 10);
    OUT("kind_calloc(REGULAR, 10, 10)", "%s %s zero=%d", P(p), kname(memkind_detect_kind(p), NULL), p && all_zero(p, 100));
    q = memtier_kind_realloc(MEMKIND_REGULAR, p, 100000);
    OUT("kind_realloc(REGULAR, p, 100000)", "%s %s", P(q), kname(memkind_detect_kind(q), NULL));
    p = memtier_kind_realloc(MEMKIND_REGULAR, q, 0);
    OUT("kind_realloc(REGULAR, p, 0)", "%s", P(p));
    p = memtier_kind_realloc(MEMKIND_REGULAR, NULL, 10);
    OUT("kind_realloc(REGULAR, NULL, 10)", "%s %s", P(p), kname(memkind_detect_kind(p), NULL));
    memtier_kind_free(NULL, p);
    p = NULL;
    rc = memtier_kind_posix_memalign(MEMKIND_REGULAR, &p, 3, 10);
    OUT("kind_posix_memalign(REGULAR, 3, 10)", "rc=%s %s", errname(rc), P(p));
    rc = memtier_kind_posix_memalign(MEMKIND_REGULAR, &p, 256, 10);
    OUT("kind_posix_memalign(REGULAR, 256, 10)", "rc=%s %s aligned=%d", errname(rc), P(p), ((uintptr_t)p & 255) == 0);
    memtier_kind_free(MEMKIND_REGULAR, p);

    /* memtier_kind_allocated_size counts usable bytes, through the memtier calls only. */
    size_t base = memtier_kind_allocated_size(MEMKIND_REGULAR);
    enum { N = 100 };
    void *ps[N];
    for (int i = 0; i < N; i++) ps[i] = memtier_kind_malloc(MEMKIND_REGULAR, 1000);
    size_t grown = memtier_kind_allocated_size(MEMKIND_REGULAR) - base;
    OUT("allocated_size after 100 x kind_malloc(REGULAR, 1000)", "+%zu", grown);
    void *plain = memkind_malloc(MEMKIND_REGULAR, 1 << 20);
    OUT("allocated_size ignores memkind_malloc", "%d", memtier_kind_allocated_size(MEMKIND_REGULAR) - base == grown);
    memkind_free(MEMKIND_REGULAR, plain);
    for (int i = 0; i < N; i++) memtier_kind_free(NULL, ps[i]);
    OUT("allocated_size after freeing them", "+%zd", (ssize_t)(memtier_kind_allocated_size(MEMKIND_REGULAR) - base));
    OUT("allocated_size(DEFAULT) back where it was", "%d", memtier_kind_allocated_size(MEMKIND_DEFAULT) == before);
    memtier_delete_memtier_memory(m);
}

/* STATIC_RATIO: bytes end up split near the ratio (measured on the live bytes of each kind). */
static void ratio_case(const char *dir, unsigned r0, unsigned r1)
{
    memkind_t pmem = NULL;
    if (memkind_create_pmem(dir, 0, &pmem)) return;
    struct memtier_builder *b = memtier_builder_new(MEMTIER_POLICY_STATIC_RATIO);
    memtier_builder_add_tier(b, MEMKIND_REGULAR, r0);
    memtier_builder_add_tier(b, pmem, r1);
    struct memtier_memory *m = memtier_builder_construct_memtier_memory(b);
    memtier_builder_delete(b);
    size_t a0 = memtier_kind_allocated_size(MEMKIND_REGULAR);
    enum { N = 20000 };
    static void *ps[N];
    for (int i = 0; i < N; i++) ps[i] = memtier_malloc(m, 64 + (size_t)(i * 37) % 4000);
    size_t b0 = memtier_kind_allocated_size(MEMKIND_REGULAR) - a0;
    size_t b1 = memtier_kind_allocated_size(pmem);
    double want = (double)r1 / r0, got = (double)b1 / (double)b0;
    char what[64];
    snprintf(what, sizeof what, "static %u:%u: byte ratio within 5%%", r0, r1);
    OUT(what, "%d", got > want * 0.95 && got < want * 1.05);
    INFO(what, "got %.3f want %.3f", got, want);
    for (int i = 0; i < N; i++) memtier_free(ps[i]);
    memtier_delete_memtier_memory(m);
    memkind_destroy_kind(pmem);
}

/* DYNAMIC_THRESHOLD: with sizes spread over 1..2048 and a 1:1 ratio, the threshold moves up
 * from 1024 and the live bytes end near 1:1. */
static void dynamic_case(void)
{
    struct memtier_builder *b = memtier_builder_new(MEMTIER_POLICY_DYNAMIC_THRESHOLD);
    memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1);
    memtier_builder_add_tier(b, MEMKIND_REGULAR, 1);
    size_t v = 4096;
    memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].max", &v);
    v = 64;
    memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].min", &v);
    v = 128;
    memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].val", &v);
    struct memtier_memory *m = memtier_builder_construct_memtier_memory(b);
    memtier_builder_delete(b);
    size_t a0 = memtier_kind_allocated_size(MEMKIND_DEFAULT), a1 = memtier_kind_allocated_size(MEMKIND_REGULAR);
    enum { N = 50000 };
    static void *ps[N];
    unsigned long long seed = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ps[i] = memtier_malloc(m, 1 + (size_t)(seed >> 11) % 2048);
    }
    double d0 = (double)(memtier_kind_allocated_size(MEMKIND_DEFAULT) - a0);
    double d1 = (double)(memtier_kind_allocated_size(MEMKIND_REGULAR) - a1);
    OUT("dynamic 1:1: byte ratio within 25%", "%d", d1 / d0 > 0.75 && d1 / d0 < 1.25);
    INFO("dynamic 1:1: byte ratio", "%.3f", d1 / d0);
    for (int i = 0; i < N; i++) memtier_free(ps[i]);
    memtier_delete_memtier_memory(m);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PMEM_DIR\n", argv[0]);
        return 2;
    }
    builder_cases(argv[1]);
    heap_cases();
    ratio_case(argv[1], 1, 1);
    ratio_case(argv[1], 1, 4);
    dynamic_case();
    return g_failures ? 1 : 0;
}
