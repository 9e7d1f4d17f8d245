/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Threads starting and allocating at once, from a process's first instant: the start-up path of
 * every kind (static kinds set up on first use, a PMEM kind, thread caches made on a thread's
 * first call) under contention. Memory is plentiful here, so any NULL is a spurious failure.
 *
 *   stress PMEM_DIR THREADS ROUNDS
 *
 * Starts THREADS threads released together by a barrier; each makes ROUNDS rounds of
 * allocations of random sizes (16 B to 256 KiB) from DEFAULT, REGULAR and a PMEM kind made by
 * the main thread while the others already allocate, writes each block, frees them, and exits.
 * Prints "allocations N, null M" and exits 1 if M > 0. benches/stress.sh runs it in a loop of
 * fresh processes under load.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memkind.h>

static pthread_barrier_t start;
static _Atomic(memkind_t) pmem;
static atomic_ulong allocations, nulls;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    long rounds = (long)(uintptr_t)arg >> 16;
    void *held[64];
    pthread_barrier_wait(&start);
    for (long r = 0; r < rounds; r++) {
        memkind_t kinds[3] = {MEMKIND_DEFAULT, MEMKIND_REGULAR, atomic_load(&pmem)};
        for (int i = 0; i < 64; i++) {
            seed = seed * 1103515245u + 12345u;
            memkind_t k = kinds[seed % 3];
            if (!k)
                k = MEMKIND_DEFAULT;
            size_t size = 16u << (seed >> 8) % 15; /* 16 B .. 256 KiB */
            errno = 0;
            held[i] = memkind_malloc(k, size);
            atomic_fetch_add(&allocations, 1);
            if (!held[i]) {
                atomic_fetch_add(&nulls, 1);
                fprintf(stderr, "stress: NULL for %zu bytes of kind %p (errno %d)\n", size, (void *)k, errno);
                continue;
            }
            memset(held[i], 0x5a, size < 4096 ? size : 4096);
        }
        for (int i = 0; i < 64; i++)
            memkind_free(NULL, held[i]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: stress PMEM_DIR THREADS ROUNDS\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    long rounds = atol(argv[3]);
    pthread_t t[256];
    if (threads < 1 || threads > 256)
        return 2;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)((rounds << 16) | (unsigned)i));
    pthread_barrier_wait(&start);
    memkind_t k = NULL;
    int err = memkind_create_pmem(argv[1], 0, &k);
    if (err) {
        fprintf(stderr, "stress: memkind_create_pmem: %d\n", err);
        return 1;
    }
    atomic_store(&pmem, k);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    memkind_destroy_kind(k);
    printf("allocations %lu, null %lu\n", atomic_load(&allocations), atomic_load(&nulls));
    return atomic_load(&nulls) ? 1 : 0;
}
