/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * hbwmalloc.h - malloc-style calls that allocate high bandwidth memory
 * (HBW) under one process-wide fallback policy.
 *
 * Calls that return int return 0 or an errno value (never a MEMKIND_ERROR_*
 * code); allocation calls return NULL on failure.
 */

#ifndef MORSELKIND_HBWMALLOC_H
#define MORSELKIND_HBWMALLOC_H

#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What happens when the closest HBW node cannot serve a request. */
typedef enum
{
    HBW_POLICY_BIND = 1,        /* closest HBW node(s) only; else ENOMEM/OOM  */
    HBW_POLICY_PREFERRED = 2,   /* closest HBW node, then ordinary memory     */
    HBW_POLICY_INTERLEAVE = 3,  /* interleave over all HBW nodes, 4 KiB pages */
    HBW_POLICY_BIND_ALL = 4     /* any HBW node; else ENOMEM/OOM              */
} hbw_policy_t;

/* Page sizes for hbw_posix_memalign_psize(). */
typedef enum
{
    HBW_PAGESIZE_4KB = 1,         /* normal pages (THP may still promote)     */
    HBW_PAGESIZE_2MB = 2,         /* 2 MiB huge pages                         */
    HBW_PAGESIZE_1GB_STRICT = 3,  /* deprecated: 1 GiB pages, size multiple   */
    HBW_PAGESIZE_1GB = 4,         /* deprecated: 1 GiB pages                  */
    HBW_PAGESIZE_MAX_VALUE        /* count; not a page size                   */
} hbw_pagesize_t;

/* Flags for hbw_verify_memory_region(). */
enum
{
    HBW_TOUCH_PAGES = (1 << 0)  /* read and rewrite one byte per page first */
};

/* Returns the fallback policy in force (HBW_POLICY_PREFERRED until set). */
hbw_policy_t hbw_get_policy(void);

/*
 * Sets the fallback policy, once, before the first hbw allocation.
 * Returns 0, EPERM when a policy was already set, EINVAL for an unknown mode.
 */
int hbw_set_policy(hbw_policy_t mode);

/* Returns 0 when the machine has HBW memory, else ENODEV. */
int hbw_check_available(void);

/*
 * Checks that every page of [addr, addr + size) sits on an HBW node.
 * flags is 0 or HBW_TOUCH_PAGES. Returns 0 when it does, -1 when some page
 * does not (or is not yet populated), EINVAL for a NULL addr, size 0 or
 * unknown flags, EFAULT when the pages cannot be queried.
 */
int hbw_verify_memory_region(void *addr, size_t size, int flags);

/* Allocates size bytes of HBW memory. NULL for size 0 or on failure. */
void *hbw_malloc(size_t size);

/* Allocates num * size zeroed bytes. NULL for a zero size or on failure. */
void *hbw_calloc(size_t num, size_t size);

/*
 * Allocates size bytes aligned to alignment (a power of two, a multiple of
 * sizeof(void *)) into *memptr. Returns 0, EINVAL for a bad alignment,
 * ENOMEM when out of memory.
 */
int hbw_posix_memalign(void **memptr, size_t alignment, size_t size);

/*
 * As hbw_posix_memalign(), on pages of the given size. Returns 0, EINVAL
 * for a bad alignment or page size or a page size the policy cannot use
 * (2 MiB with HBW_POLICY_INTERLEAVE), ENOMEM when out of memory.
 */
int hbw_posix_memalign_psize(void **memptr, size_t alignment, size_t size,
                             hbw_pagesize_t pagesize);

/*
 * Resizes ptr to size bytes, moving it if needed. ptr NULL acts as
 * hbw_malloc; size 0 frees ptr and returns NULL. NULL on failure, ptr then
 * stays valid. Not for blocks from hbw_posix_memalign_psize().
 */
void *hbw_realloc(void *ptr, size_t size);

/* Frees a block from any hbw_ allocation call; NULL is a no-op. */
void hbw_free(void *ptr);

/* Returns the usable bytes of the block at ptr. */
size_t hbw_malloc_usable_size(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* MORSELKIND_HBWMALLOC_H */
