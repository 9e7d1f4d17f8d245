/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Shared kinds between processes (morselkind.h): every call, bad input, growth after attach,
 * fork, kill -9 of either side, and attach by another user. Run by tests/suites/share.sh.
 *
 *   share calls DIR        two processes through every call ("-" for a memfd)
 *   share fork DIR         the exporter forks: its child has a private copy, the attacher
 *                          keeps seeing the exporter
 *   share kill DIR ROUNDS  kill -9 of the attacher, then of the exporter, at random points
 *   share hold DIR         an exporter that prints "PID FD RECORD" and waits for stdin to close
 *   share intrude PID FD RECORD   tries to attach another process's kind through /proc:
 *                          exit 0 when refused (EACCES), 3 when it got in
 *
 * Every process checks its own fds and maps at the end: nothing of a shared kind may be left.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memkind.h>
#include <morselkind.h>

#include "observe.h"
#include "xorshift.h"

#define MIB (1UL << 20)

static const char *who = "share";

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s[%d]: FAIL %s:%d: ", who, (int)getpid(), __FILE__, __LINE__);      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* A message between the two test processes. */
struct msg {
    uint64_t op, ptr, len, seed;
};

static void put(int sock, uint64_t op, const void *ptr, size_t len, uint64_t seed)
{
    struct msg m = {op, (uint64_t)(uintptr_t)ptr, len, seed};
    CHECK(send(sock, &m, sizeof m, MSG_NOSIGNAL) == (ssize_t)sizeof m, "send: %s", strerror(errno));
}

static struct msg take(int sock)
{
    struct msg m;
    ssize_t n = recv(sock, &m, sizeof m, 0);
    CHECK(n == (ssize_t)sizeof m, "recv: %zd (%s)", n, strerror(errno));
    return m;
}

static void fill(void *p, size_t len, uint64_t seed)
{
    uint64_t *w = p;
    for (size_t i = 0; i < len / 8; i++)
        w[i] = seed * 0x9E3779B97F4A7C15ULL + i;
}

/* The index of the first word that differs from fill()'s, or -1. */
static long check(const void *p, size_t len, uint64_t seed)
{
    const uint64_t *w = p;
    for (size_t i = 0; i < len / 8; i++)
        if (w[i] != seed * 0x9E3779B97F4A7C15ULL + i)
            return (long)i;
    return -1;
}

static const char *dir_arg(const char *a)
{
    return strcmp(a, "-") == 0 ? NULL : a;
}

/* Lines of /proc/self/maps that map a shared kind's file (memfd or unnamed file). */
static int shared_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "morselkind-shared") || strstr(line, "(deleted)"))
            n++;
    if (f)
        fclose(f);
    return n;
}

/* Sends `fd` with the record over `sock`, as any program with a channel of its own would. */
static void send_fd(int sock, int fd, const struct morselkind_share_record *r)
{
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {(void *)r, sizeof *r};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    CHECK(sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof *r, "sendmsg: %s", strerror(errno));
}

static int recv_fd(int sock, struct morselkind_share_record *r)
{
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {r, sizeof *r};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    CHECK(recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) == (ssize_t)sizeof *r, "recvmsg: %s", strerror(errno));
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    CHECK(c && c->cmsg_type == SCM_RIGHTS, "no descriptor");
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

/* A call that must fail with `code` and errno `err`. */
#define REFUSED(call, code, err)                                                                   \
    do {                                                                                           \
        errno = 0;                                                                                 \
        int rc_ = (call);                                                                          \
        CHECK(rc_ == (code) && errno == (err), "%s: %d errno %d (%s), wanted %d errno %d", #call,  \
              rc_, errno, strerror(errno), (code), (err));                                         \
    } while (0)

enum { OP_BLOCK = 1, OP_DONE, OP_ACK, OP_GROWN, OP_RO, OP_QUIT };

/* ---- calls ---- */

static void calls_attacher(int sock)
{
    who = "share calls attacher";
    struct morselkind_attachment *a = NULL;
    int fds_before = open_fds_into(NULL, 0, NULL, 0);

    /* Bad input first, on a real export: every one an error, nothing mapped. */
    struct morselkind_share_record r;
    int fd = recv_fd(sock, &r);
    struct morselkind_share_record bad = r;
    bad.ino ^= 1;
    REFUSED(morselkind_share_attach(fd, &bad, 0, &a), MEMKIND_ERROR_INVALID, EINVAL); /* stale */
    bad = r;
    bad.size += 2 * MIB;
    REFUSED(morselkind_share_attach(fd, &bad, 0, &a), MEMKIND_ERROR_INVALID, EINVAL); /* too big */
    bad = r;
    bad.magic = 0;
    REFUSED(morselkind_share_attach(fd, &bad, 0, &a), MEMKIND_ERROR_INVALID, EINVAL);
    bad = r;
    bad.base += 1;
    REFUSED(morselkind_share_attach(fd, &bad, 0, &a), MEMKIND_ERROR_INVALID, EINVAL);
    REFUSED(morselkind_share_attach(fd, &r, 7, &a), MEMKIND_ERROR_INVALID, EINVAL);
    REFUSED(morselkind_share_attach(fd, NULL, 0, &a), MEMKIND_ERROR_INVALID, EINVAL);
    REFUSED(morselkind_share_attach(fd, &r, 0, NULL), MEMKIND_ERROR_INVALID, EINVAL);
    REFUSED(morselkind_share_attach(-1, &r, 0, &a), MEMKIND_ERROR_MMAP, EBADF);
    REFUSED(morselkind_share_attach(0, &r, 0, &a), MEMKIND_ERROR_INVALID, EINVAL); /* not its file */
    /* The window taken by a mapping of this process: EEXIST, and nothing mapped elsewhere. */
    void *squat = mmap((void *)(uintptr_t)(r.base + r.size / 2), 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(squat != MAP_FAILED, "cannot squat in the window: %s", strerror(errno));
    REFUSED(morselkind_share_attach(fd, &r, 0, &a), MEMKIND_ERROR_MMAP, EEXIST);
    CHECK(shared_maps() == 0, "a refused attach left %d mappings", shared_maps());
    munmap(squat, 4096);
    close(fd);
    REFUSED(morselkind_share_attach(fd, &r, 0, &a), MEMKIND_ERROR_MMAP, EBADF); /* closed */

    /* The real thing: receive, attach read-write. */
    int rc = morselkind_share_receive(sock, 0, &a);
    CHECK(rc == MEMKIND_SUCCESS, "receive: %d errno %d", rc, errno);
    char *base = morselkind_attachment_base(a);
    size_t size = morselkind_attachment_size(a);
    CHECK(morselkind_attachment_base(NULL) == NULL && morselkind_attachment_size(NULL) == 0, "NULL attachment");
    struct msg m = take(sock);
    CHECK(m.op == OP_BLOCK, "op %" PRIu64, m.op);
    CHECK((uintptr_t)base <= m.ptr && m.ptr + m.len <= (uintptr_t)base + size, "block outside the window");
    long bad_word = check((void *)(uintptr_t)m.ptr, m.len, m.seed);
    CHECK(bad_word < 0, "the exporter's block differs at word %ld", bad_word);
    fill((void *)(uintptr_t)m.ptr, m.len, m.seed + 1); /* write back */
    put(sock, OP_ACK, NULL, 0, 0);
    /* A second attach of the same window here: EEXIST. */
    fd = recv_fd(sock, &r);
    REFUSED(morselkind_share_attach(fd, &r, 0, &a), MEMKIND_ERROR_MMAP, EEXIST);
    CHECK(a != NULL && morselkind_attachment_base(a) == base, "a failed attach changed the attachment");
    close(fd);

    /* Growth after attach: blocks made since, all visible through the first mapping. */
    uint64_t seen = 0;
    for (;;) {
        m = take(sock);
        if (m.op != OP_BLOCK)
            break;
        bad_word = check((void *)(uintptr_t)m.ptr, m.len, m.seed);
        CHECK(bad_word < 0, "grown block %" PRIu64 " differs at word %ld", m.seed, bad_word);
        seen += m.len;
    }
    CHECK(m.op == OP_GROWN && seen == m.len, "saw %" PRIu64 " of %" PRIu64 " grown bytes", seen, m.len);
    put(sock, OP_ACK, NULL, 0, 0);

    /* Read-only: detach, then attach the read-only export. */
    CHECK(morselkind_share_detach(a) == MEMKIND_SUCCESS, "detach");
    CHECK(shared_maps() == 0, "detach left %d mappings", shared_maps());
    REFUSED(morselkind_share_detach(NULL), MEMKIND_ERROR_INVALID, EINVAL);
    int ro = recv_fd(sock, &r);
    CHECK(r.flags == MORSELKIND_SHARE_READONLY, "flags %u", r.flags);
    REFUSED(morselkind_share_attach(ro, &r, 0, &a), MEMKIND_ERROR_INVALID, EINVAL);
    struct morselkind_share_record forged = r;
    forged.flags = 0;
    REFUSED(morselkind_share_attach(ro, &forged, 0, &a), MEMKIND_ERROR_MMAP, EACCES);
    CHECK(morselkind_share_attach(ro, &r, MORSELKIND_SHARE_READONLY, &a) == MEMKIND_SUCCESS, "attach read-only");
    close(ro);
    m = take(sock);
    CHECK(m.op == OP_RO, "op %" PRIu64, m.op);
    bad_word = check((void *)(uintptr_t)m.ptr, m.len, m.seed);
    CHECK(bad_word < 0, "read-only block differs at word %ld", bad_word);
    CHECK(mprotect((void *)(m.ptr & ~4095UL), 4096, PROT_READ | PROT_WRITE) != 0 && errno == EACCES,
          "a read-only attachment could be made writable");
    pid_t w = fork();
    if (w == 0) {
        *(volatile char *)(uintptr_t)m.ptr = 1; /* must die of SIGSEGV */
        _exit(0);
    }
    int st;
    waitpid(w, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "a write to a read-only attachment did not fault");
    CHECK(morselkind_share_detach(a) == MEMKIND_SUCCESS, "detach read-only");
    put(sock, OP_ACK, NULL, 0, 0);
    CHECK(shared_maps() == 0, "%d mappings left", shared_maps());
    CHECK(open_fds_into(NULL, 0, NULL, 0) == fds_before, "fds: %d before, %d after",
          fds_before, open_fds_into(NULL, 0, NULL, 0));
    take(sock); /* OP_QUIT */
    exit(0);
}

static void calls_exporter(int sock, const char *dir)
{
    who = "share calls exporter";
    int fds_before = open_fds_into(NULL, 0, NULL, 0);
    memkind_t kind = NULL;
    REFUSED(morselkind_create_shared(dir, 0, &kind), MEMKIND_ERROR_INVALID, EINVAL);
    REFUSED(morselkind_create_shared(dir, 1 << 20, NULL), MEMKIND_ERROR_INVALID, EINVAL);
    REFUSED(morselkind_create_shared("/no/such/dir", 64 * MIB, &kind), MEMKIND_ERROR_INVALID, EINVAL);
    int rc = morselkind_create_shared(dir, 256 * MIB, &kind);
    CHECK(rc == MEMKIND_SUCCESS, "create_shared: %d errno %d", rc, errno);
    int fd;
    struct morselkind_share_record r;
    REFUSED(morselkind_share_export(MEMKIND_DEFAULT, 0, &fd, &r), MEMKIND_ERROR_INVALID, EINVAL);
    REFUSED(morselkind_share_export(kind, 5, &fd, &r), MEMKIND_ERROR_INVALID, EINVAL);
    REFUSED(morselkind_share_export(kind, 0, NULL, &r), MEMKIND_ERROR_INVALID, EINVAL);
    REFUSED(morselkind_share_send(kind, -1, 0), MEMKIND_ERROR_MMAP, EBADF);
    REFUSED(morselkind_share_send(MEMKIND_DEFAULT, sock, 0), MEMKIND_ERROR_INVALID, EINVAL);
    CHECK(morselkind_share_export(kind, 0, &fd, &r) == MEMKIND_SUCCESS, "export");
    CHECK(r.size == 256 * MIB && r.version == 1 && r.flags == 0 && r.base % (2 * MIB) == 0, "record");
    CHECK(r.base >= (16ULL << 40) && r.base < (80ULL << 40), "window at %#" PRIx64 ", outside 16-80 TiB", r.base);
    /* In this process the window is mapped already. */
    struct morselkind_attachment *a = NULL;
    REFUSED(morselkind_share_attach(fd, &r, 0, &a), MEMKIND_ERROR_MMAP, EEXIST);
    send_fd(sock, fd, &r); /* for the attacher's bad-input round */
    close(fd);

    CHECK(morselkind_share_send(kind, sock, 0) == MEMKIND_SUCCESS, "send");
    size_t len = 3 * MIB + 4096;
    char *p = memkind_malloc(kind, len);
    CHECK(p && (uintptr_t)p >= r.base && (uintptr_t)p + len <= r.base + r.size, "malloc in the window");
    CHECK(memkind_detect_kind(p) == kind, "detect_kind");
    fill(p, len, 42);
    put(sock, OP_BLOCK, p, len, 42);
    CHECK(take(sock).op == OP_ACK, "ack");
    long bad_word = check(p, len, 43);
    CHECK(bad_word < 0, "the attacher's write-back differs at word %ld", bad_word);
    CHECK(morselkind_share_export(kind, 0, &fd, &r) == MEMKIND_SUCCESS, "export again");
    send_fd(sock, fd, &r);
    close(fd);

    /* Growth: 200 MiB more, in blocks of every size class range. */
    uint64_t grown = 0;
    void *blocks[4096];
    int nb = 0;
    size_t sizes[] = {16, 200, 4000, 40000, 300000, 5 * MIB};
    for (uint64_t seed = 100; grown < 200 * MIB && nb < 4096; seed++) {
        size_t sz = sizes[seed % 6];
        char *b = memkind_malloc(kind, sz);
        if (!b)
            break;
        fill(b, sz & ~7UL, seed);
        put(sock, OP_BLOCK, b, sz & ~7UL, seed);
        grown += sz & ~7UL;
        blocks[nb++] = b;
    }
    CHECK(grown >= 190 * MIB, "the kind grew only %" PRIu64 " bytes", grown);
    /* The window is the limit: one more large block does not fit. */
    errno = 0;
    CHECK(memkind_malloc(kind, 64 * MIB) == NULL && errno == ENOMEM, "allocation past the window");
    put(sock, OP_GROWN, NULL, grown, 0);
    CHECK(take(sock).op == OP_ACK, "ack grown");

    CHECK(morselkind_share_export(kind, MORSELKIND_SHARE_READONLY, &fd, &r) == MEMKIND_SUCCESS, "export ro");
    CHECK(fcntl(fd, F_GETFL) >= 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY, "read-only export is not O_RDONLY");
    send_fd(sock, fd, &r);
    close(fd);
    put(sock, OP_RO, p, len, 43);
    CHECK(take(sock).op == OP_ACK, "ack ro");
    bad_word = check(p, len, 43);
    CHECK(bad_word < 0, "the block changed under a read-only attachment (word %ld)", bad_word);

    for (int i = 0; i < nb; i++)
        memkind_free(kind, blocks[i]);
    memkind_free(kind, p);
    CHECK(memkind_destroy_kind(kind) == MEMKIND_SUCCESS, "destroy");
    put(sock, OP_QUIT, NULL, 0, 0);
    CHECK(shared_maps() == 0, "%d mappings left", shared_maps());
    CHECK(open_fds_into(NULL, 0, NULL, 0) == fds_before, "fds: %d before, %d after",
          fds_before, open_fds_into(NULL, 0, NULL, 0));
}

static int wait_ok(pid_t pid)
{
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void run_calls(const char *dir)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    /* The attacher is forked before any kind exists: a process of its own, not a copy. */
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        calls_attacher(sv[1]);
    }
    close(sv[1]);
    calls_exporter(sv[0], dir);
    CHECK(wait_ok(pid), "the attacher failed");
    printf("calls: every call, bad input, growth after attach, read-only: ok\n");
}

/* ---- fork ---- */

static void run_fork(const char *dir)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    pid_t att = fork();
    if (att == 0) {
        who = "share fork attacher";
        close(sv[0]);
        struct morselkind_attachment *a;
        CHECK(morselkind_share_receive(sv[1], MORSELKIND_SHARE_READONLY, &a) == MEMKIND_SUCCESS, "receive");
        for (;;) {
            struct msg m = take(sv[1]);
            if (m.op == OP_QUIT)
                break;
            long bad_word = check((void *)(uintptr_t)m.ptr, m.len, m.seed);
            CHECK(bad_word < 0, "attacher: seed %" PRIu64 " differs at word %ld", m.seed, bad_word);
            put(sv[1], OP_ACK, NULL, 0, 0);
        }
        morselkind_share_detach(a);
        exit(0);
    }
    close(sv[1]);
    who = "share fork exporter";
    memkind_t kind;
    CHECK(morselkind_create_shared(dir, 64 * MIB, &kind) == MEMKIND_SUCCESS, "create");
    CHECK(morselkind_share_send(kind, sv[0], MORSELKIND_SHARE_READONLY) == MEMKIND_SUCCESS, "send");
    size_t len = 8 * MIB;
    char *b = memkind_malloc(kind, len);
    CHECK(b, "malloc");
    fill(b, len, 1);
    put(sv[0], OP_BLOCK, b, len, 1);
    CHECK(take(sv[0]).op == OP_ACK, "ack 1");
    int pp[2], cp[2]; /* the child to the parent, the parent to the child */
    CHECK(pipe(pp) == 0 && pipe(cp) == 0, "pipe");
    pid_t child = fork();
    if (child == 0) {
        who = "share fork child";
        /* The child's copy: its writes are its own, and it allocates on. */
        CHECK(check(b, len, 1) < 0, "the child does not see the parent's block");
        fill(b, len, 2);
        for (int i = 0; i < 100; i++) {
            void *q = memkind_malloc(kind, 100000);
            CHECK(q, "child malloc %d", i);
            memset(q, 0x5a, 100000);
            memkind_free(kind, q);
        }
        CHECK(check(b, len, 2) < 0, "the child's block changed");
        CHECK(write(pp[1], "x", 1) == 1, "write");
        char c;
        CHECK(read(cp[0], &c, 1) == 1, "read"); /* the parent has written seed 3 */
        CHECK(check(b, len, 2) < 0, "the parent's write reached the child");
        CHECK(memkind_destroy_kind(kind) == MEMKIND_SUCCESS, "child destroy");
        _exit(0);
    }
    char c;
    CHECK(read(pp[0], &c, 1) == 1, "read");
    CHECK(check(b, len, 1) < 0, "the child's write reached the parent");
    put(sv[0], OP_BLOCK, b, len, 1); /* the attacher sees the parent's block, not the child's */
    CHECK(take(sv[0]).op == OP_ACK, "ack after fork");
    fill(b, len, 3);
    put(sv[0], OP_BLOCK, b, len, 3); /* and the parent's writes since */
    CHECK(take(sv[0]).op == OP_ACK, "ack 3");
    CHECK(write(cp[1], "x", 1) == 1, "write");
    CHECK(wait_ok(child), "the forked child failed");
    put(sv[0], OP_QUIT, NULL, 0, 0);
    CHECK(wait_ok(att), "the attacher failed");
    memkind_free(kind, b);
    CHECK(memkind_destroy_kind(kind) == MEMKIND_SUCCESS, "destroy");
    printf("fork: the exporter's child has a private copy; the attacher sees the exporter: ok\n");
}

/* ---- kill -9 ---- */

/* rnd(): the tests' xorshift generator, seeded from the clock (the seed is printed). */
#define rnd next

/* Allocates, fills and frees at random in `kind`, holding up to 64 blocks; checks each
 * block it frees. Returns after `ms` milliseconds, or never when the caller is killed. */
static void churn(memkind_t kind, void **held, size_t *lens, uint64_t *seeds, int ms, uint64_t *next_seed)
{
    double end = mono_seconds() + ms / 1000.0;
    while (mono_seconds() < end) {
        int i = rnd() % 64;
        if (held[i]) {
            long bad_word = check(held[i], lens[i], seeds[i]);
            CHECK(bad_word < 0, "held block %d differs at word %ld", i, bad_word);
            memkind_free(kind, held[i]);
            held[i] = NULL;
        } else {
            size_t sz = (8 + rnd() % (rnd() % 4 ? 4096 : 2 * MIB)) & ~7UL;
            held[i] = memkind_malloc(kind, sz);
            CHECK(held[i], "churn malloc %zu", sz);
            lens[i] = sz;
            seeds[i] = (*next_seed)++;
            fill(held[i], sz, seeds[i]);
        }
    }
}

/* The attacher of the kill rounds: a fresh program (exec'd), so nothing is mapped in the
 * window; it checks each block it is sent, writes it back with seed + 1000000 and acks, until
 * the socket closes or it is killed. */
static int run_attacher(int sock)
{
    who = "share kill attacher";
    struct morselkind_attachment *a;
    CHECK(morselkind_share_receive(sock, 0, &a) == MEMKIND_SUCCESS, "receive: errno %d", errno);
    struct msg m;
    while (recv(sock, &m, sizeof m, 0) == (ssize_t)sizeof m) {
        long bad_word = check((void *)(uintptr_t)m.ptr, m.len, m.seed);
        CHECK(bad_word < 0, "seed %" PRIu64 " differs at word %ld", m.seed, bad_word);
        fill((void *)(uintptr_t)m.ptr, m.len, m.seed + 1000000);
        put(sock, OP_ACK, NULL, 0, m.seed);
    }
    morselkind_share_detach(a);
    return 0;
}

static pid_t spawn_attacher(int sock)
{
    pid_t pid = fork();
    if (pid == 0) {
        char arg[16];
        snprintf(arg, sizeof arg, "%d", sock);
        fcntl(sock, F_SETFD, 0);
        execl("/proc/self/exe", "share", "attacher", arg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Receives without waiting; 0 when nothing is there. */
static int poll_msg(int sock, struct msg *m)
{
    ssize_t n = recv(sock, m, sizeof *m, MSG_DONTWAIT);
    return n == (ssize_t)sizeof *m;
}

#define SENT 256

static void run_kill(const char *dir, int rounds)
{
    rng = (uint64_t)time(NULL) * 2654435761u | 1;
    printf("kill: seed %" PRIu64 "\n", rng);
    int fds_before = open_fds_into(NULL, 0, NULL, 0);
    int sigs = 0;

    /* 1. The attacher dies at a random point; for the exporter nothing changes. */
    memkind_t kind;
    CHECK(morselkind_create_shared(dir, 512 * MIB, &kind) == MEMKIND_SUCCESS, "create");
    void *held[64] = {0};
    size_t lens[64];
    uint64_t seeds[64], next_seed = 1;
    uint64_t acked_total = 0;
    for (int round = 0; round < rounds; round++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
        pid_t att = spawn_attacher(sv[1]);
        close(sv[1]);
        CHECK(morselkind_share_send(kind, sv[0], 0) == MEMKIND_SUCCESS, "send");
        char *sent[SENT];
        size_t sent_len[SENT];
        uint64_t sent_seed[SENT];
        int acked[SENT] = {0}, ns = 0;
        /* The first block goes there and back before the clock starts: every round kills an
         * attacher that is at work, however slow the machine. */
        sent_len[0] = 4096;
        sent[0] = memkind_malloc(kind, sent_len[0]);
        CHECK(sent[0], "malloc");
        sent_seed[0] = next_seed++;
        fill(sent[0], sent_len[0], sent_seed[0]);
        put(sv[0], OP_BLOCK, sent[0], sent_len[0], sent_seed[0]);
        CHECK(take(sv[0]).seed == sent_seed[0], "the first ack");
        acked[0] = 1;
        ns = 1;
        double deadline = mono_seconds() + (1 + rnd() % 40) / 1000.0;
        while (mono_seconds() < deadline) {
            churn(kind, held, lens, seeds, 1, &next_seed);
            if (ns < SENT) {
                size_t sz = (8 + rnd() % 65536) & ~7UL;
                sent[ns] = memkind_malloc(kind, sz);
                CHECK(sent[ns], "malloc");
                sent_len[ns] = sz;
                sent_seed[ns] = next_seed++;
                fill(sent[ns], sz, sent_seed[ns]);
                put(sv[0], OP_BLOCK, sent[ns], sz, sent_seed[ns]);
                ns++;
            }
            struct msg m;
            while (poll_msg(sv[0], &m))
                for (int i = 0; i < ns; i++)
                    if (sent_seed[i] == m.seed)
                        acked[i] = 1;
        }
        kill(att, SIGKILL);
        int st;
        waitpid(att, &st, 0);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the attacher ended before it was killed (status %#x)", st);
        sigs++;
        close(sv[0]);
        /* Acked blocks hold the attacher's write-back; every held block is whole. */
        for (int i = 0; i < ns; i++) {
            if (acked[i]) {
                long bad_word = check(sent[i], sent_len[i], sent_seed[i] + 1000000);
                CHECK(bad_word < 0, "acked block %d differs at word %ld", i, bad_word);
                acked_total++;
            }
            memkind_free(kind, sent[i]);
        }
        churn(kind, held, lens, seeds, 2, &next_seed);
    }
    for (int i = 0; i < 64; i++)
        if (held[i]) {
            CHECK(check(held[i], lens[i], seeds[i]) < 0, "held block %d changed", i);
            memkind_free(kind, held[i]);
        }
    CHECK(memkind_destroy_kind(kind) == MEMKIND_SUCCESS, "destroy");
    printf("kill: %d attachers killed at random points, %" PRIu64 " blocks written back, the exporter's data whole\n",
           rounds, acked_total);

    /* 2. The exporter dies at a random point; what the attacher was given stays readable. */
    uint64_t checked = 0;
    for (int round = 0; round < rounds; round++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
        pid_t exp = fork();
        if (exp == 0) {
            who = "share kill exporter";
            close(sv[0]);
            memkind_t k;
            CHECK(morselkind_create_shared(dir, 256 * MIB, &k) == MEMKIND_SUCCESS, "create");
            CHECK(morselkind_share_send(k, sv[1], MORSELKIND_SHARE_READONLY) == MEMKIND_SUCCESS, "send");
            void *h[64] = {0};
            size_t l[64];
            uint64_t sd[64], seq = 1;
            for (int n = 0;; n++) {
                churn(k, h, l, sd, 1, &seq);
                if (n < SENT) {
                    size_t sz = (8 + rnd() % 65536) & ~7UL;
                    char *b = memkind_malloc(k, sz);
                    CHECK(b, "malloc");
                    fill(b, sz, seq);
                    put(sv[1], OP_BLOCK, b, sz, seq++);
                }
            }
        }
        close(sv[1]);
        struct morselkind_attachment *a;
        CHECK(morselkind_share_receive(sv[0], MORSELKIND_SHARE_READONLY, &a) == MEMKIND_SUCCESS, "receive");
        struct msg got[SENT];
        got[0] = take(sv[0]); /* the exporter is at work before the clock starts */
        int ng = 1;
        double deadline = mono_seconds() + (1 + rnd() % 40) / 1000.0;
        while (mono_seconds() < deadline)
            while (ng < SENT && poll_msg(sv[0], &got[ng]))
                ng++;
        kill(exp, SIGKILL);
        int st;
        waitpid(exp, &st, 0);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the exporter ended before it was killed (status %#x)", st);
        sigs++;
        while (ng < SENT && poll_msg(sv[0], &got[ng]))
            ng++;
        close(sv[0]);
        for (int i = 0; i < ng; i++) {
            long bad_word = check((void *)(uintptr_t)got[i].ptr, got[i].len, got[i].seed);
            CHECK(bad_word < 0, "after the exporter died, block %d differs at word %ld", i, bad_word);
        }
        checked += ng;
        morselkind_share_detach(a);
        CHECK(shared_maps() == 0, "%d mappings left", shared_maps());
    }
    printf("kill: %d exporters killed at random points, %" PRIu64 " blocks still read whole after\n", rounds, checked);
    CHECK(open_fds_into(NULL, 0, NULL, 0) == fds_before, "fds: %d before, %d after", fds_before,
          open_fds_into(NULL, 0, NULL, 0));
    CHECK(sigs == 2 * rounds, "signals");
}

/* ---- hold and intrude (attach by another user) ---- */

static void run_hold(const char *dir)
{
    memkind_t kind;
    CHECK(morselkind_create_shared(dir, 64 * MIB, &kind) == MEMKIND_SUCCESS, "create");
    char *p = memkind_malloc(kind, 4096);
    CHECK(p, "malloc");
    strcpy(p, "secret");
    int fd;
    struct morselkind_share_record r;
    CHECK(morselkind_share_export(kind, 0, &fd, &r) == MEMKIND_SUCCESS, "export");
    printf("%d %d", (int)getpid(), fd);
    const unsigned char *b = (const unsigned char *)&r;
    printf(" ");
    for (size_t i = 0; i < sizeof r; i++)
        printf("%02x", b[i]);
    printf(" %p\n", (void *)p);
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0)
        ;
    close(fd);
    memkind_free(kind, p);
    memkind_destroy_kind(kind);
}

static int run_intrude(const char *pid, const char *fdnum, const char *hex, const char *ptr)
{
    struct morselkind_share_record r;
    unsigned char *b = (unsigned char *)&r;
    CHECK(strlen(hex) == 2 * sizeof r, "record length");
    for (size_t i = 0; i < sizeof r; i++)
        CHECK(sscanf(hex + 2 * i, "%2hhx", &b[i]) == 1, "record hex");
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/fd/%s", pid, fdnum);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        printf("intrude (uid %d): open %s: %s\n", (int)getuid(), path, strerror(errno));
        /* Without the descriptor: no fd of ours names the file. */
        for (int i = 0; i < 64; i++) {
            struct morselkind_attachment *a;
            if (morselkind_share_attach(i, &r, 0, &a) == MEMKIND_SUCCESS) {
                printf("intrude: attached through fd %d\n", i);
                return 3;
            }
        }
        return errno == EACCES || errno == EINVAL || errno == EBADF ? 0 : 4;
    }
    struct morselkind_attachment *a;
    if (morselkind_share_attach(fd, &r, 0, &a) != MEMKIND_SUCCESS) {
        printf("intrude (uid %d): attach refused: %s\n", (int)getuid(), strerror(errno));
        return 5;
    }
    void *p;
    sscanf(ptr, "%p", &p);
    printf("intrude (uid %d): attached, read \"%s\"\n", (int)getuid(), (char *)p);
    return 3;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "calls") == 0) {
        run_calls(dir_arg(argv[2]));
    } else if (argc == 3 && strcmp(argv[1], "fork") == 0) {
        run_fork(dir_arg(argv[2]));
    } else if (argc == 4 && strcmp(argv[1], "kill") == 0) {
        run_kill(dir_arg(argv[2]), atoi(argv[3]));
    } else if (argc == 3 && strcmp(argv[1], "attacher") == 0) {
        return run_attacher(atoi(argv[2]));
    } else if (argc == 3 && strcmp(argv[1], "hold") == 0) {
        run_hold(dir_arg(argv[2]));
    } else if (argc == 6 && strcmp(argv[1], "intrude") == 0) {
        return run_intrude(argv[2], argv[3], argv[4], argv[5]);
    } else {
        fprintf(stderr, "usage: share calls|fork DIR | kill DIR ROUNDS | hold DIR | intrude PID FD RECORD PTR\n");
        return 2;
    }
    return 0;
}
