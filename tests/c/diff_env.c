/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * MEMKIND_ARENA_NUM_PER_KIND as memkind reads it (the suite runs this program under several
 * values, on both libraries). `diff_env DIR pmem`: memkind_create_pmem's code, and whether the
 * kind allocates. `diff_env DIR static I`: memkind_check_available of the I-th kind below, then
 * one malloc from it; memkind aborts there (MEMKIND_FATAL on stderr) when the variable is bad
 * and the kind is not MEMKIND_DEFAULT, so the exit status is compared too.
 */
#include "diff.h"

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    const char *dir = argv[1];
    if (!strcmp(argv[2], "pmem")) {
        memkind_t k;
        int rc = memkind_create_pmem(dir, 0, &k);
        OUT("create_pmem", "%s", codename(rc));
        if (rc == 0) {
            void *p = memkind_malloc(k, 100);
            OUT("pmem malloc", "%s", p ? "ok" : "NULL");
            memkind_free(k, p);
            OUT("destroy", "%s", codename(memkind_destroy_kind(k)));
        }
        return 0;
    }
    if (!strcmp(argv[2], "static") && argc == 4) {
        memkind_t kinds[] = {MEMKIND_DEFAULT, MEMKIND_REGULAR, MEMKIND_INTERLEAVE, MEMKIND_HBW,
                             MEMKIND_HBW_PREFERRED, MEMKIND_DAX_KMEM, MEMKIND_HIGHEST_CAPACITY};
        int i = atoi(argv[3]);
        if (i < 0 || i >= (int)(sizeof kinds / sizeof kinds[0])) return 2;
        OUT("check_available", "%s", codename(memkind_check_available(kinds[i])));
        void *p = memkind_malloc(kinds[i], 100);
        OUT("malloc", "%s", p ? "ok" : "NULL");
        memkind_free(NULL, p);
        return 0;
    }
    return 2;
}
