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
#include "feeds/pipeline.hpp"

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

namespace seismo::engine {

struct stage_stats;

struct feed_host_options {
    bool demo = false;      ///< add the bundled demo day as a feed named "demo"
    double demo_speed = 60; ///< its pacing: event time per real time
    std::uint64_t demo_seed = 1;
    bool inproc = false; ///< add a feed named "inproc" fed by inject()
};

class feed_host {
  public:
    /// Creates every feed (nothing connects before start()). Throws std::invalid_argument on a
    /// bad feed (URL) and std::runtime_error on an unreadable ca_file.
    feed_host(const config& cfg, feed_host_options o, boost::asio::io_context& io,
              core::instrument_registry& reg, event_queue& events, dead_queue& dead);
    ~feed_host();
    feed_host(const feed_host&) = delete;

    /// The names the feeds of (cfg, o) get, in feed id order: the config's, then "demo", then
    /// "inproc" — known before the host is built (the publisher needs them first).
    [[nodiscard]] static std::vector<std::string> names_for(const config& cfg,
                                                            const feed_host_options& o);
    feed_host& operator=(const feed_host&) = delete;

    /// Records every frame to `w` (before start()).
    void record_to(journal::writer* w) noexcept;
    void start();
    /// Asks every feed to stop; any thread.
    void stop();

    [[nodiscard]] std::size_t size() const noexcept { return feeds_.size(); }
    /// Names and venues, in feed id order (journal metadata, trigger JSON).
    [[nodiscard]] const std::vector<std::string>& names() const noexcept { return names_; }
    [[nodiscard]] const std::vector<std::string>& venues() const noexcept { return venues_; }
    [[nodiscard]] const feeds::feed_stats& stats(std::size_t feed) const;
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
    std::vector<std::unique_ptr<feed>> feeds_;
    std::vector<std::string> names_, venues_;
    std::vector<std::unique_ptr<boost::asio::ssl::context>> tls_;
    std::vector<char> inject_buf_;
    feed* inproc_ = nullptr;
};

} // namespace seismo::engine
