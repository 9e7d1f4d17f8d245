/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * memkind_memtier.h - allocation-time tiering: a memtier_memory spreads
 * allocations over several kinds (tiers) to keep a target byte ratio
 * between them. Build one with a memtier_builder, then allocate from it.
 *
 * int-returning calls return 0 on success and -1 on failure unless noted.
 */

#ifndef MORSELKIND_MEMKIND_MEMTIER_H
#define MORSELKIND_MEMKIND_MEMTIER_H

#include <stdlib.h>

#include "memkind.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque objects. */
struct memtier_builder;
struct memtier_memory;

/* How a memtier_memory picks the tier for each allocation. */
typedef enum memtier_policy_t
{
    MEMTIER_POLICY_STATIC_RATIO = 0,       /* by allocated bytes per tier    */
    MEMTIER_POLICY_DYNAMIC_THRESHOLD = 1,  /* by size, adaptive thresholds   */
    MEMTIER_POLICY_MAX_VALUE               /* count; not a policy            */
} memtier_policy_t;

/* --- Building ----------------------------------------------------------- */

/* Returns a new, empty builder for policy, or NULL (bad policy, no memory). */
struct memtier_builder *memtier_builder_new(memtier_policy_t policy);

/* Frees a builder. Memories already constructed from it stay valid. */
void memtier_builder_delete(struct memtier_builder *builder);

/*
 * Adds kind as the next tier, weighted kind_ratio against the other tiers.
 * Returns 0, or -1 for a NULL kind, a kind already added, or no memory.
 */
int memtier_builder_add_tier(struct memtier_builder *builder, memkind_t kind,
                             unsigned kind_ratio);

/*
 * Sets a tuning property of the builder's policy. name is one of
 * "policy.dynamic_threshold.thresholds[N].val", "...[N].min", "...[N].max"
 * (val points at a size_t), "policy.dynamic_threshold.check_cnt" (an
 * unsigned) and "policy.dynamic_threshold.trigger" or "...degree" (a float).
 * Returns 0, or -1 for an unknown name, a bad index or a bad value.
 */
int memtier_ctl_set(struct memtier_builder *builder, const char *name,
                    const void *val);

/*
 * Returns a new tiered memory with the builder's tiers and policy, or NULL
 * when the configuration is invalid or memory runs out.
 */
struct memtier_memory *
memtier_builder_construct_memtier_memory(struct memtier_builder *builder);

/* Frees a tiered memory. Blocks allocated from it must be freed first. */
void memtier_delete_memtier_memory(struct memtier_memory *memory);

/* --- Allocating from a tiered memory ------------------------------------ */

/* Allocates size bytes from the tier the policy picks. NULL on failure. */
void *memtier_malloc(struct memtier_memory *memory, size_t size);

/* Allocates num * size zeroed bytes from the tier the policy picks. */
void *memtier_calloc(struct memtier_memory *memory, size_t num, size_t size);

/*
 * Resizes ptr within its own kind; ptr NULL allocates from a tier the policy
 * picks. Follows memkind_realloc() for size 0 and failures.
 */
void *memtier_realloc(struct memtier_memory *memory, void *ptr, size_t size);

/*
 * Allocates size bytes aligned to alignment into *memptr, from the tier
 * the policy picks. Returns 0, EINVAL for a bad alignment, ENOMEM.
 */
int memtier_posix_memalign(struct memtier_memory *memory, void **memptr,
                           size_t alignment, size_t size);

/* --- Allocating from one kind, with tier accounting ---------------------- */

/* As memkind_malloc(), counted in kind's tier statistics. */
void *memtier_kind_malloc(memkind_t kind, size_t size);

/* As memkind_calloc(), counted in kind's tier statistics. */
void *memtier_kind_calloc(memkind_t kind, size_t num, size_t size);

/* As memkind_realloc(): ptr NULL allocates, size 0 frees and returns NULL. */
void *memtier_kind_realloc(memkind_t kind, void *ptr, size_t size);

/* As memkind_posix_memalign(): returns 0, EINVAL or ENOMEM. */
int memtier_kind_posix_memalign(memkind_t kind, void **memptr, size_t alignment,
                                size_t size);

/* --- Freeing and queries ------------------------------------------------- */

/* Frees ptr (NULL is a no-op); kind may be NULL and is then found from ptr. */
void memtier_kind_free(memkind_t kind, void *ptr);

/* Frees a block from any memtier call. Inline: not a library symbol. */
static inline void memtier_free(void *ptr)
{
    memtier_kind_free(NULL, ptr);
}

/* Returns the usable bytes of a block from a memtier call; 0 for NULL. */
size_t memtier_usable_size(void *ptr);

/* Returns the bytes currently allocated from kind through memtier calls. */
size_t memtier_kind_allocated_size(memkind_t kind);

#ifdef __cplusplus
}
#endif

#endif /* MORSELKIND_MEMKIND_MEMTIER_H */
