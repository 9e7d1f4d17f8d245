/* probe: what the test VM looks like to libnuma and to the system memkind (1.14).
 * Build: cc -O2 -o probe probe.c -lmemkind -lnuma     Run: in the guest, via run-in-vm.sh.
 * Fault counts and /proc/meminfo come from tests/c/observe.h (included by its relative path).
 * Prints, one fact a line (tests/suites/vm_smoke.sh checks the ones without "info:"):
 *   nodes=N                     numa_num_configured_nodes()
 *   nodeK.cpus=yes|no           whether node K has CPUs
 *   MEMKIND_<KIND>=NODE         the node of every page of a 4 MiB allocation of that kind, after
 *                               touching it, from numa_move_pages(nodes=NULL); "mixed:N*node,..."
 *                               when the pages disagree, "error:..." when something failed
 *   PMEM=ok|error:...           memkind_check_dax_path + memkind_create_pmem on DIR (argv[1], else
 *                               $HETMEM_PMEM_DIR, else /mnt/pmem), 4 MiB allocated, touched, freed
 *   info: ...                   facts for people: kernel, THP, hugetlb, MADV_POPULATE_WRITE,
 *                               page-fault counting (getrusage, perf software and hardware events)
 * Exit status: 0, or 1 if an allocation could not be made at all. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <memkind.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../c/observe.h"

#define SIZE ((size_t)4 << 20)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static int failures;

/* Print NAME=<node of all pages of [p, p+SIZE)>, or how they disagree. */
static void print_nodes(const char *name, char *p) {
    long pg = sysconf(_SC_PAGESIZE);
    unsigned long n = SIZE / pg;
    void **pages = calloc(n, sizeof *pages);
    int *status = calloc(n, sizeof *status);
    for (unsigned long i = 0; i < n; i++) pages[i] = p + i * pg;
    if (numa_move_pages(0, n, pages, NULL, status, 0) != 0) {
        printf("%s=error:move_pages:%s\n", name, strerror(errno));
    } else {
        /* count per distinct status value (nodes are >= 0, errors negative) */
        int vals[16], cnt[16], k = 0;
        for (unsigned long i = 0; i < n; i++) {
            int j = 0;
            while (j < k && vals[j] != status[i]) j++;
            if (j == k && k < 16) { vals[k] = status[i]; cnt[k++] = 0; }
            if (j < k) cnt[j]++;
        }
        if (k == 1 && vals[0] >= 0) {
            printf("%s=%d\n", name, vals[0]);
        } else if (k == 1) {
            printf("%s=error:all %lu pages:%s\n", name, n, strerror(-vals[0]));
        } else {
            printf("%s=mixed:", name);
            for (int j = 0; j < k; j++) {
                if (vals[j] >= 0) printf("%s%d*node%d", j ? "," : "", cnt[j], vals[j]);
                else printf("%s%d*%s", j ? "," : "", cnt[j], strerror(-vals[j]));
            }
            printf("\n");
        }
    }
    free(pages);
    free(status);
}

static void probe_kind(const char *name, memkind_t kind) {
    char *p = memkind_malloc(kind, SIZE);
    if (!p) {
        printf("%s=error:memkind_malloc:%s\n", name, strerror(errno));
        failures++;
        return;
    }
    memset(p, 0xa5, SIZE);
    print_nodes(name, p);
    memkind_free(kind, p);
}

static void probe_pmem(const char *dir) {
    memkind_t kind;
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    int err = memkind_check_dax_path(dir);
    if (err) {
        printf("PMEM=error:memkind_check_dax_path(%s)=%d\n", dir, err);
        failures++;
        return;
    }
    err = memkind_create_pmem(dir, 0, &kind);
    if (err) {
        memkind_error_message(err, msg, sizeof msg);
        printf("PMEM=error:memkind_create_pmem(%s):%s\n", dir, msg);
        failures++;
        return;
    }
    char *p = memkind_malloc(kind, SIZE);
    if (!p) {
        printf("PMEM=error:memkind_malloc:%s\n", strerror(errno));
        failures++;
    } else {
        memset(p, 0x5a, SIZE);
        print_nodes("info: PMEM pages", p);
        memkind_free(kind, p);
        printf("PMEM=%s\n", memkind_destroy_kind(kind) == 0 ? "ok" : "error:memkind_destroy_kind");
    }
}

static int perf_open(uint32_t type, uint64_t config) {
    struct perf_event_attr a = {.size = sizeof a, .type = type, .config = config,
                                .exclude_kernel = 0, .exclude_hv = 1};
    return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

/* Map 4 MiB (2 MiB aligned), advise, touch one byte a page; report minor faults and residency. */
static void fault_count(const char *what, int advice) {
    char *raw = mmap(NULL, SIZE + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *p = (char *)(((uintptr_t)raw + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
    madvise(p, SIZE, advice);
    int pf = perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS);
    long before = page_faults(NULL);
    for (size_t i = 0; i < SIZE; i += 4096) p[i] = 1;
    long after = page_faults(NULL);
    long long sw = -1;
    if (pf >= 0 && read(pf, &sw, sizeof sw) != sizeof sw) sw = -1;
    if (pf >= 0) close(pf);
    printf("info: faults touching 4 MiB %s: ru_minflt=%ld perf_sw_page_faults=%lld%s\n", what,
           after - before, sw, pf < 0 ? " (perf_event_open failed)" : "");
    munmap(raw, SIZE + (2 << 20));
}

static void facts(void) {
    struct utsname u;
    uname(&u);
    printf("info: kernel %s %s\n", u.release, u.version);
    char buf[256];
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f && fgets(buf, sizeof buf, f)) printf("info: THP enabled: %s", buf);
    else printf("info: THP: absent\n");
    if (f) fclose(f);
    printf("info: HugePages_Total: %ld\n", proc_field("/proc/meminfo", "HugePages_Total:"));
    printf("info: Hugepagesize: %ld kB\n", proc_field("/proc/meminfo", "Hugepagesize:"));

    /* MADV_POPULATE_WRITE (5.14): one call prefaults the range (4 KiB pages here, so the count
     * says whether the faults it takes are counted). */
    char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(p, SIZE, MADV_NOHUGEPAGE);
    int pf = perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS);
    long before = page_faults(NULL);
    int r = madvise(p, SIZE, MADV_POPULATE_WRITE);
    int e = errno;
    long after = page_faults(NULL);
    long long sw = -1;
    if (pf >= 0 && read(pf, &sw, sizeof sw) != sizeof sw) sw = -1;
    if (pf >= 0) close(pf);
    unsigned char vec[SIZE / 4096];
    int resident = 0;
    if (mincore(p, SIZE, vec) == 0)
        for (size_t i = 0; i < sizeof vec; i++) resident += vec[i] & 1;
    printf("info: MADV_POPULATE_WRITE (MADV_NOHUGEPAGE): %s; ru_minflt=%ld perf_sw_page_faults=%lld resident=%d/%zu pages\n",
           r == 0 ? "ok" : strerror(e), after - before, sw, resident, sizeof vec);
    munmap(p, SIZE);

    fault_count("with MADV_NOHUGEPAGE", MADV_NOHUGEPAGE);
    fault_count("with MADV_HUGEPAGE", MADV_HUGEPAGE);
    int hw = perf_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES);
    printf("info: perf hardware cycles counter: %s\n", hw >= 0 ? "available" : strerror(errno));
    if (hw >= 0) close(hw);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (numa_available() < 0) {
        printf("nodes=error:numa_available\n");
        return 1;
    }
    int nodes = numa_num_configured_nodes();
    printf("nodes=%d\n", nodes);
    struct bitmask *cpus = numa_allocate_cpumask();
    for (int n = 0; n <= numa_max_node(); n++) {
        int has = numa_node_to_cpus(n, cpus) == 0 && numa_bitmask_weight(cpus) > 0;
        printf("node%d.cpus=%s\n", n, has ? "yes" : "no");
    }
    numa_free_cpumask(cpus);

    probe_kind("MEMKIND_DAX_KMEM", MEMKIND_DAX_KMEM);
    probe_kind("MEMKIND_HBW", MEMKIND_HBW);
    probe_kind("MEMKIND_HIGHEST_BANDWIDTH_LOCAL", MEMKIND_HIGHEST_BANDWIDTH_LOCAL);
    probe_kind("MEMKIND_REGULAR", MEMKIND_REGULAR);
    probe_kind("MEMKIND_LOWEST_LATENCY_LOCAL", MEMKIND_LOWEST_LATENCY_LOCAL);
    probe_kind("MEMKIND_HIGHEST_CAPACITY", MEMKIND_HIGHEST_CAPACITY);
    const char *dir = argc > 1 ? argv[1] : getenv("HETMEM_PMEM_DIR");
    probe_pmem(dir ? dir : "/mnt/pmem");

    facts();
    return failures ? 1 : 0;
}
