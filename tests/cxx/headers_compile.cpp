// SPDX-License-Identifier: MIT OR Apache-2.0
// Copyright (c) morselkind authors

// Syntax check of the four C++ allocator headers: std::vector, std::map and
// std::list are instantiated with every allocator, explicitly (all members)
// and through ordinary use (insert, copy, move, swap, rebinding). Built by
// tests/suites/headers_compile.sh with -fsyntax-only, -std=c++11 and -std=c++17;
// never run.

#include <fixed_allocator.h>
#include <hbw_allocator.h>
#include <memkind_allocator.h>
#include <pmem_allocator.h>

#include <memkind.h>
#include <hbwmalloc.h>
#include <memkind_memtier.h>
#ifndef HEADERS_COMPILE_MEMKIND_ONLY
#include <morselkind.h>
#endif

#include <cstddef>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace
{

struct Item {
    int id;
    std::string name;
    Item(int i, std::string n) : id(i), name(std::move(n))
    {}
};

template <typename T>
using pmem_alloc = libmemkind::pmem::allocator<T>;
template <typename T>
using kind_alloc = libmemkind::static_kind::allocator<T>;
template <typename T>
using fixed_alloc = libmemkind::fixed::allocator<T>;
template <typename T>
using hbw_alloc = hbw::allocator<T>;

template <typename K, typename V, template <typename> class A>
using map_of = std::map<K, V, std::less<K>, A<std::pair<const K, V>>>;

// Uses containers built on allocator `a` of template A.
template <template <typename> class A>
std::size_t exercise(const A<int> &a)
{
    std::vector<int, A<int>> v(a);
    v.push_back(1);
    v.emplace_back(2);
    v.reserve(100);
    v.resize(10, 7);
    v.insert(v.begin(), 3, 4);
    std::vector<int, A<int>> v2(v);
    std::vector<int, A<int>> v3(std::move(v2));
    v3 = v;
    v.swap(v3);
    v.shrink_to_fit();

    A<Item> item_alloc(a);
    std::vector<Item, A<Item>> items(item_alloc);
    items.emplace_back(1, "one");
    items.push_back(Item(2, "two"));

    std::list<int, A<int>> l(a);
    l.push_back(1);
    l.push_front(0);
    l.emplace_back(2);
    l.sort();
    l.remove(1);
    std::list<int, A<int>> l2(l);
    l2.splice(l2.end(), l);

    A<std::pair<const int, std::string>> pair_alloc(a);
    map_of<int, std::string, A> m(std::less<int>{}, pair_alloc);
    m[1] = "one";
    m.emplace(2, "two");
    m.insert(std::make_pair(3, std::string("three")));
    m.erase(2);
    map_of<int, std::string, A> m2(m);
    m2 = m;

    using traits = std::allocator_traits<A<int>>;
    A<int> copy(a);
    typename traits::pointer p = traits::allocate(copy, 4);
    traits::construct(copy, p, 42);
    traits::destroy(copy, p);
    traits::deallocate(copy, p, 4);
    A<long> rebound(copy);
    bool same = (rebound == copy) && !(rebound != copy);

    return v.size() + items.size() + l2.size() + m2.size() + same;
}

std::size_t use_all()
{
    static char region[1 << 20];
    std::size_t n = 0;

    pmem_alloc<int> p1("/tmp", 0);
    pmem_alloc<int> p2(std::string("/tmp"), MEMKIND_PMEM_MIN_SIZE,
                       libmemkind::allocation_policy::CONSERVATIVE);
    pmem_alloc<int> p3("/tmp", 0, libmemkind::allocation_policy::DEFAULT);
    pmem_alloc<int> p4(std::string("/tmp"), 0);
    p1 = p2;
    p3 = std::move(p4);
    n += exercise<pmem_alloc>(p1);

    kind_alloc<int> k(libmemkind::kinds::HBW_PREFERRED);
    kind_alloc<int> k2(libmemkind::kinds::HIGHEST_BANDWIDTH_LOCAL_PREFERRED);
    k = k2;
    n += exercise<kind_alloc>(k);

    fixed_alloc<int> f(region, sizeof(region));
    n += exercise<fixed_alloc>(f);

    hbw_alloc<int> h;
    n += exercise<hbw_alloc>(h);
    n += h.max_size() > 0;
    return n;
}

} // namespace

// Explicit instantiation: every member of the containers and allocators.
template class libmemkind::pmem::allocator<int>;
template class libmemkind::static_kind::allocator<int>;
template class libmemkind::fixed::allocator<int>;
template class hbw::allocator<int>;
template class std::vector<int, hbw::allocator<int>>;
template class std::list<int, hbw::allocator<int>>;
template class std::map<int, int, std::less<int>,
                        hbw::allocator<std::pair<const int, int>>>;
template class std::vector<double, libmemkind::static_kind::allocator<double>>;
template class std::list<double, libmemkind::static_kind::allocator<double>>;
template class std::map<int, double, std::less<int>,
                        libmemkind::static_kind::allocator<std::pair<const int, double>>>;
template class std::vector<long, libmemkind::pmem::allocator<long>>;
template class std::list<long, libmemkind::pmem::allocator<long>>;
template class std::map<long, long, std::less<long>,
                        libmemkind::pmem::allocator<std::pair<const long, long>>>;
template class std::vector<char, libmemkind::fixed::allocator<char>>;
template class std::list<char, libmemkind::fixed::allocator<char>>;
template class std::map<char, char, std::less<char>,
                        libmemkind::fixed::allocator<std::pair<const char, char>>>;

std::size_t headers_compile_entry();
std::size_t headers_compile_entry()
{
    return use_all();
}
