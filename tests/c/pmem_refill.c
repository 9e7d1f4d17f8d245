/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE reuse: a size-limited PMEM kind is filled with blocks
 * of one small size until malloc fails, everything is freed, and it is filled again. Prints,
 * per size, how many blocks the second round fit as a share of the first (memkind 1.14: at
 * least 98%). Built against both libraries by tests/suites/differential.sh, which compares
 * the shares. Usage: pmem_refill DIR LIMIT_MIB SIZE...
 */
#include <memkind.h>
#include <stdio.h>
#include <stdlib.h>


static long fill(memkind_t k, size_t size, void **blocks, long max)
{
    long n = 0;
    while (n < max) {
        void *p = memkind_malloc(k, size);
        if (!p) break;
        blocks[n++] = p;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 4) return 2;
    size_t limit = strtoull(argv[2], NULL, 10) << 20;
    long max = (long)(limit / 16);
    void **blocks = malloc(sizeof(void *) * (size_t)max);
    if (!blocks) return 1;
    for (int s = 3; s < argc; s++) {
        size_t size = strtoull(argv[s], NULL, 10);
        struct memkind_config *cfg = memkind_config_new();
        memkind_config_set_path(cfg, argv[1]);
        memkind_config_set_size(cfg, limit);
        memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE);
        memkind_t k;
        int rc = memkind_create_pmem_with_config(cfg, &k);
        memkind_config_delete(cfg);
        if (rc) {
            fprintf(stderr, "create: %d\n", rc);
            return 1;
        }
        long first = fill(k, size, blocks, max);
        for (long i = 0; i < first; i++) memkind_free(k, blocks[i]);
        long second = fill(k, size, blocks, max);
        for (long i = 0; i < second; i++) memkind_free(k, blocks[i]);
        printf("size %zu: first %ld second %ld share %.4f\n", size, first, second,
               (double)second / (double)first);
        memkind_destroy_kind(k);
    }
    free(blocks);
    return 0;
}
