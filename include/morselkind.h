/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * morselkind.h - morselkind's own additions to the memkind API.
 * Programs that use these are no longer portable to memkind itself.
 */

#ifndef MORSELKIND_MORSELKIND_H
#define MORSELKIND_MORSELKIND_H

#include "memkind.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Ordinary memory backed by transparent huge pages: extents are 2 MiB
 * aligned and advised MADV_HUGEPAGE. Needs no hugetlbfs reservation; where
 * THP is off it still works, on normal pages.
 */
extern memkind_t MORSELKIND_HUGE;

/*
 * Faults in every page of [addr, addr + size) now, in large batches, with
 * the placement of the kind the range belongs to, instead of page by page
 * on first touch. The range must lie inside memory handed out by a kind.
 * Returns MEMKIND_SUCCESS (also for size 0), MEMKIND_ERROR_INVALID for a
 * NULL addr or a range no kind owns, MEMKIND_ERROR_MBIND or
 * MEMKIND_ERROR_MMAP when the kernel refuses.
 */
int morselkind_populate(void *addr, size_t size);

/* Returns the library version as a static string, e.g. "0.1.0". */
const char *morselkind_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* MORSELKIND_MORSELKIND_H */
