/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * Prints every enumerator and numeric constant of memkind.h,
 * memkind_deprecated.h, hbwmalloc.h and memkind_memtier.h, one per line
 * as NAME=VALUE, followed by its C type and size, and the size, alignment
 * and underlying integer type of every public type.
 *
 * tests/suites/abi_constants.sh builds this file once against morselkind's
 * include/ and once against memkind's installed headers and diffs the two
 * outputs: any difference is an ABI difference. Needs C11 (_Generic).
 */

#include <memkind.h>
#include <hbwmalloc.h>
#include <memkind_memtier.h>

#include <stdio.h>

#define TYPE_NAME(x)                                                           \
    _Generic((x),                                                              \
        _Bool: "_Bool",                                                        \
        char: "char",                                                          \
        signed char: "signed char",                                            \
        unsigned char: "unsigned char",                                        \
        short: "short",                                                        \
        unsigned short: "unsigned short",                                      \
        int: "int",                                                            \
        unsigned int: "unsigned int",                                          \
        long: "long",                                                          \
        unsigned long: "unsigned long",                                        \
        long long: "long long",                                                \
        unsigned long long: "unsigned long long",                              \
        default: "other")

static unsigned checked;

/* A constant: its value, its C type and its size. */
#define CONSTANT(x)                                                            \
    do {                                                                       \
        printf("%s=%lld\n", #x, (long long)(x));                               \
        printf("type:%s=%s\n", #x, TYPE_NAME(x));                              \
        printf("sizeof:%s=%zu\n", #x, sizeof(x));                              \
        checked++;                                                             \
    } while (0)

/* An enum type: size, alignment, the integer type it is compatible with. */
#define ENUM_TYPE(t)                                                           \
    do {                                                                       \
        printf("sizeof(%s)=%zu\n", #t, sizeof(t));                             \
        printf("alignof(%s)=%zu\n", #t, _Alignof(t));                          \
        printf("underlying(%s)=%s\n", #t, TYPE_NAME((t)0));                    \
        printf("signed(%s)=%d\n", #t, (t)-1 < (t)0);                           \
        checked++;                                                             \
    } while (0)

/* Any other type: size and alignment. */
#define OTHER_TYPE(t)                                                          \
    do {                                                                       \
        printf("sizeof(%s)=%zu\n", #t, sizeof(t));                             \
        printf("alignof(%s)=%zu\n", #t, _Alignof(t));                          \
        checked++;                                                             \
    } while (0)

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

int main(void)
{
    /* memkind.h: enum memkind_const */
    CONSTANT(MEMKIND_MAX_KIND);
    CONSTANT(MEMKIND_ERROR_MESSAGE_SIZE);
    CONSTANT(MEMKIND_PMEM_MIN_SIZE);

    /* memkind.h: status codes */
    CONSTANT(MEMKIND_SUCCESS);
    CONSTANT(MEMKIND_ERROR_UNAVAILABLE);
    CONSTANT(MEMKIND_ERROR_MBIND);
    CONSTANT(MEMKIND_ERROR_MMAP);
    CONSTANT(MEMKIND_ERROR_MALLOC);
    CONSTANT(MEMKIND_ERROR_ENVIRON);
    CONSTANT(MEMKIND_ERROR_INVALID);
    CONSTANT(MEMKIND_ERROR_TOOMANY);
    CONSTANT(MEMKIND_ERROR_BADOPS);
    CONSTANT(MEMKIND_ERROR_HUGETLB);
    CONSTANT(MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE);
    CONSTANT(MEMKIND_ERROR_OPERATION_FAILED);
    CONSTANT(MEMKIND_ERROR_ARENAS_CREATE);
    CONSTANT(MEMKIND_ERROR_RUNTIME);

    /* memkind.h: memkind_memtype_t */
    CONSTANT(MEMKIND_MEMTYPE_DEFAULT);
    CONSTANT(MEMKIND_MEMTYPE_HIGH_BANDWIDTH);

    /* memkind.h: memkind_policy_t */
    CONSTANT(MEMKIND_POLICY_BIND_LOCAL);
    CONSTANT(MEMKIND_POLICY_BIND_ALL);
    CONSTANT(MEMKIND_POLICY_PREFERRED_LOCAL);
    CONSTANT(MEMKIND_POLICY_INTERLEAVE_LOCAL);
    CONSTANT(MEMKIND_POLICY_INTERLEAVE_ALL);
    CONSTANT(MEMKIND_POLICY_MAX_VALUE);

    /* memkind.h: memkind_bits_t */
    CONSTANT(MEMKIND_MASK_PAGE_SIZE_2MB);

    /* memkind.h: memkind_mem_usage_policy */
    CONSTANT(MEMKIND_MEM_USAGE_POLICY_DEFAULT);
    CONSTANT(MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE);
    CONSTANT(MEMKIND_MEM_USAGE_POLICY_MAX_VALUE);

    /* memkind.h: memkind_stat_type */
    CONSTANT(MEMKIND_STAT_TYPE_RESIDENT);
    CONSTANT(MEMKIND_STAT_TYPE_ACTIVE);
    CONSTANT(MEMKIND_STAT_TYPE_ALLOCATED);
    CONSTANT(MEMKIND_STAT_TYPE_MAX_VALUE);

    /* memkind.h: memkind_stat_print_opt */
    CONSTANT(MEMKIND_STAT_PRINT_ALL);
    CONSTANT(MEMKIND_STAT_PRINT_JSON_FORMAT);
    CONSTANT(MEMKIND_STAT_PRINT_OMIT_GENERAL);
    CONSTANT(MEMKIND_STAT_PRINT_OMIT_MERGED_ARENA);
    CONSTANT(MEMKIND_STAT_PRINT_OMIT_DESTROYED_MERGED_ARENA);
    CONSTANT(MEMKIND_STAT_PRINT_OMIT_PER_ARENA);
    CONSTANT(MEMKIND_STAT_PRINT_OMIT_PER_SIZE_CLASS_BINS);
    CONSTANT(MEMKIND_STAT_PRINT_OMIT_PER_SIZE_CLASS_LARGE);
    CONSTANT(MEMKIND_STAT_PRINT_OMIT_MUTEX);
    CONSTANT(MEMKIND_STAT_PRINT_OMIT_EXTENT);

    /* memkind_deprecated.h: enum memkind_base_partition */
    CONSTANT(MEMKIND_PARTITION_DEFAULT);
    CONSTANT(MEMKIND_PARTITION_HBW);
    CONSTANT(MEMKIND_PARTITION_HBW_HUGETLB);
    CONSTANT(MEMKIND_PARTITION_HBW_PREFERRED);
    CONSTANT(MEMKIND_PARTITION_HBW_PREFERRED_HUGETLB);
    CONSTANT(MEMKIND_PARTITION_HUGETLB);
    CONSTANT(MEMKIND_PARTITION_HBW_GBTLB);
    CONSTANT(MEMKIND_PARTITION_HBW_PREFERRED_GBTLB);
    CONSTANT(MEMKIND_PARTITION_GBTLB);
    CONSTANT(MEMKIND_PARTITION_HBW_INTERLEAVE);
    CONSTANT(MEMKIND_PARTITION_INTERLEAVE);
    CONSTANT(MEMKIND_PARTITION_REGULAR);
    CONSTANT(MEMKIND_PARTITION_HBW_ALL);
    CONSTANT(MEMKIND_PARTITION_HBW_ALL_HUGETLB);
    CONSTANT(MEMKIND_PARTITION_DAX_KMEM);
    CONSTANT(MEMKIND_PARTITION_DAX_KMEM_ALL);
    CONSTANT(MEMKIND_PARTITION_DAX_KMEM_PREFERRED);
    CONSTANT(MEMKIND_PARTITION_DAX_KMEM_INTERLEAVE);
    CONSTANT(MEMKIND_PARTITION_HIGHEST_CAPACITY);
    CONSTANT(MEMKIND_PARTITION_HIGHEST_CAPACITY_PREFERRED);
    CONSTANT(MEMKIND_PARTITION_HIGHEST_CAPACITY_LOCAL);
    CONSTANT(MEMKIND_PARTITION_HIGHEST_CAPACITY_LOCAL_PREFERRED);
    CONSTANT(MEMKIND_PARTITION_LOWEST_LATENCY_LOCAL);
    CONSTANT(MEMKIND_PARTITION_LOWEST_LATENCY_LOCAL_PREFERRED);
    CONSTANT(MEMKIND_PARTITION_HIGHEST_BANDWIDTH_LOCAL);
    CONSTANT(MEMKIND_PARTITION_HIGHEST_BANDWIDTH_LOCAL_PREFERRED);
    CONSTANT(MEMKIND_NUM_BASE_KIND);

    /* hbwmalloc.h: hbw_policy_t */
    CONSTANT(HBW_POLICY_BIND);
    CONSTANT(HBW_POLICY_PREFERRED);
    CONSTANT(HBW_POLICY_INTERLEAVE);
    CONSTANT(HBW_POLICY_BIND_ALL);

    /* hbwmalloc.h: hbw_pagesize_t */
    CONSTANT(HBW_PAGESIZE_4KB);
    CONSTANT(HBW_PAGESIZE_2MB);
    CONSTANT(HBW_PAGESIZE_1GB_STRICT);
    CONSTANT(HBW_PAGESIZE_1GB);
    CONSTANT(HBW_PAGESIZE_MAX_VALUE);

    /* hbwmalloc.h: flags of hbw_verify_memory_region() */
    CONSTANT(HBW_TOUCH_PAGES);

    /* memkind_memtier.h: memtier_policy_t */
    CONSTANT(MEMTIER_POLICY_STATIC_RATIO);
    CONSTANT(MEMTIER_POLICY_DYNAMIC_THRESHOLD);
    CONSTANT(MEMTIER_POLICY_MAX_VALUE);

    /* Types. The enum tags are named too, so a missing tag fails to build. */
    OTHER_TYPE(memkind_t);
    OTHER_TYPE(struct memkind *);
    OTHER_TYPE(struct memkind_config *);
    OTHER_TYPE(struct memtier_builder *);
    OTHER_TYPE(struct memtier_memory *);
    ENUM_TYPE(memkind_memtype_t);
    ENUM_TYPE(enum memkind_memtype_t);
    ENUM_TYPE(memkind_policy_t);
    ENUM_TYPE(enum memkind_policy_t);
    ENUM_TYPE(memkind_bits_t);
    ENUM_TYPE(enum memkind_bits_t);
    ENUM_TYPE(enum memkind_const);
    ENUM_TYPE(memkind_mem_usage_policy);
    ENUM_TYPE(enum memkind_mem_usage_policy);
    ENUM_TYPE(memkind_stat_type);
    ENUM_TYPE(enum memkind_stat_type);
    ENUM_TYPE(memkind_stat_print_opt);
    ENUM_TYPE(enum memkind_stat_print_opt);
    ENUM_TYPE(enum memkind_base_partition);
    ENUM_TYPE(hbw_policy_t);
    ENUM_TYPE(hbw_pagesize_t);
    ENUM_TYPE(memtier_policy_t);
    ENUM_TYPE(enum memtier_policy_t);

    /* Macros a program can see or override. */
    printf("MEMKIND_MALLOC_USABLE_SIZE_CONST=\"%s\"\n",
           STRINGIFY(MEMKIND_MALLOC_USABLE_SIZE_CONST));
    checked++;
#ifdef MEMKIND_DEPRECATED
    printf("defined(MEMKIND_DEPRECATED)=1\n");
#else
    printf("defined(MEMKIND_DEPRECATED)=0\n");
#endif
    checked++;
#ifdef _MEMKIND_BIT
    printf("defined(_MEMKIND_BIT)=1\n");
#else
    printf("defined(_MEMKIND_BIT)=0\n");
#endif
    checked++;

    /* Last line: how many items were printed (read by the script). */
    printf("checked=%u\n", checked);
    return 0;
}
