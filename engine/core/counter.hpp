#pragma once
// What probes count (DESIGN §8). The hot path bumps a counter that exactly one thread writes, and
// a scrape reads it from any thread. One writer needs no locked read-modify-write: a relaxed
// load and store, about 1 ns, where a shared atomic's fetch_add costs ~6 ns and prometheus-cpp's
// Counter ~11 ns (bench/micro_bench). The counters of one writer are kept together, and a group
// that another thread's counters could share a cache line with is aligned to its own line.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace seismo::core {

/// A monotonic count with one writer at a time, read from anywhere.
class counter {
  public:
    void add(std::uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t value() const noexcept {
        return v_.load(std::memory_order_relaxed);
    }

  private:
    std::atomic<std::uint64_t> v_{0};
};

/// A value with one writer, read from anywhere (a last-seen time, a flag).
template <class T>
class gauge {
  public:
    void set(T v) noexcept { v_.store(v, std::memory_order_relaxed); }
    [[nodiscard]] T value() const noexcept { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<T> v_{};
};

/// A fixed log-linear histogram of seconds: 1, 2, 5 x 10^k from 1 µs to 10 s. One writer,
/// any number of readers; observe() is a short scan and two relaxed stores (prometheus-cpp's
/// Histogram::Observe costs 116–138 ns, too much per trigger on the signal thread).
class latency_histogram {
  public:
    static constexpr std::size_t k_buckets = 22;
    static constexpr std::array<double, k_buckets> k_bounds{
        1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3,
        5e-3, 1e-2, 2e-2, 5e-2, 0.1,  0.2,  0.5,  1.0,  2.0,  5.0,  10.0};

    void observe(double seconds) noexcept {
        std::size_t i = 0;
        while (i < k_buckets && seconds > k_bounds[i])
            ++i;
        counts_[i].add();
        sum_.store(sum_.load(std::memory_order_relaxed) + seconds, std::memory_order_relaxed);
    }

    /// Cumulative counts per bound (and +Inf last), the sum and the count.
    void read(std::array<std::uint64_t, k_buckets + 1>& cumulative, double& sum,
              std::uint64_t& count) const noexcept {
        std::uint64_t acc = 0;
        for (std::size_t i = 0; i <= k_buckets; ++i) {
            acc += counts_[i].value();
            cumulative[i] = acc;
        }
        count = acc;
        sum = sum_.load(std::memory_order_relaxed);
    }

  private:
    std::array<counter, k_buckets + 1> counts_{};
    std::atomic<double> sum_{0.0};
};

} // namespace seismo::core
