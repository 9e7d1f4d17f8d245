/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * Linked with libmorselkind.a (no libmorselkind.so at run time): the memkind API, kind variables
 * included, works. Usage: static_app PMEM_DIR.
 */
#include <errno.h>
#include <hbwmalloc.h>
#include <memkind.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CHECK(c)                                                                    \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "static_app: check failed at line %d: %s\n", __LINE__, #c); \
            return 1;                                                               \
        }                                                                           \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    CHECK(memkind_get_version() == 1014000);
    char *p = memkind_malloc(MEMKIND_DEFAULT, 5000);
    CHECK(p);
    memset(p, 7, 5000);
    CHECK(memkind_detect_kind(p) == MEMKIND_DEFAULT);
    p = memkind_realloc(NULL, p, 50000);
    CHECK(p && p[4999] == 7);
    memkind_free(NULL, p);
    memkind_t pmem;
    CHECK(memkind_create_pmem(argv[1], MEMKIND_PMEM_MIN_SIZE, &pmem) == 0);
    int n = 0;
    void *b[64];
    while (n < 64 && (b[n] = memkind_malloc(pmem, 1 << 20))) n++;
    CHECK(n >= 8 && n < 64 && errno == ENOMEM);
    while (n--) memkind_free(pmem, b[n]);
    CHECK(memkind_destroy_kind(pmem) == 0);
    void *h = hbw_malloc(64);
    CHECK(h);
    hbw_free(h);
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(MEMKIND_ERROR_TOOMANY, msg, sizeof msg);
    CHECK(strstr(msg, "(512)") != NULL);
    printf("static_app: all checks passed\n");
    return 0;
}
