/* tiercheck: where does a tiering interposer put the heap? Not a benchmark: run.sh runs it once per
 * tiered configuration to show that the FS_DAX tier is really used, and in what share.
 *
 * Allocates B blocks (log-uniform 16 B..64 KiB, about 95 MiB by default), stamps them, then reads
 * /proc/self/maps and counts the live bytes whose block lies in a file mapping under DIR (the
 * FS_DAX tier's PATH: memkind maps an unlinked temporary file there). Checks every block and frees
 * them all. Prints the share of live bytes on DIR, which for a spec DRAM:FS_DAX 1:R should be
 * about R/(1+R), and the allocator libraries mapped in the process (to show the preload took).
 *
 * usage: tiercheck -d DIR [-n blocks=8000] */
#include "common.h"

typedef struct {
    uintptr_t lo, hi;
} range_t;

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long n = 8000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-d") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "-n") == 0)
            n = atol(argv[i + 1]);
        else
            FAILED("usage: tiercheck -d DIR [-n blocks=8000]");
    }
    if (dir == NULL || n < 1)
        FAILED("usage: tiercheck -d DIR [-n blocks=8000]");
    char prefix[4096];
    snprintf(prefix, sizeof prefix, "%s/", dir);

    unsigned char **p = malloc((size_t)n * sizeof *p);
    size_t *sz = malloc((size_t)n * sizeof *sz);
    CHECK_ALLOC(p, 1);
    CHECK_ALLOC(sz, 1);
    ab_rng r;
    ab_seed(&r, 5);
    size_t total = 0;
    for (long i = 0; i < n; i++) {
        sz[i] = ab_logrange(&r, 16, 64 << 10);
        p[i] = malloc(sz[i]);
        CHECK_ALLOC(p[i], sz[i]);
        memset(p[i], (int)(i & 0xff), sz[i]);
        total += sz[i];
    }

    /* the file mappings under dir (read before anything else is allocated for the scan) */
    static range_t ranges[65536];
    size_t nr = 0, mapped = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        FAILED("cannot open /proc/self/maps");
    char line[8192], libs[1024] = "";
    while (fgets(line, sizeof line, f)) {
        static const char *const names[] = {"libjemalloc", "libmemtier", "libmemkind", "libmorsel"};
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            char *at = strstr(line, names[k]);
            if (at != NULL && strstr(libs, names[k]) == NULL) {
                size_t len = strcspn(at, ".\n");
                if (strlen(libs) + len + 2 < sizeof libs) {
                    if (libs[0])
                        strcat(libs, ",");
                    strncat(libs, at, len);
                }
            }
        }
        char *path = strchr(line, '/');
        if (path == NULL || strncmp(path, prefix, strlen(prefix)) != 0)
            continue;
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
            continue;
        if (nr < sizeof ranges / sizeof ranges[0])
            ranges[nr++] = (range_t){lo, hi};
        mapped += hi - lo;
    }
    fclose(f);

    size_t on_dir = 0;
    long blocks_on_dir = 0;
    for (long i = 0; i < n; i++) {
        uintptr_t a = (uintptr_t)p[i];
        for (size_t k = 0; k < nr; k++)
            if (a >= ranges[k].lo && a < ranges[k].hi) {
                on_dir += sz[i];
                blocks_on_dir++;
                break;
            }
    }
    for (long i = 0; i < n; i++) {
        if (p[i][0] != (unsigned char)(i & 0xff) || p[i][sz[i] - 1] != (unsigned char)(i & 0xff))
            CORRUPT("tiercheck: block %ld overwritten", i);
        free(p[i]);
    }
    free(p);
    free(sz);
    printf("tiercheck live_mib=%.1f fsdax_share=%.3f blocks_on_fsdax=%ld of %ld fsdax_mappings=%zu "
           "fsdax_mapped_mib=%.1f libs=%s\n",
           (double)total / 1048576.0, total ? (double)on_dir / (double)total : 0.0, blocks_on_dir, n,
           nr, (double)mapped / 1048576.0, libs[0] ? libs : "none");
    fflush(stdout); /* before exit: see ab_flush_note in common.h */
    return 0;
}
