/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_kinds - several file-backed (PMEM) kinds side by side in one directory:
 * a limited one, a larger limited one and an unlimited one. Each holds its
 * own data, reports its own capacity, and none shows a file in the directory.
 * Bad arguments (a size below MEMKIND_PMEM_MIN_SIZE, a missing directory, a
 * regular file as the directory) are refused with MEMKIND_ERROR_INVALID.
 *
 * usage: pmem_kinds [PMEM_DIR]
 */

#define _POSIX_C_SOURCE 200809L

#include <memkind.h>

#include <fcntl.h>
#include <sys/statvfs.h>

#include "pmem_example.h"

#define NAME "pmem_kinds"
#define NKINDS 3

static void print_error(const char *what, int err)
{
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(err, msg, sizeof(msg));
    printf(NAME ": %s: %d (%s)\n", what, err, msg);
}

int main(int argc, char **argv)
{
    struct ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }

    const size_t limits[NKINDS] = {MEMKIND_PMEM_MIN_SIZE, 4 * (size_t)MEMKIND_PMEM_MIN_SIZE, 0};
    const char *texts[NKINDS] = {
        "the smallest limited kind",
        "a kind four times as large",
        "a kind bounded only by its filesystem",
    };
    memkind_t kinds[NKINDS] = {NULL, NULL, NULL};
    char *strs[NKINDS] = {NULL, NULL, NULL};

    struct statvfs fs;
    memset(&fs, 0, sizeof(fs));
    CHECK(statvfs(dir.path, &fs) == 0);
    const ssize_t fs_size = (ssize_t)(fs.f_blocks * fs.f_frsize);

    for (int i = 0; i < NKINDS; i++) {
        int err = memkind_create_pmem(dir.path, limits[i], &kinds[i]);
        if (!CHECK(err == MEMKIND_SUCCESS) || !CHECK(kinds[i] != NULL)) {
            print_error("memkind_create_pmem", err);
            kinds[i] = NULL;
            continue;
        }
        CHECK(memkind_check_available(kinds[i]) == MEMKIND_SUCCESS);
        ssize_t cap = memkind_get_capacity(kinds[i]);
        printf(NAME ": kind %d: limit %zu bytes, capacity %zd bytes\n", i, limits[i], cap);
        /* A limited kind has its limit; an unlimited one the filesystem's size. */
        CHECK(cap == (limits[i] != 0 ? (ssize_t)limits[i] : fs_size));
    }

    /* The kinds are distinct, and their files are unlinked: the directory looks untouched. */
    for (int i = 0; i < NKINDS; i++) {
        for (int j = i + 1; j < NKINDS; j++) {
            CHECK(kinds[i] == NULL || kinds[i] != kinds[j]);
        }
    }
    CHECK(ex_dir_entries(dir.path) == dir.before);
    printf(NAME ": %d kinds live, no file visible in %s\n", NKINDS, dir.path);

    for (int i = 0; i < NKINDS; i++) {
        if (kinds[i] == NULL) {
            continue;
        }
        strs[i] = (char *)memkind_malloc(kinds[i], strlen(texts[i]) + 1);
        if (CHECK(strs[i] != NULL)) {
            strcpy(strs[i], texts[i]);
            CHECK(memkind_detect_kind(strs[i]) == kinds[i]);
        }
    }
    /* Read back only after all were written: no kind overwrote another's data. */
    for (int i = 0; i < NKINDS; i++) {
        if (strs[i] != NULL) {
            printf(NAME ": kind %d holds \"%s\"\n", i, strs[i]);
            CHECK(strcmp(strs[i], texts[i]) == 0);
            memkind_free(kinds[i], strs[i]);
        }
    }

    /* What memkind_create_pmem refuses. */
    memkind_t bad = NULL;
    int err = memkind_create_pmem(dir.path, MEMKIND_PMEM_MIN_SIZE - 1, &bad);
    print_error("a limit of MEMKIND_PMEM_MIN_SIZE - 1", err);
    CHECK(err == MEMKIND_ERROR_INVALID);

    char missing[PATH_MAX + 64];
    snprintf(missing, sizeof(missing), "%s/no-such-directory", dir.path);
    err = memkind_create_pmem(missing, 0, &bad);
    print_error("a missing directory", err);
    CHECK(err == MEMKIND_ERROR_INVALID);

    char file[PATH_MAX + 64];
    snprintf(file, sizeof(file), "%s/a-regular-file", dir.path);
    int fd = open(file, O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (CHECK(fd >= 0)) {
        close(fd);
        err = memkind_create_pmem(file, 0, &bad);
        print_error("a regular file as the directory", err);
        CHECK(err == MEMKIND_ERROR_INVALID);
        CHECK(unlink(file) == 0);
    }

    for (int i = 0; i < NKINDS; i++) {
        if (kinds[i] != NULL) {
            CHECK(memkind_destroy_kind(kinds[i]) == MEMKIND_SUCCESS);
        }
    }
    printf(NAME ": destroyed the %d kinds\n", NKINDS);

    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
