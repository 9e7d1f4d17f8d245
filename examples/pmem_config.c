/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_config - PMEM kinds from a struct memkind_config: path, size limit and
 * memory usage policy. A CONSERVATIVE kind gives freed memory back to the
 * filesystem at once (its file shrinks right after the free); one config can
 * make several kinds; bad settings (a size below MEMKIND_PMEM_MIN_SIZE, an
 * unknown policy, a missing directory) are refused with MEMKIND_ERROR_INVALID.
 *
 * usage: pmem_config [PMEM_DIR]
 */

#define _XOPEN_SOURCE 700 /* readlink */

#include <memkind.h>

#include <stdint.h>
#include <sys/statvfs.h>

#include "pmem_example.h"

#define NAME "pmem_config"
#define MIB ((size_t)1 << 20)

/* The path of the file mapped at p, from /proc/self/maps; 0 on success, -1 if none. */
static int mapped_file(const void *p, char *path, size_t size)
{
    char line[PATH_MAX + 256];
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL) {
        return -1;
    }
    path[0] = '\0';
    while (fgets(line, sizeof(line), maps) != NULL) {
        unsigned long start, end;
        int name_at = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &start, &end, &name_at) >= 2 &&
            (uintptr_t)p >= start && (uintptr_t)p < end && name_at > 0) {
            snprintf(path, size, "%s", line + name_at);
            path[strcspn(path, "\n")] = '\0';
            break;
        }
    }
    fclose(maps);
    return path[0] == '/' ? 0 : -1;
}

/*
 * The disk space (bytes) used by the open file named path (as /proc/self/maps
 * names it, "(deleted)" and all): found among /proc/self/fd. -1 if not open.
 */
static long long file_space(const char *path)
{
    DIR *fds = opendir("/proc/self/fd");
    if (fds == NULL) {
        return -1;
    }
    long long space = -1;
    struct dirent *e;
    while (space < 0 && (e = readdir(fds)) != NULL) {
        char link[300], target[PATH_MAX + 64];
        snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0) {
            continue;
        }
        target[n] = '\0';
        struct stat st;
        if (strcmp(target, path) == 0 && stat(link, &st) == 0) {
            space = (long long)st.st_blocks * 512;
        }
    }
    closedir(fds);
    return space;
}

static int create_expect(struct memkind_config *cfg, const char *what, int want)
{
    memkind_t kind = NULL;
    int err = memkind_create_pmem_with_config(cfg, &kind);
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(err, msg, sizeof(msg));
    printf(NAME ": %s -> %d (%s)\n", what, err, err == 0 ? "a kind" : msg);
    if (err == MEMKIND_SUCCESS && kind != NULL) {
        memkind_destroy_kind(kind);
    }
    return CHECK(err == want);
}

int main(int argc, char **argv)
{
    struct ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }

    struct memkind_config *cfg = memkind_config_new();
    if (!CHECK(cfg != NULL)) {
        ex_dir_close(&dir, NAME);
        return ex_result(NAME);
    }
    memkind_config_set_path(cfg, dir.path);
    memkind_config_set_size(cfg, 2 * (size_t)MEMKIND_PMEM_MIN_SIZE);
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE);

    memkind_t conservative = NULL, unlimited = NULL;
    int err = memkind_create_pmem_with_config(cfg, &conservative);
    if (CHECK(err == MEMKIND_SUCCESS)) {
        printf(NAME ": config (32 MiB, CONSERVATIVE) -> a kind of capacity %zd\n",
               memkind_get_capacity(conservative));
        CHECK(memkind_get_capacity(conservative) == 2 * (ssize_t)MEMKIND_PMEM_MIN_SIZE);

        /* 8 MiB written: the file takes 8 MiB of disk; freed: it gives them back now. */
        unsigned char *p = (unsigned char *)memkind_malloc(conservative, 8 * MIB);
        if (CHECK(p != NULL)) {
            memset(p, 0x42, 8 * MIB);
            CHECK(memkind_detect_kind(p) == conservative);
            char file[PATH_MAX + 64];
            CHECK(mapped_file(p, file, sizeof(file)) == 0);
            long long used = file_space(file);
            memkind_free(conservative, p);
            long long after = file_space(file);
            printf(NAME ": its file holds %lld KiB with an 8 MiB block, %lld KiB once it is freed\n",
                   used >> 10, after >> 10);
            CHECK(used >= (long long)(8 * MIB));
            CHECK(after >= 0 && after <= used - (long long)(7 * MIB));
        }
    }

    /* The same config again, changed: unlimited, DEFAULT policy. A second, different kind. */
    memkind_config_set_size(cfg, 0);
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_DEFAULT);
    err = memkind_create_pmem_with_config(cfg, &unlimited);
    if (CHECK(err == MEMKIND_SUCCESS)) {
        struct statvfs fs;
        memset(&fs, 0, sizeof(fs));
        CHECK(statvfs(dir.path, &fs) == 0);
        printf(NAME ": config (unlimited, DEFAULT) -> another kind of capacity %zd\n",
               memkind_get_capacity(unlimited));
        CHECK(unlimited != conservative);
        CHECK(memkind_get_capacity(unlimited) == (ssize_t)(fs.f_blocks * fs.f_frsize));
        char *s = (char *)memkind_malloc(unlimited, 100);
        if (CHECK(s != NULL)) {
            strcpy(s, "made from a reused config");
            CHECK(memkind_detect_kind(s) == unlimited && strcmp(s, "made from a reused config") == 0);
            memkind_free(unlimited, s);
        }
    }

    /* What a config may not say. */
    memkind_config_set_size(cfg, MEMKIND_PMEM_MIN_SIZE - 1);
    create_expect(cfg, "size MEMKIND_PMEM_MIN_SIZE - 1", MEMKIND_ERROR_INVALID);
    memkind_config_set_size(cfg, 0);
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_MAX_VALUE);
    create_expect(cfg, "policy MEMKIND_MEM_USAGE_POLICY_MAX_VALUE", MEMKIND_ERROR_INVALID);
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_DEFAULT);
    char missing[PATH_MAX + 64];
    snprintf(missing, sizeof(missing), "%s/missing", dir.path);
    memkind_config_set_path(cfg, missing);
    create_expect(cfg, "a missing directory", MEMKIND_ERROR_INVALID);
    memkind_config_delete(cfg);

    if (conservative != NULL) {
        CHECK(memkind_destroy_kind(conservative) == MEMKIND_SUCCESS);
    }
    if (unlimited != NULL) {
        CHECK(memkind_destroy_kind(unlimited) == MEMKIND_SUCCESS);
    }
    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
