// SPDX-License-Identifier: MIT OR Apache-2.0
// Copyright (c) morselkind authors

// Prints the exact type of every function and kind variable declared by
// memkind.h, memkind_deprecated.h, hbwmalloc.h and memkind_memtier.h, as
// the C++ ABI spells it (typeid names encode return and parameter types,
// including enum and struct names), plus the underlying type of each C enum
// in C++, and the types and traits of the C++ allocators' public API.
//
// tests/suites/abi_constants.sh builds this once against morselkind's include/
// and once against memkind's headers and diffs the outputs. Every use of a
// declared name is unevaluated (decltype, typeid of a type, type traits),
// so the program links without any allocator library.

#include <memkind.h>
#include <hbwmalloc.h>
#include <memkind_memtier.h>

#include <fixed_allocator.h>
#include <hbw_allocator.h>
#include <memkind_allocator.h>
#include <pmem_allocator.h>

#include <cstdio>
#include <string>
#include <type_traits>
#include <typeinfo>

static unsigned checked;

static void line(const char *what, const char *name, const char *value)
{
    std::printf("%s:%s=%s\n", what, name, value);
    checked++;
}

#define FUNCTION(f) line("function", #f, typeid(decltype(&f)).name())
#define VARIABLE(v)                                                            \
    line("variable", #v,                                                       \
         (std::string(typeid(decltype(v)).name()) +                            \
          (std::is_const<decltype(v)>::value ? " const" : ""))                 \
             .c_str())
#define UNDERLYING(t)                                                          \
    line("underlying", #t, typeid(std::underlying_type<t>::type).name())
#define MEMBER(label, ...)                                                     \
    line("member", label, typeid(decltype(__VA_ARGS__)).name())
#define TRAIT(label, ...) line("trait", label, (__VA_ARGS__) ? "1" : "0")
#define VALUE(label, ...)                                                      \
    line("value", label,                                                       \
         std::to_string(static_cast<long long>(__VA_ARGS__)).c_str())

// typeid drops references and cv-qualifiers; wrapping the type keeps them.
template <typename T>
struct exact {
};
#define TYPE(label, ...) line("type", label, typeid(exact<__VA_ARGS__>).name())

struct S {
    int a;
    double b;
};

int main()
{
    // memkind.h
    FUNCTION(memkind_config_new);
    FUNCTION(memkind_config_delete);
    FUNCTION(memkind_config_set_path);
    FUNCTION(memkind_config_set_size);
    FUNCTION(memkind_config_set_memory_usage_policy);
    FUNCTION(memkind_create_kind);
    FUNCTION(memkind_destroy_kind);
    FUNCTION(memkind_detect_kind);
    FUNCTION(memkind_get_version);
    FUNCTION(memkind_error_message);
    FUNCTION(memkind_create_pmem);
    FUNCTION(memkind_create_pmem_with_config);
    FUNCTION(memkind_create_fixed);
    FUNCTION(memkind_check_available);
    FUNCTION(memkind_get_capacity);
    FUNCTION(memkind_update_cached_stats);
    FUNCTION(memkind_get_stat);
    FUNCTION(memkind_stats_print);
    FUNCTION(memkind_malloc);
    FUNCTION(memkind_malloc_usable_size);
    FUNCTION(memkind_calloc);
    FUNCTION(memkind_posix_memalign);
    FUNCTION(memkind_realloc);
    FUNCTION(memkind_free);
    FUNCTION(memkind_defrag_reallocate);
    FUNCTION(memkind_check_dax_path);
    FUNCTION(memkind_set_bg_threads);

    // memkind_deprecated.h
    FUNCTION(memkind_get_kind_by_partition);

    // hbwmalloc.h
    FUNCTION(hbw_get_policy);
    FUNCTION(hbw_set_policy);
    FUNCTION(hbw_check_available);
    FUNCTION(hbw_verify_memory_region);
    FUNCTION(hbw_malloc);
    FUNCTION(hbw_calloc);
    FUNCTION(hbw_posix_memalign);
    FUNCTION(hbw_posix_memalign_psize);
    FUNCTION(hbw_realloc);
    FUNCTION(hbw_free);
    FUNCTION(hbw_malloc_usable_size);

    // memkind_memtier.h (memtier_free is static inline, checked as well)
    FUNCTION(memtier_builder_new);
    FUNCTION(memtier_builder_delete);
    FUNCTION(memtier_builder_add_tier);
    FUNCTION(memtier_builder_construct_memtier_memory);
    FUNCTION(memtier_delete_memtier_memory);
    FUNCTION(memtier_malloc);
    FUNCTION(memtier_kind_malloc);
    FUNCTION(memtier_calloc);
    FUNCTION(memtier_kind_calloc);
    FUNCTION(memtier_realloc);
    FUNCTION(memtier_kind_realloc);
    FUNCTION(memtier_posix_memalign);
    FUNCTION(memtier_kind_posix_memalign);
    FUNCTION(memtier_usable_size);
    FUNCTION(memtier_kind_free);
    FUNCTION(memtier_free);
    FUNCTION(memtier_kind_allocated_size);
    FUNCTION(memtier_ctl_set);

    // Kind variables.
    VARIABLE(MEMKIND_DEFAULT);
    VARIABLE(MEMKIND_REGULAR);
    VARIABLE(MEMKIND_HUGETLB);
    VARIABLE(MEMKIND_INTERLEAVE);
    VARIABLE(MEMKIND_HBW);
    VARIABLE(MEMKIND_HBW_ALL);
    VARIABLE(MEMKIND_HBW_PREFERRED);
    VARIABLE(MEMKIND_HBW_HUGETLB);
    VARIABLE(MEMKIND_HBW_ALL_HUGETLB);
    VARIABLE(MEMKIND_HBW_PREFERRED_HUGETLB);
    VARIABLE(MEMKIND_HBW_INTERLEAVE);
    VARIABLE(MEMKIND_DAX_KMEM);
    VARIABLE(MEMKIND_DAX_KMEM_ALL);
    VARIABLE(MEMKIND_DAX_KMEM_PREFERRED);
    VARIABLE(MEMKIND_DAX_KMEM_INTERLEAVE);
    VARIABLE(MEMKIND_HIGHEST_CAPACITY);
    VARIABLE(MEMKIND_HIGHEST_CAPACITY_PREFERRED);
    VARIABLE(MEMKIND_HIGHEST_CAPACITY_LOCAL);
    VARIABLE(MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED);
    VARIABLE(MEMKIND_LOWEST_LATENCY_LOCAL);
    VARIABLE(MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED);
    VARIABLE(MEMKIND_HIGHEST_BANDWIDTH_LOCAL);
    VARIABLE(MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED);
    VARIABLE(MEMKIND_GBTLB);
    VARIABLE(MEMKIND_HBW_GBTLB);
    VARIABLE(MEMKIND_HBW_PREFERRED_GBTLB);

    // C enums as C++ sees them.
    UNDERLYING(memkind_memtype_t);
    UNDERLYING(memkind_policy_t);
    UNDERLYING(memkind_bits_t);
    UNDERLYING(memkind_const);
    UNDERLYING(memkind_mem_usage_policy);
    UNDERLYING(memkind_stat_type);
    UNDERLYING(memkind_stat_print_opt);
    UNDERLYING(memkind_base_partition);
    UNDERLYING(hbw_policy_t);
    UNDERLYING(hbw_pagesize_t);
    UNDERLYING(memtier_policy_t);
    UNDERLYING(decltype(MEMKIND_SUCCESS));
    UNDERLYING(decltype(HBW_TOUCH_PAGES));
    line("typeid", "memkind_memtype_t", typeid(memkind_memtype_t).name());
    line("typeid", "hbw_policy_t", typeid(hbw_policy_t).name());
    line("typeid", "hbw_pagesize_t", typeid(hbw_pagesize_t).name());
    line("typeid", "memtier_policy_t", typeid(memtier_policy_t).name());

    // C++ enums.
    UNDERLYING(libmemkind::allocation_policy);
    UNDERLYING(libmemkind::kinds);
    VALUE("allocation_policy::DEFAULT", libmemkind::allocation_policy::DEFAULT);
    VALUE("allocation_policy::CONSERVATIVE",
          libmemkind::allocation_policy::CONSERVATIVE);
    VALUE("allocation_policy::MAX", libmemkind::allocation_policy::MAX);
    VALUE("kinds::DEFAULT", libmemkind::kinds::DEFAULT);
    VALUE("kinds::HUGETLB", libmemkind::kinds::HUGETLB);
    VALUE("kinds::INTERLEAVE", libmemkind::kinds::INTERLEAVE);
    VALUE("kinds::HBW", libmemkind::kinds::HBW);
    VALUE("kinds::HBW_ALL", libmemkind::kinds::HBW_ALL);
    VALUE("kinds::HBW_HUGETLB", libmemkind::kinds::HBW_HUGETLB);
    VALUE("kinds::HBW_ALL_HUGETLB", libmemkind::kinds::HBW_ALL_HUGETLB);
    VALUE("kinds::HBW_PREFERRED", libmemkind::kinds::HBW_PREFERRED);
    VALUE("kinds::HBW_PREFERRED_HUGETLB",
          libmemkind::kinds::HBW_PREFERRED_HUGETLB);
    VALUE("kinds::HBW_INTERLEAVE", libmemkind::kinds::HBW_INTERLEAVE);
    VALUE("kinds::REGULAR", libmemkind::kinds::REGULAR);
    VALUE("kinds::DAX_KMEM", libmemkind::kinds::DAX_KMEM);
    VALUE("kinds::DAX_KMEM_ALL", libmemkind::kinds::DAX_KMEM_ALL);
    VALUE("kinds::DAX_KMEM_PREFERRED", libmemkind::kinds::DAX_KMEM_PREFERRED);
    VALUE("kinds::DAX_KMEM_INTERLEAVE", libmemkind::kinds::DAX_KMEM_INTERLEAVE);
    VALUE("kinds::HIGHEST_CAPACITY", libmemkind::kinds::HIGHEST_CAPACITY);
    VALUE("kinds::HIGHEST_CAPACITY_PREFERRED",
          libmemkind::kinds::HIGHEST_CAPACITY_PREFERRED);
    VALUE("kinds::HIGHEST_CAPACITY_LOCAL",
          libmemkind::kinds::HIGHEST_CAPACITY_LOCAL);
    VALUE("kinds::HIGHEST_CAPACITY_LOCAL_PREFERRED",
          libmemkind::kinds::HIGHEST_CAPACITY_LOCAL_PREFERRED);
    VALUE("kinds::LOWEST_LATENCY_LOCAL", libmemkind::kinds::LOWEST_LATENCY_LOCAL);
    VALUE("kinds::LOWEST_LATENCY_LOCAL_PREFERRED",
          libmemkind::kinds::LOWEST_LATENCY_LOCAL_PREFERRED);
    VALUE("kinds::HIGHEST_BANDWIDTH_LOCAL",
          libmemkind::kinds::HIGHEST_BANDWIDTH_LOCAL);
    VALUE("kinds::HIGHEST_BANDWIDTH_LOCAL_PREFERRED",
          libmemkind::kinds::HIGHEST_BANDWIDTH_LOCAL_PREFERRED);

    // The allocators' public member types and functions.
    using P = libmemkind::pmem::allocator<S>;
    using K = libmemkind::static_kind::allocator<S>;
    using F = libmemkind::fixed::allocator<S>;
    using H = hbw::allocator<S>;

#define ALLOCATOR_TYPES(A, tag)                                                \
    TYPE(tag "::value_type", A::value_type);            \
    TYPE(tag "::pointer", A::pointer);                  \
    TYPE(tag "::const_pointer", A::const_pointer);      \
    TYPE(tag "::reference", A::reference);              \
    TYPE(tag "::const_reference", A::const_reference);  \
    TYPE(tag "::size_type", A::size_type);              \
    TYPE(tag "::difference_type", A::difference_type);  \
    TYPE(tag "::rebind<int>::other", A::rebind<int>::other);                   \
    TRAIT(tag " default constructible",                                       \
          std::is_default_constructible<A>::value);                           \
    TRAIT(tag " copy constructible", std::is_copy_constructible<A>::value);    \
    TRAIT(tag " move constructible", std::is_move_constructible<A>::value);    \
    TRAIT(tag " copy assignable", std::is_copy_assignable<A>::value);          \
    TRAIT(tag " move assignable", std::is_move_assignable<A>::value);          \
    TRAIT(tag " nothrow copy",                                                \
          std::is_nothrow_copy_constructible<A>::value);                      \
    TRAIT(tag " nothrow move",                                                \
          std::is_nothrow_move_constructible<A>::value);                      \
    TRAIT(tag " from allocator<int>",                                          \
          std::is_constructible<A, const A::rebind<int>::other &>::value);     \
    TRAIT(tag " implicit from allocator<int>",                                 \
          std::is_convertible<const A::rebind<int>::other &, A>::value);       \
    TRAIT(tag " nothrow from allocator<int>",                                  \
          std::is_nothrow_constructible<A,                                     \
                                        const A::rebind<int>::other &>::value); \
    TRAIT(tag " move from allocator<int>",                                     \
          std::is_constructible<A, A::rebind<int>::other &&>::value);          \
    TRAIT(tag " assign from allocator<int>",                                   \
          std::is_assignable<A &, const A::rebind<int>::other &>::value);      \
    TRAIT(tag " move-assign from allocator<int>",                              \
          std::is_assignable<A &, A::rebind<int>::other &&>::value);           \
    MEMBER(tag "::allocate", &A::allocate);                                    \
    MEMBER(tag "::deallocate", &A::deallocate);                                \
    MEMBER(tag "::destroy", &A::destroy);                                      \
    TYPE(tag " == result",                                                     \
         decltype(std::declval<const A &>() ==                                 \
                  std::declval<const A::rebind<int>::other &>()));             \
    TYPE(tag " != result",                                                     \
         decltype(std::declval<const A &>() !=                                 \
                  std::declval<const A::rebind<int>::other &>()))

    ALLOCATOR_TYPES(P, "pmem");
    ALLOCATOR_TYPES(K, "static_kind");
    ALLOCATOR_TYPES(F, "fixed");
    ALLOCATOR_TYPES(H, "hbw");

    MEMBER("pmem::construct<S,S>", &P::construct<S, S>);
    MEMBER("static_kind::construct<S,S>", &K::construct<S, S>);
    MEMBER("fixed::construct<S,S>", &F::construct<S, S>);
    MEMBER("hbw::construct", &H::construct);
    MEMBER("hbw::max_size", &H::max_size);
    MEMBER("hbw::address",
           static_cast<H::pointer (H::*)(H::reference) const>(&H::address));
    MEMBER("hbw::address const",
           static_cast<H::const_pointer (H::*)(H::const_reference) const>(
               &H::address));

    TRAIT("pmem(const char*, size_t)",
          std::is_constructible<P, const char *, size_t>::value);
    TRAIT("pmem(string, size_t)",
          std::is_constructible<P, const std::string &, size_t>::value);
    TRAIT("pmem(const char*, size_t, policy)",
          (std::is_constructible<P, const char *, size_t,
                                 libmemkind::allocation_policy>::value));
    TRAIT("pmem(string, size_t, policy)",
          (std::is_constructible<P, const std::string &, size_t,
                                 libmemkind::allocation_policy>::value));
    TRAIT("static_kind(kinds)",
          std::is_constructible<K, libmemkind::kinds>::value);
    TRAIT("static_kind implicit from kinds",
          (std::is_convertible<libmemkind::kinds, K>::value));
    TRAIT("fixed(void*, size_t)",
          std::is_constructible<F, void *, size_t>::value);
    TRAIT("hbw nothrow default",
          std::is_nothrow_default_constructible<H>::value);
    TRAIT("hbw nothrow destructible", std::is_nothrow_destructible<H>::value);
    TRAIT("hbw empty", std::is_empty<H>::value);
    line("size", "static_kind", std::to_string(sizeof(K)).c_str());
    line("size", "pmem", std::to_string(sizeof(P)).c_str());
    line("size", "fixed", std::to_string(sizeof(F)).c_str());
    line("size", "hbw", std::to_string(sizeof(H)).c_str());

    std::printf("checked=%u\n", checked);
    return 0;
}
