/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * memkind_allocator.h - libmemkind::static_kind::allocator<T>, a standard
 * library allocator that allocates from one of the static kinds, chosen
 * with libmemkind::kinds. Header-only: it calls the C API of memkind.h.
 */

#ifndef MORSELKIND_MEMKIND_ALLOCATOR_H
#define MORSELKIND_MEMKIND_ALLOCATOR_H

/* The same standard headers as memkind's version, for source compatibility. */
#include <cmath>
#include <cstddef>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "memkind.h"

namespace libmemkind
{

/* The static kinds, by name. Each maps to the MEMKIND_<name> variable. */
enum class kinds
{
    DEFAULT = 0,
    HUGETLB = 1,
    INTERLEAVE = 2,
    HBW = 3,
    HBW_ALL = 4,
    HBW_HUGETLB = 5,
    HBW_ALL_HUGETLB = 6,
    HBW_PREFERRED = 7,
    HBW_PREFERRED_HUGETLB = 8,
    HBW_INTERLEAVE = 9,
    REGULAR = 10,
    DAX_KMEM = 11,
    DAX_KMEM_ALL = 12,
    DAX_KMEM_PREFERRED = 13,
    DAX_KMEM_INTERLEAVE = 14,
    HIGHEST_CAPACITY = 15,
    HIGHEST_CAPACITY_PREFERRED = 16,
    HIGHEST_CAPACITY_LOCAL = 17,
    HIGHEST_CAPACITY_LOCAL_PREFERRED = 18,
    LOWEST_LATENCY_LOCAL = 19,
    LOWEST_LATENCY_LOCAL_PREFERRED = 20,
    HIGHEST_BANDWIDTH_LOCAL = 21,
    HIGHEST_BANDWIDTH_LOCAL_PREFERRED = 22
};

namespace static_kind
{
namespace detail
{
/* Returns the memkind_t for k; throws std::runtime_error for an unknown value. */
inline memkind_t kind_from_enum(libmemkind::kinds k)
{
    switch (k) {
        case libmemkind::kinds::DEFAULT: return MEMKIND_DEFAULT;
        case libmemkind::kinds::HUGETLB: return MEMKIND_HUGETLB;
        case libmemkind::kinds::INTERLEAVE: return MEMKIND_INTERLEAVE;
        case libmemkind::kinds::HBW: return MEMKIND_HBW;
        case libmemkind::kinds::HBW_ALL: return MEMKIND_HBW_ALL;
        case libmemkind::kinds::HBW_HUGETLB: return MEMKIND_HBW_HUGETLB;
        case libmemkind::kinds::HBW_ALL_HUGETLB: return MEMKIND_HBW_ALL_HUGETLB;
        case libmemkind::kinds::HBW_PREFERRED: return MEMKIND_HBW_PREFERRED;
        case libmemkind::kinds::HBW_PREFERRED_HUGETLB:
            return MEMKIND_HBW_PREFERRED_HUGETLB;
        case libmemkind::kinds::HBW_INTERLEAVE: return MEMKIND_HBW_INTERLEAVE;
        case libmemkind::kinds::REGULAR: return MEMKIND_REGULAR;
        case libmemkind::kinds::DAX_KMEM: return MEMKIND_DAX_KMEM;
        case libmemkind::kinds::DAX_KMEM_ALL: return MEMKIND_DAX_KMEM_ALL;
        case libmemkind::kinds::DAX_KMEM_PREFERRED:
            return MEMKIND_DAX_KMEM_PREFERRED;
        case libmemkind::kinds::DAX_KMEM_INTERLEAVE:
            return MEMKIND_DAX_KMEM_INTERLEAVE;
        case libmemkind::kinds::HIGHEST_CAPACITY:
            return MEMKIND_HIGHEST_CAPACITY;
        case libmemkind::kinds::HIGHEST_CAPACITY_PREFERRED:
            return MEMKIND_HIGHEST_CAPACITY_PREFERRED;
        case libmemkind::kinds::HIGHEST_CAPACITY_LOCAL:
            return MEMKIND_HIGHEST_CAPACITY_LOCAL;
        case libmemkind::kinds::HIGHEST_CAPACITY_LOCAL_PREFERRED:
            return MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED;
        case libmemkind::kinds::LOWEST_LATENCY_LOCAL:
            return MEMKIND_LOWEST_LATENCY_LOCAL;
        case libmemkind::kinds::LOWEST_LATENCY_LOCAL_PREFERRED:
            return MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED;
        case libmemkind::kinds::HIGHEST_BANDWIDTH_LOCAL:
            return MEMKIND_HIGHEST_BANDWIDTH_LOCAL;
        case libmemkind::kinds::HIGHEST_BANDWIDTH_LOCAL_PREFERRED:
            return MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED;
    }
    throw std::runtime_error("Unknown libmemkind::kinds");
}
} // namespace detail

template <typename T>
class allocator
{
    template <typename U>
    friend class allocator;

    memkind_t _kind;

public:
    using value_type = T;
    using pointer = value_type *;
    using const_pointer = const value_type *;
    using reference = value_type &;
    using const_reference = const value_type &;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;

    template <class U>
    struct rebind {
        using other = allocator<U>;
    };

#if !(defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI)
    /* Old-ABI standard libraries want a default constructor; it has no kind. */
    template <typename V = void>
    explicit allocator() : _kind(nullptr)
    {
        static_assert(std::is_same<V, void>::value,
                      "libmemkind::static_kind::allocator needs the C++11 ABI");
    }
#endif

    /* Allocates from static kind k; throws std::runtime_error for a bad k. */
    explicit allocator(libmemkind::kinds kind)
        : _kind(detail::kind_from_enum(kind))
    {}

    allocator(const allocator &other) = default;
    allocator(allocator &&other) = default;
    allocator<T> &operator=(const allocator &other) = default;
    allocator<T> &operator=(allocator &&other) = default;

    template <typename U>
    allocator(const allocator<U> &other) noexcept : _kind(other._kind)
    {}

    template <typename U>
    allocator(allocator<U> &&other) noexcept : _kind(other._kind)
    {}

    template <typename U>
    allocator<T> &operator=(const allocator<U> &other) noexcept
    {
        _kind = other._kind;
        return *this;
    }

    template <typename U>
    allocator<T> &operator=(allocator<U> &&other) noexcept
    {
        _kind = other._kind;
        return *this;
    }

    /* Returns room for n objects from the kind; throws std::bad_alloc. */
    pointer allocate(size_type n) const
    {
        if (n > static_cast<size_type>(-1) / sizeof(T)) {
            throw std::bad_alloc();
        }
        void *p = memkind_malloc(_kind, n * sizeof(T));
        if (p == nullptr) {
            throw std::bad_alloc();
        }
        return static_cast<pointer>(p);
    }

    /* Gives back memory from allocate(). */
    void deallocate(pointer p, size_type n) const
    {
        (void)n;
        memkind_free(_kind, static_cast<void *>(p));
    }

    template <class U, class... Args>
    void construct(U *p, Args &&...args) const
    {
        ::new (static_cast<void *>(p)) U(std::forward<Args>(args)...);
    }

    void destroy(pointer p) const
    {
        p->~value_type();
    }

    /* Equal when both use the same kind. */
    template <typename U, typename V>
    friend bool operator==(const allocator<U> &lhs, const allocator<V> &rhs);

    template <typename U, typename V>
    friend bool operator!=(const allocator<U> &lhs, const allocator<V> &rhs);
};

template <typename U, typename V>
bool operator==(const allocator<U> &lhs, const allocator<V> &rhs)
{
    return lhs._kind == rhs._kind;
}

template <typename U, typename V>
bool operator!=(const allocator<U> &lhs, const allocator<V> &rhs)
{
    return !(lhs == rhs);
}

} // namespace static_kind
} // namespace libmemkind

#endif /* MORSELKIND_MEMKIND_ALLOCATOR_H */
