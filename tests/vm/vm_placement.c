/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * vm_placement.c - what each memkind kind does on the test VM's heterogeneous memory.
 *
 * The same source is built twice by tests/suites/vm_placement.sh: against the system memkind 1.14
 * (-lmemkind) and against morselkind (-I include -lmorselkind); both builds also link libnuma for
 * numa_move_pages. It uses only the memkind API, so both builds must print the same facts.
 *
 *   vm_placement kinds
 *       one line per static kind:
 *         KIND check=<memkind_check_available> capacity=<memkind_get_capacity> node=<N|mixed:A,B|->
 *       where node is the node of every page of a 4 MiB allocation, touched, from
 *       numa_move_pages(nodes=NULL) ("mixed:" and the sorted set of nodes when pages disagree,
 *       "error:..." when something failed, "-" when the kind is unavailable and nothing was
 *       allocated). How many pages went to each node is printed on "~ " lines (not compared: an
 *       interleaved split depends on addresses).
 *   vm_placement dax DIR
 *       check_dax_path=<memkind_check_dax_path(DIR)>, then a PMEM kind on DIR: 4 MiB and a few
 *       small objects allocated, written, read back, freed, the kind destroyed, DIR left with the
 *       entries it had (lost+found on the guest's ext4):
 *         pmem=ok | pmem=error:<what>
 *   vm_placement fill DIR PIECE TOTAL
 *       first touch through a PMEM kind on DIR (max_size 0): TOTAL bytes in PIECE-byte pieces,
 *       each memkind_malloc'ed then memset; prints
 *         fill piece=<PIECE> total=<TOTAL> faults=<ru_minflt delta over every malloc + memset>
 *           memset_faults=<ru_minflt delta over the memsets alone> majflt=<ru_majflt delta over
 *           every malloc + memset> secs=<...>
 *       (on a DAX filesystem a fault that allocates a file block counts as major)
 *       then checks a byte of every page, frees everything, destroys the kind, checks DIR has
 *       the entries it had.
 * Exit status: 0, or 1 when something that must work did not (the output says what).
 * The clock, the fault counts and the directory's entries come from tests/c/observe.h.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <memkind.h>

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../c/observe.h"

#define SIZE ((size_t)4 << 20)

static int failures;

/* Writes to OUT the node of every page of [p, p + len), "mixed:A,B,..." or "error:...", and
 * prints how many pages each node holds on a "~ " line. */
static void page_nodes(const char *name, char *p, size_t len, char *out, size_t outlen) {
    long pg = sysconf(_SC_PAGESIZE);
    unsigned long n = len / pg;
    void **pages = calloc(n, sizeof *pages);
    int *status = calloc(n, sizeof *status);
    for (unsigned long i = 0; i < n; i++) pages[i] = p + i * pg;
    if (numa_move_pages(0, n, pages, NULL, status, 0) != 0) {
        snprintf(out, outlen, "error:move_pages:%s", strerror(errno));
        failures++;
    } else {
        /* counts per node (0..63); anything negative is an error for that page */
        unsigned long cnt[64] = {0}, errs = 0;
        int err = 0;
        for (unsigned long i = 0; i < n; i++) {
            if (status[i] >= 0 && status[i] < 64) {
                cnt[status[i]]++;
            } else {
                errs++;
                err = status[i];
            }
        }
        int distinct = 0, last = -1;
        for (int k = 0; k < 64; k++)
            if (cnt[k]) distinct++, last = k;
        if (errs) {
            snprintf(out, outlen, "error:%lu of %lu pages:%s", errs, n, strerror(-err));
            failures++;
        } else if (distinct == 1) {
            snprintf(out, outlen, "%d", last);
        } else {
            size_t o = (size_t)snprintf(out, outlen, "mixed:");
            for (int k = 0; k < 64 && o < outlen; k++)
                if (cnt[k]) o += (size_t)snprintf(out + o, outlen - o, "%s%d", o > 6 ? "," : "", k);
        }
        printf("~ %s pages:", name);
        for (int k = 0; k < 64; k++)
            if (cnt[k]) printf(" %lu*node%d", cnt[k], k);
        if (errs) printf(" %lu*error", errs);
        printf(" (of %lu)\n", n);
    }
    free(pages);
    free(status);
}

static void probe_kind(const char *name, memkind_t kind) {
    int check = memkind_check_available(kind);
    ssize_t cap = memkind_get_capacity(kind);
    char where[256] = "-";
    if (check == 0) {
        char *p = memkind_malloc(kind, SIZE);
        if (!p) {
            snprintf(where, sizeof where, "error:memkind_malloc:%s", strerror(errno));
            failures++;
        } else {
            memset(p, 0xa5, SIZE);
            page_nodes(name, p, SIZE, where, sizeof where);
            memkind_free(kind, p);
        }
    }
    printf("%s check=%d capacity=%zd node=%s\n", name, check, cap, where);
}

static int kinds(void) {
    if (numa_available() < 0) {
        printf("error: numa_available() < 0\n");
        return 1;
    }
#define K(name) probe_kind(#name, name)
    K(MEMKIND_DEFAULT);
    K(MEMKIND_REGULAR);
    K(MEMKIND_INTERLEAVE);
    K(MEMKIND_HBW);
    K(MEMKIND_HBW_ALL);
    K(MEMKIND_HBW_PREFERRED);
    K(MEMKIND_HBW_INTERLEAVE);
    K(MEMKIND_DAX_KMEM);
    K(MEMKIND_DAX_KMEM_ALL);
    K(MEMKIND_DAX_KMEM_PREFERRED);
    K(MEMKIND_DAX_KMEM_INTERLEAVE);
    K(MEMKIND_HIGHEST_CAPACITY);
    K(MEMKIND_HIGHEST_CAPACITY_PREFERRED);
    K(MEMKIND_HIGHEST_CAPACITY_LOCAL);
    K(MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED);
    K(MEMKIND_LOWEST_LATENCY_LOCAL);
    K(MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED);
    K(MEMKIND_HIGHEST_BANDWIDTH_LOCAL);
    K(MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED);
#undef K
    return failures ? 1 : 0;
}

static int dax(const char *dir) {
    printf("check_dax_path=%d\n", memkind_check_dax_path(dir));
    int entries = dir_entries(dir);
    memkind_t kind;
    int err = memkind_create_pmem(dir, 0, &kind);
    if (err) {
        char msg[MEMKIND_ERROR_MESSAGE_SIZE];
        memkind_error_message(err, msg, sizeof msg);
        printf("pmem=error:memkind_create_pmem(%s)=%d:%s\n", dir, err, msg);
        return 1;
    }
    const char *bad = NULL;
    char *big = memkind_malloc(kind, SIZE);
    char *small[64] = {0};
    if (!big) bad = "memkind_malloc(4 MiB) returned NULL";
    for (int i = 0; i < 64 && !bad; i++)
        if (!(small[i] = memkind_malloc(kind, 16 + 100 * (size_t)i))) bad = "memkind_malloc(small) returned NULL";
    if (!bad) {
        for (size_t i = 0; i < SIZE; i++) big[i] = (char)(i * 7 + 1);
        for (int i = 0; i < 64; i++) memset(small[i], i + 1, 16 + 100 * (size_t)i);
        for (size_t i = 0; i < SIZE && !bad; i++)
            if (big[i] != (char)(i * 7 + 1)) bad = "4 MiB object did not read back what was written";
        for (int i = 0; i < 64 && !bad; i++)
            for (size_t j = 0; j < 16 + 100 * (size_t)i; j++)
                if (small[i][j] != (char)(i + 1)) {
                    bad = "small object did not read back what was written";
                    break;
                }
        char where[256];
        page_nodes("PMEM", big, SIZE, where, sizeof where);
    }
    if (big) memkind_free(kind, big);
    for (int i = 0; i < 64; i++)
        if (small[i]) memkind_free(kind, small[i]);
    if ((err = memkind_destroy_kind(kind)) != 0 && !bad) bad = "memkind_destroy_kind failed";
    int left = dir_entries(dir);
    if ((left < 0 || entries < 0) && !bad) bad = "cannot read the directory";
    if (left != entries && !bad) bad = "files left in the directory";
    printf("pmem=%s%s\n", bad ? "error:" : "ok", bad ? bad : "");
    return bad ? 1 : 0;
}

static int fill(const char *dir, size_t piece, size_t total) {
    int entries = dir_entries(dir);
    memkind_t kind;
    int err = memkind_create_pmem(dir, 0, &kind);
    if (err) {
        printf("fill error: memkind_create_pmem(%s)=%d\n", dir, err);
        return 1;
    }
    size_t n = total / piece;
    char **p = calloc(n, sizeof *p);
    long memset_faults = 0, maj0, maj1;
    double t0 = mono_seconds();
    long f0 = page_faults(&maj0);
    for (size_t i = 0; i < n; i++) {
        p[i] = memkind_malloc(kind, piece);
        if (!p[i]) {
            printf("fill error: memkind_malloc(%zu) returned NULL after %zu pieces\n", piece, i);
            return 1;
        }
        long m0 = page_faults(NULL);
        memset(p[i], (int)(i & 0x7f) + 1, piece);
        memset_faults += page_faults(NULL) - m0;
    }
    long f1 = page_faults(&maj1);
    double t1 = mono_seconds();
    printf("fill piece=%zu total=%zu faults=%ld memset_faults=%ld majflt=%ld secs=%.3f\n", piece, total,
           f1 - f0, memset_faults, maj1 - maj0, t1 - t0);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < piece; j += 4096)
            if (p[i][j] != (char)((i & 0x7f) + 1)) bad = 1;
        memkind_free(kind, p[i]);
    }
    free(p);
    if (bad) printf("fill error: memory did not read back what was written\n");
    if (memkind_destroy_kind(kind)) {
        printf("fill error: memkind_destroy_kind failed\n");
        bad = 1;
    }
    if (entries < 0 || dir_entries(dir) != entries) {
        printf("fill error: files left in %s\n", dir);
        bad = 1;
    }
    return bad;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && !strcmp(argv[1], "kinds")) return kinds();
    if (argc == 3 && !strcmp(argv[1], "dax")) return dax(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "fill")) {
        size_t piece = strtoull(argv[3], NULL, 0), total = strtoull(argv[4], NULL, 0);
        if (piece && total >= piece) return fill(argv[2], piece, total);
    }
    fprintf(stderr, "usage: %s kinds | dax DIR | fill DIR PIECE TOTAL\n", argv[0]);
    return 2;
}
