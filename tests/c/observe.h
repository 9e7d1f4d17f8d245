/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * What a test program observes about itself and its files, written once for every program in
 * tests/c and tests/vm: a monotonic clock, its page faults, its open fds (all, or those on files
 * in a directory), fields of /proc/self/status (or of another /proc file of "Name: value"
 * lines, as /proc/meminfo), its threads by name, a directory's entries, a filesystem's size.
 *
 * Header-only (static inline: a program that uses none of it builds without warnings). It reads
 * only /proc/self and the paths it is given; it never allocates from a kind, so it can run
 * between a program's allocations without changing what they observe.
 */
#ifndef MORSELKIND_TESTS_OBSERVE_H
#define MORSELKIND_TESTS_OBSERVE_H

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* Seconds on CLOCK_MONOTONIC. */
static inline double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* This process's minor page faults so far (getrusage's ru_minflt); its major ones (ru_majflt)
 * go to `major` if not NULL. On a DAX filesystem a fault that allocates a file block is major. */
static inline long page_faults(long *major)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (major) *major = ru.ru_majflt;
    return ru.ru_minflt;
}

/*
 * The fds of this process (from /proc/self/fd, without the one reading it). With `dir`, only
 * those on files inside it (by its real path), and with `deleted` only those whose file is
 * unlinked ("(deleted)", as a PMEM kind's file is). Their numbers go to `fds` (if not NULL, up
 * to `max`); returns how many there are (all of them, also past `max`).
 */
static inline int open_fds_into(const char *dir, int deleted, int *fds, int max)
{
    char real[PATH_MAX];
    size_t len = 0;
    if (dir) {
        if (!realpath(dir, real)) return 0;
        len = strlen(real);
    }
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int self = dirfd(d), n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == self) continue;
        if (dir) {
            char link[300], target[PATH_MAX];
            snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
            ssize_t r = readlink(link, target, sizeof target - 1);
            if (r <= 0) continue;
            target[r] = 0;
            if (strncmp(target, real, len) != 0 || target[len] != '/') continue;
            if (deleted && !strstr(target, "(deleted)")) continue;
        }
        if (fds && n < max) fds[n] = atoi(e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* How many fds this process has open. */
static inline int open_fds(void)
{
    return open_fds_into(NULL, 0, NULL, 0);
}

/* A field of a /proc file of "Name: value" lines ("HugePages_Total:" of /proc/meminfo), as the
 * number it shows (kB for sizes); 0 if absent. */
static inline long proc_field(const char *path, const char *field)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long v = 0;
    size_t len = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, len))
            v = atol(line + len);
    if (f)
        fclose(f);
    return v;
}

/* A field of /proc/self/status ("VmSize:"), as the number it shows (kB for sizes); 0 if absent. */
static inline long proc_status(const char *field)
{
    return proc_field("/proc/self/status", field);
}

/* How many threads of this process are named `comm` (/proc/self/task/N/comm); -1 on error. */
static inline int threads_named(const char *comm)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[288], name[64] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(name, sizeof name, f)) name[strcspn(name, "\n")] = 0;
        fclose(f);
        if (strcmp(name, comm) == 0) n++;
    }
    closedir(d);
    return n;
}

/* The entries of a directory, without "." and ".."; -1 if it cannot be read. */
static inline int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* The size of the filesystem holding `path` (f_blocks * f_frsize of statvfs); 0 on error. */
static inline unsigned long long fs_size_bytes(const char *path)
{
    struct statvfs vfs;
    if (statvfs(path, &vfs)) return 0;
    return (unsigned long long)vfs.f_blocks * vfs.f_frsize;
}

#endif
