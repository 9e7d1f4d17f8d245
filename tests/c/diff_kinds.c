/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Differential: the static kinds on this machine (availability, capacity, allocation, detect),
 * memkind_create_kind's table, partitions, error messages, version, FIXED arguments, statistics
 * and background threads. Usage: diff_kinds PMEM_DIR.
 */
#include <limits.h>
#include <sys/mman.h>

#include "diff.h"

#define K(name) {#name, &name}
static struct {
    const char *name;
    memkind_t *kind;
} kinds[] = {
    K(MEMKIND_DEFAULT), K(MEMKIND_REGULAR), K(MEMKIND_HUGETLB), K(MEMKIND_INTERLEAVE),
    K(MEMKIND_HBW), K(MEMKIND_HBW_ALL), K(MEMKIND_HBW_PREFERRED), K(MEMKIND_HBW_INTERLEAVE),
    K(MEMKIND_HBW_HUGETLB), K(MEMKIND_HBW_ALL_HUGETLB), K(MEMKIND_HBW_PREFERRED_HUGETLB),
    K(MEMKIND_DAX_KMEM), K(MEMKIND_DAX_KMEM_ALL), K(MEMKIND_DAX_KMEM_PREFERRED), K(MEMKIND_DAX_KMEM_INTERLEAVE),
    K(MEMKIND_HIGHEST_CAPACITY), K(MEMKIND_HIGHEST_CAPACITY_PREFERRED), K(MEMKIND_HIGHEST_CAPACITY_LOCAL),
    K(MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED), K(MEMKIND_LOWEST_LATENCY_LOCAL),
    K(MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED), K(MEMKIND_HIGHEST_BANDWIDTH_LOCAL),
    K(MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED), K(MEMKIND_GBTLB), K(MEMKIND_HBW_GBTLB),
    K(MEMKIND_HBW_PREFERRED_GBTLB),
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const char *kind_name(memkind_t k)
{
    if (!k) return "NULL";
    for (size_t i = 0; i < NKINDS; i++)
        if (*kinds[i].kind == k) return kinds[i].name;
    return "other";
}

/* One static kind's allocation, in a child (memkind may abort on a kind it cannot serve):
 * 0 = a block that detects as the kind, 1 = NULL with ENOMEM, 2 = NULL with another errno,
 * 3 = a block that detects as another kind. */
static memkind_t g_kind;
static int alloc_one(void)
{
    errno = 0;
    void *p = memkind_malloc(g_kind, 1000);
    if (!p) return errno == ENOMEM ? 1 : 2;
    memset(p, 1, 1000);
    int r = memkind_detect_kind(p) == g_kind ? 0 : 3;
    memkind_free(g_kind, p);
    return r;
}
static int alloc_large(void)
{
    errno = 0;
    void *p = memkind_malloc(g_kind, 3 << 20);
    if (!p) return errno == ENOMEM ? 1 : 2;
    memset(p, 1, 3 << 20);
    int r = memkind_detect_kind(p) == g_kind ? 0 : 3;
    memkind_free(NULL, p);
    return r;
}

/* A buffer's bytes, with the NULs and the untouched 'X's shown. */
static const char *bytes(const char *b, size_t n)
{
    static char out[1024];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < sizeof out; i++) {
        if (b[i] == 0) { out[o++] = '\\'; out[o++] = '0'; }
        else out[o++] = b[i];
    }
    out[o] = 0;
    return out;
}

static int fixed_null(void)
{
    memkind_t k;
    return -memkind_create_fixed(NULL, 1 << 20, &k);
}
static int fixed_zero(void)
{
    static char buf[4096];
    memkind_t k;
    return -memkind_create_fixed(buf, 0, &k);
}
static int fixed_page(void)
{
    static char buf[8192] __attribute__((aligned(4096)));
    memkind_t k;
    int rc = memkind_create_fixed(buf, 4096, &k);
    if (rc) return -rc;
    void *p = memkind_malloc(k, 16);
    return p ? 100 : 101;
}

static size_t g_cb_bytes;
static int g_cb_calls;
static char g_cb_first;
static void count_cb(void *opaque, const char *s)
{
    if (!g_cb_calls) g_cb_first = s[0];
    g_cb_calls++;
    g_cb_bytes += strlen(s);
    (*(int *)opaque)++;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PMEM_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char what[128];
    int rc;

    OUT("get_version", "%d", memkind_get_version());

    /* Error messages. */
    static const int codes[] = {0, -1, -2, -3, -4, -6, -12, -13, -15, -17, -18, -20, -21, -22, -23, -100, -255,
                                1, ENOMEM, EINVAL, 1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char msg[MEMKIND_ERROR_MESSAGE_SIZE];
        memset(msg, 'X', sizeof msg);
        memkind_error_message(codes[i], msg, sizeof msg);
        snprintf(what, sizeof what, "error_message(%d)", codes[i]);
        OUT(what, "\"%s\" terminated=%d", msg, memchr(msg, 0, sizeof msg) != NULL);
    }
    static const size_t small[] = {1, 2, 5, 10, 11, 40};
    static const int small_codes[] = {MEMKIND_ERROR_INVALID, MEMKIND_ERROR_TOOMANY, -77};
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
            char msg[64];
            memset(msg, 'X', sizeof msg);
            memkind_error_message(small_codes[c], msg, small[i]);
            snprintf(what, sizeof what, "error_message(%d) into %zu bytes", small_codes[c], small[i]);
            OUT(what, "[%s] after=[%s]", bytes(msg, small[i]), bytes(msg + small[i], 4));
        }
    {
        char msg[MEMKIND_ERROR_MESSAGE_SIZE];
        memset(msg, 'X', sizeof msg);
        memkind_error_message(MEMKIND_ERROR_INVALID, msg, sizeof msg);
        OUT("error_message(-13) bytes after the text", "%s", all_zero(msg + strlen(msg), sizeof msg - strlen(msg)) ? "zero" : "not zero");
        memset(msg, 'X', sizeof msg);
        memkind_error_message(-77, msg, sizeof msg);
        OUT("error_message(-77) byte after the NUL", "%c", msg[strlen(msg) + 1]);
        memkind_error_message(MEMKIND_ERROR_INVALID, NULL, 0);
        memkind_error_message(-77, NULL, 0);
        OUT("error_message(.., NULL, 0)", "ok");
    }

    /* The static kinds on this machine. */
    for (size_t i = 0; i < NKINDS; i++) {
        memkind_t k = *kinds[i].kind;
        snprintf(what, sizeof what, "check_available(%s)", kinds[i].name);
        OUT(what, "%s", codename(memkind_check_available(k)));
    }
    for (size_t i = 0; i < NKINDS; i++) {
        memkind_t k = *kinds[i].kind;
        snprintf(what, sizeof what, "get_capacity(%s)", kinds[i].name);
        OUT(what, "%zd", memkind_get_capacity(k));
    }
    for (size_t i = 0; i < NKINDS; i++) {
        g_kind = *kinds[i].kind;
        snprintf(what, sizeof what, "malloc(%s,1000)", kinds[i].name);
        OUT(what, "%s", forked(alloc_one));
        snprintf(what, sizeof what, "malloc(%s,3MiB)", kinds[i].name);
        OUT(what, "%s", forked(alloc_large));
    }

    /* Partitions. */
    for (int part = -1; part <= 28; part++) {
        memkind_t k = (memkind_t)0x1;
        rc = memkind_get_kind_by_partition(part, &k);
        snprintf(what, sizeof what, "get_kind_by_partition(%d)", part);
        OUT(what, "%s %s", codename(rc), k == (memkind_t)0x1 ? "untouched" : kind_name(k));
    }
    memkind_t pmem;
    rc = memkind_create_pmem(dir, 0, &pmem);
    OUT("create_pmem for partitions", "%s", codename(rc));
    int found = -1;
    for (int part = 0; part < MEMKIND_MAX_KIND; part++) {
        memkind_t k = NULL;
        if (memkind_get_kind_by_partition(part, &k) == 0 && k == pmem) found = part;
    }
    OUT("get_kind_by_partition finds a PMEM kind", "%d", found >= 0);
    memkind_destroy_kind(pmem);

    /* memkind_create_kind: every combination of memtype, policy and flags. */
    static const int memtypes[] = {0, MEMKIND_MEMTYPE_DEFAULT, MEMKIND_MEMTYPE_HIGH_BANDWIDTH,
                                   MEMKIND_MEMTYPE_DEFAULT | MEMKIND_MEMTYPE_HIGH_BANDWIDTH, 4, 5};
    static const int policies[] = {-1, MEMKIND_POLICY_BIND_LOCAL, MEMKIND_POLICY_BIND_ALL, MEMKIND_POLICY_PREFERRED_LOCAL,
                                   MEMKIND_POLICY_INTERLEAVE_LOCAL, MEMKIND_POLICY_INTERLEAVE_ALL, MEMKIND_POLICY_MAX_VALUE};
    static const unsigned long long flagses[] = {0, MEMKIND_MASK_PAGE_SIZE_2MB, 1, 22, 30};
    int n_create = 0;
    for (size_t m = 0; m < sizeof memtypes / sizeof memtypes[0]; m++)
        for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++)
            for (size_t f = 0; f < sizeof flagses / sizeof flagses[0]; f++) {
                memkind_t k = (memkind_t)0x1;
                rc = memkind_create_kind((memkind_memtype_t)memtypes[m], (memkind_policy_t)policies[p],
                                         (memkind_bits_t)flagses[f], &k);
                snprintf(what, sizeof what, "create_kind(memtype=%d,policy=%d,flags=%llu)", memtypes[m], policies[p], flagses[f]);
                OUT(what, "%s %s", codename(rc), k == (memkind_t)0x1 ? "untouched" : kind_name(k));
                n_create++;
            }
    OUT("create_kind(DEFAULT,PREFERRED_LOCAL,0,NULL)", "%s",
        codename(memkind_create_kind(MEMKIND_MEMTYPE_DEFAULT, MEMKIND_POLICY_PREFERRED_LOCAL, 0, NULL)));

    /* FIXED arguments. */
    /* memkind accepts a NULL address and a size of 0, and the kind serves nothing. */
    OUT("create_fixed(NULL,1MiB) in a child", "%s", forked(fixed_null));
    OUT("create_fixed(buf,0) in a child", "%s", forked(fixed_zero));
    {
        static char zbuf[1 << 20];
        void *addrs[] = {NULL, zbuf, zbuf + 1};
        size_t sizes[] = {1 << 20, 0, 4095};
        const char *names[] = {"create_fixed(NULL,1MiB)", "create_fixed(buf,0)", "create_fixed(buf+1,4095)"};
        for (int i = 0; i < 3; i++) {
            memkind_t fk = (memkind_t)0x1;
            rc = memkind_create_fixed(addrs[i], sizes[i], &fk);
            errno = 0;
            void *fp = rc ? NULL : memkind_malloc(fk, 16);
            int e = errno;
            ssize_t cap = rc ? -2 : memkind_get_capacity(fk);
            int drc = rc ? 1 : memkind_destroy_kind(fk);
            OUT(names[i], "%s malloc=%s errno=%s capacity=%zd destroy=%s", codename(rc), fp ? "ptr" : "NULL", errname(e),
                cap, rc ? "-" : codename(drc));
        }
    }
    const char *r = forked(fixed_page);
    OUT("create_fixed(buf,4096) then malloc(16)", "%s", r);

    /* Statistics. */
    memkind_t k2;
    rc = memkind_create_pmem(dir, 0, &k2);
    void *big = memkind_malloc(k2, 8 << 20);
    void *small_blocks[1000];
    for (int i = 0; i < 1000; i++) small_blocks[i] = memkind_malloc(k2, 100);
    memset(big, 1, 8 << 20);
    OUT("update_cached_stats", "%s", codename(memkind_update_cached_stats()));
    static const char *stat_names[] = {"RESIDENT", "ACTIVE", "ALLOCATED"};
    for (int s = 0; s < MEMKIND_STAT_TYPE_MAX_VALUE; s++) {
        size_t v = 0;
        snprintf(what, sizeof what, "get_stat(pmem,%s)", stat_names[s]);
        rc = memkind_get_stat(k2, (memkind_stat_type)s, &v);
        OUT(what, "%s >=8MiB=%d", codename(rc), v >= (8u << 20));
        v = 0;
        snprintf(what, sizeof what, "get_stat(NULL,%s)", stat_names[s]);
        rc = memkind_get_stat(NULL, (memkind_stat_type)s, &v);
        OUT(what, "%s >=8MiB=%d", codename(rc), v >= (8u << 20));
        v = 0;
        snprintf(what, sizeof what, "get_stat(DEFAULT,%s)", stat_names[s]);
        rc = memkind_get_stat(MEMKIND_DEFAULT, (memkind_stat_type)s, &v);
        OUT(what, "%s", codename(rc));
        snprintf(what, sizeof what, "get_stat(REGULAR,%s)", stat_names[s]);
        rc = memkind_get_stat(MEMKIND_REGULAR, (memkind_stat_type)s, &v);
        OUT(what, "%s", codename(rc));
    }
    {
        size_t v = 12345;
        OUT("get_stat(pmem,MAX_VALUE)", "%s value-untouched=%d",
            codename(memkind_get_stat(k2, MEMKIND_STAT_TYPE_MAX_VALUE, &v)), v == 12345);
        OUT("get_stat(NULL,MAX_VALUE)", "%s", codename(memkind_get_stat(NULL, MEMKIND_STAT_TYPE_MAX_VALUE, &v)));
        OUT("get_stat(pmem,-1)", "%s", codename(memkind_get_stat(k2, (memkind_stat_type)-1, &v)));
        OUT("get_stat(pmem,100)", "%s", codename(memkind_get_stat(k2, (memkind_stat_type)100, &v)));
        size_t a1 = 0, a2 = 0;
        memkind_update_cached_stats();
        memkind_get_stat(k2, MEMKIND_STAT_TYPE_ALLOCATED, &a1);
        memkind_free(k2, big);
        for (int i = 0; i < 1000; i++) memkind_free(k2, small_blocks[i]);
        memkind_get_stat(k2, MEMKIND_STAT_TYPE_ALLOCATED, &a2);
        OUT("get_stat is cached until update", "%d", a1 == a2);
        memkind_update_cached_stats();
        memkind_get_stat(k2, MEMKIND_STAT_TYPE_ALLOCATED, &a2);
        OUT("ALLOCATED drops by >=8MiB after frees and update", "%d", a1 >= a2 + (8u << 20));
    }
    memkind_destroy_kind(k2);

    /* Exact figures for a PMEM kind, through allocations, frees and defragmentation. */
    {
        memkind_t k3;
        memkind_create_pmem(dir, 0, &k3);
        static void *b[2000];
        size_t v[5];
        memkind_update_cached_stats();
        memkind_get_stat(k3, MEMKIND_STAT_TYPE_ALLOCATED, &v[0]);
        for (int i = 0; i < 2000; i++) b[i] = memkind_malloc(k3, 64 + (i % 3) * 100);
        memkind_update_cached_stats();
        memkind_get_stat(k3, MEMKIND_STAT_TYPE_ALLOCATED, &v[1]);
        for (int i = 0; i < 2000; i += 2) memkind_free(k3, b[i]);
        memkind_update_cached_stats();
        memkind_get_stat(k3, MEMKIND_STAT_TYPE_ALLOCATED, &v[2]);
        for (int i = 1; i < 2000; i += 2) {
            void *q = memkind_defrag_reallocate(k3, b[i]);
            if (q) b[i] = q;
        }
        memkind_update_cached_stats();
        memkind_get_stat(k3, MEMKIND_STAT_TYPE_ALLOCATED, &v[3]);
        for (int i = 1; i < 2000; i += 2) memkind_free(NULL, b[i]);
        memkind_update_cached_stats();
        memkind_get_stat(k3, MEMKIND_STAT_TYPE_ALLOCATED, &v[4]);
        OUT("get_stat(pmem,ALLOCATED) empty, 2000 blocks, half freed, defragmented, none", "%zu %zu %zu %zu %zu", v[0], v[1],
            v[2], v[3], v[4]);
        memkind_destroy_kind(k3);
    }

    static const int opts[] = {MEMKIND_STAT_PRINT_ALL,
                               MEMKIND_STAT_PRINT_JSON_FORMAT,
                               MEMKIND_STAT_PRINT_OMIT_GENERAL | MEMKIND_STAT_PRINT_OMIT_PER_ARENA,
                               MEMKIND_STAT_PRINT_JSON_FORMAT | MEMKIND_STAT_PRINT_OMIT_MERGED_ARENA |
                                   MEMKIND_STAT_PRINT_OMIT_DESTROYED_MERGED_ARENA | MEMKIND_STAT_PRINT_OMIT_PER_ARENA,
                               MEMKIND_STAT_PRINT_OMIT_PER_SIZE_CLASS_BINS | MEMKIND_STAT_PRINT_OMIT_PER_SIZE_CLASS_LARGE |
                                   MEMKIND_STAT_PRINT_OMIT_MUTEX | MEMKIND_STAT_PRINT_OMIT_EXTENT,
                               511, 512, 1024, -1};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        int calls = 0;
        g_cb_calls = 0;
        g_cb_bytes = 0;
        g_cb_first = 0;
        rc = memkind_stats_print(count_cb, &calls, (memkind_stat_print_opt)opts[i]);
        snprintf(what, sizeof what, "stats_print(cb,opts=%d)", opts[i]);
        OUT(what, "%s wrote=%d opaque-passed=%d json=%d", codename(rc), g_cb_bytes > 0, calls == g_cb_calls,
            g_cb_first == '{');
    }

    /* Background threads. */
    OUT("set_bg_threads(true)", "%s", codename(memkind_set_bg_threads(true)));
    OUT("set_bg_threads(true) again", "%s", codename(memkind_set_bg_threads(true)));
    void *p = memkind_malloc(MEMKIND_REGULAR, 1000);
    OUT("malloc with bg threads", "%s", p ? "ptr" : "NULL");
    memkind_free(NULL, p);
    OUT("set_bg_threads(false)", "%s", codename(memkind_set_bg_threads(false)));

    /* detect_kind over several kinds at once. */
    memkind_t pk;
    memkind_create_pmem(dir, 0, &pk);
    memkind_t ks[] = {MEMKIND_DEFAULT, MEMKIND_REGULAR, MEMKIND_INTERLEAVE, MEMKIND_HIGHEST_CAPACITY, pk};
    const char *kn[] = {"DEFAULT", "REGULAR", "INTERLEAVE", "HIGHEST_CAPACITY", "PMEM"};
    for (size_t i = 0; i < 5; i++) {
        void *a = memkind_malloc(ks[i], 100), *b = memkind_malloc(ks[i], 1 << 20);
        snprintf(what, sizeof what, "detect_kind(%s small, large)", kn[i]);
        OUT(what, "%d %d", memkind_detect_kind(a) == ks[i], memkind_detect_kind(b) == ks[i]);
        snprintf(what, sizeof what, "usable_size(NULL kind, %s small, large)", kn[i]);
        OUT(what, "%zu %zu", memkind_malloc_usable_size(NULL, a), memkind_malloc_usable_size(NULL, b));
        memkind_free(NULL, a);
        memkind_free(NULL, b);
    }
    memkind_destroy_kind(pk);
    return g_failures ? 1 : 0;
}
