#include "engine/config.hpp"

#include "engine/core/string_map.hpp"
#include "engine/core/time.hpp"
#include "engine/publish/server.hpp"
#include "signals/bucket.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

namespace seismo::engine {

config_error::config_error(std::string file, std::uint32_t line, std::uint32_t column,
                           const std::string& what)
    // A position only when there is one: an unreadable file is "FILE: why", not "FILE:0:0".
    : std::runtime_error(line == 0 ? file + ": " + what
                                   : file + ":" + std::to_string(line) + ":" +
                                         std::to_string(column) + ": " + what),
      file_(std::move(file)), line_(line), column_(column) {}

std::size_t max_frame_for(const config& cfg, feeds::venue v, const feed_config* feed) {
    if (feed != nullptr && feed->max_frame_bytes) return *feed->max_frame_bytes;
    return v == feeds::venue::generic ? cfg.engine.max_frame_bytes
                                      : cfg.engine.max_venue_frame_bytes;
}

namespace {

using signals::signal_kind;

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i != 0) s += sep;
        s += v[i];
    }
    return s;
}

/// Reads one TOML table, tracking the keys used so leftovers can be reported as unknown.
class reader {
  public:
    reader(const toml::table& t, std::string context, const std::string& file)
        : t_(t), ctx_(std::move(context)), file_(file) {}

    [[noreturn]] void fail_at(const toml::source_region& src, const std::string& msg) const {
        throw config_error(file_, src.begin.line, src.begin.column, ctx_ + ": " + msg);
    }
    [[noreturn]] void fail(std::string_view key, const std::string& msg) const {
        const toml::node* n = t_.get(key);
        fail_at(n != nullptr ? n->source() : t_.source(), msg);
    }

    [[nodiscard]] bool has(std::string_view key) const { return t_.contains(key); }
    [[nodiscard]] const toml::node* node(std::string_view key) {
        used_.insert(std::string(key));
        return t_.get(key);
    }

    std::optional<std::string> str(std::string_view key) {
        const toml::node* n = node(key);
        if (n == nullptr) return std::nullopt;
        if (!n->is_string()) fail(key, "'" + std::string(key) + "' must be a string");
        return std::string(*n->value<std::string_view>());
    }
    std::string required_str(std::string_view key) {
        auto v = str(key);
        if (!v) fail_at(t_.source(), "missing required key '" + std::string(key) + "'");
        if (v->empty()) fail(key, "'" + std::string(key) + "' must not be empty");
        return *v;
    }
    std::optional<double> number(std::string_view key) {
        const toml::node* n = node(key);
        if (n == nullptr) return std::nullopt;
        if (!n->is_number()) fail(key, "'" + std::string(key) + "' must be a number");
        const double v = *n->value<double>();
        if (!std::isfinite(v)) fail(key, "'" + std::string(key) + "' must be finite");
        return v;
    }
    std::optional<std::int64_t> integer(std::string_view key, std::int64_t lo, std::int64_t hi) {
        const toml::node* n = node(key);
        if (n == nullptr) return std::nullopt;
        if (!n->is_integer()) fail(key, "'" + std::string(key) + "' must be an integer");
        const std::int64_t v = *n->value<std::int64_t>();
        if (v < lo || v > hi) {
            fail(key, "'" + std::string(key) + "' must be between " + std::to_string(lo) + " and " +
                          std::to_string(hi));
        }
        return v;
    }
    std::optional<bool> boolean(std::string_view key) {
        const toml::node* n = node(key);
        if (n == nullptr) return std::nullopt;
        if (!n->is_boolean()) fail(key, "'" + std::string(key) + "' must be true or false");
        return *n->value<bool>();
    }
    std::optional<core::nanos> duration(std::string_view key) {
        const toml::node* n = node(key);
        if (n == nullptr) return std::nullopt;
        if (!n->is_string()) {
            fail(key,
                 "'" + std::string(key) +
                     "' must be a duration string such as \"250ms\", \"90s\", \"6h\" or \"1d\"");
        }
        const auto s = *n->value<std::string_view>();
        core::nanos d = 0;
        if (!core::parse_duration(s, d)) {
            fail(key, "'" + std::string(key) + "': bad duration \"" + std::string(s) +
                          "\" (expected e.g. \"250ms\", \"90s\", \"6h\", \"1d\"; units ns us ms s "
                          "m h d w)");
        }
        return d;
    }
    /// A string or an array of strings.
    std::optional<std::vector<std::string>> strings(std::string_view key) {
        const toml::node* n = node(key);
        if (n == nullptr) return std::nullopt;
        std::vector<std::string> out;
        if (n->is_string()) {
            out.emplace_back(*n->value<std::string_view>());
            return out;
        }
        const toml::array* a = n->as_array();
        if (a == nullptr)
            fail(key, "'" + std::string(key) + "' must be a string or an array of strings");
        for (const auto& el : *a) {
            if (!el.is_string())
                fail_at(el.source(), "'" + std::string(key) + "' must hold strings only");
            out.emplace_back(*el.value<std::string_view>());
        }
        return out;
    }
    const toml::array* array(std::string_view key) {
        const toml::node* n = node(key);
        if (n == nullptr) return nullptr;
        const toml::array* a = n->as_array();
        if (a == nullptr) fail(key, "'" + std::string(key) + "' must be an array");
        return a;
    }

    /// Reports the first key not in `allowed` (and not read).
    void finish(const std::vector<std::string>& allowed, std::string_view hint = {}) const {
        for (const auto& [k, v] : t_) {
            const std::string key(k.str());
            if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
            std::string msg = "unknown key '" + key + "'";
            if (!hint.empty()) msg += " " + std::string(hint);
            msg += " (expected one of: " + join(allowed) + ")";
            fail_at(k.source(), msg);
        }
    }

    [[nodiscard]] const toml::table& table() const { return t_; }
    [[nodiscard]] const std::string& context() const { return ctx_; }

  private:
    const toml::table& t_;
    std::string ctx_;
    const std::string& file_;
    std::set<std::string> used_;
};

const toml::table& as_table(const toml::node& n, const std::string& file, const std::string& what) {
    const toml::table* t = n.as_table();
    if (t == nullptr) {
        throw config_error(file, n.source().begin.line, n.source().begin.column,
                           what + " must be a table");
    }
    return *t;
}

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 128) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

/// "512MiB", "4GiB", "64KiB", "1TiB", "1000000B" or plain digits (bytes).
bool parse_bytes(std::string_view s, std::uint64_t& out) {
    std::uint64_t n = 0;
    std::size_t i = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
        if (n > (UINT64_MAX - 9) / 10) return false;
        n = n * 10 + static_cast<std::uint64_t>(s[i] - '0');
    }
    if (i == 0) return false;
    const std::string_view unit = s.substr(i);
    unsigned shift = 0;
    if (unit.empty() || unit == "B")
        shift = 0;
    else if (unit == "KiB")
        shift = 10;
    else if (unit == "MiB")
        shift = 20;
    else if (unit == "GiB")
        shift = 30;
    else if (unit == "TiB")
        shift = 40;
    else
        return false;
    if (shift != 0 && n > (UINT64_MAX >> shift)) return false;
    out = n << shift;
    return true;
}

std::string human_bytes(std::uint64_t b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = static_cast<double>(b);
    std::size_t u = 0;
    while (v >= 1024 && u + 1 < std::size(units)) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

/// Bounds every signal's state at load time (DESIGN §12: memory is linear and known): a window
/// or history too fine for one member, or a config whose signals together need more than
/// [engine] memory_budget, is refused, naming the signal, its line and the bytes.
void check_memory(const config& cfg) {
    constexpr std::int64_t k_max_buckets = std::int64_t{1} << 31; // the rings' 32-bit counters
    std::uint64_t total = 0;
    std::size_t largest = 0;
    std::uint64_t largest_bytes = 0;
    for (std::size_t i = 0; i < cfg.signals.size(); ++i) {
        const auto& s = cfg.signals[i];
        const std::uint32_t line = cfg.signal_lines[i];
        const core::nanos span = s.kind == signals::signal_kind::change ? s.lookback : s.window;
        const bool windowed =
            s.kind == signals::signal_kind::change || ((s.kind == signals::signal_kind::drawdown ||
                                                        s.kind == signals::signal_kind::breadth) &&
                                                       s.ref == signals::ref_kind::window);
        if (windowed && signals::buckets_for(span, s.effective_resolution()) > k_max_buckets) {
            throw config_error(cfg.file, line, 1,
                               "[[signal]] '" + s.name +
                                   "': its window over its resolution is more than 2^31 "
                                   "buckets; use a coarser 'resolution'");
        }
        std::uint64_t members = 0;
        for (const auto& ic : cfg.instruments) {
            bool m = std::find(s.instruments.begin(), s.instruments.end(), ic.info.symbol) !=
                     s.instruments.end();
            for (const auto& sel : s.select)
                m = m || sel.matches(ic.info);
            members += m ? 1 : 0;
        }
        if (!s.select.empty() && !cfg.templates.empty())
            members += cfg.engine.budget_template_members;
        if (s.kind == signals::signal_kind::composite) members = 1;
        members = std::max<std::uint64_t>(members, 1);
        const std::uint64_t per = s.member_state_bytes();
        std::uint64_t bytes = 0;
        if (__builtin_mul_overflow(per, members, &bytes)) bytes = UINT64_MAX;
        if (bytes > cfg.engine.memory_budget) {
            throw config_error(
                cfg.file, line, 1,
                "[[signal]] '" + s.name + "': its state needs " + human_bytes(bytes) + " (" +
                    std::to_string(members) + " members x " + human_bytes(per) +
                    "), over [engine] memory_budget = " + human_bytes(cfg.engine.memory_budget) +
                    "; use a coarser 'resolution' or a shorter window, or raise the budget");
        }
        if (bytes > largest_bytes) {
            largest_bytes = bytes;
            largest = i;
        }
        total = bytes > UINT64_MAX - total ? UINT64_MAX : total + bytes;
        if (total > cfg.engine.memory_budget) {
            const auto& big = cfg.signals[largest];
            throw config_error(cfg.file, cfg.signal_lines[largest], 1,
                               "the signals need " + human_bytes(total) +
                                   " of state, over [engine] memory_budget = " +
                                   human_bytes(cfg.engine.memory_budget) + "; the largest is '" +
                                   big.name + "' (" + human_bytes(largest_bytes) + ")");
        }
    }
}

void read_engine(const toml::table& root, config& cfg) {
    const toml::node* n = root.get("engine");
    if (n == nullptr) return;
    reader r(as_table(*n, cfg.file, "[engine]"), "[engine]", cfg.file);
    if (auto v = r.boolean("deterministic")) cfg.engine.deterministic = *v;
    if (auto v = r.duration("lateness")) cfg.engine.lateness = *v;
    if (auto v = r.integer("max_frame_bytes", 64, 64 << 20))
        cfg.engine.max_frame_bytes = static_cast<std::size_t>(*v);
    if (auto v = r.integer("max_venue_frame_bytes", 64, 64 << 20))
        cfg.engine.max_venue_frame_bytes = static_cast<std::size_t>(*v);
    if (auto v = r.integer("max_instruments", 1, 1 << 24))
        cfg.engine.max_instruments = static_cast<std::size_t>(*v);
    if (auto v = r.boolean("busy_poll")) cfg.engine.busy_poll = *v;
    if (auto v = r.integer("pin_cpu", -1, 4095)) cfg.engine.pin_cpu = static_cast<int>(*v);
    if (auto v = r.duration("idle_spin")) {
        if (*v < 0 || *v > 10 * core::k_ns_per_ms)
            r.fail("idle_spin", "'idle_spin' must be between \"0us\" and \"10ms\"");
        cfg.engine.idle_spin = *v;
    }
    if (auto v = r.integer("queue_capacity", 1024, 1 << 24))
        cfg.engine.queue_capacity = static_cast<std::size_t>(*v);
    if (auto v = r.integer("journal_segment_bytes", 1 << 16, std::int64_t{1} << 40))
        cfg.engine.journal_segment_bytes = static_cast<std::size_t>(*v);
    if (auto v = r.duration("journal_flush_interval")) {
        if (*v <= 0) r.fail("journal_flush_interval", "'journal_flush_interval' must be positive");
        cfg.engine.journal_flush_interval = *v;
    }
    if (auto v = r.boolean("journal_compress")) cfg.engine.journal_compress = *v;
    if (auto v = r.str("memory_budget")) {
        if (!parse_bytes(*v, cfg.engine.memory_budget) || cfg.engine.memory_budget == 0) {
            r.fail("memory_budget",
                   "'memory_budget' must be a size such as \"512MiB\", \"4GiB\" or \"1TiB\"");
        }
    }
    r.finish({"deterministic", "lateness", "max_frame_bytes", "max_venue_frame_bytes",
              "max_instruments", "busy_poll", "pin_cpu", "idle_spin", "queue_capacity",
              "journal_segment_bytes", "journal_flush_interval", "journal_compress",
              "memory_budget"});
}

} // namespace

std::string insecure_listener(const server_config& s, std::string_view listen) {
    publish::listen_address where;
    std::string why;
    if (s.tokens.empty() || !s.tls_cert.empty() || s.allow_insecure ||
        !publish::parse_listen(listen, where, why) || where.loopback()) {
        return {};
    }
    return "tokens would cross the network in clear text: listen on " + std::string(listen) +
           " is not loopback and has no TLS; set tls_cert and tls_key, listen on 127.0.0.1, or "
           "set allow_insecure = true behind a TLS-terminating proxy";
}

namespace {

void read_server(const toml::table& root, config& cfg) {
    const toml::node* n = root.get("server");
    if (n == nullptr) return;
    reader r(as_table(*n, cfg.file, "[server]"), "[server]", cfg.file);
    if (auto v = r.str("listen")) {
        publish::listen_address where;
        std::string why;
        if (!publish::parse_listen(*v, where, why)) r.fail("listen", "'listen' " + why);
        cfg.server.listen = *v;
    }
    if (const toml::array* a = r.array("tokens")) {
        for (const auto& el : *a) {
            reader t(as_table(el, cfg.file, "[server].tokens entry"), "[server].tokens", cfg.file);
            t.finish({"token", "topics", "roles"});
            token_config tc;
            tc.token = t.required_str("token");
            if (tc.token.empty()) t.fail("token", "'token' must not be empty");
            for (const auto& other : cfg.server.tokens) {
                if (other.token == tc.token) t.fail("token", "the same token is listed twice");
            }
            if (auto topics = t.strings("topics")) tc.topics = *topics;
            if (auto roles = t.strings("roles")) {
                for (const auto& role : *roles) {
                    if (publish::role_named(role) == 0) {
                        t.fail("roles", "unknown role '" + role + "' (subscribe, metrics, admin)");
                    }
                }
                tc.roles = *roles;
            }
            cfg.server.tokens.push_back(std::move(tc));
        }
    }
    if (auto v = r.integer("max_connections", 1, 1 << 20))
        cfg.server.max_connections = static_cast<std::size_t>(*v);
    if (auto v = r.integer("max_subscriptions", 1, 1 << 16))
        cfg.server.max_subscriptions = static_cast<std::size_t>(*v);
    if (auto v = r.integer("max_message_bytes", 64, 1 << 20))
        cfg.server.max_message_bytes = static_cast<std::size_t>(*v);
    if (auto v = r.integer("replay_ring", 16, 1 << 24))
        cfg.server.replay_ring = static_cast<std::size_t>(*v);
    if (auto v = r.integer("session_queue", 16, 1 << 20))
        cfg.server.session_queue = static_cast<std::size_t>(*v);
    if (auto v = r.str("tls_cert")) cfg.server.tls_cert = *v;
    if (auto v = r.str("tls_key")) cfg.server.tls_key = *v;
    if (cfg.server.tls_cert.empty() != cfg.server.tls_key.empty()) {
        r.fail(cfg.server.tls_cert.empty() ? "tls_key" : "tls_cert",
               "'tls_cert' and 'tls_key' go together");
    }
    if (auto d = r.duration("request_timeout")) {
        if (*d < core::k_ns_per_ms * 100)
            r.fail("request_timeout", "'request_timeout' must be at least 100ms");
        cfg.server.request_timeout = *d;
    }
    if (auto d = r.duration("idle_timeout")) {
        if (*d != 0 && *d < core::k_ns_per_ms * 200)
            r.fail("idle_timeout", "'idle_timeout' must be at least 200ms (or \"0s\": never)");
        cfg.server.idle_timeout = *d;
    }
    if (auto v = r.integer("client_rate", 0, 1 << 24))
        cfg.server.client_rate = static_cast<std::uint32_t>(*v);
    if (auto v = r.integer("io_threads", 0, 64))
        cfg.server.io_threads = static_cast<std::size_t>(*v);
    if (auto d = r.duration("coalesce")) {
        if (*d < 0 || *d > 100 * core::k_ns_per_ms)
            r.fail("coalesce", "'coalesce' must be between \"0ms\" and \"100ms\"");
        cfg.server.coalesce = *d;
    }
    if (auto v = r.boolean("allow_insecure")) cfg.server.allow_insecure = *v;
    if (const std::string why = insecure_listener(cfg.server, cfg.server.listen); !why.empty())
        r.fail(r.has("listen") ? "listen" : "tokens", why);
    r.finish({"listen", "tokens", "max_connections", "max_subscriptions", "max_message_bytes",
              "replay_ring", "session_queue", "tls_cert", "tls_key", "request_timeout",
              "idle_timeout", "client_rate", "io_threads", "coalesce", "allow_insecure"});
}

void read_nats(const toml::table& root, config& cfg) {
    const toml::node* n = root.get("nats");
    if (n == nullptr) return;
    reader r(as_table(*n, cfg.file, "[nats]"), "[nats]", cfg.file);
    r.finish({"servers", "token", "creds", "tls", "replicas", "tick_stream", "trigger_stream",
              "max_age", "duplicate_window", "buffer", "ack_wait", "rebuild_margin",
              "publish_triggers"});
    nats_config c;
    c.line = n->source().begin.line;
    auto servers = r.strings("servers");
    if (!servers || servers->empty())
        r.fail_at(n->source(),
                  "'servers' is required: the NATS URLs, e.g. [\"nats://127.0.0.1:4222\"]");
    for (const auto& s : *servers) {
        if (!s.starts_with("nats://") && !s.starts_with("tls://")) {
            r.fail("servers", "server '" + s + "' must start with nats:// or tls://");
        }
    }
    c.servers = *servers;
    if (auto v = r.str("token")) c.token = *v;
    if (auto v = r.str("creds")) c.creds = *v;
    if (!c.token.empty() && !c.creds.empty()) r.fail("creds", "give 'token' or 'creds', not both");
    if (auto v = r.boolean("tls")) c.tls = *v;
    if (auto v = r.integer("replicas", 1, 5)) c.replicas = *v;
    auto stream_name = [&](std::string_view key, std::string& out) {
        if (auto v = r.str(key)) {
            if (v->empty() || v->find_first_of(" \t.*>/\\") != std::string::npos)
                r.fail(key,
                       "'" + std::string(key) +
                           "' must be a stream name without spaces, '.', '*', '>', '/' or '\\'");
            out = *v;
        }
    };
    stream_name("tick_stream", c.tick_stream);
    stream_name("trigger_stream", c.trigger_stream);
    if (c.tick_stream == c.trigger_stream)
        r.fail("trigger_stream", "'trigger_stream' must differ from 'tick_stream'");
    if (auto v = r.duration("max_age")) {
        if (*v <= 0) r.fail("max_age", "'max_age' must be positive");
        c.max_age = *v;
    }
    if (auto v = r.duration("duplicate_window")) {
        if (*v <= 0) r.fail("duplicate_window", "'duplicate_window' must be positive");
        c.duplicate_window = *v;
    }
    if (c.duplicate_window > c.max_age)
        r.fail(r.has("duplicate_window") ? "duplicate_window" : "max_age",
               "'duplicate_window' must not exceed 'max_age' (JetStream refuses such a stream)");
    if (auto v = r.integer("buffer", 1, 100'000'000)) c.buffer = static_cast<std::size_t>(*v);
    if (auto v = r.duration("ack_wait")) {
        if (*v < 100 * core::k_ns_per_ms) r.fail("ack_wait", "'ack_wait' must be at least 100ms");
        c.ack_wait = *v;
    }
    if (auto v = r.duration("rebuild_margin")) {
        if (*v < 0) r.fail("rebuild_margin", "'rebuild_margin' must not be negative");
        c.rebuild_margin = *v;
    }
    if (auto v = r.boolean("publish_triggers")) c.publish_triggers = *v;
    cfg.nats = std::move(c);
}

/// After the signals are read: the streams must keep what a restart needs.
void check_nats(const toml::table& root, const config& cfg) {
    if (!cfg.nats) return;
    const core::nanos need = longest_window(cfg);
    if (cfg.nats->max_age < need) {
        const auto* t = root["nats"].as_table();
        const toml::node* n = t != nullptr ? t->get("max_age") : nullptr;
        const auto& src = n != nullptr ? n->source() : root["nats"].node()->source();
        throw config_error(cfg.file, src.begin.line, src.begin.column,
                           "[nats]: 'max_age' (" + core::format_duration(cfg.nats->max_age) +
                               ") must be at least the longest signal window (" +
                               core::format_duration(need) +
                               "): a restarted engine rebuilds its windows from the stream");
    }
}

void read_feeds(const toml::table& root, config& cfg) {
    const toml::node* n = root.get("feed");
    if (n == nullptr) return;
    const toml::array* a = n->as_array();
    if (a == nullptr) {
        throw config_error(cfg.file, n->source().begin.line, n->source().begin.column,
                           "'feed' must be an array of tables ([[feed]])");
    }
    std::set<std::string> names;
    for (const auto& el : *a) {
        reader r(as_table(el, cfg.file, "[[feed]]"), "[[feed]]", cfg.file);
        // Unknown keys first, so that a typo is reported as itself.
        r.finish({"name", "venue", "url", "symbols", "channels", "stale_after",
                  "max_connection_age", "ca_file", "max_frame_bytes", "stream", "subjects"});
        if (cfg.feeds.size() == 64) r.fail_at(el.source(), "at most 64 feeds");
        feed_config f;
        f.line = el.source().begin.line;
        f.name = r.required_str("name");
        if (!valid_name(f.name)) r.fail("name", "feed name must use letters, digits, '_' or '-'");
        if (!names.insert(f.name).second) r.fail("name", "duplicate feed name '" + f.name + "'");
        f.venue = r.required_str("venue");
        if (f.venue == "nats") {
            // Generic-protocol ticks from a JetStream stream (DESIGN §10).
            if (!cfg.nats)
                r.fail("venue", "a feed with venue \"nats\" needs a [nats] section (its servers)");
            for (const char* k :
                 {"url", "symbols", "channels", "stale_after", "max_connection_age", "ca_file"}) {
                if (r.has(k))
                    r.fail(k, "'" + std::string(k) +
                                  "' does not apply to a nats feed (it reads "
                                  "a stream of [nats] servers)");
            }
            f.stream = r.str("stream").value_or(cfg.nats->tick_stream);
            if (f.stream.empty()) r.fail("stream", "'stream' must not be empty");
            const auto subjects =
                r.strings("subjects").value_or(std::vector<std::string>{"seismo.tick.>"});
            if (subjects.size() != 1)
                r.fail("subjects", "give exactly one subject filter (nats-server 2.9 consumers "
                                   "filter on one subject; \"seismo.tick.>\" takes every feed)");
            if (!subjects[0].starts_with("seismo.tick."))
                r.fail("subjects", "the subject must be under seismo.tick. (what `seismo feed` "
                                   "publishes)");
            f.subject = subjects[0];
            if (auto v = r.integer("max_frame_bytes", 64, 64 << 20))
                f.max_frame_bytes = static_cast<std::size_t>(*v);
            cfg.feeds.push_back(std::move(f));
            continue;
        }
        for (const char* k : {"stream", "subjects"}) {
            if (r.has(k)) r.fail(k, "'" + std::string(k) + "' applies only to a nats feed");
        }
        if (feeds::venue v{}; !feeds::parse_venue(f.venue, v)) {
            r.fail("venue", "unknown venue '" + f.venue +
                                "' (expected one of: " + feeds::venue_names() + ", nats)");
        }
        f.url = r.required_str("url");
        if (!f.url.starts_with("ws://") && !f.url.starts_with("wss://")) {
            r.fail("url", "'url' must start with ws:// or wss://");
        }
        if (auto v = r.strings("symbols")) f.symbols = *v;
        if (auto v = r.strings("channels")) f.channels = *v;
        // Binance's trade stream is every fill, aggTrade the same fills aggregated per taker
        // order: both on one feed would apply each fill twice.
        const auto has = [&](std::string_view c) {
            return std::find(f.channels.begin(), f.channels.end(), c) != f.channels.end();
        };
        if (f.venue == "binance" && has("trade") && has("aggTrade")) {
            r.fail("channels", "'trade' and 'aggTrade' carry the same fills: subscribing to both "
                               "applies every trade twice; choose one (aggTrade is the default)");
        }
        if (auto v = r.duration("stale_after")) {
            if (*v <= 0) r.fail("stale_after", "'stale_after' must be positive");
            f.stale_after = *v;
        }
        if (auto v = r.duration("max_connection_age")) {
            if (*v < 0) r.fail("max_connection_age", "'max_connection_age' must not be negative");
            f.max_connection_age = *v;
        }
        if (auto v = r.str("ca_file")) f.ca_file = *v;
        if (auto v = r.integer("max_frame_bytes", 64, 64 << 20))
            f.max_frame_bytes = static_cast<std::size_t>(*v);
        cfg.feeds.push_back(std::move(f));
    }
}

void read_instruments(const toml::table& root, config& cfg) {
    const toml::node* n = root.get("instrument");
    if (n == nullptr) return;
    const toml::array* a = n->as_array();
    if (a == nullptr) {
        throw config_error(cfg.file, n->source().begin.line, n->source().begin.column,
                           "'instrument' must be an array of tables ([[instrument]])");
    }
    std::set<std::string> symbols;
    std::set<std::string> aliases;
    for (const auto& el : *a) {
        reader r(as_table(el, cfg.file, "[[instrument]]"), "[[instrument]]", cfg.file);
        // Unknown keys first, so that a typo is reported as itself.
        if (r.has("match") && !r.has("symbol")) {
            r.finish({"match", "tags", "kind", "lateness"},
                     "(a 'match' template takes no symbol, aliases or prev_close)");
        } else {
            r.finish({"symbol", "aliases", "tags", "prev_close", "kind", "lateness"});
        }
        const bool has_symbol = r.has("symbol");
        const bool has_match = r.has("match");
        if (has_symbol == has_match) {
            r.fail_at(el.source(), "needs exactly one of 'symbol' (one instrument) or 'match' "
                                   "(globs for instruments first seen in a feed)");
        }
        core::value_kind kind = core::value_kind::price;
        if (auto k = r.str("kind")) {
            if (*k == "price")
                kind = core::value_kind::price;
            else if (*k == "level")
                kind = core::value_kind::level;
            else
                r.fail("kind", "'kind' must be \"price\" or \"level\"");
        }
        std::vector<std::string> tags;
        if (auto t = r.strings("tags")) tags = *t;
        std::optional<core::nanos> lateness;
        if (auto d = r.duration("lateness")) lateness = *d;
        if (has_match) {
            core::instrument_template t;
            t.globs = *r.strings("match");
            if (t.globs.empty()) r.fail("match", "'match' needs at least one glob");
            t.tags = tags;
            t.kind = kind;
            t.lateness = lateness;
            cfg.templates.push_back(std::move(t));
            continue;
        }
        instrument_config ic;
        ic.line = el.source().begin.line;
        ic.info.symbol = r.required_str("symbol");
        ic.info.tags = tags;
        ic.info.kind = kind;
        ic.info.lateness = lateness;
        ic.info.declared = true;
        if (!symbols.insert(ic.info.symbol).second) {
            r.fail("symbol", "duplicate instrument '" + ic.info.symbol + "'");
        }
        if (auto pc = r.number("prev_close")) {
            if (kind == core::value_kind::price && *pc <= 0) {
                r.fail("prev_close", "'prev_close' must be above zero for a price instrument");
            }
            ic.info.prev_close = *pc;
        }
        if (auto al = r.strings("aliases")) {
            for (const auto& s : *al) {
                const auto colon = s.find(':');
                if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
                    r.fail("aliases",
                           "alias '" + s + "' must be VENUE:NATIVE, e.g. \"binance:BTCUSDT\"");
                }
                if (feeds::venue v{}; !feeds::parse_venue(s.substr(0, colon), v)) {
                    r.fail("aliases", "unknown venue '" + s.substr(0, colon) + "' in alias '" + s +
                                          "' (" + feeds::venue_names() + ")");
                }
                if (!aliases.insert(s).second) r.fail("aliases", "alias '" + s + "' is used twice");
                ic.aliases.emplace_back(s.substr(0, colon), s.substr(colon + 1));
            }
        }
        cfg.instruments.push_back(std::move(ic));
    }
}

const std::vector<std::string>& keys_for(signal_kind k) {
    static const std::map<signal_kind, std::vector<std::string>> k_keys{
        {signal_kind::drawdown, {"window", "ref", "resolution"}},
        {signal_kind::level, {}},
        {signal_kind::change, {"lookback", "units", "resolution"}},
        {signal_kind::breadth, {"window", "ref", "resolution", "member_at", "min_members"}},
        {signal_kind::zscore, {"halflife", "min_count"}},
        {signal_kind::composite, {"inputs", "within"}},
    };
    return k_keys.at(k);
}

void read_reference(reader& r, signals::signal_spec& s) {
    const bool has_window = r.has("window");
    const bool has_ref = r.has("ref");
    if (has_window == has_ref) {
        r.fail_at(r.table().source(), "needs exactly one of 'window' (trailing maximum) or 'ref' "
                                      "(\"prev_close\", \"session_open\" or a number)");
    }
    if (has_window) {
        s.ref = signals::ref_kind::window;
        s.window = *r.duration("window");
        if (s.window <= 0) r.fail("window", "'window' must be positive");
        if (auto res = r.duration("resolution")) {
            if (*res <= 0 || *res > s.window)
                r.fail("resolution", "'resolution' must be positive and at most 'window'");
            s.resolution = *res;
        }
        return;
    }
    const toml::node* n = r.node("ref");
    if (n->is_string()) {
        const auto v = *n->value<std::string_view>();
        if (v == "prev_close")
            s.ref = signals::ref_kind::prev_close;
        else if (v == "session_open")
            s.ref = signals::ref_kind::session_open;
        else
            r.fail("ref", "'ref' must be \"prev_close\", \"session_open\" or a number");
    } else if (n->is_number()) {
        s.ref = signals::ref_kind::fixed;
        s.ref_value = *n->value<double>();
        if (!std::isfinite(s.ref_value) || s.ref_value == 0)
            r.fail("ref", "a fixed 'ref' must be a non-zero number");
    } else {
        r.fail("ref", "'ref' must be \"prev_close\", \"session_open\" or a number");
    }
    if (r.has("resolution")) r.fail("resolution", "'resolution' applies only with 'window'");
}

void read_signals(const toml::table& root, config& cfg) {
    const toml::node* n = root.get("signal");
    if (n == nullptr) return;
    const toml::array* a = n->as_array();
    if (a == nullptr) {
        throw config_error(cfg.file, n->source().begin.line, n->source().begin.column,
                           "'signal' must be an array of tables ([[signal]])");
    }
    std::set<std::string> declared;
    std::set<std::string> tags;
    for (const auto& ic : cfg.instruments) {
        declared.insert(ic.info.symbol);
        tags.insert(ic.info.tags.begin(), ic.info.tags.end());
    }
    for (const auto& t : cfg.templates)
        tags.insert(t.tags.begin(), t.tags.end());
    std::map<std::string, std::uint32_t> names;
    std::vector<const toml::table*> tables;
    for (const auto& el : *a) {
        const toml::table& tbl = as_table(el, cfg.file, "[[signal]]");
        std::string ctx = "[[signal]]";
        if (const auto nm = tbl["name"].value<std::string_view>())
            ctx += " '" + std::string(*nm) + "'";
        reader r(tbl, ctx, cfg.file);
        signals::signal_spec s;
        s.name = r.required_str("name");
        if (!valid_name(s.name))
            r.fail("name", "signal name must use letters, digits, '_' or '-' (it is a topic)");
        if (!names.emplace(s.name, el.source().begin.line).second) {
            r.fail("name", "duplicate signal name '" + s.name + "' (first declared on line " +
                               std::to_string(names[s.name]) + ")");
        }
        const std::string kind = r.required_str("kind");
        if (!signals::parse_signal_kind(kind, s.kind)) {
            r.fail("kind",
                   "unknown kind '" + kind +
                       "' (expected one of: drawdown, level, change, breadth, zscore, composite)");
        }
        std::vector<std::string> allowed{"name",      "kind",  "levels",
                                         "direction", "rearm", "description"};
        if (s.kind != signal_kind::composite) {
            allowed.emplace_back("instruments");
            allowed.emplace_back("select");
        }
        const auto& extra = keys_for(s.kind);
        allowed.insert(allowed.end(), extra.begin(), extra.end());
        // Unknown keys first: a typo (windw) is reported as itself, not as what it left out.
        r.finish(allowed, "for kind '" + kind + "'");
        (void)r.str("description");
        s.dir = signals::default_direction(s.kind);
        if (auto d = r.str("direction")) {
            if (*d == "below")
                s.dir = signals::direction::below;
            else if (*d == "above")
                s.dir = signals::direction::above;
            else
                r.fail("direction", "'direction' must be \"below\" or \"above\"");
        }
        if (auto v = r.number("rearm")) {
            if (*v < 0) r.fail("rearm", "'rearm' must be zero or positive");
            s.rearm = *v;
        }
        // levels
        const toml::array* lv = r.array("levels");
        if (lv == nullptr || lv->empty()) {
            r.fail_at(tbl.source(),
                      "needs 'levels', e.g. levels = [{ at = -0.15, severity = \"critical\" }]");
        }
        if (lv->size() > signals::k_max_levels) r.fail("levels", "at most 64 levels");
        for (const auto& le : *lv) {
            reader l(as_table(le, cfg.file, "a level"), ctx + " level", cfg.file);
            l.finish({"at", "severity"});
            signals::level lvl;
            const auto at = l.number("at");
            if (!at) l.fail_at(le.source(), "missing required key 'at'");
            lvl.at = *at;
            const auto sev = l.str("severity");
            if (sev && !signals::parse_severity(*sev, lvl.sev)) {
                l.fail("severity", "'severity' must be \"info\", \"warning\" or \"critical\"");
            }
            s.levels.push_back(lvl);
        }
        // members
        if (auto v = r.strings("instruments")) {
            for (const auto& sym : *v) {
                if (!declared.contains(sym)) {
                    r.fail("instruments", "unknown instrument '" + sym +
                                              "' (declare it with [[instrument]] symbol = \"" +
                                              sym + "\")");
                }
            }
            s.instruments = *v;
        }
        if (auto v = r.strings("select")) {
            for (const auto& sel : *v) {
                signals::selector parsed;
                if (!signals::selector::parse(sel, parsed)) {
                    r.fail("select",
                           "bad selector '" + sel + "' (expected \"tag:NAME\" or \"sym:GLOB\")");
                }
                if (parsed.what == signals::selector::by::tag && !tags.contains(parsed.text)) {
                    r.fail("select", "selector '" + sel + "' matches no [[instrument]] tag");
                }
                s.select.push_back(parsed);
            }
        }
        const bool has_members = !s.instruments.empty() || !s.select.empty();
        if (s.kind == signal_kind::composite) {
            if (has_members)
                r.fail(r.has("instruments") ? "instruments" : "select",
                       "a composite takes 'inputs', not instruments");
        } else if (!has_members) {
            r.fail_at(tbl.source(), "needs 'instruments' or 'select'");
        }
        switch (s.kind) {
        case signal_kind::drawdown:
            read_reference(r, s);
            break;
        case signal_kind::level:
            break;
        case signal_kind::change: {
            const auto lb = r.duration("lookback");
            if (!lb || *lb <= 0) r.fail_at(tbl.source(), "needs a positive 'lookback' duration");
            s.lookback = *lb;
            if (auto u = r.str("units")) {
                if (*u == "abs")
                    s.units = signals::change_units::abs;
                else if (*u == "pct")
                    s.units = signals::change_units::pct;
                else
                    r.fail("units", "'units' must be \"abs\" or \"pct\"");
            }
            if (auto res = r.duration("resolution")) {
                if (*res <= 0 || *res > s.lookback)
                    r.fail("resolution", "'resolution' must be positive and at most 'lookback'");
                s.resolution = *res;
            }
            break;
        }
        case signal_kind::breadth:
            read_reference(r, s);
            if (auto v = r.number("member_at")) s.member_at = *v;
            if (auto v = r.integer("min_members", 1, 1 << 24))
                s.min_members = static_cast<std::uint32_t>(*v);
            break;
        case signal_kind::zscore: {
            const auto hl = r.duration("halflife");
            if (!hl || *hl <= 0) r.fail_at(tbl.source(), "needs a positive 'halflife' duration");
            s.halflife = *hl;
            if (auto v = r.integer("min_count", 1, 1 << 24))
                s.min_count = static_cast<std::uint32_t>(*v);
            break;
        }
        case signal_kind::composite: {
            auto in = r.strings("inputs");
            if (!in || in->empty())
                r.fail_at(tbl.source(), "needs 'inputs' (names of other signals)");
            if (in->size() > signals::k_max_composite_inputs) r.fail("inputs", "at most 32 inputs");
            std::set<std::string> seen;
            for (const auto& x : *in) {
                if (!seen.insert(x).second) r.fail("inputs", "input '" + x + "' listed twice");
            }
            s.inputs = *in;
            const auto w = r.duration("within");
            if (!w || *w <= 0) r.fail_at(tbl.source(), "needs a positive 'within' duration");
            s.within = *w;
            if (s.dir != signals::direction::above)
                r.fail("direction", "a composite counts active inputs: its direction is \"above\"");
            for (const auto& l : s.levels) {
                if (l.at < 1 || l.at > static_cast<double>(s.inputs.size())) {
                    r.fail("levels",
                           "composite levels count active inputs: 'at' must be between 1 and " +
                               std::to_string(s.inputs.size()));
                }
            }
            break;
        }
        }
        cfg.signals.push_back(std::move(s));
        cfg.signal_lines.push_back(el.source().begin.line);
        tables.push_back(&tbl);
    }
    // Inputs exist, and the inputs form a DAG.
    for (std::size_t i = 0; i < cfg.signals.size(); ++i) {
        for (const auto& in : cfg.signals[i].inputs) {
            if (!names.contains(in)) {
                const toml::node* node = tables[i]->get("inputs");
                throw config_error(cfg.file, node->source().begin.line, node->source().begin.column,
                                   "[[signal]] '" + cfg.signals[i].name +
                                       "': unknown input signal '" + in + "'");
            }
        }
    }
    std::string problem;
    std::size_t culprit = 0;
    if (!signals::topo_order(cfg.signals, cfg.order, problem, culprit)) {
        throw config_error(cfg.file, cfg.signal_lines[culprit], 1,
                           "[[signal]] '" + cfg.signals[culprit].name +
                               "': inputs form a cycle: " + problem);
    }
}

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

/// More instruments than the registry holds fail at load, at the line that passes the limit,
/// not in the run with no line: declared instruments, then feed symbols not declared.
void check_capacity(const config& cfg) {
    const std::size_t cap = cfg.engine.max_instruments;
    std::set<std::string> known; // symbols, and venue:native aliases (not instruments)
    std::size_t declared = 0;
    for (const auto& in : cfg.instruments) {
        declared += known.insert(in.info.symbol).second ? 1 : 0;
        for (const auto& [venue, native] : in.aliases)
            known.insert(venue + ":" + native);
        if (declared > cap) {
            throw config_error(cfg.file, in.line, 1,
                               "[[instrument]] '" + in.info.symbol +
                                   "': more instruments than "
                                   "[engine] max_instruments (" +
                                   std::to_string(cap) + ")");
        }
    }
    std::size_t count = declared;
    std::set<std::string> extra;
    for (const auto& f : cfg.feeds) {
        for (const auto& s : f.symbols) {
            if (known.count(s) != 0 || known.count(f.venue + ":" + s) != 0) continue;
            if (extra.insert(s).second && ++count > cap) {
                throw config_error(cfg.file, f.line, 1,
                                   "[[feed]] '" + f.name +
                                       "': its symbols take the instruments "
                                       "past [engine] max_instruments (" +
                                       std::to_string(cap) + "): raise it or subscribe to fewer");
            }
        }
    }
}

/// A file the config names must be readable now, not when the run gets to it.
void check_readable(const toml::table& root, const config& cfg) {
    auto check = [&](const toml::node* n, const std::string& where, const std::string& key,
                     const std::string& path) {
        if (path.empty() || ::access(path.c_str(), R_OK) == 0) return;
        const auto& src = n != nullptr ? n->source() : root.source();
        throw config_error(cfg.file, src.begin.line, src.begin.column,
                           where + ": '" + key + "' " + path + ": " + std::strerror(errno));
    };
    if (const auto* s = root["server"].as_table()) {
        check(s->get("tls_cert"), "[server]", "tls_cert", cfg.server.tls_cert);
        check(s->get("tls_key"), "[server]", "tls_key", cfg.server.tls_key);
    }
    if (const auto* feeds = root["feed"].as_array()) {
        for (std::size_t i = 0; i < feeds->size() && i < cfg.feeds.size(); ++i) {
            const auto* t = (*feeds)[i].as_table();
            if (t != nullptr)
                check(t->get("ca_file"), "[[feed]] '" + cfg.feeds[i].name + "'", "ca_file",
                      cfg.feeds[i].ca_file);
        }
    }
}

} // namespace

config load_config_string(std::string_view text, const std::string& name) {
    config cfg;
    cfg.file = name;
    cfg.text.assign(text);
    cfg.digest = fnv1a(text);
    toml::table root;
    try {
        root = toml::parse(text, name);
    } catch (const toml::parse_error& e) {
        throw config_error(name, e.source().begin.line, e.source().begin.column,
                           "TOML syntax error: " + std::string(e.description()));
    }
    const std::vector<std::string> sections{"engine", "server",     "nats",
                                            "feed",   "instrument", "signal"};
    for (const auto& [k, v] : root) {
        if (std::find(sections.begin(), sections.end(), k.str()) == sections.end()) {
            throw config_error(name, k.source().begin.line, k.source().begin.column,
                               "unknown top-level key '" + std::string(k.str()) +
                                   "' (expected one of: [engine], [server], [nats], [[feed]], "
                                   "[[instrument]], [[signal]])");
        }
    }
    read_engine(root, cfg);
    read_server(root, cfg);
    read_nats(root, cfg);
    read_feeds(root, cfg);
    read_instruments(root, cfg);
    read_signals(root, cfg);
    check_nats(root, cfg);
    check_capacity(cfg);
    check_readable(root, cfg);
    check_memory(cfg);
    return cfg;
}

core::nanos longest_window(const config& cfg) {
    core::nanos w = 0;
    for (const auto& s : cfg.signals)
        w = std::max({w, s.window, s.lookback});
    return w;
}

config load_config_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw config_error(path, 0, 0, "is a directory, not a config file");
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw config_error(
            path, 0, 0, "cannot open the config file (" + std::string(std::strerror(errno)) + ")");
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
        throw config_error(
            path, 0, 0, "cannot read the config file (" + std::string(std::strerror(errno)) + ")");
    }
    return load_config_string(ss.str(), path);
}

config load_playbook() {
    return load_config_string(playbook_text(), "<playbook>");
}

void populate_registry(const config& cfg, core::instrument_registry& reg) {
    for (const auto& t : cfg.templates)
        reg.add_template(t);
    for (const auto& ic : cfg.instruments) {
        const auto id = reg.add(ic.info);
        if (!id)
            throw config_error(cfg.file, ic.line, 1,
                               "duplicate instrument '" + ic.info.symbol + "'");
        for (const auto& [venue, native] : ic.aliases) {
            if (!reg.add_alias(reg.venue(venue), native, *id)) {
                throw config_error(cfg.file, ic.line, 1,
                                   "alias '" + venue + ":" + native + "' is used twice");
            }
        }
    }
}

std::string describe(const config& cfg) {
    std::ostringstream o;
    o << "config " << cfg.file << ": " << cfg.instruments.size() << " instruments, "
      << cfg.templates.size() << " instrument templates, " << cfg.feeds.size() << " feeds, "
      << cfg.signals.size() << " signals\n";
    for (const auto& f : cfg.feeds) {
        o << "  feed " << f.name << " (" << f.venue << ") " << f.url << "  " << f.symbols.size()
          << " symbols, stale after " << core::format_duration(f.stale_after) << "\n";
    }
    o << "signals in evaluation order:\n";
    for (auto i : cfg.order) {
        const auto& s = cfg.signals[i];
        o << "  " << s.name << "  [" << signals::to_string(s.kind) << ", "
          << signals::to_string(s.dir) << "]";
        if (s.kind == signal_kind::composite) {
            o << "  inputs: " << join(s.inputs) << "  within " << core::format_duration(s.within);
        } else {
            std::vector<std::string> members = s.instruments;
            for (const auto& sel : s.select) {
                members.push_back((sel.what == signals::selector::by::tag ? "tag:" : "sym:") +
                                  sel.text);
            }
            o << "  on " << join(members);
            if (s.kind == signal_kind::drawdown || s.kind == signal_kind::breadth) {
                switch (s.ref) {
                case signals::ref_kind::window:
                    o << "  window " << core::format_duration(s.window);
                    break;
                case signals::ref_kind::prev_close:
                    o << "  vs prev_close";
                    break;
                case signals::ref_kind::session_open:
                    o << "  vs session_open";
                    break;
                case signals::ref_kind::fixed:
                    o << "  vs " << s.ref_value;
                    break;
                }
            }
            if (s.kind == signal_kind::change)
                o << "  lookback " << core::format_duration(s.lookback);
            if (s.kind == signal_kind::zscore)
                o << "  halflife " << core::format_duration(s.halflife);
            if (s.kind == signal_kind::breadth)
                o << "  member_at " << s.member_at << "  min_members " << s.min_members;
        }
        o << "  levels:";
        for (const auto& l : s.levels)
            o << " " << l.at << " " << signals::to_string(l.sev) << ";";
        if (s.rearm != 0) o << " rearm " << s.rearm;
        o << "\n";
    }
    // The DAG as a tree from each composite nobody else reads.
    std::set<std::string> used_as_input;
    for (const auto& s : cfg.signals)
        used_as_input.insert(s.inputs.begin(), s.inputs.end());
    bool any = false;
    auto find = [&](const std::string& n) -> const signals::signal_spec* {
        for (const auto& s : cfg.signals) {
            if (s.name == n) return &s;
        }
        return nullptr;
    };
    auto tree = [&](auto&& self, const signals::signal_spec& s, const std::string& prefix) -> void {
        for (std::size_t i = 0; i < s.inputs.size(); ++i) {
            const bool last = i + 1 == s.inputs.size();
            const auto* in = find(s.inputs[i]);
            o << prefix << (last ? "└── " : "├── ") << s.inputs[i];
            if (in != nullptr) o << " (" << signals::to_string(in->kind) << ")";
            o << "\n";
            if (in != nullptr) self(self, *in, prefix + (last ? "    " : "│   "));
        }
    };
    for (const auto& s : cfg.signals) {
        if (s.kind != signal_kind::composite || used_as_input.contains(s.name)) continue;
        if (!any) o << "DAG:\n";
        any = true;
        o << "  " << s.name << " (composite, within " << core::format_duration(s.within) << ")\n";
        tree(tree, s, "  ");
    }
    return o.str();
}

} // namespace seismo::engine
