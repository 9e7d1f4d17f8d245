/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * env_debug.c - MEMKIND_DEBUG, MEMKIND_BACKGROUND_THREAD_LIMIT, MEMKIND_HEAP_MANAGER and
 * MORSELKIND_DEBUG (run by tests/suites/env_debug.sh, under many environments).
 *
 * The same source is built against the system memkind 1.14 and against morselkind. It prints
 * "main" first (flushed), so a library that aborts in its constructor leaves stdout empty, then
 * does what its argument says and prints one line about it:
 *   alloc        MEMKIND_DEFAULT and MEMKIND_REGULAR allocate, write and free:  "alloc ok"
 *   pmem DIR     memkind_create_pmem(DIR, 0): "pmem <code>" (destroyed when made)
 *   hbw          memkind_malloc(MEMKIND_HBW, 4 KiB): "hbw check=<code> malloc=<ok|null>"
 *   threads      churns DEFAULT and REGULAR, then turns background threads on
 *                (memkind_set_bg_threads(true)), churns on for a second and prints
 *                "~ bg_threads=<n>": the most threads named "jemalloc_bg_thd" seen in
 *                /proc/self/task meanwhile; before that, "~ bg_threads_before=<n>". ("~ " lines
 *                are left out of the stdout comparison: the suite checks these counts itself.)
 * Exit status: 0, or 1 when a call that must work failed.
 */

#include <memkind.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "observe.h"

static int bg_threads(void) {
    return threads_named("jemalloc_bg_thd");
}

/* Allocates, touches and frees a few MiB in blocks of 4-32 KiB; 0 when every call worked. */
static int churn(memkind_t kind) {
    enum { N = 512 };
    static void *p[N];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < N; i++) {
            p[i] = memkind_malloc(kind, 4096 * (size_t)(i % 8 + 1));
            if (!p[i]) return 1;
            memset(p[i], 0x5a, 64);
        }
        for (int i = 0; i < N; i++) memkind_free(kind, p[i]);
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("main\n");
    fflush(stdout);
    const char *what = argc > 1 ? argv[1] : "alloc";

    if (strcmp(what, "alloc") == 0) {
        if (churn(MEMKIND_DEFAULT) || churn(MEMKIND_REGULAR)) {
            printf("alloc failed\n");
            return 1;
        }
        printf("alloc ok\n");
        return 0;
    }
    if (strcmp(what, "pmem") == 0 && argc > 2) {
        memkind_t kind = NULL;
        int err = memkind_create_pmem(argv[2], 0, &kind);
        printf("pmem %d\n", err);
        if (err == 0) memkind_destroy_kind(kind);
        return 0;
    }
    if (strcmp(what, "hbw") == 0) {
        int check = memkind_check_available(MEMKIND_HBW);
        void *p = memkind_malloc(MEMKIND_HBW, 4096);
        printf("hbw check=%d malloc=%s\n", check, p ? "ok" : "null");
        memkind_free(MEMKIND_HBW, p);
        return 0;
    }
    if (strcmp(what, "threads") == 0) {
        if (churn(MEMKIND_DEFAULT) || churn(MEMKIND_REGULAR)) return 1;
        usleep(100 * 1000);
        printf("~ bg_threads_before=%d\n", bg_threads());
        if (memkind_set_bg_threads(true) != 0) {
            printf("memkind_set_bg_threads(true) failed\n");
            return 1;
        }
        int most = 0;
        for (int i = 0; i < 10; i++) {
            if (churn(MEMKIND_DEFAULT) || churn(MEMKIND_REGULAR)) return 1;
            usleep(100 * 1000);
            int n = bg_threads();
            if (n > most) most = n;
        }
        printf("~ bg_threads=%d\n", most);
        return 0;
    }
    fprintf(stderr, "usage: %s alloc|pmem DIR|hbw|threads\n", argv[0]);
    return 2;
}
