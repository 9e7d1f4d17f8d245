/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * A producer/consumer pair over a shared kind (morselkind.h), with shared_consumer.c.
 *
 * The producer builds a linked list in a shared kind, with ordinary pointers, and hands the
 * consumer the kind and then the list's head: the consumer, attached at the same addresses,
 * walks the list as it is, with no copy and no offsets. After the first list the producer
 * grows the kind with a second, larger one, which the consumer sees without attaching again.
 *
 *   ./shared_producer SOCKET & ./shared_consumer SOCKET
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <memkind.h>
#include <morselkind.h>

struct node {
    struct node *next;
    uint64_t value;
    char text[48];
};

/* A list of `n` nodes in `kind`, values 1..n; NULL when the kind is full. */
static struct node *make_list(memkind_t kind, int n)
{
    struct node *head = NULL;
    for (int i = n; i >= 1; i--) {
        struct node *x = memkind_malloc(kind, sizeof *x);
        if (!x)
            return NULL;
        x->next = head;
        x->value = (uint64_t)i;
        snprintf(x->text, sizeof x->text, "node %d of %d", i, n);
        head = x;
    }
    return head;
}

static void free_list(memkind_t kind, struct node *x)
{
    while (x) {
        struct node *next = x->next;
        memkind_free(kind, x);
        x = next;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
        return 2;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
    int lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    unlink(argv[1]);
    if (lsock < 0 || bind(lsock, (struct sockaddr *)&addr, sizeof addr) || listen(lsock, 1)) {
        perror("producer: socket");
        return 1;
    }
    int sock = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
    close(lsock);
    unlink(argv[1]);
    if (sock < 0) {
        perror("producer: accept");
        return 1;
    }

    memkind_t kind;
    int err = morselkind_create_shared(NULL, 256 << 20, &kind); /* a memfd, 256 MiB window */
    if (!err)
        err = morselkind_share_send(kind, sock, MORSELKIND_SHARE_READONLY);
    if (err) {
        char msg[MEMKIND_ERROR_MESSAGE_SIZE];
        memkind_error_message(err, msg, sizeof msg);
        fprintf(stderr, "producer: %s\n", msg);
        return 1;
    }
    int ok = 1;
    for (int round = 1; round <= 2; round++) {
        int n = round == 1 ? 1000 : 1000000; /* the second list grows the kind by ~70 MiB */
        struct node *head = make_list(kind, n);
        if (!head) {
            fprintf(stderr, "producer: the kind is full\n");
            return 1;
        }
        uint64_t want = (uint64_t)n * (n + 1) / 2, got = 0;
        send(sock, &head, sizeof head, 0);
        if (recv(sock, &got, sizeof got, 0) != sizeof got)
            got = 0;
        printf("producer: list of %d nodes at %p, consumer's sum %llu (%s)\n", n, (void *)head,
               (unsigned long long)got, got == want ? "right" : "WRONG");
        ok &= got == want;
        free_list(kind, head);
    }
    struct node *end = NULL;
    send(sock, &end, sizeof end, 0);
    close(sock);
    memkind_destroy_kind(kind);
    puts(ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
