/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_alignment - memkind_posix_memalign on a PMEM kind: every power of two
 * from sizeof(void *) to 4 MiB gives a block on that boundary, from the kind;
 * a thousand 64-byte aligned blocks do not overlap; alignments that are not a
 * power of two or are below sizeof(void *) get EINVAL; size 0 gives 0 and
 * NULL; a block larger than a limited kind gets ENOMEM.
 *
 * usage: pmem_alignment [PMEM_DIR]
 */

#define _POSIX_C_SOURCE 200809L

#include <memkind.h>

#include <stdint.h>

#include "pmem_example.h"

#define NAME "pmem_alignment"
#define NSMALL 1000

static int aligned(const void *p, size_t alignment)
{
    return ((uintptr_t)p & (alignment - 1)) == 0;
}

int main(int argc, char **argv)
{
    struct ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }

    memkind_t kind = NULL, small = NULL;
    if (!CHECK(memkind_create_pmem(dir.path, 0, &kind) == MEMKIND_SUCCESS) ||
        !CHECK(memkind_create_pmem(dir.path, MEMKIND_PMEM_MIN_SIZE, &small) == MEMKIND_SUCCESS)) {
        ex_dir_close(&dir, NAME);
        return ex_result(NAME);
    }

    /* Each power of two, with a size below, at and above the alignment. */
    int done = 0;
    for (size_t align = sizeof(void *); align <= ((size_t)4 << 20); align *= 2) {
        const size_t sizes[] = {align / 2 + 1, align, 3 * align + 5};
        for (int s = 0; s < 3; s++) {
            void *p = NULL;
            int err = memkind_posix_memalign(kind, &p, align, sizes[s]);
            if (!CHECK(err == 0) || !CHECK(p != NULL)) {
                continue;
            }
            CHECK(aligned(p, align));
            CHECK(memkind_detect_kind(p) == kind);
            CHECK(memkind_malloc_usable_size(kind, p) >= sizes[s]);
            memset(p, 0x5A, sizes[s]);
            memkind_free(kind, p);
            done++;
        }
    }
    printf(NAME ": %d blocks, alignments 8 B to 4 MiB, each on its boundary\n", done);

    /* Many small aligned blocks: each keeps its own contents. */
    uint64_t *blocks[NSMALL];
    int got = 0;
    for (int i = 0; i < NSMALL; i++) {
        void *p = NULL;
        if (!CHECK(memkind_posix_memalign(kind, &p, 64, 64) == 0)) {
            break;
        }
        CHECK(aligned(p, 64));
        blocks[i] = (uint64_t *)p;
        for (int w = 0; w < 8; w++) {
            blocks[i][w] = (uint64_t)i * 8 + (uint64_t)w;
        }
        got++;
    }
    int intact = 1;
    for (int i = 0; i < got; i++) {
        for (int w = 0; w < 8; w++) {
            intact &= blocks[i][w] == (uint64_t)i * 8 + (uint64_t)w;
        }
        memkind_free(kind, blocks[i]);
    }
    CHECK(intact);
    printf(NAME ": %d blocks of 64 bytes on 64-byte boundaries, none overlapping\n", got);

    /* What posix_memalign refuses: the status is returned, not put in errno. */
    const size_t bad[] = {0, 3, sizeof(void *) / 2, 24, 1000, sizeof(void *) + 1};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        void *p = NULL;
        int err = memkind_posix_memalign(kind, &p, bad[i], 64);
        printf(NAME ": alignment %zu -> %s\n", bad[i], err == EINVAL ? "EINVAL" : "not EINVAL");
        CHECK(err == EINVAL);
    }

    void *p = (void *)&got;
    CHECK(memkind_posix_memalign(kind, &p, 64, 0) == 0);
    printf(NAME ": size 0 -> %s\n", p == NULL ? "0 and NULL" : "a pointer");
    CHECK(p == NULL);

    p = NULL;
    int err = memkind_posix_memalign(small, &p, 64, 2 * (size_t)MEMKIND_PMEM_MIN_SIZE);
    printf(NAME ": 32 MiB from a 16 MiB kind -> %s\n", err == ENOMEM ? "ENOMEM" : "not ENOMEM");
    CHECK(err == ENOMEM);
    if (err == 0) {
        memkind_free(small, p);
    }

    CHECK(memkind_destroy_kind(small) == MEMKIND_SUCCESS);
    CHECK(memkind_destroy_kind(kind) == MEMKIND_SUCCESS);
    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
