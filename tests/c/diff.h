/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Helpers for the differential programs (tests/suites/differential.sh). Each program is built
 * twice, against memkind 1.14 and against morselkind, and run; the suite compares stdout line by
 * line. So a program prints only what both libraries must agree on: return codes, errno,
 * NULL-ness, sizes, contents checks; never an address. Each OUT line is one compared case.
 */
#ifndef MORSELKIND_TESTS_DIFF_H
#define MORSELKIND_TESTS_DIFF_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memkind.h>

/* One compared case: "name: text". */
static __attribute__((unused)) void OUT(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static __attribute__((unused)) void OUT(const char *name, const char *fmt, ...)
{
    va_list ap;
    printf("%s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* Shown, not compared: a line that starts with "~" is where memkind's answer is a bug or an
 * artifact we deliberately do not copy (the suite prints both sides' lines next to each other). */
static __attribute__((unused)) void INFO(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static __attribute__((unused)) void INFO(const char *name, const char *fmt, ...)
{
    va_list ap;
    printf("~ %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

#ifdef DIFF_SIDE_OURS
#define OURS 1
#else
#define OURS 0
#endif

/* A check that must hold (on both sides, or with `if (OURS)` on ours only): a failure prints a
 * line that cannot match the other side's, and goes to stderr. */
static int g_failures __attribute__((unused));
#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);       \
            printf("CHECK FAILED at line %d: %s\n", __LINE__, #cond);                        \
            g_failures++;                                                                    \
        }                                                                                    \
    } while (0)

/* errno's symbolic name, so both outputs read well. */
static __attribute__((unused)) const char *errname(int e)
{
    switch (e) {
        case 0: return "0";
        case ENOMEM: return "ENOMEM";
        case EINVAL: return "EINVAL";
        case EPERM: return "EPERM";
        case ENODEV: return "ENODEV";
        case EFAULT: return "EFAULT";
        case ENOENT: return "ENOENT";
        case ENOTDIR: return "ENOTDIR";
        case ENOSPC: return "ENOSPC";
        case EEXIST: return "EEXIST";
        case EBUSY: return "EBUSY";
        default: {
            static char buf[32];
            snprintf(buf, sizeof buf, "errno%d", e);
            return buf;
        }
    }
}

/* A memkind status code's name. */
static __attribute__((unused)) const char *codename(int rc)
{
    switch (rc) {
        case MEMKIND_SUCCESS: return "SUCCESS";
        case MEMKIND_ERROR_UNAVAILABLE: return "ERROR_UNAVAILABLE";
        case MEMKIND_ERROR_MBIND: return "ERROR_MBIND";
        case MEMKIND_ERROR_MMAP: return "ERROR_MMAP";
        case MEMKIND_ERROR_MALLOC: return "ERROR_MALLOC";
        case MEMKIND_ERROR_ENVIRON: return "ERROR_ENVIRON";
        case MEMKIND_ERROR_INVALID: return "ERROR_INVALID";
        case MEMKIND_ERROR_TOOMANY: return "ERROR_TOOMANY";
        case MEMKIND_ERROR_BADOPS: return "ERROR_BADOPS";
        case MEMKIND_ERROR_HUGETLB: return "ERROR_HUGETLB";
        case MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE: return "ERROR_MEMTYPE_NOT_AVAILABLE";
        case MEMKIND_ERROR_OPERATION_FAILED: return "ERROR_OPERATION_FAILED";
        case MEMKIND_ERROR_ARENAS_CREATE: return "ERROR_ARENAS_CREATE";
        case MEMKIND_ERROR_RUNTIME: return "ERROR_RUNTIME";
        default: {
            static char buf[32];
            snprintf(buf, sizeof buf, "code%d", rc);
            return buf;
        }
    }
}

/* Fills and verifies a block with a pattern derived from `seed`. */
static __attribute__((unused)) void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(seed + i * 31u);
}

static __attribute__((unused)) int same(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed + i * 31u)) return 0;
    return 1;
}

static __attribute__((unused)) int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

/* Runs fn() in a child process, for calls that may crash: "rc=N" (fn's return, 0..255) or
 * "crash=SIGNAME". */
static __attribute__((unused)) const char *forked(int (*fn)(void))
{
    static char buf[64];
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* Keep the child's output out of the compared stream. */
        if (!freopen("/dev/null", "w", stdout)) _exit(254);
        _exit(fn() & 0xff);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return "fork-failed";
    if (WIFEXITED(st)) snprintf(buf, sizeof buf, "rc=%d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) snprintf(buf, sizeof buf, "crash=%s", sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
    else snprintf(buf, sizeof buf, "status=%#x", st);
    return buf;
}

#endif
