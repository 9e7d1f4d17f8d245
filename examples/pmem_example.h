/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_example.h - the little bits every PMEM example shares:
 *
 *   CHECK(cond)      counts a failed check, says where it failed, and yields
 *                    cond (so `if (!CHECK(p != NULL)) ...` can stop early);
 *   ex_dir_open()    picks the PMEM directory: the optional argument, or a
 *                    fresh /tmp/<example>.XXXXXX made for this run;
 *   ex_dir_entries() counts what is in a directory;
 *   ex_dir_close()   checks nothing was left in the directory, and removes
 *                    it if ex_dir_open() made it;
 *   ex_result()      prints PASS or FAIL and gives the exit status.
 *
 * It works from C (define _POSIX_C_SOURCE 200809L before any #include when
 * building with -std=c11) and from C++.
 */

#ifndef PMEM_EXAMPLE_H
#define PMEM_EXAMPLE_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Failed checks so far, from any thread. */
static int ex_failures;

static inline int ex_check(int ok, const char *what, const char *file, int line)
{
    if (!ok) {
        __atomic_fetch_add(&ex_failures, 1, __ATOMIC_RELAXED);
        fprintf(stderr, "%s:%d: CHECK FAILED: %s\n", file, line, what);
    }
    return ok;
}

#define CHECK(cond) ex_check((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

/* Where an example keeps its kinds' files. */
struct ex_dir {
    char path[PATH_MAX];
    int created; /* made by ex_dir_open(): removed by ex_dir_close() */
    long before; /* entries it held when the example started */
};

/* The number of entries in path (without . and ..), or -1 if it cannot be read. */
static inline long ex_dir_entries(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/*
 * Sets up dir from the command line: `name [DIR]`. Returns 0, or -1 after
 * saying why (bad usage, DIR is not a directory, mkdtemp failed).
 */
static inline int ex_dir_open(struct ex_dir *dir, const char *name, int argc, char **argv)
{
    dir->created = 0;
    if (argc > 2) {
        fprintf(stderr, "usage: %s [PMEM_DIR]\n", name);
        return -1;
    }
    if (argc == 2) {
        struct stat st;
        if (strlen(argv[1]) >= sizeof(dir->path)) {
            fprintf(stderr, "%s: directory name too long\n", name);
            return -1;
        }
        strcpy(dir->path, argv[1]);
        if (stat(dir->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "%s: %s is not a directory\n", name, dir->path);
            return -1;
        }
    } else {
        snprintf(dir->path, sizeof(dir->path), "/tmp/%s.XXXXXX", name);
        if (mkdtemp(dir->path) == NULL) {
            fprintf(stderr, "%s: cannot make a directory in /tmp: %s\n", name,
                    strerror(errno));
            return -1;
        }
        dir->created = 1;
    }
    dir->before = ex_dir_entries(dir->path);
    if (dir->before < 0) {
        fprintf(stderr, "%s: cannot list %s\n", name, dir->path);
        if (dir->created) {
            rmdir(dir->path);
        }
        return -1;
    }
    printf("%s: PMEM directory %s (%s)\n", name, dir->path,
           dir->created ? "made for this run" : "given");
    if (dir->before != 0) {
        printf("%s: note: %s already holds %ld entries; none may be added\n", name,
               dir->path, dir->before);
    }
    return 0;
}

/* Checks that the kinds left nothing behind, then removes a directory we made. */
static inline void ex_dir_close(struct ex_dir *dir, const char *name)
{
    long after = ex_dir_entries(dir->path);
    if (CHECK(after == dir->before)) {
        printf("%s: PMEM directory left as it was (%ld entries)\n", name, after);
    } else {
        fprintf(stderr, "%s: %s holds %ld entries, %ld before\n", name, dir->path,
                after, dir->before);
    }
    if (dir->created) {
        CHECK(rmdir(dir->path) == 0);
    }
}

/* Prints the verdict; returns the exit status (0 when every check passed). */
static inline int ex_result(const char *name)
{
    int failed = __atomic_load_n(&ex_failures, __ATOMIC_RELAXED);
    if (failed == 0) {
        printf("%s: PASS\n", name);
        return 0;
    }
    printf("%s: FAIL (%d failed checks)\n", name, failed);
    return 1;
}

#endif /* PMEM_EXAMPLE_H */
