/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * memkind.h - the kind-aware heap API.
 *
 * morselkind implements this API with the same names, types, values and
 * calling conventions as memkind 1.14, so a program built against memkind's
 * header runs on morselkind unchanged, and the other way round.
 *
 * Conventions used below:
 *   - "status" calls return MEMKIND_SUCCESS (0) or one of the negative
 *     MEMKIND_ERROR_* codes, unless the comment says otherwise;
 *   - allocation calls return NULL and set errno (ENOMEM, EINVAL) on failure;
 *   - free, realloc, usable_size and defrag accept a NULL kind and then find
 *     the kind from the pointer.
 */

#ifndef MORSELKIND_MEMKIND_H
#define MORSELKIND_MEMKIND_H

#include <stdbool.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Lets a build add `const` to memkind_malloc_usable_size's pointer. */
#ifndef MEMKIND_MALLOC_USABLE_SIZE_CONST
#define MEMKIND_MALLOC_USABLE_SIZE_CONST
#endif

/* ------------------------------------------------------------------------ */
/* Types and constants                                                      */
/* ------------------------------------------------------------------------ */

/* Opaque handle to a kind: a static kind or one made by a create call. */
typedef struct memkind *memkind_t;

/* Table and size limits. */
enum memkind_const
{
    MEMKIND_MAX_KIND = 512,                      /* slots in the kind table */
    MEMKIND_ERROR_MESSAGE_SIZE = 128,            /* buffer for error text   */
    MEMKIND_PMEM_MIN_SIZE = (1024 * 1024 * 16)   /* smallest PMEM limit     */
};

/* Status codes returned by the kind management calls. */
enum
{
    MEMKIND_SUCCESS = 0,
    MEMKIND_ERROR_UNAVAILABLE = -1,             /* kind cannot be used here */
    MEMKIND_ERROR_MBIND = -2,                   /* mbind() failed           */
    MEMKIND_ERROR_MMAP = -3,                    /* mmap() failed            */
    MEMKIND_ERROR_MALLOC = -6,                  /* internal malloc() failed */
    MEMKIND_ERROR_ENVIRON = -12,                /* bad environment variable */
    MEMKIND_ERROR_INVALID = -13,                /* bad argument             */
    MEMKIND_ERROR_TOOMANY = -15,                /* kind table is full       */
    MEMKIND_ERROR_BADOPS = -17,                 /* bad operations table     */
    MEMKIND_ERROR_HUGETLB = -18,                /* no huge pages available  */
    MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE = -20,  /* memory type not present  */
    MEMKIND_ERROR_OPERATION_FAILED = -21,       /* operation failed         */
    MEMKIND_ERROR_ARENAS_CREATE = -22,          /* could not create arena   */
    MEMKIND_ERROR_RUNTIME = -255                /* other run-time failure   */
};

/* Memory types for memkind_create_kind(); flags, may be OR-ed together. */
typedef enum memkind_memtype_t
{
    MEMKIND_MEMTYPE_DEFAULT = (1ull << 0),        /* ordinary DRAM          */
    MEMKIND_MEMTYPE_HIGH_BANDWIDTH = (1ull << 1)  /* high bandwidth memory  */
} memkind_memtype_t;

/* Placement policies for memkind_create_kind(). */
typedef enum memkind_policy_t
{
    MEMKIND_POLICY_BIND_LOCAL = 0,      /* local nodes only, else ENOMEM     */
    MEMKIND_POLICY_BIND_ALL,            /* any node of the type, else ENOMEM */
    MEMKIND_POLICY_PREFERRED_LOCAL,     /* local nodes first, then any       */
    MEMKIND_POLICY_INTERLEAVE_LOCAL,    /* interleave over local nodes       */
    MEMKIND_POLICY_INTERLEAVE_ALL,      /* interleave over all nodes         */
    MEMKIND_POLICY_MAX_VALUE            /* count; not a policy               */
} memkind_policy_t;

/*
 * Flags for memkind_create_kind(). The low 8 bits hold log2 of the page
 * size; 0 means the default page size.
 */
typedef enum memkind_bits_t
{
    MEMKIND_MASK_PAGE_SIZE_2MB = 21ull  /* 2 MiB pages */
} memkind_bits_t;

/* How eagerly a PMEM kind hands freed memory back to the system. */
typedef enum memkind_mem_usage_policy
{
    MEMKIND_MEM_USAGE_POLICY_DEFAULT = 0,       /* decay over ~10 s        */
    MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE = 1,  /* give back at once       */
    MEMKIND_MEM_USAGE_POLICY_MAX_VALUE          /* count; not a policy     */
} memkind_mem_usage_policy;

/* Statistics readable with memkind_get_stat(). */
typedef enum memkind_stat_type
{
    MEMKIND_STAT_TYPE_RESIDENT = 0,   /* bytes in resident data pages       */
    MEMKIND_STAT_TYPE_ACTIVE = 1,     /* bytes in active pages              */
    MEMKIND_STAT_TYPE_ALLOCATED = 2,  /* bytes handed out to the caller     */
    MEMKIND_STAT_TYPE_MAX_VALUE       /* count; not a statistic             */
} memkind_stat_type;

/* Options for memkind_stats_print(); flags, may be OR-ed together. */
typedef enum memkind_stat_print_opt
{
    MEMKIND_STAT_PRINT_ALL = 0,
    MEMKIND_STAT_PRINT_JSON_FORMAT = 1U << 0,
    MEMKIND_STAT_PRINT_OMIT_GENERAL = 1U << 1,
    MEMKIND_STAT_PRINT_OMIT_MERGED_ARENA = 1U << 2,
    MEMKIND_STAT_PRINT_OMIT_DESTROYED_MERGED_ARENA = 1U << 3,
    MEMKIND_STAT_PRINT_OMIT_PER_ARENA = 1U << 4,
    MEMKIND_STAT_PRINT_OMIT_PER_SIZE_CLASS_BINS = 1U << 5,
    MEMKIND_STAT_PRINT_OMIT_PER_SIZE_CLASS_LARGE = 1U << 6,
    MEMKIND_STAT_PRINT_OMIT_MUTEX = 1U << 7,
    MEMKIND_STAT_PRINT_OMIT_EXTENT = 1U << 8
} memkind_stat_print_opt;

/* Opaque PMEM kind configuration, see memkind_config_new(). */
struct memkind_config;

/* ------------------------------------------------------------------------ */
/* Static kinds                                                             */
/* ------------------------------------------------------------------------ */

extern memkind_t MEMKIND_DEFAULT;         /* no binding, default pages      */
extern memkind_t MEMKIND_REGULAR;         /* nodes that have CPUs           */
extern memkind_t MEMKIND_HUGETLB;         /* 2 MiB hugetlbfs pages          */
extern memkind_t MEMKIND_INTERLEAVE;      /* all nodes, interleaved, no THP */

extern memkind_t MEMKIND_HBW;                    /* closest HBW node(s)     */
extern memkind_t MEMKIND_HBW_ALL;                /* any HBW node            */
extern memkind_t MEMKIND_HBW_PREFERRED;          /* closest HBW, fall back  */
extern memkind_t MEMKIND_HBW_INTERLEAVE;         /* HBW nodes, interleaved  */
extern memkind_t MEMKIND_HBW_HUGETLB;            /* HBW, 2 MiB pages        */
extern memkind_t MEMKIND_HBW_ALL_HUGETLB;        /* HBW_ALL, 2 MiB pages    */
extern memkind_t MEMKIND_HBW_PREFERRED_HUGETLB;  /* HBW_PREFERRED, 2 MiB    */

extern memkind_t MEMKIND_DAX_KMEM;               /* closest KMEM DAX node   */
extern memkind_t MEMKIND_DAX_KMEM_ALL;           /* any KMEM DAX node       */
extern memkind_t MEMKIND_DAX_KMEM_PREFERRED;     /* closest, fall back      */
extern memkind_t MEMKIND_DAX_KMEM_INTERLEAVE;    /* interleaved over them   */

extern memkind_t MEMKIND_HIGHEST_CAPACITY;            /* largest node(s)    */
extern memkind_t MEMKIND_HIGHEST_CAPACITY_PREFERRED;  /* largest, fall back */
extern memkind_t MEMKIND_HIGHEST_CAPACITY_LOCAL;
extern memkind_t MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED;
extern memkind_t MEMKIND_LOWEST_LATENCY_LOCAL;
extern memkind_t MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED;
extern memkind_t MEMKIND_HIGHEST_BANDWIDTH_LOCAL;
extern memkind_t MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED;

/* ------------------------------------------------------------------------ */
/* Library information                                                      */
/* ------------------------------------------------------------------------ */

/*
 * API version as major * 1000000 + minor * 1000 + patch. Cannot fail.
 * Declared without a prototype, exactly as memkind declares it.
 */
int memkind_get_version();

/*
 * Writes the text for status code err into msg, at most size bytes.
 * MEMKIND_ERROR_MESSAGE_SIZE bytes hold any message. Cannot fail.
 */
void memkind_error_message(int err, char *msg, size_t size);

/* ------------------------------------------------------------------------ */
/* Creating and destroying kinds                                            */
/* ------------------------------------------------------------------------ */

/*
 * Creates a kind from memory types, a placement policy and flags, mapping
 * onto a static kind where one fits. Returns a status:
 * MEMKIND_ERROR_INVALID for a bad combination,
 * MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE when the memory is absent.
 */
int memkind_create_kind(memkind_memtype_t memtype_flags,
                        memkind_policy_t policy, memkind_bits_t flags,
                        memkind_t *kind);

/*
 * Creates a file-backed kind on a temporary (already unlinked) file in dir.
 * max_size is 0 (no limit but the filesystem) or >= MEMKIND_PMEM_MIN_SIZE.
 * Returns a status: MEMKIND_ERROR_INVALID for a bad size or directory,
 * MEMKIND_ERROR_ARENAS_CREATE when the kind table is full (as memkind,
 * which runs out of jemalloc arenas first).
 */
int memkind_create_pmem(const char *dir, size_t max_size, memkind_t *kind);

/* As memkind_create_pmem(), with path, size and usage policy from cfg. */
int memkind_create_pmem_with_config(struct memkind_config *cfg,
                                    memkind_t *kind);

/*
 * Creates a kind whose heap lives in the caller's region [addr, addr + size)
 * (a static array, an mmap, ...). The region must stay valid until the kind
 * is destroyed and is never released by the library; when it is full,
 * malloc returns NULL with errno ENOMEM. Returns a status:
 * MEMKIND_ERROR_INVALID for a bad region, another code when the kind cannot
 * be created (MEMKIND_ERROR_ARENAS_CREATE when the kind table is full).
 */
int memkind_create_fixed(void *addr, size_t size, memkind_t *kind);

/*
 * Destroys a kind returned by one of the create calls. PMEM and fixed kinds
 * release all their blocks with it; blocks of a memkind_create_kind() kind
 * must be freed first. Destroying a kind twice is undefined. Returns a
 * status: MEMKIND_ERROR_OPERATION_FAILED on failure.
 */
int memkind_destroy_kind(memkind_t kind);

/* ------------------------------------------------------------------------ */
/* PMEM kind configuration                                                  */
/* ------------------------------------------------------------------------ */

/* Returns a new configuration with default values, or NULL when out of memory. */
struct memkind_config *memkind_config_new(void);

/* Frees a configuration. Kinds created from it are not affected. */
void memkind_config_delete(struct memkind_config *cfg);

/* Sets the directory the PMEM file is created in. */
void memkind_config_set_path(struct memkind_config *cfg, const char *pmem_dir);

/* Sets the size limit (0, or at least MEMKIND_PMEM_MIN_SIZE). */
void memkind_config_set_size(struct memkind_config *cfg, size_t pmem_size);

/* Sets how eagerly freed memory is returned to the file system. */
void memkind_config_set_memory_usage_policy(struct memkind_config *cfg,
                                            memkind_mem_usage_policy policy);

/* ------------------------------------------------------------------------ */
/* Queries and statistics                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Returns MEMKIND_SUCCESS when kind can allocate on this machine, else a
 * status such as MEMKIND_ERROR_UNAVAILABLE or MEMKIND_ERROR_HUGETLB.
 */
int memkind_check_available(memkind_t kind);

/*
 * Returns the bytes kind can draw from: its nodes' memory, the file or
 * filesystem size for PMEM, the region size for a fixed kind; -1 on error.
 */
ssize_t memkind_get_capacity(memkind_t kind);

/* Returns the kind that owns ptr, or NULL if none does. Not cheap. */
memkind_t memkind_detect_kind(void *ptr);

/* Refreshes the counters read by memkind_get_stat(). Returns a status. */
int memkind_update_cached_stats(void);

/*
 * Reads statistic stat of kind (or of all kinds when kind is NULL) into
 * *value, as of the last memkind_update_cached_stats(). Returns a status:
 * MEMKIND_ERROR_INVALID for a bad stat.
 */
int memkind_get_stat(memkind_t kind, memkind_stat_type stat, size_t *value);

/*
 * Prints allocator statistics through write_cb(cbopaque, text), or to
 * stderr when write_cb is NULL. Returns a status: MEMKIND_ERROR_INVALID for
 * unknown option bits.
 */
int memkind_stats_print(void (*write_cb)(void *, const char *), void *cbopaque,
                        memkind_stat_print_opt opts);

/*
 * Returns MEMKIND_SUCCESS when dir is on a filesystem mounted with DAX,
 * else a non-zero status.
 */
int memkind_check_dax_path(const char *pmem_dir);

/* Starts (true) or stops (false) background purging threads. Returns a status. */
int memkind_set_bg_threads(bool state);

/* ------------------------------------------------------------------------ */
/* Heap                                                                     */
/* ------------------------------------------------------------------------ */

/* Allocates size bytes from kind. NULL for size 0 or on failure (ENOMEM). */
void *memkind_malloc(memkind_t kind, size_t size);

/*
 * Allocates num * size zeroed bytes from kind. NULL for a zero size, on
 * overflow or on failure (ENOMEM).
 */
void *memkind_calloc(memkind_t kind, size_t num, size_t size);

/*
 * Allocates size bytes from kind aligned to alignment (a power of two and
 * a multiple of sizeof(void *)) into *memptr. Returns 0, EINVAL for a bad
 * alignment (*memptr untouched) or ENOMEM.
 */
int memkind_posix_memalign(memkind_t kind, void **memptr, size_t alignment,
                           size_t size);

/*
 * Resizes ptr to size bytes in kind, moving it if needed. ptr NULL acts as
 * malloc; size 0 frees ptr and returns NULL. kind may be NULL when ptr is
 * not (it is found from ptr); both NULL gives NULL with errno EINVAL.
 * NULL on failure (ENOMEM), ptr then stays valid.
 */
void *memkind_realloc(memkind_t kind, void *ptr, size_t size);

/* Frees ptr (NULL is a no-op). kind may be NULL: it is found from ptr. */
void memkind_free(memkind_t kind, void *ptr);

/* Returns the usable bytes of the block at ptr; 0 for NULL. kind may be NULL. */
size_t memkind_malloc_usable_size(memkind_t kind,
                                  MEMKIND_MALLOC_USABLE_SIZE_CONST void *ptr);

/*
 * Moves ptr to a less fragmented place if that helps, returning the new
 * address (ptr is then freed), or NULL when it stays where it is. kind
 * may be NULL.
 */
void *memkind_defrag_reallocate(memkind_t kind, void *ptr);

#ifdef __cplusplus
}
#endif

/* Deprecated names (GBTLB kinds, partitions). */
#include "memkind_deprecated.h"

#endif /* MORSELKIND_MEMKIND_H */
