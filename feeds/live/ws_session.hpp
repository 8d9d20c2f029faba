#pragma once
// A live WebSocket feed session (DESIGN §4, §11): connects (ws:// or wss:// with SNI and
// certificate verification), subscribes and keeps the connection alive as its venue asks
// (feeds/venue.hpp), passes every frame through the feed's frame_pipeline, and reports health —
// up, down, stale, fresh, gap — while reconnecting with exponential backoff and jitter.
// Long-lived connections are rotated make-before-break (Binance cuts connections at 24 h), so
// the rotation loses nothing and duplicates from the overlap are dropped.
//
// Threads: everything runs on the io_context it was created with (run by one thread, so no
// strand); the sink is called on that thread. The header keeps Boost out of its includers (compile
// time).

#include "engine/core/health.hpp"
#include "engine/core/instrument_registry.hpp"
#include "engine/core/tick.hpp"
#include "feeds/frame.hpp"
#include "feeds/pipeline.hpp"
#include "feeds/venue.hpp"

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

namespace seismo::feeds::live {

/// Why a feed went down or failed to connect: its class and the full text — the resolver's,
/// TCP's or TLS's error, an HTTP status with the start of its body, or the venue's close code
/// and reason.
struct session_failure {
    core::down_cause cause = core::down_cause::none;
    std::string text;
    core::nanos at = 0; ///< wall clock
};

struct session_options {
    std::string name; ///< the feed's name (metrics, health triggers)
    venue kind = venue::generic;
    std::string url;
    std::vector<std::string> symbols;  ///< the venue's native symbols
    std::vector<std::string> channels; ///< empty: the venue's trade channel
    core::nanos stale_after = 30 * core::nanos{1'000'000'000};
    /// Rotate the connection (make-before-break) after this long; 0 = never (the venue's own
    /// default is filled in by whoever makes the options: venue_info::max_connection_age).
    core::nanos max_connection_age = 0;
    core::nanos backoff_initial = core::nanos{1'000'000'000};
    core::nanos backoff_max = 32 * core::nanos{1'000'000'000};
    /// After HTTP 429 or 418 (rate limited, banned): wait at least this long (or Retry-After).
    core::nanos backoff_rate_limited = 60 * core::nanos{1'000'000'000};
    core::nanos connect_timeout = 10 * core::nanos{1'000'000'000};
    /// Application or WebSocket pings this often; 0 picks the venue's default.
    core::nanos keepalive_interval = 0;
    std::size_t max_frame = k_default_max_venue_frame;
    std::string ca_file; ///< extra PEM trust anchors (a private CA); the system store always counts
    /// Called on the session's thread with every failure (each failed attempt too, not only the
    /// first, which alone is a `down` event): for logging.
    std::function<void(const session_failure&)> on_failure;
};

class ws_session {
  public:
    /// Creates a session; nothing happens before start(). Throws std::invalid_argument on a
    /// bad URL.
    static std::shared_ptr<ws_session> create(boost::asio::io_context& io,
                                              boost::asio::ssl::context& tls, session_options opts,
                                              core::instrument_registry& registry, frame_sink& sink,
                                              std::uint16_t feed_id);
    virtual ~ws_session() = default;

    virtual void start() = 0;
    /// Closes the connection and stops reconnecting; safe from any thread.
    virtual void stop() = 0;
    /// Hot reload: from now on the session uses `o` (URL, symbols, channels, timing); a
    /// connected session rotates make-before-break onto a successor opened with it. `o` must
    /// keep the venue, the URL's scheme and the CA file (those make another session); its
    /// on_failure is ignored (the session keeps its own). Safe from any thread.
    virtual void reconfigure(session_options o) = 0;
    [[nodiscard]] virtual const feed_stats& stats() const noexcept = 0;
    [[nodiscard]] virtual const session_options& options() const noexcept = 0;

    /// The last failure (empty text before the first). Any thread.
    [[nodiscard]] virtual session_failure last_failure() const = 0;
    /// The start of the first frame its pipeline ignored ("" before one). Any thread.
    [[nodiscard]] virtual std::string_view first_ignored() const noexcept = 0;
};

/// The subscribe messages a session sends for its venue, channels and symbols (none without
/// symbols).
[[nodiscard]] std::vector<std::string> subscribe_messages(const session_options& o);

} // namespace seismo::feeds::live
