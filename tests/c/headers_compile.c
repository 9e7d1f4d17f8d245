/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * Syntax check of every C header: each declaration is used once, so a
 * wrong or missing prototype fails to compile. Built by
 * tests/suites/headers_compile.sh with -Wall -Wextra -Werror, -std=c99 and
 * -std=c11; never run.
 */

#include <memkind.h>
#include <memkind_deprecated.h>
#include <hbwmalloc.h>
#include <memkind_memtier.h>
#ifndef HEADERS_COMPILE_MEMKIND_ONLY
#include <morselkind.h>
#endif

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

static void print_cb(void *opaque, const char *text)
{
    (void)opaque;
    (void)text;
}

int use_memkind(void);
int use_memkind(void)
{
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_t kind = MEMKIND_DEFAULT;
    memkind_t kinds[] = {
        MEMKIND_DEFAULT, MEMKIND_REGULAR, MEMKIND_HUGETLB, MEMKIND_INTERLEAVE,
        MEMKIND_HBW, MEMKIND_HBW_ALL, MEMKIND_HBW_PREFERRED,
        MEMKIND_HBW_HUGETLB, MEMKIND_HBW_ALL_HUGETLB,
        MEMKIND_HBW_PREFERRED_HUGETLB, MEMKIND_HBW_INTERLEAVE,
        MEMKIND_DAX_KMEM, MEMKIND_DAX_KMEM_ALL, MEMKIND_DAX_KMEM_PREFERRED,
        MEMKIND_DAX_KMEM_INTERLEAVE, MEMKIND_HIGHEST_CAPACITY,
        MEMKIND_HIGHEST_CAPACITY_PREFERRED, MEMKIND_HIGHEST_CAPACITY_LOCAL,
        MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED, MEMKIND_LOWEST_LATENCY_LOCAL,
        MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED,
        MEMKIND_HIGHEST_BANDWIDTH_LOCAL,
        MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED,
        MEMKIND_GBTLB, MEMKIND_HBW_GBTLB, MEMKIND_HBW_PREFERRED_GBTLB,
    };
    struct memkind_config *cfg = memkind_config_new();
    size_t value = 0;
    ssize_t capacity;
    void *p = NULL;
    int err = 0;
    unsigned i;

    memkind_config_set_path(cfg, "/tmp");
    memkind_config_set_size(cfg, MEMKIND_PMEM_MIN_SIZE);
    memkind_config_set_memory_usage_policy(cfg,
                                           MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE);
    err |= memkind_create_pmem_with_config(cfg, &kind);
    memkind_config_delete(cfg);
    err |= memkind_create_pmem("/tmp", 0, &kind);
    err |= memkind_create_fixed(msg, sizeof(msg), &kind);
    err |= memkind_create_kind(MEMKIND_MEMTYPE_HIGH_BANDWIDTH,
                               MEMKIND_POLICY_PREFERRED_LOCAL,
                               MEMKIND_MASK_PAGE_SIZE_2MB, &kind);
    err |= memkind_destroy_kind(kind);
    err |= memkind_get_version();
    memkind_error_message(MEMKIND_ERROR_INVALID, msg, sizeof(msg));
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        err |= memkind_check_available(kinds[i]);
    }
    capacity = memkind_get_capacity(kind);
    err |= memkind_update_cached_stats();
    err |= memkind_get_stat(NULL, MEMKIND_STAT_TYPE_ALLOCATED, &value);
    err |= memkind_stats_print(print_cb, NULL,
                               MEMKIND_STAT_PRINT_JSON_FORMAT |
                                   MEMKIND_STAT_PRINT_OMIT_PER_ARENA);
    err |= memkind_check_dax_path("/tmp");
    err |= memkind_set_bg_threads(true);

    p = memkind_malloc(kind, 16);
    p = memkind_realloc(kind, p, 32);
    value += memkind_malloc_usable_size(NULL, p);
    p = memkind_defrag_reallocate(NULL, p);
    if (memkind_detect_kind(p) == kind) {
        memkind_free(kind, p);
    }
    p = memkind_calloc(kind, 2, 8);
    memkind_free(NULL, p);
    err |= memkind_posix_memalign(kind, &p, 64, 64);
    memkind_free(kind, p);
    return err + (int)capacity + (int)value;
}

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
int use_deprecated(void);
int use_deprecated(void)
{
    memkind_t kind;
    return memkind_get_kind_by_partition(MEMKIND_PARTITION_HBW, &kind) +
           MEMKIND_NUM_BASE_KIND;
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

int use_hbwmalloc(void);
int use_hbwmalloc(void)
{
    void *p = NULL;
    int err = 0;
    size_t n;

    err |= hbw_set_policy(HBW_POLICY_BIND_ALL);
    err |= hbw_get_policy() == HBW_POLICY_INTERLEAVE;
    err |= hbw_check_available();
    p = hbw_malloc(16);
    p = hbw_realloc(p, 32);
    n = hbw_malloc_usable_size(p);
    err |= hbw_verify_memory_region(p, n, HBW_TOUCH_PAGES);
    hbw_free(p);
    p = hbw_calloc(4, 4);
    hbw_free(p);
    err |= hbw_posix_memalign(&p, 64, 64);
    hbw_free(p);
    err |= hbw_posix_memalign_psize(&p, 64, 64, HBW_PAGESIZE_2MB);
    hbw_free(p);
    return err == ENOMEM;
}

int use_memtier(void);
int use_memtier(void)
{
    struct memtier_builder *b = memtier_builder_new(MEMTIER_POLICY_DYNAMIC_THRESHOLD);
    struct memtier_memory *m;
    size_t threshold = 1024;
    void *p = NULL;
    int err = 0;

    err |= memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1);
    err |= memtier_builder_add_tier(b, MEMKIND_DAX_KMEM, 4);
    err |= memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].val",
                           &threshold);
    m = memtier_builder_construct_memtier_memory(b);
    memtier_builder_delete(b);

    p = memtier_malloc(m, 16);
    p = memtier_realloc(m, p, 32);
    threshold += memtier_usable_size(p);
    memtier_free(p);
    p = memtier_calloc(m, 2, 8);
    memtier_kind_free(NULL, p);
    err |= memtier_posix_memalign(m, &p, 64, 64);
    memtier_free(p);
    memtier_delete_memtier_memory(m);

    p = memtier_kind_malloc(MEMKIND_DEFAULT, 16);
    p = memtier_kind_realloc(MEMKIND_DEFAULT, p, 32);
    memtier_kind_free(MEMKIND_DEFAULT, p);
    p = memtier_kind_calloc(MEMKIND_DEFAULT, 2, 8);
    memtier_kind_free(MEMKIND_DEFAULT, p);
    err |= memtier_kind_posix_memalign(MEMKIND_DEFAULT, &p, 64, 64);
    memtier_kind_free(MEMKIND_DEFAULT, p);
    threshold += memtier_kind_allocated_size(MEMKIND_DEFAULT);
    return err + (int)threshold;
}

#ifndef HEADERS_COMPILE_MEMKIND_ONLY
int use_morselkind(void);
int use_morselkind(void)
{
    void *p = memkind_malloc(MORSELKIND_HUGE, 1 << 21);
    int err = morselkind_populate(p, 1 << 21);
    memkind_free(MORSELKIND_HUGE, p);
    return err + (morselkind_version_string()[0] == '\0');
}

_Static_assert(sizeof(struct morselkind_share_record) == 64, "the share record is 64 bytes");

int use_morselkind_share(int sock);
int use_morselkind_share(int sock)
{
    memkind_t kind;
    struct morselkind_share_record record;
    struct morselkind_attachment *att = NULL;
    int fd = -1;
    int err = morselkind_create_shared(NULL, 1 << 21, &kind);
    err |= morselkind_share_export(kind, MORSELKIND_SHARE_READONLY, &fd, &record);
    err |= morselkind_share_send(kind, sock, 0);
    err |= morselkind_share_attach(fd, &record, MORSELKIND_SHARE_READONLY, &att);
    err |= morselkind_share_receive(sock, 0, &att);
    err |= (morselkind_attachment_base(att) == NULL) + (int)morselkind_attachment_size(att);
    err |= morselkind_share_detach(att);
    return err + memkind_destroy_kind(kind);
}
#endif
