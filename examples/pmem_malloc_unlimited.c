/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_malloc_unlimited - a PMEM kind created with max_size 0 is bounded only
 * by its filesystem: its capacity is the filesystem's size, and it serves
 * what a kind limited to MEMKIND_PMEM_MIN_SIZE refuses: a single 32 MiB block
 * and 96 blocks of 1 MiB (96 MiB in all), every byte written and read back.
 *
 * usage: pmem_malloc_unlimited [PMEM_DIR]
 */

#define _POSIX_C_SOURCE 200809L

#include <memkind.h>

#include <stdint.h>
#include <sys/statvfs.h>

#include "pmem_example.h"

#define NAME "pmem_malloc_unlimited"
#define MIB ((size_t)1 << 20)
#define BIG (32 * MIB)
#define NBLOCKS 96

/* Writes a word pattern over n bytes of p (n a multiple of 8). */
static void fill_words(void *p, size_t n, uint64_t seed)
{
    uint64_t *w = (uint64_t *)p;
    for (size_t i = 0; i < n / 8; i++) {
        w[i] = seed ^ (i * 0x9E3779B97F4A7C15ull);
    }
}

static int has_words(const void *p, size_t n, uint64_t seed)
{
    const uint64_t *w = (const uint64_t *)p;
    for (size_t i = 0; i < n / 8; i++) {
        if (w[i] != (seed ^ (i * 0x9E3779B97F4A7C15ull))) {
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    struct ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }

    struct statvfs fs;
    memset(&fs, 0, sizeof(fs));
    CHECK(statvfs(dir.path, &fs) == 0);
    unsigned long long avail = (unsigned long long)fs.f_bavail * fs.f_frsize;
    if (avail < 4 * (BIG + NBLOCKS * MIB)) {
        printf(NAME ": only %llu bytes free in %s; this example needs %zu\n", avail, dir.path,
               4 * (BIG + NBLOCKS * MIB));
        ex_dir_close(&dir, NAME);
        return 1;
    }

    /* First the contrast: a limited kind cannot hold a 32 MiB block. */
    memkind_t small = NULL;
    if (CHECK(memkind_create_pmem(dir.path, MEMKIND_PMEM_MIN_SIZE, &small) == MEMKIND_SUCCESS)) {
        errno = 0;
        void *p = memkind_malloc(small, BIG);
        printf(NAME ": a kind limited to 16 MiB: malloc(32 MiB) -> %s\n",
               p == NULL ? "NULL" : "a block");
        CHECK(p == NULL && errno == ENOMEM);
        memkind_free(small, p);
        CHECK(memkind_destroy_kind(small) == MEMKIND_SUCCESS);
    }

    memkind_t kind = NULL;
    int err = memkind_create_pmem(dir.path, 0, &kind);
    if (!CHECK(err == MEMKIND_SUCCESS)) {
        ex_dir_close(&dir, NAME);
        return ex_result(NAME);
    }
    ssize_t cap = memkind_get_capacity(kind);
    printf(NAME ": an unlimited kind: capacity %zd bytes (the filesystem's size)\n", cap);
    CHECK(cap == (ssize_t)(fs.f_blocks * fs.f_frsize));

    void *big = memkind_malloc(kind, BIG);
    if (CHECK(big != NULL)) {
        fill_words(big, BIG, 42);
        CHECK(memkind_detect_kind(big) == kind);
        printf(NAME ": malloc(32 MiB) -> a block, written through\n");
    }

    void *blocks[NBLOCKS];
    int got = 0;
    for (int i = 0; i < NBLOCKS; i++) {
        blocks[i] = memkind_malloc(kind, MIB);
        if (!CHECK(blocks[i] != NULL)) {
            break;
        }
        fill_words(blocks[i], MIB, (uint64_t)i + 1000);
        got++;
    }
    printf(NAME ": %d blocks of 1 MiB more, %zu MiB in use in all\n", got, BIG / MIB + (size_t)got);

    /* Everything still reads back as written. */
    int intact = 1;
    if (big != NULL) {
        intact &= has_words(big, BIG, 42);
    }
    for (int i = 0; i < got; i++) {
        intact &= has_words(blocks[i], MIB, (uint64_t)i + 1000);
    }
    CHECK(intact);
    printf(NAME ": all %zu MiB read back %s\n", BIG / MIB + (size_t)got,
           intact ? "intact" : "CORRUPTED");

    for (int i = 0; i < got; i++) {
        memkind_free(kind, blocks[i]);
    }
    memkind_free(kind, big);
    CHECK(memkind_destroy_kind(kind) == MEMKIND_SUCCESS);

    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
