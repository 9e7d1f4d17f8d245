/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * env_overrides.c - the DAX_KMEM and HBW kinds under MEMKIND_DAX_KMEM_NODES / MEMKIND_HBW_NODES
 * (run by tests/suites/env_overrides.sh, with and without those variables).
 *
 * The same source is built against the system memkind 1.14 and against morselkind. For each kind
 * of the DAX_KMEM and HBW families it prints one line:
 *   KIND check=<memkind_check_available> malloc=<null|ok> policy=<mode> mask=<0x...>
 * where malloc tells whether memkind_malloc(KIND, 4 MiB) gave memory, and policy/mask are what
 * get_mempolicy(MPOL_F_ADDR) says about that memory after it was touched ("-" when there is none).
 * A "~ " line follows for a 64-byte allocation too (informational).
 * Exit status: 0, or 1 when get_mempolicy failed on memory a kind handed out.
 */

#include <memkind.h>

#include <errno.h>
#include <numaif.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SIZE ((size_t)4 << 20)
#define MASK_WORDS 16

static int failures;

static const char *mode_name(int mode) {
    switch (mode) {
    case MPOL_DEFAULT: return "MPOL_DEFAULT";
    case MPOL_PREFERRED: return "MPOL_PREFERRED";
    case MPOL_BIND: return "MPOL_BIND";
    case MPOL_INTERLEAVE: return "MPOL_INTERLEAVE";
    case MPOL_LOCAL: return "MPOL_LOCAL";
    default: return "MPOL_?";
    }
}

/* Writes "policy=<mode> mask=0x..." for the memory at p into out. */
static void policy_of(void *p, char *out, size_t outlen) {
    int mode = -1;
    unsigned long mask[MASK_WORDS] = {0};
    /* The raw system call: no libnuma needed. */
    if (syscall(SYS_get_mempolicy, &mode, mask, MASK_WORDS * 8 * sizeof(unsigned long), p, MPOL_F_ADDR) != 0) {
        snprintf(out, outlen, "policy=error:%s mask=-", strerror(errno));
        failures++;
        return;
    }
    int hi = MASK_WORDS - 1;
    while (hi > 0 && mask[hi] == 0) hi--;
    size_t o = (size_t)snprintf(out, outlen, "policy=%s(%d) mask=0x", mode_name(mode), mode);
    for (int i = hi; i >= 0 && o < outlen; i--)
        o += (size_t)snprintf(out + o, outlen - o, i == hi ? "%lx" : "%016lx", mask[i]);
}

static void probe(const char *name, memkind_t kind) {
    int check = memkind_check_available(kind);
    char pol[256] = "policy=- mask=-";
    char *p = memkind_malloc(kind, SIZE);
    if (p) {
        memset(p, 0x5a, SIZE);
        policy_of(p, pol, sizeof pol);
    }
    printf("%s check=%d malloc=%s %s\n", name, check, p ? "ok" : "null", pol);
    if (p) memkind_free(kind, p);
    char *s = memkind_malloc(kind, 64);
    if (s) {
        memset(s, 0x5a, 64);
        policy_of(s, pol, sizeof pol);
        printf("~ %s 64 B: %s\n", name, pol);
        memkind_free(kind, s);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
#define K(name) probe(#name, name)
    K(MEMKIND_DAX_KMEM);
    K(MEMKIND_DAX_KMEM_ALL);
    K(MEMKIND_DAX_KMEM_PREFERRED);
    K(MEMKIND_DAX_KMEM_INTERLEAVE);
    K(MEMKIND_HBW);
    K(MEMKIND_HBW_ALL);
    K(MEMKIND_HBW_PREFERRED);
    K(MEMKIND_HBW_INTERLEAVE);
#undef K
    return failures ? 1 : 0;
}
