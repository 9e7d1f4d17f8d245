/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_multithreads_onekind - eight threads share one PMEM kind (limited to
 * 64 MiB). Each allocates and fills its own blocks (about 27 MiB in all) at
 * the same time as the others; the main thread then checks every block, and
 * sees that a 40 MiB block does not fit beside them. In a second round each
 * thread frees the blocks another thread allocated; then the 40 MiB block
 * fits: the frees from other threads gave the space back to the kind.
 *
 * usage: pmem_multithreads_onekind [PMEM_DIR]
 */

#define _POSIX_C_SOURCE 200809L

#include <memkind.h>

#include <pthread.h>
#include <stdint.h>

#include "pmem_example.h"

#define NAME "pmem_multithreads_onekind"
#define NTHREADS 8
#define NBLOCKS 500
#define LIMIT (4 * (size_t)MEMKIND_PMEM_MIN_SIZE)
#define BIG ((size_t)40 << 20)

static memkind_t kind;
static pthread_barrier_t barrier;
static uint32_t *blocks[NTHREADS][NBLOCKS];

static size_t block_words(int t, int i)
{
    return 4 + (size_t)((t * 373 + i * 1109) % 3500); /* 16 bytes to about 14 KiB */
}

static uint32_t word(int t, int i, size_t w)
{
    return ((uint32_t)t << 28) ^ ((uint32_t)i << 12) ^ (uint32_t)w;
}

/* Round 1: allocate and fill this thread's blocks. */
static void *allocate_round(void *arg)
{
    const int t = (int)(intptr_t)arg;
    pthread_barrier_wait(&barrier); /* start together */
    for (int i = 0; i < NBLOCKS; i++) {
        const size_t n = block_words(t, i);
        uint32_t *p = (uint32_t *)memkind_malloc(kind, n * sizeof(uint32_t));
        blocks[t][i] = p;
        if (!CHECK(p != NULL)) {
            continue;
        }
        for (size_t w = 0; w < n; w++) {
            p[w] = word(t, i, w);
        }
    }
    return NULL;
}

/* Round 2: free the blocks of the next thread. */
static void *free_round(void *arg)
{
    const int owner = ((int)(intptr_t)arg + 1) % NTHREADS;
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < NBLOCKS; i++) {
        memkind_free(kind, blocks[owner][i]);
        blocks[owner][i] = NULL;
    }
    return NULL;
}

static void run_round(void *(*fn)(void *))
{
    pthread_t threads[NTHREADS];
    int started = 0;
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (int t = 0; t < NTHREADS; t++) {
        if (!CHECK(pthread_create(&threads[t], NULL, fn, (void *)(intptr_t)t) == 0)) {
            exit(1); /* the others would wait at the barrier forever */
        }
        started++;
    }
    for (int t = 0; t < started; t++) {
        pthread_join(threads[t], NULL);
    }
    pthread_barrier_destroy(&barrier);
}

int main(int argc, char **argv)
{
    struct ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }
    if (!CHECK(memkind_create_pmem(dir.path, LIMIT, &kind) == MEMKIND_SUCCESS)) {
        ex_dir_close(&dir, NAME);
        return ex_result(NAME);
    }
    printf(NAME ": one PMEM kind limited to %zu MiB, %d threads\n", LIMIT >> 20, NTHREADS);

    run_round(allocate_round);

    /* The main thread reads what every thread wrote. */
    int ok = 1, count = 0;
    size_t bytes = 0;
    for (int t = 0; t < NTHREADS; t++) {
        for (int i = 0; i < NBLOCKS; i++) {
            const uint32_t *p = blocks[t][i];
            if (p == NULL) {
                ok = 0;
                continue;
            }
            for (size_t w = 0; w < block_words(t, i); w++) {
                ok &= p[w] == word(t, i, w);
            }
            ok &= memkind_detect_kind((void *)p) == kind;
            count++;
            bytes += block_words(t, i) * sizeof(uint32_t);
        }
    }
    CHECK(ok);
    printf(NAME ": %d blocks (%zu KiB) allocated concurrently, all intact and from the kind\n",
           count, bytes >> 10);

    /* With the blocks in place, 40 MiB more is beyond the limit. */
    errno = 0;
    void *big = memkind_malloc(kind, BIG);
    printf(NAME ": malloc(%zu MiB) beside them -> %s\n", BIG >> 20,
           big ? "a block" : errno == ENOMEM ? "NULL, ENOMEM" : "NULL");
    CHECK(big == NULL && errno == ENOMEM);
    memkind_free(kind, big);

    run_round(free_round);
    printf(NAME ": each thread freed another thread's blocks\n");

    /* Everything came back. */
    big = memkind_malloc(kind, BIG);
    printf(NAME ": malloc(%zu MiB) now -> %s\n", BIG >> 20, big ? "a block" : "NULL");
    CHECK(big != NULL);
    memkind_free(kind, big);

    CHECK(memkind_destroy_kind(kind) == MEMKIND_SUCCESS);
    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
