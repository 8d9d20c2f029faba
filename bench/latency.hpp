#pragma once
// What the latency benchmarks share: percentiles of nanosecond samples (reported in
// microseconds), the median of rounds, pacing a sender to a schedule, pinning a thread.

#include "engine/core/time.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <pthread.h>
#include <sched.h>
#include <thread>
#include <vector>

namespace seismo::bench {

struct percentiles {
    double p50 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0;
    std::size_t n = 0;
};

inline percentiles summarize(std::vector<std::int64_t> v) {
    percentiles p;
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
        return static_cast<double>(v[std::min(
                   v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]) /
               1000.0;
    };
    p.p50 = at(0.50);
    p.p99 = at(0.99);
    p.p999 = at(0.999);
    p.p9999 = at(0.9999);
    p.max = static_cast<double>(v.back()) / 1000.0;
    p.n = v.size();
    return p;
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

inline void print(const char* what, const percentiles& p) {
    std::printf("  %-44s p50 %7.2f  p99 %7.2f  p99.9 %8.2f us | jitter p99.99 %8.1f  max %8.1f us  "
                "(n=%zu)\n",
                what, p.p50, p.p99, p.p999, p.p9999, p.max, p.n);
}

/// Paces a sender without spinning (this box has two cores, and the busy-polling signal thread
/// has one of them): sleeps when the deadline is 50 µs or more away, else sends at once. At
/// 100 k/s that sends small bursts every ~60 µs — the rate holds, arrivals are bursty, as from
/// a real socket; the floor is paced the same way.
inline void pace_until(core::nanos deadline) {
    const core::nanos now = core::monotonic_now();
    if (deadline - now >= 50'000)
        std::this_thread::sleep_for(std::chrono::nanoseconds(deadline - now));
}

/// Pins the calling thread to `cpu`.
inline void pin_self(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/// Lets the calling thread run on every CPU again (and the threads it creates from now on,
/// which inherit it).
inline void unpin_self() {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned c = 0; c < std::thread::hardware_concurrency(); ++c)
        CPU_SET(c, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

} // namespace seismo::bench
