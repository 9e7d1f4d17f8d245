/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_free_with_unknown_kind - blocks from two full PMEM kinds (each limited
 * to MEMKIND_PMEM_MIN_SIZE) and from MEMKIND_DEFAULT, shuffled together, are
 * freed with memkind_free(NULL, ptr): the library finds each block's kind.
 * Proof that every block went back where it belonged: both kinds can be
 * filled again just as far. memkind_malloc_usable_size and memkind_realloc
 * take a NULL kind too, and realloc keeps the block in its kind.
 *
 * usage: pmem_free_with_unknown_kind [PMEM_DIR]
 */

#define _POSIX_C_SOURCE 200809L

#include <memkind.h>

#include "pmem_example.h"

#define NAME "pmem_free_with_unknown_kind"
#define BLOCK ((size_t)512 << 10)
#define MAX_PER_KIND 64
#define NDEFAULT 40

struct block {
    void *p;
    int kind; /* index into kinds[] */
};

/* Allocates BLOCK-sized blocks from kind until ENOMEM; appends them to all[]. */
static int fill(memkind_t kind, int index, struct block *all, int *n)
{
    int got = 0;
    errno = 0;
    while (got < MAX_PER_KIND) {
        void *p = memkind_malloc(kind, BLOCK);
        if (p == NULL) {
            CHECK(errno == ENOMEM);
            break;
        }
        memset(p, index + 1, BLOCK);
        all[(*n)++] = (struct block){p, index};
        got++;
    }
    return got;
}

int main(int argc, char **argv)
{
    struct ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }

    memkind_t a = NULL, b = NULL;
    if (!CHECK(memkind_create_pmem(dir.path, MEMKIND_PMEM_MIN_SIZE, &a) == MEMKIND_SUCCESS) ||
        !CHECK(memkind_create_pmem(dir.path, MEMKIND_PMEM_MIN_SIZE, &b) == MEMKIND_SUCCESS)) {
        ex_dir_close(&dir, NAME);
        return ex_result(NAME);
    }
    const memkind_t kinds[3] = {a, b, MEMKIND_DEFAULT};

    struct block all[2 * MAX_PER_KIND + NDEFAULT];
    int n = 0;
    const int full_a = fill(a, 0, all, &n);
    const int full_b = fill(b, 1, all, &n);
    for (int i = 0; i < NDEFAULT; i++) {
        void *p = memkind_malloc(MEMKIND_DEFAULT, BLOCK);
        if (CHECK(p != NULL)) {
            memset(p, 3, BLOCK);
            all[n++] = (struct block){p, 2};
        }
    }
    printf(NAME ": kind A full after %d blocks of 512 KiB, kind B after %d; %d DEFAULT blocks\n",
           full_a, full_b, NDEFAULT);
    CHECK(full_a >= 1 && full_b >= 1);

    /* Shuffle (a fixed linear congruential sequence, so runs are repeatable). */
    unsigned long long seed = 12345;
    for (int i = n - 1; i > 0; i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        const int j = (int)((seed >> 33) % (unsigned long long)(i + 1));
        const struct block t = all[i];
        all[i] = all[j];
        all[j] = t;
    }

    /* Every block still holds its kind's byte, and is found in its kind. */
    int ok = 1;
    for (int i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)all[i].p;
        ok &= p[0] == all[i].kind + 1 && p[BLOCK - 1] == all[i].kind + 1;
        ok &= memkind_detect_kind(all[i].p) == kinds[all[i].kind];
        ok &= memkind_malloc_usable_size(NULL, all[i].p) >= BLOCK;
    }
    CHECK(ok);

    for (int i = 0; i < n; i++) {
        memkind_free(NULL, all[i].p);
    }
    printf(NAME ": freed all %d blocks, shuffled, with memkind_free(NULL, ptr)\n", n);

    /* Both kinds are as empty as before: they fill up just as far again. */
    n = 0;
    const int again_a = fill(a, 0, all, &n);
    const int again_b = fill(b, 1, all, &n);
    printf(NAME ": filled again: kind A took %d blocks, kind B %d\n", again_a, again_b);
    CHECK(again_a >= full_a && again_b >= full_b);
    for (int i = 0; i < n; i++) {
        memkind_free(NULL, all[i].p);
    }

    /* realloc with a NULL kind keeps a block in its own kind, and its contents. */
    char *s = (char *)memkind_malloc(b, 16);
    if (CHECK(s != NULL)) {
        strcpy(s, "kind B's string");
        s = (char *)memkind_realloc(NULL, s, 200000);
        if (CHECK(s != NULL)) {
            CHECK(memkind_detect_kind(s) == b && strcmp(s, "kind B's string") == 0);
            printf(NAME ": memkind_realloc(NULL, ptr, 200000) kept \"%s\" in kind B\n", s);
        }
        memkind_free(NULL, s);
    }

    CHECK(memkind_destroy_kind(a) == MEMKIND_SUCCESS);
    CHECK(memkind_destroy_kind(b) == MEMKIND_SUCCESS);
    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
