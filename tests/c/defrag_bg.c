/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * memkind_defrag_reallocate and memkind_set_bg_threads act.
 *
 * defrag: a PMEM kind (CONSERVATIVE: freed pages go back at once) gets 200000 64-byte blocks.
 * The first quarter stays; of the rest, 15 of every 16 are freed, leaving those slabs nearly
 * empty. memkind_defrag_reallocate over all survivors must leave the full slabs alone and move
 * the blocks of the sparse ones (new address, same contents), and the slabs it empties must go
 * back: the kind's ACTIVE and RESIDENT statistics and its file's blocks drop.
 *
 * bg: a PMEM kind with the DEFAULT policy (dirty pages decay over 10 s) frees 64 MiB. With
 * background threads off, nothing is given back while the program sleeps past the decay time
 * and makes no call. With memkind_set_bg_threads(true), the kind's file blocks and RESIDENT drop
 * while the program only sleeps and looks (fstat; no allocation call).
 *
 * Usage: defrag_bg PMEM_DIR [defrag|bg|all]. Exits non-zero on a failed check.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <memkind.h>

#include "observe.h"

#define MIB ((size_t)1 << 20)

static int failures;
#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            printf("CHECK FAILED (line %d): %s\n", __LINE__, #cond);                    \
            failures++;                                                                 \
        }                                                                               \
    } while (0)

static size_t stat_of(memkind_t kind, memkind_stat_type type)
{
    size_t v = 0;
    memkind_update_cached_stats();
    if (memkind_get_stat(kind, type, &v)) return (size_t)-1;
    return v;
}

/* The fds of this process open on deleted files in `dir` (the PMEM kinds' files). */
static int kind_fds(const char *dir, int *fds, int max)
{
    int n = open_fds_into(dir, 1, fds, max);
    return n < max ? n : max;
}

/* Bytes of file blocks behind the fds. */
static size_t file_bytes(const int *fds, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (fstat(fds[i], &st) == 0) total += (size_t)st.st_blocks * 512;
    }
    return total;
}

static uint64_t pattern(size_t i)
{
    return 0x9e3779b97f4a7c15ull * (i + 1);
}

static void defrag(const char *dir)
{
    struct memkind_config *cfg = memkind_config_new();
    memkind_config_set_path(cfg, dir);
    memkind_config_set_size(cfg, 0);
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE);
    memkind_t kind;
    int rc = memkind_create_pmem_with_config(cfg, &kind);
    memkind_config_delete(cfg);
    CHECK(rc == 0);
    if (rc) return;
    int fds[16];
    int nfd = kind_fds(dir, fds, 16);
    CHECK(nfd == 1);

    enum { N = 200000, DENSE = N / 4, KEEP = 16 };
    static uint64_t *blocks[N];
    for (size_t i = 0; i < N; i++) {
        blocks[i] = memkind_malloc(kind, 64);
        CHECK(blocks[i] != NULL);
        if (!blocks[i]) return;
        for (int w = 0; w < 8; w++) blocks[i][w] = pattern(i) + w;
    }
    size_t active_full = stat_of(kind, MEMKIND_STAT_TYPE_ACTIVE);
    size_t sparse = 0;
    for (size_t i = DENSE; i < N; i++) {
        if (i % KEEP) {
            memkind_free(kind, blocks[i]);
            blocks[i] = NULL;
        } else {
            sparse++;
        }
    }
    size_t active0 = stat_of(kind, MEMKIND_STAT_TYPE_ACTIVE);
    size_t resident0 = stat_of(kind, MEMKIND_STAT_TYPE_RESIDENT);
    size_t file0 = file_bytes(fds, nfd);
    size_t allocated0 = stat_of(kind, MEMKIND_STAT_TYPE_ALLOCATED);

    /* Defragment, pass after pass (with and without the kind), until nothing moves. */
    size_t moved_dense = 0, moved_sparse = 0, same_addr = 0, bad = 0, passes = 0;
    for (int pass = 0; pass < 8; pass++) {
        size_t moved_now = 0;
        for (size_t i = 0; i < N; i++) {
            if (!blocks[i]) continue;
            uint64_t *q = memkind_defrag_reallocate(pass % 2 ? NULL : kind, blocks[i]);
            if (!q) continue;
            moved_now++;
            if (i < DENSE) moved_dense++;
            else moved_sparse++;
            if (q == blocks[i]) same_addr++;
            for (int w = 0; w < 8; w++)
                if (q[w] != pattern(i) + w) bad++;
            if (memkind_detect_kind(q) != kind) bad++;
            blocks[i] = q;
        }
        passes++;
        if (!moved_now) break;
    }
    size_t active1 = stat_of(kind, MEMKIND_STAT_TYPE_ACTIVE);
    size_t resident1 = stat_of(kind, MEMKIND_STAT_TYPE_RESIDENT);
    size_t file1 = file_bytes(fds, nfd);
    size_t allocated1 = stat_of(kind, MEMKIND_STAT_TYPE_ALLOCATED);
    for (size_t i = 0; i < N; i++)
        for (int w = 0; blocks[i] && w < 8; w++)
            if (blocks[i][w] != pattern(i) + w) bad++;

    printf("defrag: %d blocks of 64 bytes; the first %d kept (full slabs), 1 in %d of the rest (%zu, sparse slabs)\n", N,
           DENSE, KEEP, sparse);
    printf("defrag: %zu passes moved %zu sparse-slab blocks and %zu full-slab blocks; %zu at the same address; %zu bad contents\n",
           passes, moved_sparse, moved_dense, same_addr, bad);
    printf("defrag: ACTIVE %zu KiB (full) -> %zu KiB (fragmented) -> %zu KiB (defragmented)\n", active_full >> 10,
           active0 >> 10, active1 >> 10);
    printf("defrag: RESIDENT %zu KiB -> %zu KiB; file blocks %zu KiB -> %zu KiB; ALLOCATED %zu -> %zu\n",
           resident0 >> 10, resident1 >> 10, file0 >> 10, file1 >> 10, allocated0, allocated1);
    CHECK(moved_sparse >= sparse * 9 / 10);
    CHECK(moved_dense == 0);
    CHECK(same_addr == 0);
    CHECK(bad == 0);
    CHECK(active1 * 2 < active0);
    CHECK(resident1 + 4 * MIB < resident0);
    CHECK(file1 + 4 * MIB < file0);
    CHECK(allocated1 == allocated0);

    for (size_t i = 0; i < N; i++) memkind_free(NULL, blocks[i]);
    size_t active2 = stat_of(kind, MEMKIND_STAT_TYPE_ACTIVE);
    printf("defrag: after freeing the rest, ACTIVE %zu KiB\n", active2 >> 10);
    CHECK(active2 < active1);
    CHECK(memkind_destroy_kind(kind) == 0);
}

static void bg(const char *dir)
{
    const size_t total = 64 * MIB, bs = 256 << 10;
    CHECK(memkind_set_bg_threads(false) == 0);
    memkind_t kind;
    int rc = memkind_create_pmem(dir, 0, &kind); /* DEFAULT policy: 10 s dirty decay */
    CHECK(rc == 0);
    if (rc) return;
    int fds[16];
    int nfd = kind_fds(dir, fds, 16);
    CHECK(nfd == 1);
    enum { NB = 256 };
    static char *b[NB];
    for (size_t i = 0; i < total / bs; i++) {
        b[i] = memkind_malloc(kind, bs);
        CHECK(b[i] != NULL);
        if (!b[i]) return;
        memset(b[i], (int)i, bs);
    }
    size_t file_peak = file_bytes(fds, nfd);
    size_t res_peak = stat_of(kind, MEMKIND_STAT_TYPE_RESIDENT);
    for (size_t i = 0; i < total / bs; i++) memkind_free(kind, b[i]);
    size_t file_freed = file_bytes(fds, nfd);
    printf("bg: %zu MiB in %zu KiB blocks; file blocks %zu KiB, RESIDENT %zu KiB; just after free: file %zu KiB\n",
           total >> 20, bs >> 10, file_peak >> 10, res_peak >> 10, file_freed >> 10);
    CHECK(file_peak >= total);

    /* Background threads off: past the decay time, with no call at all, nothing goes back. */
    double t0 = mono_seconds();
    sleep(12);
    size_t file_idle = file_bytes(fds, nfd);
    printf("bg: threads off, %.1f s idle: file blocks %zu KiB\n", mono_seconds() - t0, file_idle >> 10);
    CHECK(file_idle * 2 > file_peak);

    /* On: the purge happens while the program only sleeps and calls fstat. */
    CHECK(memkind_set_bg_threads(true) == 0);
    t0 = mono_seconds();
    size_t file_now = file_idle;
    while (mono_seconds() - t0 < 40) {
        usleep(250 * 1000);
        file_now = file_bytes(fds, nfd);
        if (getenv("DEFRAG_BG_TRACE")) printf("  %.2f s: %zu KiB\n", mono_seconds() - t0, file_now >> 10);
        if (file_now * 4 < file_peak && !getenv("DEFRAG_BG_TRACE")) break;
    }
    double waited = mono_seconds() - t0;
    size_t res_now = stat_of(kind, MEMKIND_STAT_TYPE_RESIDENT);
    printf("bg: threads on: file blocks %zu KiB after %.1f s without an allocation call; RESIDENT %zu KiB\n",
           file_now >> 10, waited, res_now >> 10);
    CHECK(file_now * 4 < file_peak);
    CHECK(res_now * 2 < res_peak);
    CHECK(memkind_set_bg_threads(false) == 0);
    CHECK(memkind_destroy_kind(kind) == 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *what = argc > 2 ? argv[2] : "all";
    if (!strcmp(what, "defrag") || !strcmp(what, "all")) defrag(argv[1]);
    if (!strcmp(what, "bg") || !strcmp(what, "all")) bg(argv[1]);
    printf("defrag_bg: %s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
