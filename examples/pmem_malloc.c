/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_malloc - the heap calls on a PMEM kind limited to MEMKIND_PMEM_MIN_SIZE
 * (16 MiB): malloc, calloc (zeroed) and realloc (contents kept), then what a
 * limit means: a request larger than the kind fails with ENOMEM, filling the
 * kind with 1 MiB blocks ends in ENOMEM, and after freeing them the same
 * space can be had again.
 *
 * usage: pmem_malloc [PMEM_DIR]
 */

#define _POSIX_C_SOURCE 200809L

#include <memkind.h>

#include <stdint.h>

#include "pmem_example.h"

#define NAME "pmem_malloc"
#define BLOCK ((size_t)1 << 20)
#define MAX_BLOCKS 64

/* Fills p with a pattern derived from seed; checks it with has_pattern(). */
static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(seed * 131u + i * 7u);
    }
}

static int has_pattern(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char)(seed * 131u + i * 7u)) {
            return 0;
        }
    }
    return 1;
}

/* Allocates BLOCK-sized blocks until the kind says no; returns how many it got. */
static int fill_kind(memkind_t kind, void **blocks)
{
    int n = 0;
    errno = 0;
    while (n < MAX_BLOCKS) {
        void *p = memkind_malloc(kind, BLOCK);
        if (p == NULL) {
            CHECK(errno == ENOMEM);
            break;
        }
        /* Touch every page: the file space must really be there. */
        fill_pattern((unsigned char *)p, BLOCK, (unsigned)n);
        blocks[n++] = p;
    }
    for (int i = 0; i < n; i++) {
        CHECK(has_pattern((const unsigned char *)blocks[i], BLOCK, (unsigned)i));
    }
    return n;
}

int main(int argc, char **argv)
{
    struct ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }

    memkind_t kind = NULL;
    int err = memkind_create_pmem(dir.path, MEMKIND_PMEM_MIN_SIZE, &kind);
    if (!CHECK(err == MEMKIND_SUCCESS)) {
        ex_dir_close(&dir, NAME);
        return ex_result(NAME);
    }
    printf(NAME ": created a PMEM kind limited to %d bytes\n", MEMKIND_PMEM_MIN_SIZE);

    /* malloc: a string. */
    const char *hello = "Hello from a file-backed kind";
    char *str = (char *)memkind_malloc(kind, 64);
    if (CHECK(str != NULL)) {
        strcpy(str, hello);
        printf(NAME ": malloc(64) -> \"%s\"\n", str);
        CHECK(strcmp(str, hello) == 0);
    }

    /* calloc: zeroed, even where the kind's memory was used before. */
    void *used = memkind_malloc(kind, 4000 * sizeof(int));
    if (CHECK(used != NULL)) {
        memset(used, 0xFF, 4000 * sizeof(int));
        memkind_free(kind, used);
    }
    int *nums = (int *)memkind_calloc(kind, 4000, sizeof(int));
    if (CHECK(nums != NULL)) {
        int zeros = 1;
        for (int i = 0; i < 4000; i++) {
            zeros &= nums[i] == 0;
            nums[i] = i * i;
        }
        CHECK(zeros);
        printf(NAME ": calloc(4000, %zu) -> all zero\n", sizeof(int));
    }

    /* realloc: grows to 1 MiB keeping the string, then shrinks keeping it too. */
    str = (char *)memkind_realloc(kind, str, BLOCK);
    if (CHECK(str != NULL)) {
        CHECK(strcmp(str, hello) == 0);
        memset(str + 64, 'x', BLOCK - 64);
        str = (char *)memkind_realloc(kind, str, 32);
        if (CHECK(str != NULL)) {
            CHECK(strcmp(str, hello) == 0);
            printf(NAME ": realloc to 1 MiB and back to 32 bytes kept \"%s\"\n", str);
        }
    }
    if (nums != NULL) {
        int ok = 1;
        for (int i = 0; i < 4000; i++) {
            ok &= nums[i] == i * i;
        }
        CHECK(ok);
    }
    memkind_free(kind, str);
    memkind_free(kind, nums);

    /* More than the kind can ever hold. */
    errno = 0;
    void *huge = memkind_malloc(kind, 2 * (size_t)MEMKIND_PMEM_MIN_SIZE);
    printf(NAME ": malloc(32 MiB) -> %s (errno %s)\n", huge ? "a block" : "NULL",
           errno == ENOMEM ? "ENOMEM" : "not ENOMEM");
    CHECK(huge == NULL && errno == ENOMEM);
    errno = 0;
    huge = memkind_malloc(kind, SIZE_MAX);
    CHECK(huge == NULL && errno == ENOMEM);

    /* Fill the kind, empty it, fill it again. */
    void *blocks[MAX_BLOCKS];
    int first = fill_kind(kind, blocks);
    printf(NAME ": the full kind took %d blocks of 1 MiB, then ENOMEM\n", first);
    CHECK(first >= 1 && (size_t)first * BLOCK <= MEMKIND_PMEM_MIN_SIZE);
    for (int i = 0; i < first; i++) {
        memkind_free(kind, blocks[i]);
    }
    int second = fill_kind(kind, blocks);
    printf(NAME ": after freeing them, it took %d blocks again\n", second);
    CHECK(second >= first);
    for (int i = 0; i < second; i++) {
        memkind_free(kind, blocks[i]);
    }

    CHECK(memkind_destroy_kind(kind) == MEMKIND_SUCCESS);
    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
