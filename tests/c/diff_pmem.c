/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Differential: PMEM and FIXED kinds: creation arguments, the configuration API, a full kind
 * and reuse after free, capacity, destroy and recreate. Usage: diff_pmem PMEM_DIR.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "diff.h"
#include "observe.h"

#define MIB ((size_t)1 << 20)

static const char *g_dir;

static int create_null_dir(void)
{
    memkind_t k;
    return -memkind_create_pmem(NULL, 0, &k);
}
static int create_null_out(void)
{
    return -memkind_create_pmem(g_dir, 0, NULL);
}
static int create_cfg_null(void)
{
    memkind_t k;
    return -memkind_create_pmem_with_config(NULL, &k);
}
static int create_cfg_no_path(void)
{
    memkind_t k;
    struct memkind_config *c = memkind_config_new();
    return -memkind_create_pmem_with_config(c, &k);
}
static int dax_null(void)
{
    return -memkind_check_dax_path(NULL);
}

/* Fills a size-limited kind with `bs`-byte blocks until it says ENOMEM. */
static int fill_kind(memkind_t kind, size_t bs, void **blocks, int max, int *err)
{
    int n = 0;
    errno = 0;
    while (n < max) {
        void *p = memkind_malloc(kind, bs);
        if (!p) break;
        memset(p, n & 0xff, bs < 4096 ? bs : 4096);
        blocks[n++] = p;
    }
    *err = errno;
    return n;
}

static void full_kind_cases(const char *dir)
{
    memkind_t kind;
    int rc = memkind_create_pmem(dir, MEMKIND_PMEM_MIN_SIZE, &kind);
    OUT("full: create_pmem(dir,MIN_SIZE)", "%s", codename(rc));
    if (rc) return;
    OUT("full: get_capacity", "%zd", memkind_get_capacity(kind));

    enum { MAX = 400000 };
    static void *blocks[MAX];
    int err;
    /* 1 MiB blocks: jemalloc's metadata is in the file for memkind, in DRAM for us, so the exact
     * count may differ by a block or two; both must get most of the 16 MiB. */
    int n = fill_kind(kind, MIB, blocks, MAX, &err);
    OUT("full: 1MiB blocks until full", "errno=%s 11<=got<=16: %d", errname(err), n >= 11 && n <= 16);
    INFO("full: 1MiB blocks", "%d", n);
    errno = 0;
    void *p = memkind_calloc(kind, 1, MIB);
    OUT("full: calloc when full", "%s errno=%s", p ? "ptr" : "NULL", errname(errno));
    void *q = (void *)0x1;
    rc = memkind_posix_memalign(kind, &q, 4096, MIB);
    OUT("full: posix_memalign when full", "rc=%s memptr=%s", errname(rc), q ? "ptr" : "NULL");
    memset(blocks[0], 0x5a, 4096);
    errno = 0;
    p = memkind_realloc(kind, blocks[0], 8 * MIB);
    OUT("full: realloc grow when full", "%s errno=%s old-intact=%d", p ? "ptr" : "NULL", errname(errno),
        ((unsigned char *)blocks[0])[4095] == 0x5a);
    /* Reuse after free. */
    memkind_free(kind, blocks[n - 1]);
    blocks[n - 1] = memkind_malloc(kind, MIB);
    OUT("full: malloc after one free", "%s", blocks[n - 1] ? "ptr" : "NULL");
    for (int i = 0; i < n; i++) memkind_free(kind, blocks[i]);
    int n2 = fill_kind(kind, MIB, blocks, MAX, &err);
    OUT("full: refill after freeing all", "errno=%s same-count=%d", errname(err), n2 >= n - 1 && n2 <= n + 1);
    for (int i = 0; i < n2; i++) memkind_free(NULL, blocks[i]);
    /* Small blocks fill it too, and serve again after frees. */
    int ns = fill_kind(kind, 100, blocks, MAX, &err);
    /* 100 bytes take 112: at most 149796 fit in 16 MiB; memkind, whose file also holds jemalloc's
     * metadata and retained extents, gets about 55000. */
    OUT("full: 100-byte blocks until full", "errno=%s 50000<got<=149796: %d", errname(err), ns > 50000 && ns <= 149796);
    INFO("full: 100-byte blocks", "%d", ns);
    for (int i = 0; i < ns; i += 2) memkind_free(kind, blocks[i]);
    int ok = 1;
    for (int i = 0; i < ns; i += 2)
        if (!(blocks[i] = memkind_malloc(kind, 100))) ok = 0;
    OUT("full: 100-byte blocks after freeing half", "all-served=%d", ok);
    for (int i = 0; i < ns; i++) memkind_free(kind, blocks[i]);
    OUT("full: destroy", "%s", codename(memkind_destroy_kind(kind)));
}

static void fixed_cases(void)
{
    size_t size = 32 * MIB;
    unsigned char *region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) exit(3);
    memset(region, 0xaa, size);
    memkind_t kind;
    int rc = memkind_create_fixed(region, size, &kind);
    OUT("fixed: create_fixed(32MiB)", "%s", codename(rc));
    if (rc) return;
    OUT("fixed: get_capacity", "%zd", memkind_get_capacity(kind));
    OUT("fixed: check_available", "%s", codename(memkind_check_available(kind)));
    /* memkind hands out the region's old bytes from calloc (a bug we fix). */
    unsigned char *c = memkind_calloc(kind, 1, 100000);
    OUT("fixed: calloc(1,100000)", "%s in-region=%d", c ? "ptr" : "NULL", c >= region && c < region + size);
    INFO("fixed: calloc zeroed", "%d", c && all_zero(c, 100000));
    if (OURS) CHECK(c && all_zero(c, 100000));
    memkind_free(kind, c);
    void *p = memkind_malloc(kind, 1000);
    OUT("fixed: malloc in region", "%d detect-is-kind=%d", (unsigned char *)p >= region && (unsigned char *)p < region + size,
        memkind_detect_kind(p) == kind);
    memkind_free(kind, p);
    enum { MAX = 1000 };
    static void *blocks[MAX];
    int err;
    int n = fill_kind(kind, MIB, blocks, MAX, &err);
    OUT("fixed: 1MiB blocks until full", "errno=%s 24<=got<=32: %d", errname(err), n >= 24 && n <= 32);
    INFO("fixed: 1MiB blocks", "%d", n);
    int inside = 1;
    for (int i = 0; i < n; i++)
        if ((unsigned char *)blocks[i] < region || (unsigned char *)blocks[i] + MIB > region + size) inside = 0;
    OUT("fixed: all blocks inside the region", "%d", inside);
    memkind_free(kind, blocks[0]);
    blocks[0] = memkind_malloc(kind, MIB);
    OUT("fixed: malloc after one free", "%s", blocks[0] ? "ptr" : "NULL");
    for (int i = 0; i < n; i++) memkind_free(kind, blocks[i]);
    int n2 = fill_kind(kind, MIB, blocks, MAX, &err);
    OUT("fixed: refill after freeing all", "errno=%s same-count=%d", errname(err), n2 == n);
    for (int i = 0; i < n2; i++) memkind_free(kind, blocks[i]);
    OUT("fixed: destroy", "%s", codename(memkind_destroy_kind(kind)));
    /* Recreate over the same region. */
    rc = memkind_create_fixed(region, size, &kind);
    p = rc ? NULL : memkind_malloc(kind, 4096);
    OUT("fixed: recreate over the same region", "%s malloc=%s", codename(rc), p ? "ptr" : "NULL");
    if (!rc) {
        memkind_free(kind, p);
        memkind_destroy_kind(kind);
    }
    munmap(region, size);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PMEM_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = g_dir = argv[1];
    memkind_t kind = NULL;
    int rc;
    char path[4096];

    /* Creation arguments. */
    snprintf(path, sizeof path, "%s/no/such/dir", dir);
    OUT("create_pmem(missing dir,0)", "%s", codename(memkind_create_pmem(path, 0, &kind)));
    snprintf(path, sizeof path, "%s/no-such-dir", dir);
    OUT("create_pmem(missing leaf dir,MIN)", "%s", codename(memkind_create_pmem(path, MEMKIND_PMEM_MIN_SIZE, &kind)));
    snprintf(path, sizeof path, "%s/regular-file", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    OUT("create_pmem(regular file,0)", "%s", codename(memkind_create_pmem(path, 0, &kind)));
    OUT("create_pmem(regular file,MIN)", "%s", codename(memkind_create_pmem(path, MEMKIND_PMEM_MIN_SIZE, &kind)));
    unlink(path);
    OUT("create_pmem(dir,1)", "%s", codename(memkind_create_pmem(dir, 1, &kind)));
    OUT("create_pmem(dir,MIN-1)", "%s", codename(memkind_create_pmem(dir, MEMKIND_PMEM_MIN_SIZE - 1, &kind)));
    OUT("create_pmem(dir,4096)", "%s", codename(memkind_create_pmem(dir, 4096, &kind)));
    /* memkind appends "/memkind.XXXXXX" to the directory, so "" makes its file in "/". */
    rc = memkind_create_pmem("", 0, &kind);
    INFO("create_pmem(\"\",0)", "%s", codename(rc));
    if (rc == 0) memkind_destroy_kind(kind);
    if (OURS) CHECK(rc == MEMKIND_ERROR_INVALID);
    /* NULL arguments crash memkind (SIGSEGV); ours answers INVALID. */
    const char *r = forked(create_null_dir);
    INFO("create_pmem(NULL,0)", "%s", r);
    if (OURS) CHECK(strcmp(r, "rc=13") == 0);
    r = forked(create_null_out);
    INFO("create_pmem(dir,0,NULL kind out)", "%s", r);
    if (OURS) CHECK(strcmp(r, "rc=13") == 0);
    r = forked(create_cfg_null);
    INFO("create_pmem_with_config(NULL cfg)", "%s", r);
    if (OURS) CHECK(strcmp(r, "rc=13") == 0);

    rc = memkind_create_pmem(dir, MEMKIND_PMEM_MIN_SIZE, &kind);
    OUT("create_pmem(dir,MIN)", "%s", codename(rc));
    OUT("directory entries with a live kind", "%d", dir_entries(dir));
    OUT("check_available(pmem)", "%s", codename(memkind_check_available(kind)));
    OUT("get_capacity(pmem MIN)", "%zd", memkind_get_capacity(kind));
    void *p = memkind_malloc(kind, 100);
    OUT("malloc(pmem,100)", "%s detect-is-kind=%d", p ? "ptr" : "NULL", memkind_detect_kind(p) == kind);
    OUT("destroy_kind(pmem) with a live block", "%s", codename(memkind_destroy_kind(kind)));

    rc = memkind_create_pmem(dir, 0, &kind);
    unsigned long long fs_size = fs_size_bytes(dir);
    ssize_t cap = memkind_get_capacity(kind);
    OUT("create_pmem(dir,0)", "%s", codename(rc));
    OUT("get_capacity(pmem unlimited) is the filesystem's size", "%d", cap == (ssize_t)fs_size);
    memkind_destroy_kind(kind);

    snprintf(path, sizeof path, "%s/", dir);
    rc = memkind_create_pmem(path, 0, &kind);
    OUT("create_pmem(dir/ with slash)", "%s", codename(rc));
    if (!rc) memkind_destroy_kind(kind);
    rc = memkind_create_pmem(dir, (size_t)1 << 50, &kind);
    OUT("create_pmem(dir,1PiB)", "%s", codename(rc));
    if (!rc) {
        p = memkind_malloc(kind, 10 * MIB);
        OUT("malloc(pmem 1PiB,10MiB)", "%s", p ? "ptr" : "NULL");
        OUT("get_capacity(pmem 1PiB)", "%zd", memkind_get_capacity(kind));
        memkind_free(kind, p);
        memkind_destroy_kind(kind);
    }

    /* Two PMEM kinds at once: each pointer knows its kind. */
    memkind_t k1, k2;
    int rc1 = memkind_create_pmem(dir, 0, &k1), rc2 = memkind_create_pmem(dir, 0, &k2);
    void *p1 = memkind_malloc(k1, 64), *p2 = memkind_malloc(k2, 64);
    OUT("two pmem kinds", "%s %s distinct=%d detect=%d,%d", codename(rc1), codename(rc2), k1 != k2,
        memkind_detect_kind(p1) == k1, memkind_detect_kind(p2) == k2);
    memkind_free(NULL, p1);
    memkind_free(NULL, p2);
    OUT("directory entries with two live kinds", "%d", dir_entries(dir));
    OUT("destroy both", "%s %s", codename(memkind_destroy_kind(k1)), codename(memkind_destroy_kind(k2)));

    /* The configuration API. */
    struct memkind_config *cfg = memkind_config_new();
    OUT("config_new", "%s", cfg ? "ptr" : "NULL");
    r = forked(create_cfg_no_path);
    INFO("create_pmem_with_config(no path set)", "%s", r);
    if (OURS) CHECK(strcmp(r, "rc=13") == 0);
    memkind_config_set_path(cfg, dir);
    memkind_config_set_size(cfg, 0);
    rc = memkind_create_pmem_with_config(cfg, &kind);
    OUT("with_config(dir,0,default policy)", "%s", codename(rc));
    if (!rc) {
        p = memkind_malloc(kind, 1000);
        OUT("with_config kind: malloc", "%s detect-is-kind=%d", p ? "ptr" : "NULL", memkind_detect_kind(p) == kind);
        memkind_free(kind, p);
        memkind_destroy_kind(kind);
    }
    memkind_config_set_size(cfg, MEMKIND_PMEM_MIN_SIZE - 1);
    OUT("with_config(size MIN-1)", "%s", codename(memkind_create_pmem_with_config(cfg, &kind)));
    memkind_config_set_size(cfg, 1);
    OUT("with_config(size 1)", "%s", codename(memkind_create_pmem_with_config(cfg, &kind)));
    memkind_config_set_size(cfg, 32 * MIB);
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE);
    rc = memkind_create_pmem_with_config(cfg, &kind);
    OUT("with_config(32MiB,CONSERVATIVE)", "%s", codename(rc));
    if (!rc) {
        OUT("with_config(32MiB,CONSERVATIVE) capacity", "%zd", memkind_get_capacity(kind));
        memkind_destroy_kind(kind);
    }
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_MAX_VALUE);
    rc = memkind_create_pmem_with_config(cfg, &kind);
    OUT("with_config(policy MAX_VALUE)", "%s", codename(rc));
    if (!rc) memkind_destroy_kind(kind);
    memkind_config_set_memory_usage_policy(cfg, (memkind_mem_usage_policy)-1);
    rc = memkind_create_pmem_with_config(cfg, &kind);
    OUT("with_config(policy -1)", "%s", codename(rc));
    if (!rc) memkind_destroy_kind(kind);
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_DEFAULT);
    snprintf(path, sizeof path, "%s/missing", dir);
    memkind_config_set_path(cfg, path);
    OUT("with_config(missing dir)", "%s", codename(memkind_create_pmem_with_config(cfg, &kind)));
    memkind_config_delete(cfg);
    OUT("config_delete", "ok");

    /* Destroy and recreate. */
    int all = 1;
    for (int i = 0; i < 20; i++) {
        if (memkind_create_pmem(dir, MEMKIND_PMEM_MIN_SIZE, &kind)) { all = 0; break; }
        void *b = memkind_malloc(kind, MIB);
        if (!b) all = 0;
        else memset(b, i, MIB);
        if (memkind_destroy_kind(kind)) all = 0;
    }
    OUT("create+malloc+destroy x20", "%d", all);

    full_kind_cases(dir);
    fixed_cases();

    OUT("check_dax_path(dir)", "%s", codename(memkind_check_dax_path(dir)));
    snprintf(path, sizeof path, "%s/missing", dir);
    OUT("check_dax_path(missing)", "%s", codename(memkind_check_dax_path(path)));
    snprintf(path, sizeof path, "%s/regular-file", dir);
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    OUT("check_dax_path(regular file)", "%s", codename(memkind_check_dax_path(path)));
    unlink(path);
    r = forked(dax_null);
    INFO("check_dax_path(NULL)", "%s", r);
    if (OURS) CHECK(strcmp(r, "rc=13") == 0);

    OUT("directory entries at the end", "%d", dir_entries(dir));
    return g_failures ? 1 : 0;
}
