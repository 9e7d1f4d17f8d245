/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Exhaustion cases for tests/suites/limits.sh, built against memkind 1.14 and against
 * morselkind. Each case is one subcommand; it writes every byte it is given (so a block without
 * file space behind it faults here), prints what it got, and exits 0 when the library answered
 * with NULL/ENOMEM (or an error code) rather than a signal. The suite runs each case in a child
 * and reports a signal as a failure for ours, as information for memkind.
 *
 *   twokinds DIR           kind A fills the filesystem with 1 MiB blocks and frees them; kind
 *                          B then takes 1 MiB blocks: it must get some, and every one written.
 *   fill DIR SIZE          one unlimited kind takes SIZE-byte blocks until NULL, writing each.
 *   fork DIR MIB [FILLER]  a kind holds MIB MiB, half written, half only allocated; fork; the
 *                          child writes every block and checks the parent's data is its own.
 *                          With FILLER, a file of that name first takes all the space left
 *                          on the filesystem (removed after the fork).
 *   fdlimit DIR            create PMEM kinds until creation fails (run under ulimit -n).
 *   forkexec DIR MIB N     a kind holds MIB MiB written; N times fork()+exec of true, printing
 *                          the time fork() blocked the parent (ms), one line each.
 *   vlimit DIR KIND        DEFAULT or PMEM: 1 MiB blocks until NULL, printing MiB obtained
 *                          (run under ulimit -v); fails if a successful call changed errno.
 *   forkwait DIR [MIB]     (a kind of MIB MiB, default 8) the child waits for its parent before it calls the library: the
 *                          parent's fork() must return (no deadlock), and the child must then
 *                          work, with the parent's data it inherited.
 *   kindchurn DIR          creates, uses and destroys 300 PMEM kinds; prints how much address
 *                          space (VmSize) grew, which must stay under 16 MiB.
 *   doublefree DIR         frees a cached PMEM block twice, then allocates twice and says
 *                          whether both calls returned the same block.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memkind.h>

#include "observe.h"

#define MIB (1024 * 1024)
#define MAX_BLOCKS (1 << 20)

static void *blocks[MAX_BLOCKS];

static memkind_t make_kind(const char *dir)
{
    memkind_t kind = NULL;
    int err = memkind_create_pmem(dir, 0, &kind);
    if (err) {
        printf("create_pmem: error %d\n", err);
        exit(3);
    }
    return kind;
}

/* Takes `size`-byte blocks from `kind` until NULL (or `max`), writing each; returns how many. */
static size_t errno_changed; /* successful calls that left errno changed */

static size_t fill(memkind_t kind, size_t size, size_t max, int *err)
{
    size_t n = 0;
    *err = 0;
    while (n < max) {
        errno = 0;
        void *p = memkind_malloc(kind, size);
        if (!p) {
            *err = errno;
            break;
        }
        errno_changed += errno != 0;
        memset(p, (int)(n & 0xff) | 1, size);
        blocks[n++] = p;
    }
    return n;
}

static void free_all(memkind_t kind, size_t n)
{
    for (size_t i = 0; i < n; i++)
        memkind_free(kind, blocks[i]);
}

static int twokinds(const char *dir)
{
    memkind_t a = make_kind(dir), b = make_kind(dir);
    int err;
    size_t na = fill(a, MIB, MAX_BLOCKS, &err);
    printf("A: %zu blocks of 1 MiB, then NULL errno=%s\n", na, err == ENOMEM ? "ENOMEM" : strerror(err));
    free_all(a, na);
    size_t nb = fill(b, MIB, MAX_BLOCKS, &err);
    printf("B after A freed all: %zu blocks, then NULL errno=%s\n", nb, err == ENOMEM ? "ENOMEM" : strerror(err));
    free_all(b, nb);
    memkind_destroy_kind(a);
    memkind_destroy_kind(b);
    /* B must get at least half of what A had: A's space was freed. */
    return nb * 2 >= na && na > 0 ? 0 : 1;
}

static int fill_case(const char *dir, size_t size)
{
    memkind_t k = make_kind(dir);
    int err;
    size_t n = fill(k, size, MAX_BLOCKS, &err);
    printf("%zu blocks of %zu B (%zu KiB), then NULL errno=%s\n", n, size, n * size >> 10,
           err == ENOMEM ? "ENOMEM" : strerror(err));
    /* After freeing, the kind serves again. */
    free_all(k, n);
    void *p = memkind_malloc(k, size);
    printf("after freeing all: malloc %s\n", p ? "works" : "NULL");
    if (p) {
        memset(p, 1, size);
        memkind_free(k, p);
    }
    memkind_destroy_kind(k);
    /* NULL with ENOMEM at the end; after freeing, the kind serves again (unless it never had
     * room for one block). */
    return err == ENOMEM && (p || n == 0) ? 0 : 1;
}

/* Grows the file `path` until the filesystem is full; returns its fd. */
static int fill_filesystem(const char *path)
{
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    off_t size = 0;
    while (fd >= 0 && fallocate(fd, 0, size, 1 << 16) == 0)
        size += 1 << 16;
    return fd;
}

static int fork_case(const char *dir, size_t mib, const char *filler)
{
    memkind_t k = make_kind(dir);
    size_t n = mib, written = n / 2;
    for (size_t i = 0; i < n; i++) {
        blocks[i] = memkind_malloc(k, MIB);
        if (!blocks[i]) {
            printf("parent: NULL at block %zu\n", i);
            return 1;
        }
        if (i < written)
            memset(blocks[i], 0x5a, MIB);
    }
    int filler_fd = filler ? fill_filesystem(filler) : -1;
    fflush(stdout);
    pid_t pid = fork();
    if (filler && pid != 0) {
        close(filler_fd);
        unlink(filler);
    }
    if (pid < 0) {
        printf("fork failed: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        /* The child writes every block it inherited, then allocates more. */
        for (size_t i = 0; i < n; i++)
            memset(blocks[i], 0xc3, MIB);
        void *more = memkind_malloc(k, MIB);
        if (more)
            memset(more, 0xc3, MIB);
        /* The child's writes survive its move to its own copy of the kind's file, and what
         * it frees and takes again stays its own. */
        size_t lost = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < MIB; j += 4096)
                lost += ((unsigned char *)blocks[i])[j] != 0xc3;
        memkind_free(k, blocks[0]);
        void *again = memkind_malloc(k, MIB);
        if (again)
            memset(again, 0x11, MIB);
        printf("child: wrote %zu inherited blocks, new block %s, %zu pages lost\n", n, more ? "ok" : "NULL", lost);
        fflush(stdout);
        _exit(lost ? 1 : 0);
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        printf("child: killed by signal %d\n", WTERMSIG(status));
    else
        printf("child: exit %d\n", WEXITSTATUS(status));
    size_t bad = 0;
    for (size_t i = 0; i < written; i++)
        for (size_t j = 0; j < MIB; j += 4096)
            bad += ((unsigned char *)blocks[i])[j] != 0x5a;
    for (size_t i = written; i < n; i++)
        for (size_t j = 0; j < MIB; j += 4096)
            bad += ((unsigned char *)blocks[i])[j] == 0xc3;
    printf("parent: %zu pages changed by the child\n", bad);
    free_all(k, n);
    memkind_destroy_kind(k);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && bad == 0 ? 0 : 1;
}

static int fdlimit(const char *dir)
{
    memkind_t kinds[64];
    int n = 0, err = 0;
    while (n < 64) {
        err = memkind_create_pmem(dir, 0, &kinds[n]);
        if (err)
            break;
        void *p = memkind_malloc(kinds[n], 100);
        if (!p)
            break;
        memkind_free(kinds[n], p);
        n++;
    }
    printf("%d kinds made, then error %d\n", n, err);
    for (int i = 0; i < n; i++)
        memkind_destroy_kind(kinds[i]);
    /* After destroying them, one more can be made again. */
    memkind_t k;
    int again = memkind_create_pmem(dir, 0, &k);
    printf("after destroying them: create %s\n", again ? "fails" : "works");
    if (!again)
        memkind_destroy_kind(k);
    return err != 0 && !again ? 0 : 1;
}

static double now_ms(void)
{
    return mono_seconds() * 1e3;
}

static int forkexec(const char *dir, size_t mib, int times)
{
    memkind_t k = make_kind(dir);
    for (size_t i = 0; i < mib; i++) {
        blocks[i] = memkind_malloc(k, MIB);
        if (!blocks[i]) {
            printf("NULL at block %zu\n", i);
            return 1;
        }
        memset(blocks[i], 0x77, MIB);
    }
    for (int t = 0; t < times; t++) {
        double start = now_ms();
        pid_t pid = fork();
        double took = now_ms() - start;
        if (pid == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(126);
        }
        int status;
        waitpid(pid, &status, 0);
        printf("fork blocked the parent %.3f ms (child exit %d)\n", took, WEXITSTATUS(status));
    }
    free_all(k, mib);
    memkind_destroy_kind(k);
    return 0;
}

static int vlimit(const char *dir, const char *which)
{
    memkind_t k = MEMKIND_DEFAULT;
    if (!strcmp(which, "PMEM"))
        k = make_kind(dir);
    int err;
    size_t n = fill(k, MIB, MAX_BLOCKS, &err);
    /* Free first: with memory exhausted, even the output may find no room. */
    free_all(k, n);
    printf("%s: %zu MiB, then NULL errno=%s; errno changed by %zu successful calls\n", which, n,
           err == ENOMEM ? "ENOMEM" : strerror(err), errno_changed);
    if (k != MEMKIND_DEFAULT)
        memkind_destroy_kind(k);
    return errno_changed == 0 && err == ENOMEM ? 0 : 1;
}

static int forkwait(const char *dir, size_t mib)
{
    memkind_t k = make_kind(dir);
    unsigned char *p = memkind_malloc(k, mib * MIB);
    if (!p)
        return 1;
    memset(p, 0x5a, mib * MIB);
    int fds[2];
    if (pipe(fds))
        return 1;
    double start = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        if (read(fds[0], &c, 1) != 1)
            _exit(2);
        unsigned char *q = memkind_malloc(k, MIB); /* the child's first call */
        int ok = q && p[mib * MIB - 1] == 0x5a;
        if (q)
            memset(q, 1, MIB);
        memset(p, 0xc3, mib * MIB);
        _exit(ok ? 0 : 1);
    }
    double took = now_ms() - start;
    if (write(fds[1], "x", 1) != 1)
        return 1;
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    close(fds[1]);
    int parent_ok = p[0] == 0x5a && p[mib * MIB - 1] == 0x5a;
    printf("fork returned after %.0f ms; child exit %d; parent's data %s\n", took,
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), parent_ok ? "intact" : "CHANGED");
    memkind_free(k, p);
    memkind_destroy_kind(k);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && parent_ok ? 0 : 1;
}

static int kindchurn(const char *dir)
{
    long before = 0;
    for (int i = 0; i < 300; i++) {
        memkind_t k = make_kind(dir);
        void *a = memkind_malloc(k, 100), *b = memkind_malloc(k, MIB);
        memkind_free(k, a);
        memkind_free(k, b);
        memkind_destroy_kind(k);
        if (i == 19)
            before = proc_status("VmSize:");
    }
    long grew = proc_status("VmSize:") - before;
    printf("300 PMEM kinds made and destroyed: address space grew %ld KiB over the last 280\n", grew);
    return grew < 16 * 1024 ? 0 : 1;
}

static int doublefree(const char *dir)
{
    memkind_t k = make_kind(dir);
    void *p = memkind_malloc(k, 64);
    memkind_free(k, p);
    memkind_free(k, p);
    void *a = memkind_malloc(k, 64), *b = memkind_malloc(k, 64);
    printf("after a double free: two mallocs returned %s\n", a == b ? "the same block" : "different blocks");
    memkind_destroy_kind(k);
    return 0;
}

static int run_case(int argc, char **argv);

/* Every case must leave no descriptor behind (a fork child's copies included). */
int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fds = open_fds();
    int rc = run_case(argc, argv);
    int left = open_fds() - fds;
    if (left > 0) {
        printf("%d descriptor(s) left open\n", left);
        return 1;
    }
    return rc;
}

static int run_case(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "twokinds"))
        return twokinds(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "fill"))
        return fill_case(argv[2], strtoul(argv[3], NULL, 0));
    if (argc >= 4 && !strcmp(argv[1], "fork"))
        return fork_case(argv[2], strtoul(argv[3], NULL, 0), argc >= 5 ? argv[4] : NULL);
    if (argc >= 3 && !strcmp(argv[1], "fdlimit"))
        return fdlimit(argv[2]);
    if (argc >= 5 && !strcmp(argv[1], "forkexec"))
        return forkexec(argv[2], strtoul(argv[3], NULL, 0), atoi(argv[4]));
    if (argc >= 3 && !strcmp(argv[1], "forkwait"))
        return forkwait(argv[2], argc >= 4 ? strtoul(argv[3], NULL, 0) : 8);
    if (argc >= 3 && !strcmp(argv[1], "kindchurn"))
        return kindchurn(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "doublefree"))
        return doublefree(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "vlimit"))
        return vlimit(argv[2], argv[3]);
    fprintf(stderr, "usage: limits twokinds|fill|fork|fdlimit|forkexec|vlimit DIR ...\n");
    return 2;
}
