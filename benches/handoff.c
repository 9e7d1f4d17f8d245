/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Hand-off of large packets between two processes (issue "share a kind's memory between
 * processes"): a producer fills a packet, passes it, the consumer reads every byte (a checksum
 * it compares with the producer's) and acknowledges; the producer then reuses the packet's
 * memory. Two packets in flight. One mode per run:
 *
 *   morsel       a shared kind (morselkind_create_shared): the producer memkind_malloc()s a
 *                packet, fills it, sends the pointer; the consumer, attached read-only at the
 *                same addresses, reads it in place; the producer frees it on the ack
 *   shm-inplace  POSIX shared memory (shm_open), the producer fills a slot in place and sends
 *                its index; the consumer reads it in place
 *   shm-copy     POSIX shared memory used as a channel: the producer fills a private buffer
 *                and copies it in, the consumer copies it out to a private buffer and reads it
 *   socket       a Unix stream socket: the producer fills a private buffer and writes it, the
 *                consumer reads it into a private buffer and reads it
 *   memset       no consumer: memset of the same bytes into warm memory, the ceiling: one
 *                32 MiB buffer rewritten (part of it may stay in a 32 MiB L3)
 *   memset-3     the same over three warm buffers in turn, as the producer writes its packets
 *
 *   handoff MODE [PACKET_MIB [PACKETS]]   prints "MODE GiB/s checked=N"
 * Exit status 1 when a checksum differs. Nothing is left in /dev/shm.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <emmintrin.h>

#include <memkind.h>
#include <morselkind.h>

#include "timing.h"

#define INFLIGHT 2
#define SLOTS (INFLIGHT + 1)
#define WARMUP 6

static size_t packet;
static int packets;

struct msg {
    uint64_t ptr; /* the packet's address (morsel), or its slot */
    uint64_t seq;
    uint64_t sum; /* what the producer expects the consumer to find */
};

static void die(const char *what)
{
    fprintf(stderr, "handoff: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void put(int sock, struct msg m)
{
    if (send(sock, &m, sizeof m, MSG_NOSIGNAL) != (ssize_t)sizeof m)
        die("send");
}

static struct msg take(int sock)
{
    struct msg m;
    if (recv(sock, &m, sizeof m, 0) != (ssize_t)sizeof m)
        die("recv");
    return m;
}

/* The fill of packet `seq`: one byte value, so that the producer's cost is memset's. */
static unsigned char byte_of(uint64_t seq)
{
    return (unsigned char)(seq * 37 + 11);
}

/* The checksum the consumer computes: the sum of the packet's 64-bit words. */
static uint64_t expected_sum(uint64_t seq)
{
    uint64_t w = 0x0101010101010101ULL * byte_of(seq);
    return w * (packet / 8);
}

/* Reads every byte, in four interleaved streams (a quarter of the packet each): one core reads
 * from memory about 1.7x as fast as with one stream (15 against 9 GiB/s here), so the
 * consumer keeps up with the producer's memset. Every mode reads with this. */
static uint64_t sum_of(const void *p)
{
    const __m128i *w = p;
    size_t quarter = packet / 16 / 4;
    __m128i a[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
    for (size_t i = 0; i < quarter; i += 4) {
        for (int j = 0; j < 4; j++) {
            const __m128i *q = w + j * quarter + i;
            __m128i x = _mm_add_epi64(_mm_load_si128(q), _mm_load_si128(q + 1));
            __m128i y = _mm_add_epi64(_mm_load_si128(q + 2), _mm_load_si128(q + 3));
            a[j] = _mm_add_epi64(a[j], _mm_add_epi64(x, y));
        }
    }
    __m128i s = _mm_add_epi64(_mm_add_epi64(a[0], a[1]), _mm_add_epi64(a[2], a[3]));
    uint64_t o[2];
    _mm_storeu_si128((__m128i *)o, s);
    return o[0] + o[1];
}

static void read_all(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n <= 0)
            die("read");
        got += n;
    }
}

static void write_all(int fd, const void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, (const char *)buf + done, len - done);
        if (n <= 0)
            die("write");
        done += n;
    }
}

static void *warm_buffer(void)
{
    void *p = NULL;
    if (posix_memalign(&p, 2 << 20, packet))
        die("posix_memalign");
    memset(p, 1, packet);
    return p;
}

static const char *mode;
static int bad;

/* The consumer's side, for every mode but memset. Returns the packets whose sum differed. */
static int consume(int sock, int data, char *shm)
{
    char *buf = (!strcmp(mode, "shm-copy") || !strcmp(mode, "socket")) ? warm_buffer() : NULL;
    struct morselkind_attachment *att = NULL;
    if (!strcmp(mode, "morsel") && morselkind_share_receive(sock, MORSELKIND_SHARE_READONLY, &att))
        die("morselkind_share_receive");
    int wrong = 0;
    for (int i = 0; i < packets; i++) {
        struct msg m;
        const char *p;
        if (!strcmp(mode, "socket")) {
            read_all(data, &m, sizeof m);
            read_all(data, buf, packet);
            p = buf;
        } else {
            m = take(sock);
            if (!strcmp(mode, "morsel")) {
                p = (const char *)(uintptr_t)m.ptr;
            } else if (!strcmp(mode, "shm-inplace")) {
                p = shm + m.ptr * packet;
            } else {
                memcpy(buf, shm + m.ptr * packet, packet);
                p = buf;
            }
        }
        if (sum_of(p) != m.sum)
            wrong++;
        if (strcmp(mode, "socket"))
            put(sock, m); /* the ack: the slot or packet is free again */
    }
    if (att)
        morselkind_share_detach(att);
    return wrong;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: handoff morsel|shm-inplace|shm-copy|socket|memset|memset-3 [PACKET_MIB [PACKETS]]\n");
        return 2;
    }
    mode = argv[1];
    packet = (argc > 2 ? strtoul(argv[2], NULL, 10) : 32) << 20; /* a multiple of 256 bytes */
    packets = argc > 3 ? atoi(argv[3]) : 64;
    if (packet == 0 || packets <= 0)
        return 2;
    int total = packets + WARMUP;

    if (!strcmp(mode, "memset") || !strcmp(mode, "memset-3")) {
        /* One warm buffer, or the producer's three (two in flight and one being filled). */
        int nbuf = strcmp(mode, "memset") ? SLOTS : 1;
        char *bufs[SLOTS];
        for (int b = 0; b < nbuf; b++)
            bufs[b] = warm_buffer();
        double t0 = 0;
        for (int i = 0; i < total; i++) {
            if (i == WARMUP)
                t0 = now_s();
            char *p = bufs[i % nbuf];
            memset(p, byte_of(i), packet);
            __asm__ volatile("" ::"r"(p) : "memory");
        }
        double dt = now_s() - t0;
        printf("%s %.2f GiB/s checked=0\n", mode, (double)packet * packets / dt / (1 << 30));
        return 0;
    }

    int sv[2], data[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        die("socketpair");
    if (!strcmp(mode, "socket")) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, data))
            die("socketpair");
        int sz = 4 << 20;
        setsockopt(data[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        setsockopt(data[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    char *shm = NULL;
    if (!strncmp(mode, "shm-", 4)) {
        char name[64];
        snprintf(name, sizeof name, "/morselkind-handoff-%d", (int)getpid());
        int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
            die("shm_open");
        shm_unlink(name); /* both processes map it before anything can fail */
        if (ftruncate(fd, (off_t)(packet * SLOTS)))
            die("ftruncate");
        shm = mmap(NULL, packet * SLOTS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (shm == MAP_FAILED)
            die("mmap");
        close(fd);
    } else if (strcmp(mode, "morsel") && strcmp(mode, "socket")) {
        fprintf(stderr, "handoff: unknown mode %s\n", mode);
        return 2;
    }
    /* The consumer is forked before the producer makes its kind: a process of its own. */
    packets = total;
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        if (data[0] >= 0)
            close(data[0]);
        _exit(consume(sv[1], data[1], shm) ? 1 : 0);
    }
    close(sv[1]);

    memkind_t kind = NULL;
    if (!strcmp(mode, "morsel")) {
        if (morselkind_create_shared(NULL, (size_t)1 << 30, &kind))
            die("morselkind_create_shared");
        if (morselkind_share_send(kind, sv[0], MORSELKIND_SHARE_READONLY))
            die("morselkind_share_send");
    }
    char *buf = (!strcmp(mode, "shm-copy") || !strcmp(mode, "socket")) ? warm_buffer() : NULL;
    int free_slot[SLOTS], nfree = SLOTS;
    for (int i = 0; i < SLOTS; i++)
        free_slot[i] = i;
    int inflight = 0;
    double t0 = 0;
    for (int i = 0; i < total; i++) {
        if (i == WARMUP)
            t0 = now_s();
        struct msg m = {0, (uint64_t)i, expected_sum(i)};
        if (!strcmp(mode, "socket")) {
            memset(buf, byte_of(i), packet);
            write_all(data[0], &m, sizeof m);
            write_all(data[0], buf, packet);
            continue;
        }
        if (inflight == INFLIGHT) {
            struct msg ack = take(sv[0]);
            if (kind)
                memkind_free(kind, (void *)(uintptr_t)ack.ptr);
            else
                free_slot[nfree++] = (int)ack.ptr;
            inflight--;
        }
        if (kind) {
            char *p = memkind_malloc(kind, packet);
            if (!p)
                die("memkind_malloc");
            memset(p, byte_of(i), packet);
            m.ptr = (uint64_t)(uintptr_t)p;
        } else {
            int s = free_slot[--nfree];
            char *p = shm + (size_t)s * packet;
            if (!strcmp(mode, "shm-inplace")) {
                memset(p, byte_of(i), packet);
            } else {
                memset(buf, byte_of(i), packet);
                memcpy(p, buf, packet);
            }
            m.ptr = (uint64_t)s;
        }
        put(sv[0], m);
        inflight++;
    }
    while (inflight-- > 0 && strcmp(mode, "socket")) {
        struct msg ack = take(sv[0]);
        if (kind)
            memkind_free(kind, (void *)(uintptr_t)ack.ptr);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        die("waitpid");
    double dt = now_s() - t0;
    bad = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (kind && memkind_destroy_kind(kind))
        die("memkind_destroy_kind");
    printf("%s %.2f GiB/s checked=%d%s\n", mode, (double)packet * (total - WARMUP) / dt / (1 << 30), total,
           bad ? " CHECKSUM-MISMATCH" : "");
    return bad;
}
