// SPDX-License-Identifier: MIT OR Apache-2.0
// Copyright (c) morselkind authors

// pmem_cpp_allocator - standard containers in a PMEM kind through
// libmemkind::pmem::allocator: a std::vector, a std::list, a std::map, and a
// vector of strings whose characters are in the same kind too, thanks to
// std::scoped_allocator_adaptor. Every block is checked to come from the
// allocator's kind (never MEMKIND_DEFAULT); copies of an allocator share its
// kind, separately made allocators do not; a bad directory or size throws,
// and a request beyond a limited kind throws std::bad_alloc.
//
// usage: pmem_cpp_allocator [PMEM_DIR]

#include <pmem_allocator.h>

#include <cstdio>
#include <list>
#include <map>
#include <new>
#include <scoped_allocator>
#include <stdexcept>
#include <string>
#include <vector>

#include "pmem_example.h"

namespace
{
const char *const NAME = "pmem_cpp_allocator";

template <typename T>
using pmem_alloc = libmemkind::pmem::allocator<T>;

using pmem_string = std::basic_string<char, std::char_traits<char>, pmem_alloc<char>>;
using string_alloc = std::scoped_allocator_adaptor<pmem_alloc<pmem_string>>;
using pmem_string_vector = std::vector<pmem_string, string_alloc>;

// The kind that a block at p belongs to.
memkind_t kind_of(const void *p)
{
    return memkind_detect_kind(const_cast<void *>(p));
}

// The one PMEM kind all containers below use: found from the first block.
memkind_t the_kind = nullptr;

bool from_the_kind(const void *p)
{
    memkind_t k = kind_of(p);
    if (the_kind == nullptr && k != nullptr && k != MEMKIND_DEFAULT) {
        the_kind = k;
    }
    return k != nullptr && k == the_kind;
}

void vector_demo(const pmem_alloc<int> &alloc)
{
    std::vector<int, pmem_alloc<int>> v(alloc);
    for (int i = 0; i < 100000; i++) {
        v.push_back(i);
    }
    long long sum = 0;
    for (int x : v) {
        sum += x;
    }
    CHECK(sum == 100000LL * 99999 / 2);
    CHECK(kind_of(v.data()) != MEMKIND_DEFAULT);
    CHECK(from_the_kind(v.data()));
    std::printf("%s: std::vector<int>: 100000 elements, sum %lld, storage in the PMEM kind\n",
                NAME, sum);
}

void list_demo(const pmem_alloc<int> &alloc)
{
    std::list<int, pmem_alloc<int>> l(alloc);
    for (int i = 0; i < 1000; i++) {
        if (i % 2 == 0) {
            l.push_back(i);
        } else {
            l.push_front(i);
        }
    }
    l.sort();
    int expect = 0;
    bool in_order = true, in_kind = true;
    for (const int &x : l) {
        in_order = in_order && x == expect++;
        in_kind = in_kind && from_the_kind(&x);
    }
    CHECK(l.size() == 1000 && in_order);
    CHECK(in_kind);
    std::printf("%s: std::list<int>: 1000 nodes, sorted, every node in the PMEM kind\n", NAME);
}

void map_demo(const pmem_alloc<int> &alloc)
{
    using map_alloc = pmem_alloc<std::pair<const int, long>>;
    std::map<int, long, std::less<int>, map_alloc> squares{std::less<int>(), map_alloc(alloc)};
    for (int i = 0; i < 5000; i++) {
        squares[i] = static_cast<long>(i) * i;
    }
    bool right = squares.size() == 5000, in_kind = true;
    for (const auto &kv : squares) {
        right = right && kv.second == static_cast<long>(kv.first) * kv.first;
        in_kind = in_kind && from_the_kind(&kv);
    }
    CHECK(right && squares.at(4321) == 4321L * 4321);
    CHECK(in_kind);
    std::printf("%s: std::map<int, long>: 5000 squares, every node in the PMEM kind\n", NAME);
}

void strings_demo(const pmem_alloc<int> &alloc)
{
    pmem_string_vector words{string_alloc(alloc)};
    const char *const names[] = {"vector", "list", "map", "scoped_allocator_adaptor",
                                 "strings longer than the small-string buffer"};
    for (int i = 0; i < 500; i++) {
        // emplace_back hands the adaptor's inner allocator to each string.
        words.emplace_back(names[i % 5]);
        words.back() += " #" + std::to_string(i) + std::string(40, '.');
    }
    bool right = words.size() == 500, in_kind = from_the_kind(words.data());
    for (int i = 0; i < 500; i++) {
        const pmem_string &w = words[static_cast<size_t>(i)];
        std::string expect = std::string(names[i % 5]) + " #" + std::to_string(i) + std::string(40, '.');
        right = right && w.c_str() == expect;
        in_kind = in_kind && from_the_kind(w.data()) && w.get_allocator() == words.get_allocator();
    }
    CHECK(right);
    CHECK(in_kind);
    std::printf("%s: std::vector<string> via scoped_allocator_adaptor: 500 strings,"
                " vector and characters in the PMEM kind\n",
                NAME);
}

void allocator_rules(const char *dir)
{
    pmem_alloc<int> one(dir, 0);
    pmem_alloc<int> copy(one);
    pmem_alloc<double> rebound(one);
    pmem_alloc<int> other(std::string(dir), 0, libmemkind::allocation_policy::CONSERVATIVE);
    CHECK(one == copy && one == rebound && !(one != copy));
    CHECK(one != other);
    int *p = one.allocate(10);
    int *q = other.allocate(10);
    double *d = rebound.allocate(10);
    CHECK(kind_of(p) == kind_of(d) && kind_of(p) != kind_of(q));
    copy.deallocate(p, 10); // any equal allocator may free it
    other.deallocate(q, 10);
    rebound.deallocate(d, 10);
    std::printf("%s: copies and rebinds of an allocator are equal; separate allocators are not\n",
                NAME);

    bool threw = false;
    try {
        pmem_alloc<int> bad(std::string(dir) + "/missing", 0);
    } catch (const std::invalid_argument &) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        pmem_alloc<int> bad(dir, MEMKIND_PMEM_MIN_SIZE - 1);
    } catch (const std::invalid_argument &) {
        threw = true;
    }
    CHECK(threw);
    std::printf("%s: a missing directory or a size below MEMKIND_PMEM_MIN_SIZE throws"
                " std::invalid_argument\n",
                NAME);

    pmem_alloc<char> limited(dir, MEMKIND_PMEM_MIN_SIZE);
    std::vector<char, pmem_alloc<char>> big(limited);
    threw = false;
    try {
        big.reserve(2 * static_cast<size_t>(MEMKIND_PMEM_MIN_SIZE));
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw && big.capacity() == 0);
    big.reserve(1 << 20);
    CHECK(big.capacity() >= (1u << 20));
    std::printf("%s: reserving 32 MiB in a 16 MiB kind throws std::bad_alloc; 1 MiB works\n",
                NAME);
}
} // namespace

int main(int argc, char **argv)
{
    ex_dir dir;
    if (ex_dir_open(&dir, NAME, argc, argv) != 0) {
        return 2;
    }
    try {
        pmem_alloc<int> alloc(dir.path, 0);
        vector_demo(alloc);
        list_demo(pmem_alloc<int>(alloc));
        map_demo(alloc);
        strings_demo(alloc);
        CHECK(the_kind != nullptr);
        allocator_rules(dir.path);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: unexpected exception: %s\n", NAME, e.what());
        CHECK(false);
    }
    // Every allocator is gone, and with it every kind.
    ex_dir_close(&dir, NAME);
    return ex_result(NAME);
}
