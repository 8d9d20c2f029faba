#pragma once
// The live engine (DESIGN §1), composed of three units with one job each:
//  - the feed host (feed_host.hpp): every feed's session and pipeline, queueing ticks and
//    health events for the signal stage through a lock-free queue;
//  - the signal stage (signal_stage.hpp): the signal step over every event, triggers into the
//    publisher's queue, the consumption order into the journal, and a state snapshot every
//    250 ms for /v1/state and /metrics;
//  - the trigger publisher (trigger_publisher.hpp): with the server on, each trigger is
//    serialised once and handed to the hub's subscribers; the writer thread writes the audit
//    log, standard output and the dead-letter file.
// With network I/O (feeds, the server) one engine thread runs the io_context and the signal
// stage to completion: a feed's frame handler queues its ticks and they are stepped, and their
// triggers handed to the subscribers, before the next read — no thread hand-off between a
// feed's socket and a subscriber's. Idle, it polls for [engine] idle_spin, then blocks in
// epoll (busy_poll: never); feeds on threads of their own (NATS, inject()) post it a wake-up.
// [server] io_threads moves the connections to threads of their own. Without network I/O the
// signal stage has a signal thread of its own.
// Plus the server (engine/publish), the metrics registry every unit's probe is registered with,
// and the journal writer's thread with --record. No allocation, lock or log line per tick in
// the step; the thread running it may busy-poll and be pinned ([engine] busy_poll, pin_cpu).
//
// request_stop() may be called from any thread; wait() then drains every queue, flushes the
// outputs and returns. reload() swaps in a new config without stopping (engine/reload.hpp).

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
    /// `seismo feed` (DESIGN §10): run the feeds only and publish every tick to the [nats]
    /// tick stream instead of computing signals.
    bool feed_mode = false;
    /// Called with the message id of every trigger (or, with feed_mode, tick) JetStream
    /// acknowledged, on nats.c's thread (benchmarks).
    std::function<void(std::string_view id)> nats_ack;
};

/// What a hot reload did (DESIGN §9): `ok` with the diff as JSON, or why nothing changed.
struct reload_outcome {
    bool ok = false;
    int status = 200;    ///< as POST /v1/reload answers: 200, 400 (config), 409 (refused), 503
    std::string json;    ///< the answer's body
    std::string message; ///< one line for the log
};

/// Figures of a run (relaxed reads while it runs).
struct run_figures {
    std::uint64_t frames = 0;
    std::uint64_t applied = 0;
    std::uint64_t late = 0;
    std::uint64_t rejected = 0; ///< all reasons, feed and signal threads together
    std::uint64_t triggers = 0;
    std::uint64_t health_events = 0;
    std::uint64_t deliveries = 0;        ///< trigger messages handed to subscribers
    std::uint64_t subscriber_writes = 0; ///< writes carrying triggers to subscribers
    std::uint64_t demo_loops = 0;        ///< completed passes of the demo day
    std::uint64_t forwarded = 0;         ///< `seismo feed`: ticks handed to the NATS publisher
    std::uint64_t held_back = 0;         ///< NATS restart: triggers already in the trigger stream
};

class runtime {
  public:
    /// `cfg` is copied: the caller's config may go once this returns.
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
    /// Reopens --out and --dead-letter (log rotation); any thread.
    void reopen_outputs() noexcept;
    /// Hot reload (DESIGN §9): `text` is the new config, or nullopt to re-read the running
    /// config's file. Validated and built on the runtime's control thread, swapped in on the
    /// signal thread between two events, then the feeds are changed; `done` is called on the
    /// control thread with the outcome. Reloads are applied one at a time, in order. Any
    /// thread.
    void reload(std::optional<std::string> text, std::function<void(const reload_outcome&)> done);
    /// reload() and wait for its outcome. Not on the runtime's own threads.
    reload_outcome reload_and_wait(std::optional<std::string> text);
    /// The running config's digest (hex), its generation number (0 before any reload).
    [[nodiscard]] std::string config_digest() const;
    [[nodiscard]] std::uint32_t config_generation() const;

    [[nodiscard]] run_figures figures() const;
    /// The port the server listens on (after start(); 0 without a server).
    [[nodiscard]] std::uint16_t port() const;
    /// The Prometheus exposition and the /v1/state document, as the server serves them.
    [[nodiscard]] std::string metrics_text() const;
    [[nodiscard]] std::string state_json() const;
    /// What the run did little of so far: feeds nearly all ignored, configured instruments
    /// without a tick (engine/warnings.hpp). /v1/state carries them too.
    [[nodiscard]] std::vector<std::string> warnings() const;

    /// Hands a generic-protocol frame to the "inproc" feed (run_options::inproc_feed), through
    /// the same pipeline as a WebSocket frame. One calling thread at a time.
    void inject(std::string_view frame, std::int64_t recv_ts);
    /// The recorded tick-to-trigger latencies (after wait()).
    [[nodiscard]] std::vector<std::int64_t> latency_samples() const;

    /// Called with every trigger and its JSON as it is serialised (the I/O thread with the server
    /// on, else the writer thread; tests).
    void on_published(std::function<void(const signals::trigger&, std::string_view)> f);

    struct impl;

  private:
    std::unique_ptr<impl> p_;
};

} // namespace seismo::engine
