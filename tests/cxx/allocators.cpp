// SPDX-License-Identifier: MIT OR Apache-2.0
// Copyright (c) morselkind authors
//
// The C++ allocators at work (C++17): libmemkind::pmem::allocator with both allocation
// policies, libmemkind::static_kind::allocator and libmemkind::fixed::allocator, under
// std::vector, std::list, std::map and a vector of strings whose characters come from the same
// kind through std::scoped_allocator_adaptor. Every result is checked; the exit status is the
// number of failed checks. Usage: allocators PMEM_DIR [no-moved-from].
#include <memkind.h>

#include <fixed_allocator.h>
#include <hbw_allocator.h>
#include <memkind_allocator.h>
#include <pmem_allocator.h>

#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <numeric>
#include <scoped_allocator>
#include <stdexcept>
#include <string>
#include <vector>

static int checks = 0, failures = 0;
// Whether to run the parts that assign into moved-from containers' elements (std::sort of
// strings): memkind's own headers leave a moved-from allocator without its kind, and crash.
static bool g_moved_from = true;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        checks++;                                                                          \
        if (!(cond)) {                                                                     \
            std::printf("CHECK FAILED (%s:%d): %s\n", __FILE__, __LINE__, #cond);          \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

// Open fds on deleted files in dir: the PMEM kinds alive in this process.
static int kind_files(const char *dir)
{
    char real[4096];
    if (!realpath(dir, real)) return -1;
    size_t len = std::strlen(real);
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (struct dirent *e = d ? readdir(d) : nullptr) {
        std::string link = std::string("/proc/self/fd/") + e->d_name;
        char target[4096];
        ssize_t r = readlink(link.c_str(), target, sizeof target - 1);
        if (r <= 0) continue;
        target[r] = 0;
        if (std::strncmp(target, real, len) == 0 && target[len] == '/' && std::strstr(target, "(deleted)")) n++;
    }
    if (d) closedir(d);
    return n;
}

static const std::string long_text(int i)
{
    // Longer than any small-string buffer, so the characters are allocated.
    return "string number " + std::to_string(i) + " is long enough to need its own allocation";
}

// The containers, on any allocator family A<T>; `kind` is where every block must come from
// (nullptr: only check that all blocks share one kind), [lo, hi) the region (fixed kinds).
template <template <typename> class A, typename Make>
static void containers(const char *name, Make make, memkind_t kind, const char *lo = nullptr, const char *hi = nullptr)
{
    auto in_kind = [&](const void *p) {
        memkind_t k = memkind_detect_kind(const_cast<void *>(p));
        bool ok = k != nullptr && (kind == nullptr || k == kind);
        if (lo) ok = ok && static_cast<const char *>(p) >= lo && static_cast<const char *>(p) < hi;
        return ok;
    };

    // vector
    {
        std::vector<int, A<int>> v(make.template operator()<int>());
        for (int i = 0; i < 100000; i++) v.push_back(i);
        CHECK(v.size() == 100000);
        CHECK(std::accumulate(v.begin(), v.end(), 0LL) == 4999950000LL);
        CHECK(in_kind(v.data()));
        v.resize(10);
        v.shrink_to_fit();
        CHECK(v.size() == 10 && v[9] == 9 && in_kind(v.data()));
        std::vector<int, A<int>> w(v);
        CHECK(w == v && w.get_allocator() == v.get_allocator() && in_kind(w.data()));
        if (!kind) {
            CHECK(memkind_detect_kind(w.data()) == memkind_detect_kind(v.data()));
        }
    }
    // list
    {
        std::list<double, A<double>> l(make.template operator()<double>());
        for (int i = 0; i < 10000; i++) l.push_back(i * 0.5);
        for (int i = 0; i < 10000; i++) l.push_front(-1 - i);
        l.remove_if([](double x) { return x < 0; });
        CHECK(l.size() == 10000);
        CHECK(std::accumulate(l.begin(), l.end(), 0.0) == 0.5 * 9999 * 10000 / 2);
        CHECK(in_kind(&l.front()) && in_kind(&l.back()));
        l.sort(std::greater<double>());
        CHECK(l.front() == 4999.5);
    }
    // map
    {
        using Pair = std::pair<const int, int>;
        std::map<int, int, std::less<int>, A<Pair>> m(make.template operator()<Pair>());
        for (int i = 0; i < 20000; i++) m[i * 7 % 20000] = i;
        CHECK(m.size() == 20000);
        CHECK(m.begin()->first == 0 && m.rbegin()->first == 19999);
        CHECK(m.at(7) == 1 && m.at(14) == 2);
        bool all = true;
        for (auto &e : m) all = all && in_kind(&e);
        CHECK(all);
        for (int i = 0; i < 20000; i += 2) m.erase(i);
        CHECK(m.size() == 10000 && m.count(1) == 1 && m.count(2) == 0);
    }
    // A vector of strings, characters from the same kind (scoped_allocator_adaptor).
    {
        using String = std::basic_string<char, std::char_traits<char>, A<char>>;
        using Outer = std::scoped_allocator_adaptor<A<String>>;
        std::vector<String, Outer> v(Outer(make.template operator()<String>()));
        for (int i = 0; i < 2000; i++) v.emplace_back(long_text(i).c_str());
        v.emplace_back("short");
        CHECK(v.size() == 2001);
        bool same = true, inside = true;
        for (int i = 0; i < 2000; i++) {
            same = same && v[i] == long_text(i).c_str();
            inside = inside && in_kind(v[i].data());
        }
        CHECK(same);
        CHECK(inside);
        CHECK(v[0].get_allocator() == v.get_allocator().inner_allocator());
        CHECK(in_kind(v.data()));
        if (!kind) {
            CHECK(memkind_detect_kind(v[0].data()) == memkind_detect_kind(v.data()));
        }
        if (g_moved_from) {
            std::sort(v.begin(), v.end());
            CHECK(v.front() == "short" && v[1] == long_text(0).c_str() &&
                  v.back() == "string number 999 is long enough to need its own allocation");
            // A moved-from allocator still allocates from the kind.
            A<char> a(make.template operator()<char>());
            A<char> b(std::move(a));
            char *p = a.allocate(10);
            CHECK(a == b && in_kind(p));
            a.deallocate(p, 10);
        }
        // A map from strings to vectors, all in the kind.
        using Vec = std::vector<int, A<int>>;
        using MapPair = std::pair<const String, Vec>;
        std::map<String, Vec, std::less<String>, std::scoped_allocator_adaptor<A<MapPair>>> m(
            std::scoped_allocator_adaptor<A<MapPair>>(make.template operator()<MapPair>()));
        for (int i = 0; i < 100; i++) m[String(long_text(i).c_str(), make.template operator()<char>())].assign(i, i);
        CHECK(m.size() == 100);
        auto it = m.find(String(long_text(42).c_str(), make.template operator()<char>()));
        CHECK(it != m.end() && it->second.size() == 42 && it->second[41] == 42);
        CHECK(in_kind(it->first.data()) && in_kind(it->second.data()));
    }
    std::printf("%s: vector, list, map, scoped strings: ok so far (%d checks, %d failed)\n", name, checks, failures);
}

// Makers: give an allocator<T> of one family, all sharing one kind.
struct PmemMaker {
    libmemkind::pmem::allocator<char> base;
    template <typename T>
    libmemkind::pmem::allocator<T> operator()() const
    {
        return libmemkind::pmem::allocator<T>(base);
    }
};
struct StaticMaker {
    libmemkind::kinds k;
    template <typename T>
    libmemkind::static_kind::allocator<T> operator()() const
    {
        return libmemkind::static_kind::allocator<T>(k);
    }
};
struct FixedMaker {
    libmemkind::fixed::allocator<char> base;
    template <typename T>
    libmemkind::fixed::allocator<T> operator()() const
    {
        return libmemkind::fixed::allocator<T>(base);
    }
};

template <typename T>
using PmemAlloc = libmemkind::pmem::allocator<T>;
template <typename T>
using StaticAlloc = libmemkind::static_kind::allocator<T>;
template <typename T>
using FixedAlloc = libmemkind::fixed::allocator<T>;

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *dir = argv[1];
    g_moved_from = !(argc > 2 && std::strcmp(argv[2], "no-moved-from") == 0);

    // PMEM, both policies; the kind lives while an allocator copy does.
    for (auto policy : {libmemkind::allocation_policy::DEFAULT, libmemkind::allocation_policy::CONSERVATIVE}) {
        const char *pname = policy == libmemkind::allocation_policy::DEFAULT ? "pmem DEFAULT" : "pmem CONSERVATIVE";
        {
            PmemMaker make{libmemkind::pmem::allocator<char>(dir, 0, policy)};
            CHECK(kind_files(dir) == 1);
            containers<PmemAlloc>(pname, make, nullptr);
            char *p = make.base.allocate(100);
            memkind_t k = memkind_detect_kind(p);
            CHECK(k != nullptr && k != MEMKIND_DEFAULT && k != MEMKIND_REGULAR);
            make.base.deallocate(p, 100);
            // Another PMEM allocator is another kind: unequal.
            libmemkind::pmem::allocator<char> other(std::string(dir), 0, policy);
            CHECK(other != make.base && !(other == make.base));
            CHECK(kind_files(dir) == 2);
        }
        CHECK(kind_files(dir) == 0);
    }
    // A limited PMEM kind: a vector that outgrows it gets std::bad_alloc.
    {
        libmemkind::pmem::allocator<char> a(dir, MEMKIND_PMEM_MIN_SIZE);
        std::vector<char, libmemkind::pmem::allocator<char>> v(a);
        bool threw = false;
        try {
            for (size_t n = 1 << 20;; n *= 2) v.resize(n, 'x');
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        CHECK(threw);
        CHECK(v.size() >= (4u << 20) && v.size() < (size_t)MEMKIND_PMEM_MIN_SIZE);
        CHECK(std::all_of(v.begin(), v.end(), [](char c) { return c == 'x'; }));
    }
    // Bad arguments throw std::invalid_argument.
    {
        int invalid = 0;
        std::string missing = std::string(dir) + "/no/such/dir";
        try {
            libmemkind::pmem::allocator<int> a(missing, 0);
        } catch (const std::invalid_argument &) {
            invalid++;
        }
        try {
            libmemkind::pmem::allocator<int> a(dir, MEMKIND_PMEM_MIN_SIZE - 1);
        } catch (const std::invalid_argument &) {
            invalid++;
        }
        try {
            libmemkind::pmem::allocator<int> a(dir, 0, libmemkind::allocation_policy::MAX);
        } catch (const std::invalid_argument &) {
            invalid++;
        }
        CHECK(invalid == 3);
        CHECK(kind_files(dir) == 0);
    }
    std::printf("pmem: both policies, bad_alloc when full, invalid_argument: ok so far (%d checks, %d failed)\n", checks,
                failures);

    // Static kinds.
    containers<StaticAlloc>("static_kind DEFAULT", StaticMaker{libmemkind::kinds::DEFAULT}, MEMKIND_DEFAULT);
    containers<StaticAlloc>("static_kind REGULAR", StaticMaker{libmemkind::kinds::REGULAR}, MEMKIND_REGULAR);
    containers<StaticAlloc>("static_kind INTERLEAVE", StaticMaker{libmemkind::kinds::INTERLEAVE}, MEMKIND_INTERLEAVE);
    CHECK(libmemkind::static_kind::allocator<int>(libmemkind::kinds::DEFAULT) ==
          libmemkind::static_kind::allocator<long>(libmemkind::kinds::DEFAULT));
    CHECK(libmemkind::static_kind::allocator<int>(libmemkind::kinds::DEFAULT) !=
          libmemkind::static_kind::allocator<int>(libmemkind::kinds::REGULAR));

    // Fixed: a mapped region; every block inside it.
    {
        const size_t size = 256u << 20;
        void *region = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        CHECK(region != MAP_FAILED);
        {
            FixedMaker make{libmemkind::fixed::allocator<char>(region, size)};
            const char *lo = static_cast<const char *>(region);
            containers<FixedAlloc>("fixed", make, nullptr, lo, lo + size);
        }
        munmap(region, size);
        // A small region: exhausted, std::bad_alloc.
        static char small[8 << 20] __attribute__((aligned(4096)));
        libmemkind::fixed::allocator<int> a(small, sizeof small);
        std::list<int, libmemkind::fixed::allocator<int>> l(a);
        bool threw = false;
        try {
            for (int i = 0; i < 100000000; i++) l.push_back(i);
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        CHECK(threw);
        CHECK(l.size() > 10000 && l.back() == (int)l.size() - 1);
        bool inside = true;
        for (auto &x : l) inside = inside && (char *)&x >= small && (char *)&x < small + sizeof small;
        CHECK(inside);
    }
    std::printf("fixed: region, bad_alloc when full: ok so far (%d checks, %d failed)\n", checks, failures);

    // hbw::allocator (stateless; PREFERRED falls back to ordinary memory without HBW nodes).
    {
        std::vector<int, hbw::allocator<int>> v;
        for (int i = 0; i < 100000; i++) v.push_back(i);
        CHECK(v.size() == 100000 && v[99999] == 99999);
        CHECK(memkind_detect_kind(v.data()) != nullptr);
        std::map<int, int, std::less<int>, hbw::allocator<std::pair<const int, int>>> m;
        for (int i = 0; i < 1000; i++) m[i] = -i;
        CHECK(m.size() == 1000 && m[999] == -999);
        CHECK(hbw::allocator<int>() == hbw::allocator<long>());
    }
    std::printf("hbw: vector, map: ok so far (%d checks, %d failed)\n", checks, failures);

    std::printf("cxx allocators: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
