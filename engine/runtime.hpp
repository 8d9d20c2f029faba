#pragma once
// The live engine (DESIGN §1): feed I/O thread -> lock-free queue -> one signal thread ->
// trigger queue -> I/O thread (serialise, WS pub-sub fan-out) -> publisher thread (triggers
// log, standard output).
//
// Threads and ownership:
//  - I/O thread: an io_context running every feed session (and the demo feed), and the HTTP /
//    WS pub-sub server. Feeds parse frames and enqueue ticks and health events with their own
//    producer token (moodycamel ConcurrentQueue).
//  - signal thread: owns the signal graph; applies ticks, turns health events into feed_health
//    triggers and instrument staleness, enqueues triggers, and every 250 ms publishes a state
//    snapshot (values, levels) for /v1/state and /metrics. No allocation, lock or log line per
//    tick; optionally busy-polls and is pinned to a CPU ([engine] busy_poll, pin_cpu).
//  - triggers, with the server on: the signal thread wakes the I/O thread (one wake-up in
//    flight), which serialises each trigger once (a shared WebSocket frame) and hands it to the
//    hub, which fans it out to the sessions on the same thread; the message then goes to the
//    publisher thread, which writes the audit log and standard output (a slow disk or terminal
//    never holds up the I/O thread). Without the server the publisher thread does all of it.
// request_stop() may be called from any thread; wait() then drains every queue, flushes the
// outputs and returns.

#include "engine/config.hpp"
#include "signals/trigger.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::engine {

struct run_options {
    std::string out;            ///< audit log: every trigger appended as a JSON line ("" = none)
    bool print = true;          ///< every trigger to standard output
    std::string dead_letter;    ///< refused input appended as JSON lines ("" = none)
    bool deterministic = false; ///< leave wall-clock fields out of triggers
    bool serve = true;          ///< run the HTTP / WS pub-sub server
    std::optional<std::string> listen; ///< overrides [server].listen
    bool demo = false;                 ///< add the bundled demo day as a feed, looping, paced
    double demo_speed = 60;            ///< demo pacing: event time per real time
    std::uint64_t demo_seed = 1;
    /// Add a feed named "inproc" whose frames come from inject() (embedding, benchmarks).
    bool inproc_feed = false;
    /// Keep up to this many tick-to-trigger latencies (ns, frame receipt to trigger enqueued)
    /// for latency_samples(); 0 = none. Preallocated: recording costs no allocation.
    std::size_t latency_samples = 0;
    /// Record every raw frame and the signal thread's consumption order to this journal
    /// directory ("" = no journal); `seismo replay DIR` replays it.
    std::string record_dir;
};

/// Figures of a run (relaxed reads while it runs).
struct run_figures {
    std::uint64_t frames = 0;
    std::uint64_t applied = 0;
    std::uint64_t late = 0;
    std::uint64_t rejected = 0; ///< all reasons, feed and signal threads together
    std::uint64_t triggers = 0;
    std::uint64_t health_events = 0;
    std::uint64_t deliveries = 0; ///< trigger messages handed to subscribers
};

class runtime {
  public:
    runtime(const config& cfg, run_options opts);
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    /// Starts the threads, the server and the feeds. Throws std::runtime_error if the server
    /// cannot listen.
    void start();
    /// Asks the engine to stop; returns at once. Any thread.
    void request_stop() noexcept;
    /// Blocks until stopped, then drains the queues and flushes the outputs.
    void wait();

    [[nodiscard]] run_figures figures() const;
    /// The port the server listens on (after start(); 0 without a server).
    [[nodiscard]] std::uint16_t port() const;
    /// The Prometheus exposition and the /v1/state document, as the server serves them.
    [[nodiscard]] std::string metrics_text() const;
    [[nodiscard]] std::string state_json() const;

    /// Hands a generic-protocol frame to the "inproc" feed (run_options::inproc_feed), through
    /// the same pipeline as a WebSocket frame. One calling thread at a time.
    void inject(std::string_view frame, std::int64_t recv_ts);
    /// The recorded tick-to-trigger latencies (after wait()).
    [[nodiscard]] std::vector<std::int64_t> latency_samples() const;

    /// Called with every trigger and its JSON as it is serialised (the I/O thread with the server
    /// on, else the publisher thread; tests).
    void on_published(std::function<void(const signals::trigger&, std::string_view)> f);

  private:
    struct impl;
    std::unique_ptr<impl> p_;
};

} // namespace seismo::engine
