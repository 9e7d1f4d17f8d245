/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * The kind table: create PMEM kinds until creation fails, destroy them all, twice; then one
 * more. Not compared line by line: memkind runs out of jemalloc arenas first (479 PMEM kinds,
 * MEMKIND_ERROR_ARENAS_CREATE), morselkind fills every free slot of its 512 and then answers
 * the same code. The suite checks each side's numbers. Usage: diff_table PMEM_DIR.
 */
#include "diff.h"

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    const char *dir = argv[1];
    static memkind_t kinds[MEMKIND_MAX_KIND + 1];
    for (int round = 1; round <= 2; round++) {
        int n = 0, rc = 0;
        while (n <= MEMKIND_MAX_KIND) {
            rc = memkind_create_pmem(dir, 0, &kinds[n]);
            if (rc) break;
            n++;
        }
        printf("round %d: created %d then %s\n", round, n, codename(rc));
        /* Every kind works, and the failed creation changed none. */
        int ok = 1;
        for (int i = 0; i < n; i++) {
            void *p = memkind_malloc(kinds[i], 64);
            if (!p || memkind_detect_kind(p) != kinds[i]) ok = 0;
            memkind_free(NULL, p);
        }
        printf("round %d: every kind allocates: %d\n", round, ok);
        int all = 1;
        for (int i = 0; i < n; i++)
            if (memkind_destroy_kind(kinds[i]) != 0) all = 0;
        printf("round %d: destroyed %d: %s\n", round, n, all ? "all SUCCESS" : "some failed");
        fflush(stdout);
    }
    memkind_t k;
    int rc = memkind_create_pmem(dir, 0, &k);
    void *p = rc ? NULL : memkind_malloc(k, 1000);
    printf("after: create_pmem %s, malloc %s\n", codename(rc), p ? "ok" : "failed");
    if (!rc) {
        memkind_free(k, p);
        memkind_destroy_kind(k);
    }
    return 0;
}
