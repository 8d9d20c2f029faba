#pragma once
// A wake-up of an io_context's thread from any thread, at most one in flight and never
// allocating: the handler's memory is a slot inside this object (asio frees a handler's memory
// before running it, and the handler clears the in-flight flag after that, so the slot is free
// whenever the next post comes; should it not be, the heap serves). The flag is cleared before
// `f` runs, so work queued while `f` runs posts again and is not left behind.

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <cstddef>
#include <memory>

namespace seismo::engine {

class one_post {
  public:
    one_post() = default;
    one_post(const one_post&) = delete;
    one_post& operator=(const one_post&) = delete;

    /// Posts `f` to `io` unless a post of this object is still pending. Any thread.
    template <class F>
    void post(boost::asio::io_context& io, F f) {
        if (posted_.exchange(true, std::memory_order_seq_cst)) return;
        boost::asio::post(io, boost::asio::bind_allocator(
                                  allocator<void>(&slot_), [this, f = std::move(f)]() mutable {
                                      posted_.exchange(false, std::memory_order_seq_cst);
                                      f();
                                  }));
    }

  private:
    struct slot {
        alignas(std::max_align_t) unsigned char bytes[512];
        std::atomic<bool> used{false};
    };
    template <class T>
    struct allocator {
        using value_type = T;
        slot* s;
        explicit allocator(slot* p) noexcept : s(p) {}
        template <class U>
        allocator(const allocator<U>& o) noexcept : s(o.s) {} // NOLINT: rebinding
        T* allocate(std::size_t n) {
            if (n * sizeof(T) <= sizeof s->bytes &&
                !s->used.exchange(true, std::memory_order_acquire)) {
                return reinterpret_cast<T*>(s->bytes);
            }
            return std::allocator<T>{}.allocate(n);
        }
        void deallocate(T* p, std::size_t n) noexcept {
            if (reinterpret_cast<unsigned char*>(p) == s->bytes) {
                s->used.store(false, std::memory_order_release);
                return;
            }
            std::allocator<T>{}.deallocate(p, n);
        }
        template <class U>
        bool operator==(const allocator<U>& o) const noexcept {
            return s == o.s;
        }
    };

    slot slot_;
    std::atomic<bool> posted_{false};
};

} // namespace seismo::engine
