/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_detect_kind - memkind_detect_kind names the kind of any block: blocks
 * of several sizes from two PMEM kinds and MEMKIND_DEFAULT, made by malloc,
 * calloc, realloc (also from NULL) and posix_memalign, mixed in one array,
 * are each traced back to the kind they came from. NULL has no kind.
 *
 * usage: pmem_detect_kind [PMEM_DIR]
 */

#define _POSIX_C_SOURCE 200809L

#include <memkind.h>

#include "pmem_example.h"

#define NAME "pmem_detect_kind"

enum how { BY_MALLOC, BY_CALLOC, BY_REALLOC, BY_REALLOC_NULL, BY_MEMALIGN, NHOW };
static const char *how_name[NHOW] = {"malloc", "calloc", "realloc", "realloc(NULL)",
                                     "posix_memalign"};

static const size_t sizes[] = {16, 4000, 100000, (size_t)3 << 20};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define NKINDS 3

static void *make_block(memkind_t kind, enum how how, size_t size)
{
    void *p = NULL;
    switch (how) {
    case BY_MALLOC:
        return memkind_malloc(kind, size);
    case BY_CALLOC:
        return memkind_calloc(kind, size / 8, 8);
    case BY_REALLOC:
        p = memkind_malloc(kind, 24);
        if (p == NULL) {
            return NULL;
        }
        return memkind_realloc(kind, p, size);
    case BY_REALLOC_NULL:
        return memkind_realloc(kind, NULL, size);
    case BY_MEMALIGN:
        return memkind_posix_memalign(kind, &p, 4096, size) == 0 ? p : NULL;
    default:
        return NULL;
    }
}

int main(int argc, char **argv)
{
    struct ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }

    memkind_t pmem_a = NULL, pmem_b = NULL;
    if (!CHECK(memkind_create_pmem(dir.path, 0, &pmem_a) == MEMKIND_SUCCESS) ||
        !CHECK(memkind_create_pmem(dir.path, 4 * (size_t)MEMKIND_PMEM_MIN_SIZE, &pmem_b) ==
               MEMKIND_SUCCESS)) {
        ex_dir_close(&dir, NAME);
        return ex_result(NAME);
    }
    const memkind_t kinds[NKINDS] = {pmem_a, pmem_b, MEMKIND_DEFAULT};
    const char *kind_name[NKINDS] = {"PMEM A", "PMEM B", "DEFAULT"};

    /* Allocate round-robin over the kinds so their blocks interleave in the array. */
    struct {
        void *p;
        int kind, how;
        size_t size;
    } blocks[NKINDS * NHOW * NSIZES];
    int n = 0;
    for (int h = 0; h < NHOW; h++) {
        for (size_t s = 0; s < NSIZES; s++) {
            for (int k = 0; k < NKINDS; k++) {
                void *p = make_block(kinds[k], (enum how)h, sizes[s]);
                if (!CHECK(p != NULL)) {
                    continue;
                }
                memset(p, k, sizes[s]);
                blocks[n].p = p;
                blocks[n].kind = k;
                blocks[n].how = h;
                blocks[n].size = sizes[s];
                n++;
            }
        }
    }

    int right[NKINDS] = {0, 0, 0}, wrong = 0;
    for (int i = 0; i < n; i++) {
        const memkind_t found = memkind_detect_kind(blocks[i].p);
        const int k = blocks[i].kind;
        if (CHECK(found == kinds[k])) {
            right[k]++;
        } else {
            fprintf(stderr, NAME ": %s block of %zu bytes from %s not detected\n",
                    how_name[blocks[i].how], blocks[i].size, kind_name[k]);
            wrong++;
        }
    }
    for (int k = 0; k < NKINDS; k++) {
        printf(NAME ": %-7s: %d of %d blocks detected as %s\n", kind_name[k], right[k],
               NHOW * (int)NSIZES, kind_name[k]);
    }
    printf(NAME ": (by malloc, calloc, realloc, realloc(NULL), posix_memalign; 16 B to 3 MiB)\n");
    CHECK(n == NKINDS * NHOW * (int)NSIZES && wrong == 0);

    CHECK(memkind_detect_kind(NULL) == NULL);
    printf(NAME ": memkind_detect_kind(NULL) -> NULL\n");

    for (int i = 0; i < n; i++) {
        memkind_free(kinds[blocks[i].kind], blocks[i].p);
    }
    CHECK(memkind_destroy_kind(pmem_b) == MEMKIND_SUCCESS);
    CHECK(memkind_destroy_kind(pmem_a) == MEMKIND_SUCCESS);
    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
