/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Differential: hbwmalloc.h. The policy can be set once per process, so each scenario runs in
 * its own process: diff_hbw PMEM_DIR SCENARIO, where SCENARIO is default, bind, preferred,
 * interleave, bind_all, invalid_then_bind, get_then_set or malloc_then_set.
 */
#include <hbwmalloc.h>
#include <stdint.h>

#include "diff.h"

static const char *policy_name(int p)
{
    switch (p) {
        case HBW_POLICY_BIND: return "BIND";
        case HBW_POLICY_PREFERRED: return "PREFERRED";
        case HBW_POLICY_INTERLEAVE: return "INTERLEAVE";
        case HBW_POLICY_BIND_ALL: return "BIND_ALL";
        default: return "?";
    }
}

static void set(int mode)
{
    char what[64];
    snprintf(what, sizeof what, "hbw_set_policy(%d)", mode);
    OUT(what, "%s", errname(hbw_set_policy((hbw_policy_t)mode)));
}

static int g_first_scenario;

static int psize_out_of_range(void)
{
    void *p = NULL;
    return hbw_posix_memalign_psize(&p, 64, 4096, HBW_PAGESIZE_MAX_VALUE);
}

static void heap_calls(void)
{
    char what[96];
    void *p;
    int rc;

    OUT("hbw_get_policy", "%s", policy_name(hbw_get_policy()));
    OUT("hbw_check_available", "%s", errname(hbw_check_available()));

    errno = 0;
    p = hbw_malloc(100);
    OUT("hbw_malloc(100)", "%s errno=%s", p ? "ptr" : "NULL", errname(p ? 0 : errno));
    if (p) {
        fill(p, 100, 3);
        OUT("hbw_malloc_usable_size", "%zu", hbw_malloc_usable_size(p));
        /* memkind 1.14 tests each page's node against a nodemask_t on its stack that only
         * memkind_hbw_all_get_mbind_nodemask fills; without HBW nodes that call fails and leaves
         * the array as the stack held it, so for a present page memkind answers 0 or -1 by
         * whatever bit earlier calls left there (valgrind: "depends on uninitialised value").
         * Then shown, not compared; ours gives the documented -1 (no byte is in HBW memory). */
        int hbw = hbw_check_available() == 0;
        rc = hbw_verify_memory_region(p, 100, 0);
        if (hbw) {
            OUT("hbw_verify_memory_region(block,100,0)", "%d", rc);
        } else {
            INFO("hbw_verify_memory_region(block,100,0) without HBW nodes", "%d", rc);
            if (OURS) CHECK(rc == -1);
        }
        rc = hbw_verify_memory_region(p, 100, HBW_TOUCH_PAGES);
        if (hbw) {
            OUT("hbw_verify_memory_region(block,100,TOUCH)", "%d", rc);
        } else {
            INFO("hbw_verify_memory_region(block,100,TOUCH) without HBW nodes", "%d", rc);
            if (OURS) CHECK(rc == -1);
        }
        void *q = hbw_realloc(p, 100000);
        OUT("hbw_realloc grow", "%s kept=%d", q ? "ptr" : "NULL", q && same(q, 100, 3));
        if (q) p = q;
        hbw_free(p);
    }
    errno = 0;
    p = hbw_malloc(0);
    OUT("hbw_malloc(0)", "%s", p ? "ptr" : "NULL");
    hbw_free(p);
    errno = 0;
    p = hbw_malloc(SIZE_MAX);
    OUT("hbw_malloc(SIZE_MAX)", "%s errno=%s", p ? "ptr" : "NULL", errname(p ? 0 : errno));
    errno = 0;
    p = hbw_calloc(10, 100);
    OUT("hbw_calloc(10,100)", "%s zeroed=%d errno=%s", p ? "ptr" : "NULL", p && all_zero(p, 1000), errname(p ? 0 : errno));
    hbw_free(p);
    errno = 0;
    p = hbw_calloc(SIZE_MAX / 2 + 1, 2);
    OUT("hbw_calloc overflow", "%s", p ? "ptr" : "NULL");
    errno = 0;
    p = hbw_realloc(NULL, 64);
    OUT("hbw_realloc(NULL,64)", "%s errno=%s", p ? "ptr" : "NULL", errname(p ? 0 : errno));
    p = hbw_realloc(p, 0);
    OUT("hbw_realloc(p,0)", "%s", p ? "ptr" : "NULL");
    hbw_free(NULL);
    OUT("hbw_free(NULL)", "ok");
    OUT("hbw_malloc_usable_size(NULL)", "%zu", hbw_malloc_usable_size(NULL));

    static const size_t aligns[] = {0, 3, 4, 24, 8, 64, 4096, 1 << 21};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        p = (void *)0x1234;
        rc = hbw_posix_memalign(&p, aligns[i], 100);
        snprintf(what, sizeof what, "hbw_posix_memalign(align=%zu,100)", aligns[i]);
        OUT(what, "rc=%s memptr=%s aligned=%d", errname(rc), p == (void *)0x1234 ? "untouched" : p ? "ptr" : "NULL",
            rc == 0 && p && ((uintptr_t)p & (aligns[i] - 1)) == 0);
        if (rc == 0) hbw_free(p);
    }
    p = (void *)0x1234;
    rc = hbw_posix_memalign(&p, 64, 0);
    OUT("hbw_posix_memalign(64,0)", "rc=%s memptr=%s", errname(rc), p == (void *)0x1234 ? "untouched" : p ? "ptr" : "NULL");
    if (rc == 0 && p) hbw_free(p);

    static const int psizes[] = {HBW_PAGESIZE_4KB, HBW_PAGESIZE_2MB, HBW_PAGESIZE_1GB_STRICT, HBW_PAGESIZE_1GB, 0};
    static const size_t psize_aligns[] = {64, 3};
    for (size_t a = 0; a < 2; a++)
        for (size_t i = 0; i < sizeof psizes / sizeof psizes[0]; i++) {
            p = (void *)0x1234;
            errno = 0;
            rc = hbw_posix_memalign_psize(&p, psize_aligns[a], 1 << 20, (hbw_pagesize_t)psizes[i]);
            snprintf(what, sizeof what, "hbw_posix_memalign_psize(align=%zu,1MiB,pagesize=%d)", psize_aligns[a], psizes[i]);
            OUT(what, "rc=%s memptr=%s", errname(rc), p == (void *)0x1234 ? "untouched" : p ? "ptr" : "NULL");
            if (rc == 0 && p) hbw_free(p);
        }

    /* A page size past the enum: memkind indexes its table with it (SIGSEGV); ours is EINVAL. */
    if (g_first_scenario) {
        const char *r = forked(psize_out_of_range);
        INFO("hbw_posix_memalign_psize(pagesize=HBW_PAGESIZE_MAX_VALUE)", "%s", r);
        if (OURS) CHECK(strcmp(r, "rc=22") == 0);
    }

    /* Page-aligned and never written, so its pages are not present: move_pages reports a
     * negative status and memkind answers -1 before reading its nodemask (see above). */
    static char stack_buf[8192] __attribute__((aligned(4096)));
    OUT("hbw_verify_memory_region(NULL,100,0)", "%s", errname(hbw_verify_memory_region(NULL, 100, 0)));
    OUT("hbw_verify_memory_region(buf,0,0)", "%s", errname(hbw_verify_memory_region(stack_buf, 0, 0)));
    OUT("hbw_verify_memory_region(buf,100,flags=2)", "%s", errname(hbw_verify_memory_region(stack_buf, 100, 2)));
    int v = hbw_verify_memory_region(stack_buf, 100, 0);
    OUT("hbw_verify_memory_region(static buf,100,0)", "%s", v == -1 ? "-1" : errname(v));

    /* After all that, the policy is fixed. */
    OUT("hbw_set_policy(BIND) at the end", "%s", errname(hbw_set_policy(HBW_POLICY_BIND)));
    OUT("hbw_get_policy at the end", "%s", policy_name(hbw_get_policy()));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PMEM_DIR SCENARIO\n", argv[0]);
        return 2;
    }
    const char *s = argv[2];
    OUT("scenario", "%s", s);
    if (!strcmp(s, "default")) {
        g_first_scenario = 1;
    } else if (!strcmp(s, "bind")) {
        set(HBW_POLICY_BIND);
        set(HBW_POLICY_BIND);
        set(HBW_POLICY_PREFERRED);
    } else if (!strcmp(s, "preferred")) {
        set(HBW_POLICY_PREFERRED);
        set(HBW_POLICY_INTERLEAVE);
    } else if (!strcmp(s, "interleave")) {
        set(HBW_POLICY_INTERLEAVE);
        set(HBW_POLICY_BIND_ALL);
    } else if (!strcmp(s, "bind_all")) {
        set(HBW_POLICY_BIND_ALL);
        set(HBW_POLICY_BIND);
    } else if (!strcmp(s, "invalid_then_bind")) {
        set(0);
        set(5);
        set(-1);
        set(HBW_POLICY_BIND);
        set(HBW_POLICY_BIND);
    } else if (!strcmp(s, "get_then_set")) {
        OUT("hbw_get_policy first", "%s", policy_name(hbw_get_policy()));
        set(HBW_POLICY_BIND);
    } else if (!strcmp(s, "malloc_then_set")) {
        void *p = hbw_malloc(10);
        OUT("hbw_malloc first", "%s", p ? "ptr" : "NULL");
        hbw_free(p);
        set(HBW_POLICY_BIND);
    } else {
        fprintf(stderr, "unknown scenario %s\n", s);
        return 2;
    }
    heap_calls();
    return g_failures ? 1 : 0;
}
