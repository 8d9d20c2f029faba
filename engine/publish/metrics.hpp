#pragma once
// Metrics (DESIGN §8) on prometheus-cpp: every module owns a probe — a prometheus::Collectable
// that reads the module's single-writer counters (engine/core/counter.hpp) at scrape time, so
// the hot path never calls into prometheus-cpp — and registers it here once, at start-up. A
// scrape collects every probe in registration order and writes the families with
// prometheus-cpp's TextSerializer (text format 0.0.4), served by the server's /metrics route.
// This header also has the small helpers probes build their families with.

#include "engine/core/counter.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

namespace seismo::publish {

class metrics_registry {
  public:
    metrics_registry();
    /// Registers a probe (start-up, before the first scrape). Its families appear in the
    /// exposition in registration order.
    void add(std::shared_ptr<prometheus::Collectable> probe);
    /// prometheus-cpp's own registry, for series set once rather than counted (build and config
    /// info); registered first.
    [[nodiscard]] prometheus::Registry& registry() noexcept { return *registry_; }
    /// The text exposition of every probe. Any thread; probes read their counters lock-free.
    [[nodiscard]] std::string exposition() const;

  private:
    std::shared_ptr<prometheus::Registry> registry_;
    std::vector<std::shared_ptr<prometheus::Collectable>> probes_;
};

/// The standard process series: process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds,
/// process_max_fds, process_threads (from /proc/self).
[[nodiscard]] std::shared_ptr<prometheus::Collectable> make_process_probe();

// ---- building families in a probe's Collect()
using label_list = std::vector<prometheus::ClientMetric::Label>;

/// A family without samples yet (build it, then move it into Collect()'s result).
[[nodiscard]] prometheus::MetricFamily make_family(std::string name, std::string help,
                                                   prometheus::MetricType type);
/// Appends a family of one unlabelled sample to `out`.
void add_single(std::vector<prometheus::MetricFamily>& out, std::string name, std::string help,
                prometheus::MetricType type, double value);
/// Appends a sample to a counter or gauge family.
void add_sample(prometheus::MetricFamily& f, label_list labels, double value);
/// Appends a histogram sample read from `h` (seconds; buckets 1 µs … 10 s and +Inf).
void add_histogram(prometheus::MetricFamily& f, label_list labels,
                   const core::latency_histogram& h);

} // namespace seismo::publish
