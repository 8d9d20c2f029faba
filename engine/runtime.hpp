#pragma once
// The live engine (DESIGN §1): feed I/O thread(s) -> lock-free queue -> one signal thread ->
// trigger queue -> publisher thread (triggers log, standard output, subscribers).
//
// Threads and ownership:
//  - I/O thread: an io_context running every feed session; sessions parse frames and enqueue
//    ticks and health events with their own producer token (moodycamel ConcurrentQueue).
//  - signal thread: owns the signal graph; applies ticks, turns health events into feed_health
//    triggers and instrument staleness, and enqueues triggers. No allocation, lock or log line
//    per tick; optionally busy-polls and is pinned to a CPU ([engine] busy_poll, pin_cpu).
//  - publisher thread: serialises each trigger once and writes it out; writes dead letters.
// request_stop() may be called from any thread; wait() then drains every queue, flushes the
// outputs and returns.

#include "engine/config.hpp"
#include "signals/trigger.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace seismo::engine {

struct run_options {
    std::string out;            ///< audit log: every trigger appended as a JSON line ("" = none)
    bool print = true;          ///< every trigger to standard output
    std::string dead_letter;    ///< refused input appended as JSON lines ("" = none)
    bool deterministic = false; ///< leave wall-clock fields out of triggers
};

/// Figures of a run (relaxed reads while it runs).
struct run_figures {
    std::uint64_t frames = 0;
    std::uint64_t applied = 0;
    std::uint64_t late = 0;
    std::uint64_t rejected = 0; ///< all reasons, feed and signal threads together
    std::uint64_t triggers = 0;
    std::uint64_t health_events = 0;
};

class runtime {
public:
    runtime(const config& cfg, run_options opts);
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    /// Starts the threads and the feeds.
    void start();
    /// Asks the engine to stop; returns at once. Any thread.
    void request_stop() noexcept;
    /// Blocks until stopped, then drains the queues and flushes the outputs.
    void wait();

    [[nodiscard]] run_figures figures() const;

    /// Called on the publisher thread with every trigger and its JSON (tests, later publishers).
    void on_published(std::function<void(const signals::trigger&, std::string_view)> f);

private:
    struct impl;
    std::unique_ptr<impl> p_;
};

} // namespace seismo::engine
