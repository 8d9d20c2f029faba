#pragma once
// The live runtime's feed host: every feed of a run — the config's [[feed]]s as WebSocket
// sessions, the bundled demo day, an in-process feed for embedding and benchmarks — each with a
// frame_pipeline whose sink queues ticks and health events for the signal thread (one producer
// token per feed), sends refusals to the writer thread and, when recording, frames to the
// journal. It serves the feeds' part of /v1/state and /readyz, and their metrics.
//
// Threads: built and started on the caller's thread; sessions run on the io_context's thread;
// the readers (state, readiness, probe) from any thread.

#include "engine/config.hpp"
#include "engine/events.hpp"
#include "engine/reload.hpp"
#include "feeds/pipeline.hpp"
#include "signals/step.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
} // namespace boost::asio
namespace prometheus {
class Collectable;
}
namespace seismo::journal {
class writer;
}
namespace seismo::publish {
class nats_connection;
}

namespace seismo::engine {

struct stage_stats;

struct feed_host_options {
    bool demo = false;      ///< add the bundled demo day as a feed named "demo"
    double demo_speed = 60; ///< its pacing: event time per real time
    std::uint64_t demo_seed = 1;
    bool inproc = false; ///< add a feed named "inproc" fed by inject()
    /// The cluster `venue = "nats"` feeds consume (needed when the config has one), and the
    /// stream time they start from (0: the stream's start).
    const publish::nats_connection* nats = nullptr;
    core::nanos nats_start = 0;
};

class feed_host {
  public:
    /// Creates every feed (nothing connects before start()). Throws std::invalid_argument on a
    /// bad feed (URL) and std::runtime_error on an unreadable ca_file.
    feed_host(const config& cfg, feed_host_options o, boost::asio::io_context& io,
              core::instrument_registry& reg, event_queue& events, dead_queue& dead);
    ~feed_host();
    feed_host(const feed_host&) = delete;

    /// The feed ids of (cfg, o), in order: the config's, then "demo", then "inproc" — known
    /// before the host is built (the publisher needs their names first).
    [[nodiscard]] static std::vector<feed_slot> slots_for(const config& cfg,
                                                          const feed_host_options& o);
    feed_host& operator=(const feed_host&) = delete;

    /// Hot reload, on the io_context's thread: starts the plan's added feeds (new ids, recorded
    /// to the journal when there is one), re-subscribes the changed ones on their ids
    /// (make-before-break: the session's successor connection takes over once subscribed) and
    /// then stops the removed ones, whose ids stay retired. Throws std::runtime_error on an
    /// unreadable ca_file (nothing started then).
    void apply(const feed_plan& plan, const config& cfg);

    /// With the signal thread running the io_context: `off_io` is called after a feed off it
    /// (NATS, inproc) queues events, from that feed's thread (to wake the signal thread);
    /// `on_io` after a feed on it has handled a frame (to step its ticks at once). Before
    /// start().
    void wake_with(std::function<void()> off_io, std::function<void()> on_io);
    /// Records every frame to `w` (before start()).
    void record_to(journal::writer* w) noexcept;
    void start();
    /// Asks every feed to stop; any thread.
    void stop();

    /// Feed ids in use, removed ones included (any thread).
    [[nodiscard]] std::size_t size() const noexcept { return n_.load(std::memory_order_acquire); }
    /// A feed's name and venue (any thread; ids < size()).
    [[nodiscard]] const std::string& name(std::size_t feed) const;
    [[nodiscard]] const std::string& venue(std::size_t feed) const;
    /// Whether a reload removed it.
    [[nodiscard]] bool retired(std::size_t feed) const noexcept;
    [[nodiscard]] const feeds::feed_stats& stats(std::size_t feed) const;
    /// Whether any feed runs on the io_context (WebSocket sessions, the demo feed) rather than
    /// on a thread of its own (NATS) or the caller's (inproc).
    [[nodiscard]] bool uses_io() const noexcept;
    /// Completed passes of the demo feed over its day (0 without one).
    [[nodiscard]] std::uint64_t demo_loops() const noexcept;

    /// Hands a generic-protocol frame to the "inproc" feed, through its pipeline as a WebSocket
    /// frame would go. One calling thread at a time.
    void inject(std::string_view frame, core::nanos recv_ts);

    /// The "feeds" array of /v1/state, holding the feeds `visible(name)` accepts.
    [[nodiscard]] std::string
    state_json(core::nanos now, const std::function<bool(std::string_view)>& visible) const;
    /// Warnings about feeds whose frames were nearly all ignored (engine/warnings.hpp).
    [[nodiscard]] std::vector<std::string> warnings() const;
    /// /readyz: true when every feed is connected and fresh; `detail` says which are not.
    [[nodiscard]] bool ready(std::string& detail) const;
    /// seismo_feed_* per feed. `late` (the signal stage's, refusals by the step) counts under
    /// reason "late"; both must outlive the probe.
    [[nodiscard]] std::shared_ptr<prometheus::Collectable>
    make_probe(const stage_stats* late) const;

    struct feed;

  private:
    feed& add(std::string name, std::string venue);
    void add_session(feed& e, const config& cfg, const feed_config& f);
    void start_feed(feed& e);

    boost::asio::io_context& io_;
    core::instrument_registry& reg_;
    event_queue& events_;
    dead_queue& dead_;
    journal::writer* journal_ = nullptr;
    // Fixed slots, so that readers on other threads (scrapes, /v1/state) walk [0, n_) while a
    // reload adds a feed on the I/O thread.
    std::array<std::unique_ptr<feed>, signals::k_max_feeds> feeds_{};
    std::atomic<std::size_t> n_{0};
    std::vector<std::string> tls_files_; // the I/O thread's (after start)
    std::vector<std::unique_ptr<boost::asio::ssl::context>> tls_;
    std::vector<char> inject_buf_;
    std::function<void()> wake_, drain_;
    feed* inproc_ = nullptr;
    const publish::nats_connection* nats_ = nullptr;
    core::nanos nats_start_ = 0;
};

} // namespace seismo::engine
