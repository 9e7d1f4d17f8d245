/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * A memkind application: built against memkind's headers and linked with -lmemkind, it checks
 * its own results and exits non-zero on a wrong one. tests/suites/ld_preload.sh runs it as is
 * and with LD_PRELOAD=libmorselkind.so. It says which library answered: morselkind exports
 * morselkind_version_string, memkind does not. Usage: preload_app PMEM_DIR.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <hbwmalloc.h>
#include <memkind.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "preload_app: check failed at line %d: %s\n", __LINE__, #cond); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    const char *dir = argv[1];

    const char *(*version_string)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "morselkind_version_string");
    printf("backend: %s\n", version_string ? "morselkind" : "memkind");
    if (version_string) printf("morselkind version: %s\n", version_string());

    CHECK(memkind_get_version() == 1014000);

    /* DEFAULT and REGULAR. */
    char *p = memkind_malloc(MEMKIND_DEFAULT, 1000);
    CHECK(p != NULL);
    memset(p, 'a', 1000);
    CHECK(memkind_detect_kind(p) == MEMKIND_DEFAULT);
    CHECK(memkind_malloc_usable_size(MEMKIND_DEFAULT, p) >= 1000);
    p = memkind_realloc(MEMKIND_DEFAULT, p, 100000);
    CHECK(p != NULL && p[999] == 'a');
    memkind_free(NULL, p);
    int *z = memkind_calloc(MEMKIND_REGULAR, 1000, sizeof(int));
    CHECK(z != NULL);
    for (int i = 0; z && i < 1000; i++) CHECK(z[i] == 0);
    memkind_free(MEMKIND_REGULAR, z);
    void *a = NULL;
    CHECK(memkind_posix_memalign(MEMKIND_DEFAULT, &a, 4096, 100) == 0 && ((uintptr_t)a & 4095) == 0);
    memkind_free(MEMKIND_DEFAULT, a);
    CHECK(memkind_posix_memalign(MEMKIND_DEFAULT, &a, 3, 100) == EINVAL);
    errno = 0;
    CHECK(memkind_realloc(NULL, NULL, 10) == NULL && errno == EINVAL);
    CHECK(memkind_malloc(MEMKIND_DEFAULT, 0) == NULL);

    /* A PMEM kind: full, reuse, destroy; nothing left in the directory. */
    memkind_t pmem;
    CHECK(memkind_create_pmem(dir, MEMKIND_PMEM_MIN_SIZE, &pmem) == MEMKIND_SUCCESS);
    void *blocks[64];
    int n = 0;
    while (n < 64 && (blocks[n] = memkind_malloc(pmem, 1 << 20)) != NULL) n++;
    CHECK(n >= 8 && n < 64);
    CHECK(errno == ENOMEM);
    memkind_free(pmem, blocks[0]);
    blocks[0] = memkind_malloc(pmem, 1 << 20);
    CHECK(blocks[0] != NULL);
    CHECK(memkind_detect_kind(blocks[0]) == pmem);
    for (int i = 0; i < n; i++) memkind_free(NULL, blocks[i]);
    CHECK(memkind_get_capacity(pmem) == MEMKIND_PMEM_MIN_SIZE);
    CHECK(memkind_destroy_kind(pmem) == MEMKIND_SUCCESS);
    CHECK(memkind_create_pmem(dir, 1, &pmem) == MEMKIND_ERROR_INVALID);

    /* Errors and kinds. */
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(MEMKIND_ERROR_INVALID, msg, sizeof msg);
    CHECK(strcmp(msg, "<memkind> Invalid input arguments to memkind routine") == 0);
    CHECK(memkind_check_available(MEMKIND_DEFAULT) == 0);
    memkind_t k = NULL;
    CHECK(memkind_create_kind(MEMKIND_MEMTYPE_DEFAULT, MEMKIND_POLICY_PREFERRED_LOCAL, 0, &k) == 0 && k == MEMKIND_DEFAULT);

    /* hbwmalloc: PREFERRED falls back to ordinary memory where there is no HBW. */
    void *h = hbw_malloc(100);
    CHECK(h != NULL);
    hbw_free(h);
    CHECK(hbw_set_policy(HBW_POLICY_BIND) == EPERM);

    /* Statistics. */
    CHECK(memkind_update_cached_stats() == 0);
    size_t v;
    CHECK(memkind_get_stat(NULL, MEMKIND_STAT_TYPE_ALLOCATED, &v) == 0);

    printf("preload_app: %s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
