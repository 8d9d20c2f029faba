#pragma once
// A live WebSocket feed session (DESIGN §4, §11): connects (ws:// or wss:// with SNI and
// certificate verification), subscribes per venue, keeps the connection alive per venue,
// parses every frame with the venue adapter, drops duplicates by venue sequence number, and
// reports health — up, down, stale, fresh, gap — while reconnecting with exponential backoff
// and jitter. Long-lived connections are rotated make-before-break (Binance cuts connections
// at 24 h), so the rotation loses nothing and duplicates from the overlap are dropped.
//
// Threads: everything runs on the session's strand of the io_context it was created with; the
// sink is called on that thread. The header keeps Boost out of its includers (compile time).

#include "engine/core/instrument_registry.hpp"
#include "engine/core/tick.hpp"
#include "feeds/frame.hpp"
#include "feeds/venues.hpp"

#include <array>
#include <atomic>
#include <cstdint>
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

namespace seismo::feeds {

struct session_options {
    std::string name; ///< the feed's name (metrics, health triggers)
    venue kind = venue::generic;
    std::string url;
    std::vector<std::string> symbols;  ///< the venue's native symbols
    std::vector<std::string> channels; ///< empty: the venue's trade channel
    core::nanos stale_after = 30 * core::nanos{1'000'000'000};
    /// Rotate the connection (make-before-break) after this long; 0 = never. Binance's own cut
    /// is at 24 h, so its default is 23 h 50 min.
    core::nanos max_connection_age = 0;
    core::nanos backoff_initial = core::nanos{1'000'000'000};
    core::nanos backoff_max = 32 * core::nanos{1'000'000'000};
    /// After HTTP 429 or 418 (rate limited, banned): wait at least this long (or Retry-After).
    core::nanos backoff_rate_limited = 60 * core::nanos{1'000'000'000};
    core::nanos connect_timeout = 10 * core::nanos{1'000'000'000};
    /// Application or WebSocket pings this often (OKX wants one within 30 s of silence, Bybit
    /// every 20 s); 0 picks the venue's default.
    core::nanos keepalive_interval = 0;
    std::size_t max_frame = 1 << 20;
    std::string ca_file; ///< extra PEM trust anchors (a private CA); the system store always counts
};

/// Health transitions a session reports.
enum class health_kind : std::uint8_t {
    up,    ///< connected and subscribed
    down,  ///< connection lost or failed (value: consecutive failures)
    stale, ///< no data frame for stale_after (value: ms since the last one)
    fresh, ///< data again after stale
    gap,   ///< venue sequence numbers skipped (value: numbers missing)
};
[[nodiscard]] const char* to_string(health_kind k) noexcept;

struct health_event {
    health_kind kind = health_kind::up;
    core::nanos at = 0; ///< CLOCK_REALTIME when observed
    std::uint64_t value = 0;
    core::instrument_id inst = core::k_no_instrument; ///< for gaps: the instrument
};

/// Receives what a session produces, on the session's thread.
class session_sink {
  public:
    virtual ~session_sink() = default;
    /// Every frame as received, before parsing. Default: nothing.
    virtual void on_frame(std::uint16_t /*feed*/, std::string_view /*frame*/,
                          core::nanos /*recv_ts*/) {}
    /// Every frame again, after its ticks, health events and refusals were passed on: work that
    /// must see every frame but need not delay its ticks (the journal). Default: nothing.
    virtual void on_frame_done(std::uint16_t /*feed*/, std::string_view /*frame*/,
                               core::nanos /*recv_ts*/) {}
    /// Ticks of one frame, duplicates already dropped.
    virtual void on_ticks(std::uint16_t feed, const core::tick* ticks, std::size_t n) = 0;
    virtual void on_health(std::uint16_t feed, const health_event& e) = 0;
    virtual void on_reject(std::uint16_t feed, reject_reason why, std::string_view detail,
                           std::string_view frame, core::nanos recv_ts) = 0;
};

/// Counters a session keeps (relaxed atomics: written by the session, read by a scrape).
struct session_stats {
    std::atomic<std::uint64_t> frames{0};  ///< data frames received
    std::atomic<std::uint64_t> ticks{0};   ///< ticks passed on
    std::atomic<std::uint64_t> ignored{0}; ///< valid frames with nothing for seismo
    std::atomic<std::uint64_t> control{0}; ///< acks, heartbeats, pongs, status, errors
    std::array<std::atomic<std::uint64_t>, k_reject_reasons> rejected{};
    std::atomic<std::uint64_t> connects{0};   ///< successful connections
    std::atomic<std::uint64_t> reconnects{0}; ///< connection attempts after the first
    std::atomic<std::uint64_t> gaps{0};       ///< gap events
    std::atomic<std::uint64_t> missing{0};    ///< sequence numbers missing in all gaps
    std::atomic<std::uint64_t> rotations{0};  ///< make-before-break connection rotations
    std::atomic<bool> connected{false};
    std::atomic<bool> stale{false};
    std::atomic<core::nanos> last_frame{0}; ///< CLOCK_REALTIME of the last data frame
};

class ws_session {
  public:
    /// Creates a session; nothing happens before start().
    static std::shared_ptr<ws_session> create(boost::asio::io_context& io,
                                              boost::asio::ssl::context& tls, session_options opts,
                                              core::instrument_registry& registry,
                                              session_sink& sink, std::uint16_t feed_id);
    virtual ~ws_session() = default;

    virtual void start() = 0;
    /// Closes the connection and stops reconnecting; safe from any thread.
    virtual void stop() = 0;
    [[nodiscard]] virtual const session_stats& stats() const noexcept = 0;
    [[nodiscard]] virtual const session_options& options() const noexcept = 0;
};

/// A TLS client context verifying peers against the system store (plus `ca_file`, if any).
[[nodiscard]] std::unique_ptr<boost::asio::ssl::context>
make_client_tls(const std::string& ca_file = {});

/// The subscribe messages a session sends for its venue, channels and symbols.
[[nodiscard]] std::vector<std::string> subscribe_messages(const session_options& o);

} // namespace seismo::feeds
