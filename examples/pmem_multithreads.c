/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_multithreads - eight threads, each with its own PMEM kind in the same
 * directory, all created, used and destroyed at the same time: every kind is
 * distinct, every block comes from its thread's kind, and no thread's data is
 * disturbed by the others.
 *
 * usage: pmem_multithreads [PMEM_DIR]
 */

#define _POSIX_C_SOURCE 200809L

#include <memkind.h>

#include <pthread.h>
#include <stdint.h>

#include "pmem_example.h"

#define NAME "pmem_multithreads"
#define NTHREADS 8
#define NBLOCKS 200

static struct ex_dir dir;
static pthread_barrier_t barrier;
static memkind_t kinds[NTHREADS];
static int created[NTHREADS];
static int blocks_ok[NTHREADS];

static size_t block_size(int i)
{
    return 16 + (size_t)(i % 50) * 97; /* 16 bytes to about 4.8 KiB */
}

static void *worker(void *arg)
{
    const int id = (int)(intptr_t)arg;
    memkind_t kind = NULL;
    int err = memkind_create_pmem(dir.path, 4 * (size_t)MEMKIND_PMEM_MIN_SIZE, &kind);
    created[id] = CHECK(err == MEMKIND_SUCCESS);
    kinds[id] = created[id] ? kind : NULL;

    /* All kinds exist now: each is different from every other. */
    pthread_barrier_wait(&barrier);
    for (int j = 0; j < NTHREADS; j++) {
        if (j != id && kinds[j] != NULL) {
            CHECK(kinds[j] != kind);
        }
    }
    if (!created[id]) {
        pthread_barrier_wait(&barrier);
        pthread_barrier_wait(&barrier);
        return NULL;
    }

    unsigned char *blocks[NBLOCKS];
    int got = 0;
    for (int i = 0; i < NBLOCKS; i++) {
        blocks[i] = (unsigned char *)memkind_malloc(kind, block_size(i));
        if (!CHECK(blocks[i] != NULL)) {
            break;
        }
        memset(blocks[i], id * 16 + i % 16, block_size(i));
        got++;
    }

    /* Everyone has written; now each checks its own blocks. */
    pthread_barrier_wait(&barrier);
    int ok = got == NBLOCKS;
    for (int i = 0; i < got; i++) {
        const unsigned char want = (unsigned char)(id * 16 + i % 16);
        for (size_t b = 0; b < block_size(i); b++) {
            ok &= blocks[i][b] == want;
        }
        ok &= memkind_detect_kind(blocks[i]) == kind;
    }
    blocks_ok[id] = CHECK(ok);
    for (int i = 0; i < got; i++) {
        memkind_free(kind, blocks[i]);
    }

    /* Destroyed while the other threads destroy theirs. */
    pthread_barrier_wait(&barrier);
    CHECK(memkind_destroy_kind(kind) == MEMKIND_SUCCESS);
    return NULL;
}

int main(int argc, char **argv)
{
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }

    pthread_t threads[NTHREADS];
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (int t = 0; t < NTHREADS; t++) {
        if (pthread_create(&threads[t], NULL, worker, (void *)(intptr_t)t) != 0) {
            fprintf(stderr, NAME ": cannot start thread %d\n", t);
            return 1; /* the other threads wait forever at the barrier */
        }
    }
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(threads[t], NULL);
    }
    pthread_barrier_destroy(&barrier);

    for (int t = 0; t < NTHREADS; t++) {
        printf(NAME ": thread %d: own kind %s, %d blocks %s\n", t,
               created[t] ? "created" : "NOT created", NBLOCKS,
               blocks_ok[t] ? "intact and from its kind" : "WRONG");
    }

    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
