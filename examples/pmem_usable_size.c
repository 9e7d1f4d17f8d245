/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_usable_size - memkind_malloc_usable_size on a PMEM kind and on
 * MEMKIND_DEFAULT: a block holds at least what was asked for and at most a
 * size class more (a quarter of the size, plus 16 bytes), grows with the
 * request, gives the same answer with a NULL kind, and all of it can be
 * written. A NULL pointer has usable size 0.
 *
 * usage: pmem_usable_size [PMEM_DIR]
 */

#define _POSIX_C_SOURCE 200809L

#include <memkind.h>

#include "pmem_example.h"

#define NAME "pmem_usable_size"

static const size_t sizes[] = {
    1,    7,    8,     9,     15,     16,     17,          100,         500,
    1000, 4095, 4096,  4097,  10000,  65537,  (1u << 20) + 1, 3u << 20, (5u << 20) + 12345,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Checks the usable size of a block of each size from kind; stores them in usable. */
static void check_kind(memkind_t kind, size_t usable[NSIZES])
{
    size_t prev = 0;
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = sizes[i];
        unsigned char *p = (unsigned char *)memkind_malloc(kind, n);
        usable[i] = 0;
        if (!CHECK(p != NULL)) {
            continue;
        }
        size_t u = memkind_malloc_usable_size(kind, p);
        usable[i] = u;
        CHECK(u >= n);
        CHECK(u <= n + n / 4 + 16);
        CHECK(u >= prev);
        CHECK(memkind_malloc_usable_size(NULL, p) == u);
        /* The whole usable size is ours to use. */
        memset(p, 0xA5, u);
        int ok = 1;
        for (size_t j = 0; j < u; j += 61) {
            ok &= p[j] == 0xA5;
        }
        CHECK(ok && p[u - 1] == 0xA5);
        prev = u;
        memkind_free(kind, p);
    }
    CHECK(memkind_malloc_usable_size(kind, NULL) == 0);
}

int main(int argc, char **argv)
{
    struct ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }

    memkind_t kind = NULL;
    if (!CHECK(memkind_create_pmem(dir.path, 0, &kind) == MEMKIND_SUCCESS)) {
        ex_dir_close(&dir, NAME);
        return ex_result(NAME);
    }

    size_t pmem_usable[NSIZES], default_usable[NSIZES];
    check_kind(kind, pmem_usable);
    check_kind(MEMKIND_DEFAULT, default_usable);

    printf(NAME ": %12s %14s %18s\n", "requested", "usable (PMEM)", "usable (DEFAULT)");
    for (size_t i = 0; i < NSIZES; i++) {
        printf(NAME ": %12zu %14zu %18zu\n", sizes[i], pmem_usable[i], default_usable[i]);
    }

    CHECK(memkind_destroy_kind(kind) == MEMKIND_SUCCESS);
    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
