/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * morselkind.h - morselkind's own additions to the memkind API.
 * Programs that use these are no longer portable to memkind itself.
 */

#ifndef MORSELKIND_MORSELKIND_H
#define MORSELKIND_MORSELKIND_H

#include "memkind.h"

#include <stdint.h>

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

/*
 * Shared kinds: memory another process maps at the same addresses, so that
 * pointers inside shared data stay valid and nothing is copied.
 *
 * morselkind_create_shared() makes a kind whose whole window of max_size
 * bytes (rounded up to 2 MiB, at most 32 TiB) is reserved at once, backed by
 * a memfd (dir NULL) or by an unnamed file in dir (a DAX filesystem for
 * PMEM). Allocate and free in it with memkind_malloc()/memkind_free() as in
 * any kind: allocation stays with this process.
 *
 * The exporter hands it to another process with morselkind_share_send()
 * over a Unix socket (the record and a descriptor of the file, SCM_RIGHTS),
 * or with morselkind_share_export() (a new descriptor the caller owns, and
 * the record) for a channel of its own. The other process attaches with
 * morselkind_share_receive() or morselkind_share_attach(): one mapping of
 * the whole window at the exporter's addresses (MAP_FIXED_NOREPLACE). Where
 * anything of its own is mapped there, attach fails with
 * MEMKIND_ERROR_MMAP and errno EEXIST and maps nothing anywhere. Memory the
 * exporter allocates later is visible at once, without a new descriptor.
 *
 * flags: 0 (read-write) or MORSELKIND_SHARE_READONLY. A read-only export
 * sends a descriptor opened read-only, which cannot be mapped writable.
 *
 * Every call returns MEMKIND_SUCCESS or a memkind error code and then sets
 * errno: MEMKIND_ERROR_INVALID (EINVAL) for bad arguments, a record that
 * does not name the descriptor's file (stale or foreign), a wrong size, or
 * read-write access to a read-only export; MEMKIND_ERROR_MMAP with EBADF,
 * EEXIST, EACCES, ... for what the system refused.
 *
 * An attached process that dies changes nothing for the exporter; an
 * exporter that dies leaves attached windows valid until they are detached.
 * After fork, the exporter's child has a private copy of the kind; attached
 * processes keep seeing the exporter's memory. Nothing is left on disk or
 * in /dev/shm.
 */
#define MORSELKIND_SHARE_READONLY 1

/* What an attacher needs beside the descriptor (64 bytes, plain data). */
struct morselkind_share_record {
    uint64_t magic;    /* "MORSELSH" */
    uint32_t version;  /* 1 */
    uint32_t flags;    /* MORSELKIND_SHARE_READONLY or 0 */
    uint64_t base;     /* the window's address, the same in every process */
    uint64_t size;     /* the window's length */
    uint64_t offset;   /* the file offset mapped at base */
    uint64_t dev;      /* the file's st_dev */
    uint64_t ino;      /* the file's st_ino */
    uint64_t reserved; /* 0 */
};

/* A shared kind mapped into this process. */
struct morselkind_attachment;

int morselkind_create_shared(const char *dir, size_t max_size, memkind_t *kind);
int morselkind_share_export(memkind_t kind, int flags, int *fd,
                            struct morselkind_share_record *record);
int morselkind_share_send(memkind_t kind, int sock, int flags);
int morselkind_share_attach(int fd, const struct morselkind_share_record *record,
                            int flags, struct morselkind_attachment **attachment);
int morselkind_share_receive(int sock, int flags,
                             struct morselkind_attachment **attachment);
/* The window's first address and length (NULL and 0 for NULL). */
void *morselkind_attachment_base(const struct morselkind_attachment *attachment);
size_t morselkind_attachment_size(const struct morselkind_attachment *attachment);
/* Unmaps the window; pointers into it must not be used after. */
int morselkind_share_detach(struct morselkind_attachment *attachment);

/* Returns the library version as a static string, e.g. "0.1.0". */
const char *morselkind_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* MORSELKIND_MORSELKIND_H */
