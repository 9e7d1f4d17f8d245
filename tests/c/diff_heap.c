/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Differential: the heap calls' edge cases, on DEFAULT, REGULAR, a limited and an unlimited PMEM
 * kind and a FIXED kind. Usage: diff_heap PMEM_DIR. Prints one line per case.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "diff.h"

#define TIB (1ull << 40)

static char name_buf[128];
static const char *N(const char *label, const char *what)
{
    snprintf(name_buf, sizeof name_buf, "%s %s", label, what);
    return name_buf;
}

static void heap_cases(const char *L, memkind_t kind)
{
    void *p, *q;
    int rc;

    errno = 0;
    p = memkind_malloc(kind, 0);
    OUT(N(L, "malloc(0)"), "%s", p ? "ptr" : "NULL");
    memkind_free(kind, p);

    errno = 0;
    p = memkind_malloc(kind, SIZE_MAX);
    OUT(N(L, "malloc(SIZE_MAX)"), "%s errno=%s", p ? "ptr" : "NULL", errname(errno));

    errno = 0;
    p = memkind_malloc(kind, (size_t)PTRDIFF_MAX + 1);
    OUT(N(L, "malloc(PTRDIFF_MAX+1)"), "%s errno=%s", p ? "ptr" : "NULL", errname(errno));

    /* Small size classes agree (both are jemalloc with 8-byte quantum spacing). */
    static const size_t sizes[] = {1, 8, 9, 16, 17, 24, 100, 1000, 4096, 5000, 14337, 65536};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "usable_size(malloc(%zu))", sizes[i]);
        p = memkind_malloc(kind, sizes[i]);
        if (p) fill(p, sizes[i], (unsigned)i);
        OUT(N(L, what), "%zu same-with-NULL-kind=%d", memkind_malloc_usable_size(kind, p),
            p && memkind_malloc_usable_size(NULL, p) == memkind_malloc_usable_size(kind, p));
        CHECK(!p || same(p, sizes[i], (unsigned)i));
        memkind_free(kind, p);
    }

    errno = 0;
    p = memkind_calloc(kind, 0, 8);
    q = memkind_calloc(kind, 8, 0);
    OUT(N(L, "calloc(0,8) calloc(8,0)"), "%s %s", p ? "ptr" : "NULL", q ? "ptr" : "NULL");
    memkind_free(kind, p);
    memkind_free(kind, q);

    /* Overflowing calloc. memkind's arena kinds (all but DEFAULT) multiply without checking:
     * (SIZE_MAX/2+1)*2 and 2^32*2^32 wrap to 0 (NULL, errno untouched), SIZE_MAX*SIZE_MAX wraps to
     * 1 and returns a 1-byte block. We check the product: NULL with ENOMEM, as DEFAULT does. */
    static const size_t ovf[][2] = {{SIZE_MAX / 2 + 1, 2}, {(size_t)1 << 32, (size_t)1 << 32}, {SIZE_MAX, SIZE_MAX}};
    for (size_t i = 0; i < 3; i++) {
        char what[80];
        snprintf(what, sizeof what, "calloc(%#zx,%#zx) overflow", ovf[i][0], ovf[i][1]);
        errno = 0;
        p = memkind_calloc(kind, ovf[i][0], ovf[i][1]);
        int e = errno;
        if (kind == MEMKIND_DEFAULT) {
            OUT(N(L, what), "%s errno=%s", p ? "ptr" : "NULL", errname(e));
        } else {
            if (i < 2) OUT(N(L, what), "%s", p ? "ptr" : "NULL");
            INFO(N(L, what), "%s errno=%s", p ? "ptr" : "NULL", errname(e));
            if (OURS) CHECK(p == NULL && e == ENOMEM);
        }
        if (p) memkind_free(kind, p);
    }

    p = memkind_calloc(kind, 1000, 8);
    OUT(N(L, "calloc(1000,8)"), "%s zeroed=%d", p ? "ptr" : "NULL", p && all_zero(p, 8000));
    memkind_free(kind, p);

    /* posix_memalign: invalid alignments leave *memptr untouched. */
    static const size_t bad_align[] = {0, 3, 4, 24, 100, (size_t)1 << 63 | 8};
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        char what[64];
        void *sentinel = (void *)0x1234;
        p = sentinel;
        snprintf(what, sizeof what, "posix_memalign(align=%#zx)", bad_align[i]);
        rc = memkind_posix_memalign(kind, &p, bad_align[i], 64);
        OUT(N(L, what), "rc=%s memptr=%s", errname(rc), p == sentinel ? "untouched" : p ? "ptr" : "NULL");
        if (p != sentinel && p) memkind_free(kind, p);
    }
    static const size_t good_align[] = {8, 16, 64, 4096, 1 << 21};
    for (size_t i = 0; i < sizeof good_align / sizeof good_align[0]; i++) {
        char what[64];
        p = NULL;
        snprintf(what, sizeof what, "posix_memalign(align=%zu,size=100)", good_align[i]);
        rc = memkind_posix_memalign(kind, &p, good_align[i], 100);
        OUT(N(L, what), "rc=%s %s aligned=%d", errname(rc), p ? "ptr" : "NULL",
            ((uintptr_t)p & (good_align[i] - 1)) == 0);
        memkind_free(kind, p);
    }
    /* A 1 TiB alignment: address space is reserved, not used. memkind's PMEM kinds return a
     * block that is not so aligned (their extent hook ignores the alignment), and its REGULAR
     * kind fails with ENOMEM (its hook maps without MAP_NORESERVE); we compare the return code
     * where memkind succeeds, and require an aligned block from ours. */
    p = NULL;
    rc = memkind_posix_memalign(kind, &p, TIB, 1);
    int tib_aligned = p && ((uintptr_t)p & (TIB - 1)) == 0;
    if (kind == MEMKIND_DEFAULT || kind == MEMKIND_REGULAR || strncmp(L, "FIXED", 5) == 0) {
        if (kind == MEMKIND_REGULAR) INFO(N(L, "posix_memalign(align=1TiB,size=1)"), "rc=%s aligned=%d", errname(rc), tib_aligned);
        else OUT(N(L, "posix_memalign(align=1TiB,size=1)"), "rc=%s aligned=%d", errname(rc), tib_aligned);
        if (OURS && kind == MEMKIND_REGULAR) CHECK(rc == 0 && tib_aligned);
    } else {
        OUT(N(L, "posix_memalign(align=1TiB,size=1)"), "rc=%s %s", errname(rc), p ? "ptr" : "NULL");
        INFO(N(L, "posix_memalign(align=1TiB,size=1) alignment"), "aligned=%d", tib_aligned);
        if (OURS) CHECK(tib_aligned);
    }
    if (p) {
        *(volatile char *)p = 1;
        memkind_free(kind, p);
    }
    p = (void *)0x1234;
    rc = memkind_posix_memalign(kind, &p, 64, 0);
    OUT(N(L, "posix_memalign(align=64,size=0)"), "rc=%s memptr=%s", errname(rc),
        p == NULL ? "NULL" : p == (void *)0x1234 ? "untouched" : "ptr");
    memkind_free(kind, p == (void *)0x1234 ? NULL : p);
    p = NULL;
    rc = memkind_posix_memalign(kind, &p, 64, SIZE_MAX);
    OUT(N(L, "posix_memalign(align=64,size=SIZE_MAX)"), "rc=%s %s", errname(rc), p ? "ptr" : "NULL");

    /* realloc. */
    errno = 0;
    p = memkind_realloc(kind, NULL, 100);
    OUT(N(L, "realloc(kind,NULL,100)"), "%s detect-is-kind=%d", p ? "ptr" : "NULL", memkind_detect_kind(p) == kind);
    if (p) fill(p, 100, 7);
    q = memkind_realloc(kind, p, 100000);
    OUT(N(L, "realloc grow 100->100000"), "%s contents-kept=%d detect-is-kind=%d", q ? "ptr" : "NULL",
        q && same(q, 100, 7), memkind_detect_kind(q) == kind);
    if (q) fill(q, 100000, 9);
    p = memkind_realloc(NULL, q, 200000);
    OUT(N(L, "realloc(NULL kind) grow 100000->200000"), "%s contents-kept=%d detect-is-kind=%d", p ? "ptr" : "NULL",
        p && same(p, 100000, 9), memkind_detect_kind(p) == kind);
    q = memkind_realloc(kind, p, 50);
    OUT(N(L, "realloc shrink 200000->50"), "%s contents-kept=%d", q ? "ptr" : "NULL", q && same(q, 50, 9));
    errno = 0;
    p = memkind_realloc(kind, q, SIZE_MAX);
    OUT(N(L, "realloc(p,SIZE_MAX)"), "%s errno=%s old-intact=%d", p ? "ptr" : "NULL", errname(errno),
        same(q, 50, 9));
    errno = 0;
    p = memkind_realloc(kind, q, (size_t)PTRDIFF_MAX + 1);
    OUT(N(L, "realloc(p,PTRDIFF_MAX+1)"), "%s errno=%s old-intact=%d", p ? "ptr" : "NULL", errname(errno),
        same(q, 50, 9));
    errno = 0;
    p = memkind_realloc(kind, q, 0);
    OUT(N(L, "realloc(kind,p,0)"), "%s", p ? "ptr" : "NULL");
    q = memkind_malloc(kind, 64);
    errno = 0;
    p = memkind_realloc(NULL, q, 0);
    OUT(N(L, "realloc(NULL,p,0)"), "%s", p ? "ptr" : "NULL");

    /* usable size, free and detect with NULLs. */
    OUT(N(L, "malloc_usable_size(kind,NULL)"), "%zu", memkind_malloc_usable_size(kind, NULL));
    memkind_free(kind, NULL);
    OUT(N(L, "free(kind,NULL)"), "ok");
    OUT(N(L, "defrag_reallocate(kind,NULL)"), "%s", memkind_defrag_reallocate(kind, NULL) ? "ptr" : "NULL");
    p = memkind_malloc(kind, 4000);
    OUT(N(L, "detect_kind(malloc)"), "%s", memkind_detect_kind(p) == kind ? "kind" : "other");
    memkind_free(NULL, p);
    OUT(N(L, "free(NULL,p)"), "ok");

    /* errno is left alone by successful calls. */
    errno = 4321;
    p = memkind_malloc(kind, 64);
    q = memkind_calloc(kind, 2, 64);
    p = memkind_realloc(kind, p, 1000);
    memkind_free(kind, p);
    memkind_free(kind, q);
    OUT(N(L, "errno after successful calls"), "%s", errno == 4321 ? "untouched" : errname(errno));

    /* Many live blocks of mixed sizes, freed out of order, all intact. */
    enum { M = 2000 };
    static void *blocks[M];
    int ok = 1;
    for (int i = 0; i < M; i++) {
        size_t sz = 1 + (size_t)(i * 37 % 3000);
        blocks[i] = memkind_malloc(kind, sz);
        if (!blocks[i]) { ok = 0; break; }
        fill(blocks[i], sz, (unsigned)i);
    }
    for (int i = 0; i < M && ok; i += 2) {
        if (!same(blocks[i], 1 + (size_t)(i * 37 % 3000), (unsigned)i)) ok = 0;
        memkind_free(kind, blocks[i]);
        blocks[i] = NULL;
    }
    for (int i = 1; i < M && ok; i += 2) {
        if (!same(blocks[i], 1 + (size_t)(i * 37 % 3000), (unsigned)i)) ok = 0;
        memkind_free(NULL, blocks[i]);
        blocks[i] = NULL;
    }
    OUT(N(L, "2000 mixed blocks intact"), "%d", ok);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PMEM_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];

    /* Calls that take no kind at all. */
    errno = 0;
    void *p = memkind_realloc(NULL, NULL, 100);
    OUT("realloc(NULL,NULL,100)", "%s errno=%s", p ? "ptr" : "NULL", errname(errno));
    OUT("malloc_usable_size(NULL,NULL)", "%zu", memkind_malloc_usable_size(NULL, NULL));
    OUT("detect_kind(NULL)", "%s", memkind_detect_kind(NULL) ? "kind" : "NULL");
    OUT("defrag_reallocate(NULL,NULL)", "%s", memkind_defrag_reallocate(NULL, NULL) ? "ptr" : "NULL");
    memkind_free(NULL, NULL);
    OUT("free(NULL,NULL)", "ok");

    heap_cases("DEFAULT", MEMKIND_DEFAULT);
    heap_cases("REGULAR", MEMKIND_REGULAR);

    memkind_t pmem = NULL;
    int rc = memkind_create_pmem(dir, 64 << 20, &pmem);
    OUT("create_pmem(dir,64MiB)", "%s", codename(rc));
    if (rc == 0) {
        heap_cases("PMEM64M", pmem);
        OUT("destroy PMEM64M", "%s", codename(memkind_destroy_kind(pmem)));
    }
    rc = memkind_create_pmem(dir, 0, &pmem);
    OUT("create_pmem(dir,0)", "%s", codename(rc));
    if (rc == 0) {
        heap_cases("PMEM-unlimited", pmem);
        OUT("destroy PMEM-unlimited", "%s", codename(memkind_destroy_kind(pmem)));
    }

    size_t fixed_size = 64 << 20;
    void *region = mmap(NULL, fixed_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return 3;
    memkind_t fixed = NULL;
    rc = memkind_create_fixed(region, fixed_size, &fixed);
    OUT("create_fixed(64MiB)", "%s", codename(rc));
    if (rc == 0) {
        heap_cases("FIXED", fixed);
        OUT("destroy FIXED", "%s", codename(memkind_destroy_kind(fixed)));
    }
    munmap(region, fixed_size);
    return g_failures ? 1 : 0;
}
