#pragma once
// Prometheus text exposition (format 0.0.4), our own: prometheus-cpp is not packaged for
// Debian. Counters live where they are counted (relaxed atomics written by one thread, or
// per-thread); a scrape reads them and writes families through `exposition`.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seismo::engine {

/// A fixed log-linear histogram of seconds: 1, 2, 5 x 10^k from 1 µs to 10 s. One writer
/// (relaxed atomics), any number of readers.
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
        counts_[i].store(counts_[i].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        sum_.store(sum_.load(std::memory_order_relaxed) + seconds, std::memory_order_relaxed);
    }
    /// Cumulative counts per bound (and +Inf last), the sum and the count.
    void read(std::array<std::uint64_t, k_buckets + 1>& cumulative, double& sum,
              std::uint64_t& count) const noexcept;

  private:
    std::array<std::atomic<std::uint64_t>, k_buckets + 1> counts_{};
    std::atomic<double> sum_{0.0};
};

using labels = std::vector<std::pair<std::string_view, std::string_view>>;

/// Writes metric families: HELP and TYPE once per family, then its samples.
class exposition {
  public:
    void counter(std::string_view name, std::string_view help, const labels& l, double value);
    void gauge(std::string_view name, std::string_view help, const labels& l, double value);
    void histogram(std::string_view name, std::string_view help, const labels& l,
                   const latency_histogram& h);
    /// process_cpu_seconds_total, process_resident_memory_bytes, process_start_time_seconds,
    /// process_open_fds, process_virtual_memory_bytes from /proc.
    void process();
    [[nodiscard]] const std::string& text() const noexcept { return out_; }

  private:
    void family(std::string_view name, std::string_view help, std::string_view type);
    void sample(std::string_view name, const labels& l, double value,
                std::string_view extra_label = {}, std::string_view extra_value = {});
    std::string out_;
    std::vector<std::string> seen_;
};

} // namespace seismo::engine
