/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_and_default_kind - one program, two kinds of memory: MEMKIND_DEFAULT
 * (ordinary anonymous memory) and a PMEM kind (a shared mapping of a deleted
 * file in the PMEM directory), as /proc/self/maps shows. Data is copied back
 * and forth between them; realloc keeps each block in its kind; and
 * memkind_free with a NULL kind finds the right kind for either.
 *
 * usage: pmem_and_default_kind [PMEM_DIR]
 */

#define _XOPEN_SOURCE 700 /* realpath */

#include <memkind.h>

#include <stdint.h>

#include "pmem_example.h"

#define NAME "pmem_and_default_kind"
#define SIZE ((size_t)256 << 10)

/*
 * Finds the mapping that holds p in /proc/self/maps. Copies its permissions
 * ("rw-s") to perms and its path ("" when anonymous) to path.
 */
static int find_mapping(const void *p, char perms[8], char *path, size_t path_size)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL) {
        return -1;
    }
    char line[PATH_MAX + 256];
    int found = -1;
    while (found != 0 && fgets(line, sizeof(line), f) != NULL) {
        unsigned long start, end;
        int name_at = 0;
        char perm[8];
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perm, &name_at) < 3) {
            continue;
        }
        if ((uintptr_t)p < start || (uintptr_t)p >= end) {
            continue;
        }
        strcpy(perms, perm);
        snprintf(path, path_size, "%s", name_at > 0 ? line + name_at : "");
        path[strcspn(path, "\n")] = '\0';
        found = 0;
    }
    fclose(f);
    return found;
}

/* Checks that p is in a shared mapping of a deleted file in dir, or (dir NULL) in anonymous memory. */
static void check_backing(const char *label, const void *p, const char *dir)
{
    char perms[8] = "", path[PATH_MAX + 64] = "";
    if (!CHECK(find_mapping(p, perms, path, sizeof(path)) == 0)) {
        return;
    }
    printf(NAME ": %s block is in a %s mapping: %s\n", label, perms, path[0] ? path : "(anonymous)");
    if (dir == NULL) {
        CHECK(path[0] == '\0' || path[0] == '[');
    } else {
        const size_t n = strlen(dir);
        CHECK(perms[3] == 's');
        CHECK(strncmp(path, dir, n) == 0 && path[n] == '/');
        CHECK(strstr(path, "(deleted)") != NULL);
    }
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(i * 31u + seed);
    }
}

static int holds(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char)(i * 31u + seed)) {
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    struct ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }
    /* /proc/self/maps names files by their resolved path. */
    char real[PATH_MAX];
    if (!CHECK(realpath(dir.path, real) != NULL)) {
        snprintf(real, sizeof(real), "%s", dir.path);
    }

    memkind_t pmem = NULL;
    if (!CHECK(memkind_create_pmem(dir.path, 0, &pmem) == MEMKIND_SUCCESS)) {
        ex_dir_close(&dir, NAME);
        return ex_result(NAME);
    }

    unsigned char *dram = (unsigned char *)memkind_malloc(MEMKIND_DEFAULT, SIZE);
    unsigned char *file = (unsigned char *)memkind_malloc(pmem, SIZE);
    if (CHECK(dram != NULL) && CHECK(file != NULL)) {
        CHECK(memkind_detect_kind(dram) == MEMKIND_DEFAULT);
        CHECK(memkind_detect_kind(file) == pmem);
        check_backing("the MEMKIND_DEFAULT", dram, NULL);
        check_backing("the PMEM", file, real);

        /* DEFAULT -> PMEM -> DEFAULT. */
        fill(dram, SIZE, 7);
        memcpy(file, dram, SIZE);
        memset(dram, 0, SIZE);
        memcpy(dram, file, SIZE);
        CHECK(holds(file, SIZE, 7) && holds(dram, SIZE, 7));
        printf(NAME ": copied %zu KiB from DEFAULT to PMEM and back\n", SIZE >> 10);

        /* realloc keeps a block in its kind, and its contents. */
        dram = (unsigned char *)memkind_realloc(MEMKIND_DEFAULT, dram, 4 * SIZE);
        file = (unsigned char *)memkind_realloc(pmem, file, 4 * SIZE);
        if (CHECK(dram != NULL) && CHECK(file != NULL)) {
            CHECK(memkind_detect_kind(dram) == MEMKIND_DEFAULT);
            CHECK(memkind_detect_kind(file) == pmem);
            CHECK(holds(file, SIZE, 7) && holds(dram, SIZE, 7));
            check_backing("the grown PMEM", file, real);
            printf(NAME ": realloc to %zu KiB kept both blocks in their kinds\n", (4 * SIZE) >> 10);
        }
    }

    /* Free with no kind given: each pointer finds its own. */
    memkind_free(NULL, dram);
    memkind_free(NULL, file);
    printf(NAME ": freed both with memkind_free(NULL, ptr)\n");

    CHECK(memkind_destroy_kind(pmem) == MEMKIND_SUCCESS);
    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
