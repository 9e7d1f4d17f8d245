/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * dlopen()s libmorselkind.so with RTLD_NOW (a library loaded late must not need static TLS),
 * finds memkind's entry points and a kind variable with dlsym, and uses them: DEFAULT and a PMEM
 * kind, from several threads. Usage: dlopen_app LIBRARY PMEM_DIR.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct memkind *memkind_t;
static void *(*k_malloc)(memkind_t, size_t);
static void (*k_free)(memkind_t, void *);
static memkind_t (*k_detect)(void *);
static int (*k_create_pmem)(const char *, size_t, memkind_t *);
static int (*k_destroy)(memkind_t);
static memkind_t *k_default;
static memkind_t g_pmem;

static void *sym(void *lib, const char *name)
{
    void *s = dlsym(lib, name);
    if (!s) {
        fprintf(stderr, "dlopen_app: dlsym(%s): %s\n", name, dlerror());
        exit(1);
    }
    return s;
}

static void *worker(void *arg)
{
    memkind_t kind = arg ? g_pmem : *k_default;
    for (int i = 0; i < 10000; i++) {
        char *p = k_malloc(kind, 16 + i % 4000);
        if (!p || k_detect(p) != kind) return (void *)1;
        memset(p, i, 16);
        k_free(NULL, p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen_app: dlopen: %s\n", dlerror());
        return 1;
    }
    k_malloc = (void *(*)(memkind_t, size_t))sym(lib, "memkind_malloc");
    k_free = (void (*)(memkind_t, void *))sym(lib, "memkind_free");
    k_detect = (memkind_t(*)(void *))sym(lib, "memkind_detect_kind");
    k_create_pmem = (int (*)(const char *, size_t, memkind_t *))sym(lib, "memkind_create_pmem");
    k_destroy = (int (*)(memkind_t))sym(lib, "memkind_destroy_kind");
    k_default = (memkind_t *)sym(lib, "MEMKIND_DEFAULT");
    int (*version)(void) = (int (*)(void))sym(lib, "memkind_get_version");

    if (version() != 1014000) return 1;
    char *p = k_malloc(*k_default, 100);
    if (!p) return 1;
    strcpy(p, "dlopen");
    if (k_detect(p) != *k_default || strcmp(p, "dlopen")) return 1;
    k_free(*k_default, p);
    printf("dlopen_app: memkind_malloc/memkind_free through dlsym: ok\n");

    if (k_create_pmem(argv[2], 0, &g_pmem)) return 1;
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, i % 2 ? (void *)1 : NULL);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        if (r) {
            fprintf(stderr, "dlopen_app: thread %d failed\n", i);
            return 1;
        }
    }
    if (k_destroy(g_pmem)) return 1;
    printf("dlopen_app: 4 threads on DEFAULT and a PMEM kind: ok\n");
    return 0;
}
