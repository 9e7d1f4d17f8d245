/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * morselkind only: calls where memkind crashes or is undefined, which we answer safely.
 * memkind issue #634: memkind_free(NULL, p) with a pointer from the C library's malloc crashes
 * memkind (it looks the pointer up in jemalloc); we hand such a pointer to the C library. Also
 * NULL and stray arguments that memkind dereferences. Usage: ours_only PMEM_DIR. Prints "ok NAME"
 * per check; exits 1 on the first wrong answer.
 */
#include <malloc.h>

#include "diff.h"

static int g_n;
#define EXPECT(name, cond)                                                        \
    do {                                                                          \
        if (!(cond)) {                                                            \
            printf("FAILED %s: %s (line %d)\n", name, #cond, __LINE__);           \
            return 1;                                                             \
        }                                                                         \
        printf("ok %s\n", name);                                                  \
        g_n++;                                                                    \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    const char *dir = argv[1];

    /* Issue #634: pointers of the C library's malloc reach the C library. */
    char *c = malloc(100);
    strcpy(c, "from libc");
    EXPECT("detect_kind(libc pointer) is NULL", memkind_detect_kind(c) == NULL);
    EXPECT("malloc_usable_size(NULL, libc pointer) is libc's", memkind_malloc_usable_size(NULL, c) == malloc_usable_size(c));
    c = memkind_realloc(NULL, c, 100000);
    EXPECT("realloc(NULL, libc pointer) keeps the contents", c && strcmp(c, "from libc") == 0);
    memkind_free(NULL, c);
    EXPECT("free(NULL, libc pointer)", 1);
    c = malloc(10);
    memkind_free(MEMKIND_DEFAULT, c);
    EXPECT("free(DEFAULT, libc pointer)", 1);
    c = malloc(10);
    memkind_free(MEMKIND_REGULAR, c);
    EXPECT("free(REGULAR, libc pointer)", 1);
    /* A libc block moved into a kind by realloc. */
    c = malloc(64);
    strcpy(c, "moved");
    memkind_t pmem;
    EXPECT("create_pmem", memkind_create_pmem(dir, 0, &pmem) == 0);
    char *m = memkind_realloc(pmem, c, 4096);
    EXPECT("realloc(pmem, libc pointer) moves it into the kind", m && strcmp(m, "moved") == 0 && memkind_detect_kind(m) == pmem);
    /* A kind's block freed with the wrong kind still goes to its own kind. */
    memkind_free(MEMKIND_DEFAULT, m);
    EXPECT("free(wrong kind, pmem block)", 1);
    void *d = memkind_malloc(MEMKIND_DEFAULT, 100);
    memkind_free(pmem, d);
    EXPECT("free(pmem, DEFAULT block)", 1);
    void *x = memkind_malloc(pmem, 1000), *y = memkind_defrag_reallocate(NULL, x);
    memkind_free(NULL, y ? y : x);
    EXPECT("defrag_reallocate(NULL, block)", 1);
    EXPECT("destroy pmem", memkind_destroy_kind(pmem) == 0);

    /* NULL and stray arguments (memkind dereferences them). */
    memkind_t bogus = (memkind_t)(uintptr_t)0x1000;
    errno = 0;
    EXPECT("malloc(bogus kind) is NULL with EINVAL", memkind_malloc(bogus, 10) == NULL && errno == EINVAL);
    errno = 0;
    EXPECT("malloc(NULL kind) is NULL with EINVAL", memkind_malloc(NULL, 10) == NULL && errno == EINVAL);
    errno = 0;
    EXPECT("calloc(NULL kind) is NULL with EINVAL", memkind_calloc(NULL, 1, 10) == NULL && errno == EINVAL);
    void *p = (void *)1;
    EXPECT("posix_memalign(NULL kind) is EINVAL", memkind_posix_memalign(NULL, &p, 64, 10) == EINVAL);
    EXPECT("posix_memalign(kind, NULL memptr) is EINVAL", memkind_posix_memalign(MEMKIND_DEFAULT, NULL, 64, 10) == EINVAL);
    EXPECT("check_available(NULL) is INVALID", memkind_check_available(NULL) == MEMKIND_ERROR_INVALID);
    EXPECT("check_available(bogus) is INVALID", memkind_check_available(bogus) == MEMKIND_ERROR_INVALID);
    EXPECT("get_capacity(NULL) is -1", memkind_get_capacity(NULL) == -1);
    EXPECT("destroy_kind(NULL) fails", memkind_destroy_kind(NULL) == MEMKIND_ERROR_OPERATION_FAILED);
    EXPECT("destroy_kind(DEFAULT) keeps it", memkind_destroy_kind(MEMKIND_DEFAULT) == 0 && memkind_check_available(MEMKIND_DEFAULT) == 0);
    void *q = memkind_malloc(MEMKIND_DEFAULT, 10);
    EXPECT("DEFAULT serves after destroy_kind(DEFAULT)", q != NULL);
    memkind_free(NULL, q);
    size_t v = 7;
    EXPECT("get_stat(kind, stat, NULL) is INVALID", memkind_get_stat(MEMKIND_DEFAULT, MEMKIND_STAT_TYPE_ALLOCATED, NULL) == MEMKIND_ERROR_INVALID);
    EXPECT("get_stat(bogus kind) is INVALID", memkind_get_stat(bogus, MEMKIND_STAT_TYPE_ALLOCATED, &v) == MEMKIND_ERROR_INVALID);
    memkind_config_delete(NULL);
    memkind_config_set_path(NULL, dir);
    memkind_config_set_size(NULL, 1);
    memkind_config_set_memory_usage_policy(NULL, MEMKIND_MEM_USAGE_POLICY_DEFAULT);
    EXPECT("config_* with a NULL config", 1);
    EXPECT("get_kind_by_partition(0, NULL) is INVALID", memkind_get_kind_by_partition(0, NULL) == MEMKIND_ERROR_INVALID);

    /* A destroyed kind's handle: allocation fails instead of using freed state. */
    EXPECT("create_pmem again", memkind_create_pmem(dir, 0, &pmem) == 0);
    EXPECT("destroy it", memkind_destroy_kind(pmem) == 0);
    errno = 0;
    EXPECT("malloc(destroyed kind) is NULL", memkind_malloc(pmem, 10) == NULL);
    EXPECT("destroy_kind twice fails", memkind_destroy_kind(pmem) != 0);

    printf("ours only: %d checks passed\n", g_n);
    return 0;
}
