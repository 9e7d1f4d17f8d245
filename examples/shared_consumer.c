/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * The consumer of shared_producer.c: attaches the producer's shared kind read-only, at the
 * producer's addresses, and walks each list it is handed by its ordinary pointers.
 *
 *   ./shared_producer SOCKET & ./shared_consumer SOCKET
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <memkind.h>
#include <morselkind.h>

struct node {
    struct node *next;
    uint64_t value;
    char text[48];
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
        return 2;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
    int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    /* The producer may not be listening yet: try for 10 s. */
    for (int i = 0; connect(sock, (struct sockaddr *)&addr, sizeof addr); i++) {
        if (i == 1000) {
            perror("consumer: connect");
            return 1;
        }
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    struct morselkind_attachment *att;
    int err = morselkind_share_receive(sock, MORSELKIND_SHARE_READONLY, &att);
    if (err) {
        fprintf(stderr, "consumer: cannot attach: %s\n", strerror(errno));
        return 1;
    }
    printf("consumer: attached %zu MiB at %p\n", morselkind_attachment_size(att) >> 20,
           morselkind_attachment_base(att));
    struct node *head;
    while (recv(sock, &head, sizeof head, 0) == sizeof head && head) {
        uint64_t sum = 0, n = 0;
        for (struct node *x = head; x; x = x->next, n++)
            sum += x->value;
        printf("consumer: walked %llu nodes from %p, first \"%s\"\n", (unsigned long long)n, (void *)head,
               head->text);
        send(sock, &sum, sizeof sum, 0);
    }
    morselkind_share_detach(att);
    close(sock);
    return 0;
}
