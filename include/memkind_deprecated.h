/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * memkind_deprecated.h - names kept only so that old programs still build
 * and link. memkind.h includes this header; new code should not use it.
 */

#ifndef MORSELKIND_MEMKIND_DEPRECATED_H
#define MORSELKIND_MEMKIND_DEPRECATED_H

/* memkind_t comes from memkind.h (a no-op when memkind.h includes us). */
#include "memkind.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a declaration deprecated; a program may define its own first. */
#ifndef MEMKIND_DEPRECATED
#if defined(__GNUC__)
#define MEMKIND_DEPRECATED(func) func __attribute__((deprecated))
#elif defined(_MSC_VER)
#define MEMKIND_DEPRECATED(func) __declspec(deprecated) func
#else
#define MEMKIND_DEPRECATED(func) func
#endif
#endif

/* 1 GiB page kinds. No longer supported; kept as symbols for old binaries. */
extern memkind_t MEMKIND_GBTLB;
extern memkind_t MEMKIND_HBW_GBTLB;
extern memkind_t MEMKIND_HBW_PREFERRED_GBTLB;

/* Index of each static kind in the kind table. */
enum memkind_base_partition
{
    MEMKIND_PARTITION_DEFAULT = 0,
    MEMKIND_PARTITION_HBW = 1,
    MEMKIND_PARTITION_HBW_HUGETLB = 2,
    MEMKIND_PARTITION_HBW_PREFERRED = 3,
    MEMKIND_PARTITION_HBW_PREFERRED_HUGETLB = 4,
    MEMKIND_PARTITION_HUGETLB = 5,
    MEMKIND_PARTITION_HBW_GBTLB = 6,
    MEMKIND_PARTITION_HBW_PREFERRED_GBTLB = 7,
    MEMKIND_PARTITION_GBTLB = 8,
    MEMKIND_PARTITION_HBW_INTERLEAVE = 9,
    MEMKIND_PARTITION_INTERLEAVE = 10,
    MEMKIND_PARTITION_REGULAR = 11,
    MEMKIND_PARTITION_HBW_ALL = 12,
    MEMKIND_PARTITION_HBW_ALL_HUGETLB = 13,
    MEMKIND_PARTITION_DAX_KMEM = 14,
    MEMKIND_PARTITION_DAX_KMEM_ALL = 15,
    MEMKIND_PARTITION_DAX_KMEM_PREFERRED = 16,
    MEMKIND_PARTITION_DAX_KMEM_INTERLEAVE = 17,
    MEMKIND_PARTITION_HIGHEST_CAPACITY = 18,
    MEMKIND_PARTITION_HIGHEST_CAPACITY_PREFERRED = 19,
    MEMKIND_PARTITION_HIGHEST_CAPACITY_LOCAL = 20,
    MEMKIND_PARTITION_HIGHEST_CAPACITY_LOCAL_PREFERRED = 21,
    MEMKIND_PARTITION_LOWEST_LATENCY_LOCAL = 22,
    MEMKIND_PARTITION_LOWEST_LATENCY_LOCAL_PREFERRED = 23,
    MEMKIND_PARTITION_HIGHEST_BANDWIDTH_LOCAL = 24,
    MEMKIND_PARTITION_HIGHEST_BANDWIDTH_LOCAL_PREFERRED = 25,
    MEMKIND_NUM_BASE_KIND  /* number of static kinds (26) */
};

/*
 * Stores the kind in slot partition of the kind table (the static kinds sit
 * at the MEMKIND_PARTITION_* indexes) in *kind. Returns MEMKIND_SUCCESS, or
 * MEMKIND_ERROR_UNAVAILABLE with *kind set to NULL when the slot is empty or
 * outside [0, MEMKIND_MAX_KIND).
 */
int MEMKIND_DEPRECATED(memkind_get_kind_by_partition(int partition,
                                                     memkind_t *kind));

#ifdef __cplusplus
}
#endif

#endif /* MORSELKIND_MEMKIND_DEPRECATED_H */
