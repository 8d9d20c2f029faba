#pragma once
// The configuration file (DESIGN §9): [engine], [server], [[feed]], [[instrument]], [[signal]].
// Loading validates everything before anything runs; every error names the file, the line and
// what was expected, and the CLI exits 2 on it.

#include "engine/core/instrument_registry.hpp"
#include "engine/core/tick.hpp"
#include "engine/core/time.hpp"
#include "feeds/frame.hpp"
#include "feeds/venue.hpp"
#include "signals/spec.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace seismo::engine {

/// A configuration problem, with its place in the file.
class config_error : public std::runtime_error {
  public:
    config_error(std::string file, std::uint32_t line, std::uint32_t column,
                 const std::string& what);
    [[nodiscard]] const std::string& file() const noexcept { return file_; }
    [[nodiscard]] std::uint32_t line() const noexcept { return line_; }
    [[nodiscard]] std::uint32_t column() const noexcept { return column_; }

  private:
    std::string file_;
    std::uint32_t line_;
    std::uint32_t column_;
};

struct engine_config {
    bool deterministic = false; ///< output without wall-clock fields
    core::nanos lateness = 0;   ///< default allowed event-time lateness per instrument
    std::size_t max_frame_bytes = feeds::k_default_max_frame; ///< generic protocol frames
    /// Venue frames: real venues send legitimately large frames on channels seismo ignores
    /// (a Kraken book-1000 snapshot is ~80 KB), so their limit is higher.
    std::size_t max_venue_frame_bytes = feeds::k_default_max_venue_frame;
    std::size_t max_instruments = core::instrument_registry::k_default_capacity;
    /// The engine thread never sleeps: it spins on the tick queue and, when the engine has
    /// network I/O (feeds, the server), runs that I/O itself between batches (run to
    /// completion: a frame is read, its ticks queued and stepped and its triggers written to
    /// subscribers on one thread, with no wake-up between them).
    bool busy_poll = false;
    int pin_cpu = -1; ///< pin the signal thread to this CPU (-1: don't)
    /// Without busy_poll: how long the engine's thread (running the I/O and the signal step, or
    /// the signal step alone) keeps polling after its last work before it blocks (a wake-up across
    /// CPUs costs 5-40 us on a VM; a tick that comes within the spin is taken without one). 0: park
    /// at once.
    core::nanos idle_spin = 50 * core::k_ns_per_us;
    std::size_t queue_capacity = 65536; ///< ticks in flight between feed and signal threads
    std::size_t journal_segment_bytes = 256u << 20; ///< rotate journal segments at this size
    core::nanos journal_flush_interval = 100 * core::k_ns_per_ms; ///< most a crash can lose
    bool journal_compress = false;                                ///< zstd per journal block
    /// Most bytes of signal state the config may need (windows, histories, per member): a
    /// config needing more is refused at load, naming the signal. Default 4 GiB.
    std::uint64_t memory_budget = std::uint64_t{4} << 30;
    /// Members assumed for a signal whose `select` may also match instruments first seen in a
    /// feed (templates), beyond the configured ones it matches.
    std::uint64_t budget_template_members = 1000;

    bool operator==(const engine_config&) const = default;
};

struct token_config {
    std::string token;
    std::vector<std::string> topics; ///< globs this token may see; empty = all
    std::vector<std::string> roles;  ///< subscribe (the default), metrics, admin

    bool operator==(const token_config&) const = default;
};

struct server_config {
    std::string listen = "127.0.0.1:8080";
    std::vector<token_config> tokens;
    std::size_t max_connections = 1024;
    std::size_t max_subscriptions = 256;  ///< topic patterns per client
    std::size_t max_message_bytes = 4096; ///< inbound WS message limit
    std::size_t replay_ring = 65536;      ///< triggers kept for `since` resumption
    std::size_t session_queue = 4096;     ///< outbound messages queued per subscriber
    std::string tls_cert;                 ///< PEM; with tls_key enables TLS on the listener
    std::string tls_key;
    core::nanos request_timeout = 10 * core::k_ns_per_s; ///< a whole HTTP request within it
    core::nanos idle_timeout = 60 * core::k_ns_per_s;    ///< a silent subscriber is closed
    std::uint32_t client_rate = 100;                     ///< inbound WS messages/s per client
    /// Threads of their own for the server's connections (round robin); 0: on the engine's
    /// thread, the fewest hand-offs between a feed frame and a subscriber.
    std::size_t io_threads = 0;
    /// A thread's deliveries at most once per this (0: each batch at once): triggers within it
    /// of the last delivery wait for its end and go out together — fewer, larger writes for
    /// CPU, at up to this much latency; a trigger after a quiet spell goes at once.
    core::nanos coalesce = 0;
    bool allow_insecure = false; ///< tokens over plain ws:// on a non-loopback address

    bool operator==(const server_config&) const = default;
};

/// Why this listener would send tokens in clear text over the network (tokens, no TLS, a
/// non-loopback address, no allow_insecure); empty when it would not.
[[nodiscard]] std::string insecure_listener(const server_config& s, std::string_view listen);

/// [nats] (DESIGN §10): the JetStream cluster feed handlers publish ticks to and engines
/// publish triggers to.
struct nats_config {
    std::vector<std::string> servers; ///< nats://host:port (tls://... with tls = true)
    std::string token;                ///< or
    std::string creds;                ///< a .creds file (JWT and NKey seed)
    bool tls = false;
    std::int64_t replicas = 1;                      ///< of the streams seismo creates
    std::string tick_stream = "SEISMO_TICKS";       ///< subjects seismo.tick.>
    std::string trigger_stream = "SEISMO_TRIGGERS"; ///< subjects seismo.trigger.>
    core::nanos max_age = 7 * 86'400 * core::k_ns_per_s;
    core::nanos duplicate_window = 10 * 60 * core::k_ns_per_s;
    /// Messages that may wait for NATS (unreachable, acks behind); past it they are counted as
    /// dropped.
    std::size_t buffer = 100'000;
    core::nanos ack_wait = 5 * core::k_ns_per_s; ///< an unacknowledged message is resent after it
    /// A restarted engine rebuilds from now - (its longest window + rebuild_margin).
    core::nanos rebuild_margin = 60 * core::k_ns_per_s;
    bool publish_triggers = true; ///< an engine publishes its triggers to trigger_stream
    std::uint32_t line = 0;

    bool operator==(const nats_config&) const = default;
};

struct feed_config {
    std::string name;
    std::string venue;
    std::string url;
    std::string stream;  ///< venue "nats": the JetStream stream it reads
    std::string subject; ///< venue "nats": the subject filter (one, as nats-server 2.9 allows)
    std::vector<std::string> symbols;
    std::vector<std::string> channels; ///< venue channels; empty = the venue's defaults
    core::nanos stale_after = 30 * core::k_ns_per_s;
    /// Rotate connections (make-before-break) after this long; default 23h50m for binance
    /// (which cuts at 24 h), never for the others.
    std::optional<core::nanos> max_connection_age;
    std::string ca_file; ///< extra PEM trust anchors for wss:// (a private CA)
    std::optional<std::size_t> max_frame_bytes;
    std::uint32_t line = 0;

    /// The same feed, wherever it stands in the file.
    [[nodiscard]] bool same_as(const feed_config& o) const {
        return name == o.name && venue == o.venue && url == o.url && stream == o.stream &&
               subject == o.subject && symbols == o.symbols && channels == o.channels &&
               stale_after == o.stale_after && max_connection_age == o.max_connection_age &&
               ca_file == o.ca_file && max_frame_bytes == o.max_frame_bytes;
    }
};

struct instrument_config {
    core::instrument_info info;
    std::vector<std::pair<std::string, std::string>> aliases; ///< (venue, native symbol)
    std::uint32_t line = 0;
};

struct config {
    std::string file; ///< path, or "<playbook>" for the embedded default
    std::string text; ///< the TOML as loaded (journals keep it)
    engine_config engine;
    server_config server;
    std::optional<nats_config> nats; ///< [nats], when present
    std::vector<feed_config> feeds;
    std::vector<instrument_config> instruments;
    std::vector<core::instrument_template> templates;
    std::vector<signals::signal_spec> signals;
    std::vector<std::uint32_t> signal_lines;
    std::vector<std::uint32_t> order; ///< signal indices in evaluation (topological) order
    std::uint64_t digest = 0;         ///< FNV-1a of the config text (journal headers)
};

/// The one frame size rule: a feed's own `max_frame_bytes`, else [engine] max_frame_bytes for
/// the generic protocol and max_venue_frame_bytes for venue adapters.
[[nodiscard]] std::size_t max_frame_for(const config& cfg, feeds::venue v,
                                        const feed_config* feed = nullptr);

/// The longest window or lookback of any signal (0 when none): how far back a restarted
/// engine must replay to rebuild its state.
[[nodiscard]] core::nanos longest_window(const config& cfg);

/// Parses and validates a config. Throws config_error.
[[nodiscard]] config load_config_file(const std::string& path);
[[nodiscard]] config load_config_string(std::string_view text, const std::string& name);

/// The embedded "liquidity-shock playbook" (deploy/config/playbook.toml, built in).
[[nodiscard]] std::string_view playbook_text();
[[nodiscard]] config load_playbook();

/// Fills a registry with the config's instruments, aliases and templates.
void populate_registry(const config& cfg, core::instrument_registry& reg);

/// Human-readable description of the signal DAG (what `seismo validate` prints).
[[nodiscard]] std::string describe(const config& cfg);

} // namespace seismo::engine
