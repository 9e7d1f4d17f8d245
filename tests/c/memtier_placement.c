/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Differential placement (tests/suites/memtier_api.sh): a seeded sequence of malloc, calloc,
 * realloc and free (16 B to 4 MiB, log-uniform) through memkind_memtier.h, built against
 * memkind 1.14 and against morselkind. TIERS names the tiers in order, one letter each:
 * D MEMKIND_DEFAULT, R MEMKIND_REGULAR, I MEMKIND_INTERLEAVE, P a PMEM kind in DIR; their
 * ratios are 1, 4, 2 in that order of position. Prints, for every allocating call, the tier its block landed in
 * (memkind_detect_kind), 100 calls a line, then each tier's live bytes as
 * memtier_kind_allocated_size reports them (which drains the thread buckets) and the ratios.
 * Usage: memtier_placement DIR static|dynamic TIERS SEED CALLS (e.g. "DR", "DRI", "DRP")
 */
#include <memkind.h>
#include <memkind_memtier.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIVE 256

#include "xorshift.h"

/* 16 B .. 4 MiB, uniform in log2. */
static size_t size_of_call(void)
{
    unsigned shift = 4 + (unsigned)(next() % 19); /* 2^4 .. 2^22 */
    size_t base = (size_t)1 << shift;
    return base + (size_t)(next() % base) / 2;
}

int main(int argc, char **argv)
{
    if (argc != 6) return 2;
    const char *dir = argv[1];
    int dynamic = !strcmp(argv[2], "dynamic");
    const char *letters = argv[3];
    int ntiers = (int)strlen(letters);
    rng = strtoull(argv[4], NULL, 10) * 0x9E3779B97F4A7C15ull + 1;
    long calls = atol(argv[5]);
    if (ntiers < 2 || ntiers > 3 || calls <= 0) return 2;

    memkind_t kinds[3] = {NULL, NULL, NULL};
    unsigned ratios[3] = {1, 4, 2};
    int pmem = -1;
    for (int i = 0; i < ntiers; i++) {
        switch (letters[i]) {
            case 'D': kinds[i] = MEMKIND_DEFAULT; break;
            case 'R': kinds[i] = MEMKIND_REGULAR; break;
            case 'I': kinds[i] = MEMKIND_INTERLEAVE; break;
            case 'P':
                if (memkind_create_pmem(dir, 0, &kinds[i]) != 0) {
                    fprintf(stderr, "cannot create a PMEM kind in %s\n", dir);
                    return 1;
                }
                pmem = i;
                break;
            default: return 2;
        }
    }
    struct memtier_builder *b =
        memtier_builder_new(dynamic ? MEMTIER_POLICY_DYNAMIC_THRESHOLD : MEMTIER_POLICY_STATIC_RATIO);
    for (int i = 0; i < ntiers; i++)
        if (memtier_builder_add_tier(b, kinds[i], ratios[i]) != 0) return 1;
    struct memtier_memory *m = memtier_builder_construct_memtier_memory(b);
    if (!m) return 1;

    void *live[MAX_LIVE] = {0};
    int nlive = 0;
    char line[101];
    int col = 0;
    for (long c = 0; c < calls; c++) {
        uint64_t op = next() % 100;
        void *p = NULL;
        if (nlive > 0 && (op < 25 || nlive == MAX_LIVE)) {
            int j = (int)(next() % (uint64_t)nlive);
            memtier_free(live[j]);
            live[j] = live[--nlive];
            continue;
        } else if (nlive > 0 && op < 40) {
            int j = (int)(next() % (uint64_t)nlive);
            p = memtier_realloc(m, live[j], size_of_call());
            if (!p) return 3;
            live[j] = p;
        } else if (op < 55) {
            size_t size = size_of_call();
            size_t num = 1 + next() % 4;
            p = memtier_calloc(m, num, size / num);
            if (!p) return 3;
            live[nlive++] = p;
        } else {
            p = memtier_malloc(m, size_of_call());
            if (!p) return 3;
            live[nlive++] = p;
        }
        memkind_t k = memkind_detect_kind(p);
        int t = 0;
        while (t < ntiers && kinds[t] != k) t++;
        line[col++] = (char)('0' + t);
        if (col == 100) {
            line[col] = 0;
            printf("%s\n", line);
            col = 0;
        }
    }
    if (col) {
        line[col] = 0;
        printf("%s\n", line);
    }
    size_t bytes[3];
    for (int i = 0; i < ntiers; i++) bytes[i] = memtier_kind_allocated_size(kinds[i]);
    for (int i = 1; i < ntiers; i++)
        printf("ratio %d/0: %.4f (target %u/%u)\n", i, (double)bytes[i] / (double)(bytes[0] ? bytes[0] : 1),
               ratios[i], ratios[0]);
    for (int i = 0; i < nlive; i++) memtier_free(live[i]);
    memtier_delete_memtier_memory(m);
    memtier_builder_delete(b);
    if (pmem >= 0) {
        if (memkind_destroy_kind(kinds[pmem]) != 0) return 4;
        /* memkind resets a destroyed kind's count. */
        printf("destroyed kind: %zu bytes\n", memtier_kind_allocated_size(kinds[pmem]));
    }
    return 0;
}
