/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * The malloc family's glibc semantics, for libmorseltier (tests/suites/tiering.sh runs it plain
 * and under `morselkind run`; both outputs must be the same): malloc(0) and friends give unique
 * pointers, realloc(p, 0) frees and returns NULL, overflow and bad alignments fail with glibc's
 * errno, alignments are honoured, malloc_usable_size covers the request, blocks from glibc's own
 * allocator (as allocated before the preload library started) are freed, resized and measured
 * correctly, dlopen/dlsym/dlerror (which allocate inside the dynamic linker) work, and threads
 * that allocate, register thread-local destructors and exit do not break anything, and a forked
 * child's heap is its own (file tiers are shared mappings: memkind's #224).
 * Prints one line per case; never an address.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_memalign(size_t, size_t);

static int failures;
#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            printf("CHECK FAILED at line %d: %s\n", __LINE__, #cond);                  \
            fprintf(stderr, "tier_preload: check failed at line %d: %s\n", __LINE__, #cond); \
            failures++;                                                                \
        }                                                                              \
    } while (0)

static const char *P(const void *p)
{
    return p ? "ptr" : "NULL";
}

static const char *E(int e)
{
    return e == 0 ? "0" : e == ENOMEM ? "ENOMEM" : e == EINVAL ? "EINVAL" : "other";
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}

static int same(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7)) return 0;
    return 1;
}

static __thread char *tls_block;

static void tls_dtor(void *p)
{
    free(p);
}

static void *worker(void *arg)
{
    (void)arg;
    void *blocks[256];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 256; i++) {
            blocks[i] = malloc(1 + (size_t)(i * 97 + round) % 5000);
            if (blocks[i]) memset(blocks[i], i, 1 + (size_t)(i * 97 + round) % 5000);
        }
        for (int i = 0; i < 256; i++) free(blocks[i]);
    }
    tls_block = strdup("thread-local");
    free(tls_block);
    return (void *)1;
}

static pthread_key_t dtor_key;

static void *free_in_thread(void *p)
{
    free(p);
    return NULL;
}

static void *worker_with_dtor(void *arg)
{
    (void)arg;
    /* A pthread key destructor frees a block at thread exit. */
    pthread_setspecific(dtor_key, malloc(100));
    return worker(NULL);
}

int main(void)
{
    void *p, *q;
    int rc;

    /* malloc(0), calloc(0, n), realloc(NULL, 0): unique, freeable pointers. */
    p = malloc(0);
    q = malloc(0);
    printf("malloc(0): %s %s distinct=%d\n", P(p), P(q), p != q);
    free(p);
    free(q);
    p = calloc(0, 16);
    printf("calloc(0, 16): %s\n", P(p));
    free(p);
    p = realloc(NULL, 0);
    printf("realloc(NULL, 0): %s\n", P(p));
    free(p);

    /* realloc(p, 0) frees and returns NULL (glibc). */
    p = malloc(100);
    errno = 0;
    q = realloc(p, 0);
    printf("realloc(p, 0): %s errno=%s\n", P(q), E(errno));

    /* Contents survive realloc, growing and shrinking, across size classes. */
    p = malloc(10);
    fill(p, 10, 1);
    static const size_t steps[] = {24, 200, 5000, 70000, 3 << 20, 100, 1};
    size_t prev = 10;
    int kept = 1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        q = realloc(p, steps[i]);
        if (!q) { kept = 0; break; }
        size_t n = prev < steps[i] ? prev : steps[i];
        kept &= same(q, n, 1);
        fill(q, steps[i], 1);
        prev = steps[i];
        p = q;
    }
    printf("realloc chain keeps contents: %d\n", kept);
    free(p);

    /* Failures. */
    /* volatile: keep the compiler from rejecting the sizes it can see. */
    volatile size_t huge = SIZE_MAX, half = SIZE_MAX / 2;
    errno = 0;
    p = malloc(huge);
    printf("malloc(SIZE_MAX): %s errno=%s\n", P(p), E(errno));
    errno = 0;
    p = calloc(half, 3);
    printf("calloc overflow: %s errno=%s\n", P(p), E(errno));
    errno = 0;
    p = reallocarray(NULL, half, 3);
    printf("reallocarray overflow: %s errno=%s\n", P(p), E(errno));
    p = reallocarray(NULL, 10, 10);
    printf("reallocarray(NULL, 10, 10): %s usable>=100=%d\n", P(p), malloc_usable_size(p) >= 100);
    free(p);

    /* calloc zeroes, even recycled memory. */
    for (int i = 0; i < 100; i++) {
        p = malloc(4000);
        memset(p, 0xab, 4000);
        free(p);
    }
    unsigned char *z = calloc(1000, 4);
    int zero = 1;
    for (int i = 0; i < 4000; i++) zero &= z[i] == 0;
    printf("calloc zeroed: %d\n", zero);
    free(z);

    /* Alignment. */
    static const size_t aligns[] = {1, 2, 3, 8, 16, 24, 32, 64, 100, 4096, 65536, 1 << 21};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t a = aligns[i];
        p = (void *)0x1;
        rc = posix_memalign(&p, a, 100);
        int ok = rc == 0 && ((uintptr_t)p % a) == 0;
        printf("posix_memalign(%zu, 100): rc=%s %s\n", a, E(rc), rc ? (p == (void *)0x1 ? "untouched" : "touched") : (ok ? "aligned" : "MISALIGNED"));
        if (rc == 0) free(p);
        size_t pow = 1;
        while (pow < a) pow <<= 1;
        errno = 0;
        p = memalign(a, 100);
        printf("memalign(%zu, 100): %s aligned=%d\n", a, P(p), p && ((uintptr_t)p % pow) == 0);
        free(p);
        p = aligned_alloc(a, 200);
        printf("aligned_alloc(%zu, 200): %s aligned=%d\n", a, P(p), p && ((uintptr_t)p % pow) == 0);
        free(p);
    }
    /* Many at once, so that consecutive small blocks of every parity are seen. */
    static void *al[16][3][8];
    for (size_t n = 1; n <= 16; n++) {
        for (int k = 0; k < 8; k++) {
            al[n - 1][0][k] = memalign(16, n);
            al[n - 1][1][k] = aligned_alloc(16, n);
            al[n - 1][2][k] = NULL;
            if (posix_memalign(&al[n - 1][2][k], 16, n)) al[n - 1][2][k] = (void *)1;
        }
    }
    for (size_t n = 1; n <= 16; n++) {
        int bad = 0;
        for (int w = 0; w < 3; w++)
            for (int k = 0; k < 8; k++) {
                bad |= (uintptr_t)al[n - 1][w][k] % 16 != 0;
                if ((uintptr_t)al[n - 1][w][k] % 16 == 0) free(al[n - 1][w][k]);
            }
        if (bad) {
            printf("16-byte alignment of %zu-byte blocks: MISALIGNED\n", n);
            failures++;
        }
    }
    printf("16-byte alignment of 1..16-byte blocks: checked\n");
    p = NULL;
    rc = posix_memalign(&p, 64, 0);
    printf("posix_memalign(64, 0): rc=%s %s\n", E(rc), P(p));
    free(p);
    long page = sysconf(_SC_PAGESIZE);
    p = valloc(10);
    printf("valloc(10): %s page-aligned=%d\n", P(p), p && ((uintptr_t)p % page) == 0);
    free(p);
    p = pvalloc(10);
    printf("pvalloc(10): %s page-aligned=%d usable>=page=%d\n", P(p), p && ((uintptr_t)p % page) == 0,
           malloc_usable_size(p) >= (size_t)page);
    free(p);
    p = pvalloc(0);
    printf("pvalloc(0): %s\n", P(p));
    free(p);

    /* malloc_usable_size covers the request and is writable. */
    int covers = 1;
    for (size_t n = 1; n < 100000; n = n * 3 + 1) {
        unsigned char *b = malloc(n);
        size_t u = malloc_usable_size(b);
        covers &= u >= n;
        memset(b, 1, u);
        free(b);
    }
    printf("usable_size covers: %d usable(NULL)=%zu\n", covers, malloc_usable_size(NULL));

    /* Blocks of glibc's own allocator: what a program holds from before the preload started. */
    p = __libc_malloc(1000);
    fill(p, 1000, 9);
    printf("glibc block: usable>=1000=%d\n", malloc_usable_size(p) >= 1000);
    q = realloc(p, 100000);
    printf("glibc block realloc: %s kept=%d\n", P(q), q && same(q, 1000, 9));
    free(q);
    free(__libc_calloc(10, 10));
    free(__libc_memalign(4096, 10));
    p = __libc_malloc(50);
    printf("glibc block realloc(p, 0): %s\n", P(realloc(p, 0)));

    /* The dynamic linker allocates in dlopen, dlsym and dlerror. */
    void *h = dlopen("libm.so.6", RTLD_NOW);
    void *sym = h ? dlsym(h, "cos") : NULL;
    void *nosym = h ? dlsym(h, "no_such_symbol_here") : NULL;
    const char *err = dlerror();
    printf("dlopen/dlsym/dlerror: %s %s %s %s\n", P(h), P(sym), P(nosym), err ? "error-text" : "NULL");
    void *h2 = dlopen("libno-such-library.so", RTLD_NOW);
    printf("dlopen(missing): %s %s\n", P(h2), dlerror() ? "error-text" : "NULL");
    if (h) dlclose(h);

    /* Threads: allocate, register destructors, exit. */
    pthread_key_create(&dtor_key, tls_dtor);
    pthread_t t[8];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, i % 2 ? worker : worker_with_dtor, NULL);
        int ok = 1;
        for (int i = 0; i < 8; i++) {
            void *r = NULL;
            pthread_join(t[i], &r);
            ok &= r == (void *)1;
        }
        printf("threads round %d: %d\n", round, ok);
    }

    /* A block freed by another thread than the one that allocated it. */
    char *shared = malloc(3000);
    strcpy(shared, "cross-thread");
    pthread_t ft;
    pthread_create(&ft, NULL, free_in_thread, shared);
    pthread_join(ft, NULL);
    printf("cross-thread free: done\n");

    /* fork: the child's heap is its own, file tiers included (they are shared mappings). */
    enum { NB = 2000 };
    static unsigned char *blk[NB];
    for (int i = 0; i < NB; i++) {
        blk[i] = malloc(64 + (size_t)i * 13);
        memset(blk[i], 'p', 64 + (size_t)i * 13);
    }
    int to_child[2], to_parent[2];
    if (pipe(to_child) || pipe(to_parent)) return 2;
    pid_t pid = fork();
    if (pid == 0) {
        char go;
        int seen_parent_data = 1;
        for (int i = 0; i < NB; i++) seen_parent_data &= blk[i][0] == 'p' && blk[i][63 + i * 13] == 'p';
        /* Wait until the parent has scribbled on its blocks: we must not see it. */
        if (read(to_child[0], &go, 1) != 1) _exit(3);
        int untouched = 1;
        for (int i = 0; i < NB; i++) untouched &= blk[i][0] == 'p';
        /* Free, reuse and scribble: the parent must not see this. */
        for (int i = 0; i < NB; i += 2) free(blk[i]);
        for (int i = 0; i < NB; i += 2) { blk[i] = malloc(64 + (size_t)i * 13); memset(blk[i], 'c', 64 + (size_t)i * 13); }
        for (int i = 1; i < NB; i += 2) memset(blk[i], 'c', 64 + (size_t)i * 13);
        char ok = seen_parent_data && untouched ? 'y' : 'n';
        if (write(to_parent[1], &ok, 1) != 1) _exit(4);
        _exit(0);
    }
    for (int i = 0; i < NB; i++) blk[i][0] = 'P';
    char go = 'g', child_ok = '?';
    if (write(to_child[1], &go, 1) != 1 || read(to_parent[0], &child_ok, 1) != 1) return 2;
    int status = 0;
    waitpid(pid, &status, 0);
    int parent_ok = 1;
    for (int i = 0; i < NB; i++) parent_ok &= blk[i][0] == 'P' && blk[i][1] == 'p' && blk[i][63 + i * 13] == 'p';
    for (int i = 0; i < NB; i++) free(blk[i]);
    printf("fork: child saw the parent's data and not its later writes=%c, parent untouched=%d, child exit=%d\n",
           child_ok, parent_ok, WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    /* stdio, strdup, getline: glibc's own calls to malloc and free. */
    char *s = strdup("hello");
    FILE *f = fmemopen(s, 5, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    printf("getline: %zd %s\n", n, line);
    fclose(f);
    free(line);
    free(s);

    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
