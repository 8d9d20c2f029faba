#include "feeds/venue.hpp"

#include "feeds/generic.hpp"
#include "feeds/venues/adapter.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <initializer_list>

namespace seismo::feeds {
namespace {

using namespace detail;

// The one venue list: in `venue` order, `generic` first.
constexpr std::array<const venue_info*, 6> k_venues{
    &k_generic_info, &k_binance_info, &k_coinbase_info, &k_kraken_info, &k_okx_info, &k_bybit_info};

} // namespace

std::span<const venue_info* const> venues() noexcept {
    return k_venues;
}

const venue_info& info(venue v) noexcept {
    return *k_venues[static_cast<std::size_t>(v)];
}

const char* to_string(venue v) noexcept {
    return info(v).name.data();
}

bool parse_venue(std::string_view s, venue& out) noexcept {
    for (const venue_info* v : k_venues) {
        if (v->name == s) {
            out = v->id;
            return true;
        }
    }
    return false;
}

std::string venue_names(std::string_view separator) {
    std::string s;
    for (const venue_info* v : k_venues) {
        if (!s.empty()) s += separator;
        s += v->name;
    }
    return s;
}

namespace {

/// The value of `key` when the frame opens with it, as the venues write it: `{"key":"value"`
/// (no whitespace, no escapes, at most 64 bytes); empty otherwise.
std::string_view leading_value(std::string_view raw, std::size_t at, std::string_view key) {
    if (raw.size() < at + key.size() + 5 || raw[at] != '"') return {};
    if (raw.compare(at + 1, key.size(), key) != 0) return {};
    std::size_t p = at + 1 + key.size();
    if (raw.compare(p, 3, "\":\"") != 0) return {};
    p += 3;
    const std::size_t end = raw.find('"', p);
    if (end == std::string_view::npos || end - p > 64) return {};
    const std::string_view v = raw.substr(p, end - p);
    return v.find('\\') == std::string_view::npos ? v : std::string_view{};
}

bool one_of(std::string_view v, std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), v) != names.end();
}

/// Whether a frame belongs to a channel the venue's adapter ignores whole, judged from its
/// first bytes only; false whenever they do not say (the full parse then decides). A frame so
/// judged is counted as ignored without being validated.
bool unused_channel(venue v, std::string_view raw) {
    if (raw.size() < 16 || raw[0] != '{') return false;
    switch (v) {
    case venue::binance: {
        // Combined streams name the stream first: "<symbol>@depth...", "@kline_1m".
        const std::string_view stream = leading_value(raw, 1, "stream");
        if (const auto at = stream.find('@'); at != std::string_view::npos) {
            const std::string_view ch = stream.substr(at + 1);
            return ch.starts_with("depth") || ch.starts_with("kline");
        }
        return leading_value(raw, 1, "e") == "depthUpdate";
    }
    case venue::coinbase:
        return one_of(leading_value(raw, 1, "type"),
                      {"l2update", "snapshot", "received", "open", "done", "change", "activate"});
    case venue::okx: {
        // {"arg":{"channel":"books5","instId":...},"data":[...]}
        constexpr std::string_view open = R"({"arg":{)";
        if (!raw.starts_with(open)) return false;
        const std::string_view ch = leading_value(raw, open.size(), "channel");
        return !ch.empty() && !one_of(ch, {"trades", "trades-all", "tickers"});
    }
    case venue::kraken:
        return one_of(leading_value(raw, 1, "channel"), {"book", "ohlc", "level3"});
    case venue::bybit: {
        const std::string_view topic = leading_value(raw, 1, "topic");
        return topic.starts_with("orderbook.") || topic.starts_with("kline.");
    }
    case venue::generic:
        break;
    }
    return false;
}

} // namespace

struct venue_parser::impl {
    venue kind;
    core::symbol_cache* symbols;
    std::size_t max_frame;
    od::parser parser;
    std::unique_ptr<generic_parser> generic;

    impl(venue v, core::symbol_cache& s, std::size_t max) : kind(v), symbols(&s), max_frame(max) {
        if (v == venue::generic) generic = std::make_unique<generic_parser>(s, max);
    }

    parse_result parse(const char* data, std::size_t len, std::size_t capacity, nanos recv,
                       std::vector<core::tick>& o) {
        if (kind == venue::generic) return generic->parse(data, len, capacity, recv, o);
        if (len > max_frame) {
            return parse_result::reject(reject_reason::oversize, "frame larger than the limit");
        }
        venue_context c{symbols, &o, recv, 0};
        const std::size_t start = o.size();
        const std::string_view raw(data, len);
        if (kind == venue::okx && raw == "pong") return k_control; // not JSON: OKX's keepalive
        // Order books and the like, recognised by the channel name the frame opens with and
        // ignored without a parse (a full venue capture is mostly these).
        if (unused_channel(kind, raw)) return k_ignored;
        od::document doc;
        if (parser.iterate(data, len, capacity).get(doc) != simdjson::SUCCESS) {
            return malformed("not valid JSON");
        }
        od::json_type root{};
        if (doc.type().get(root) != simdjson::SUCCESS) return malformed("not valid JSON");
        parse_result r = k_ignored;
        switch (kind) {
        case venue::binance:
            r = parse_binance(c, doc, raw);
            break;
        case venue::coinbase:
            r = parse_coinbase(c, doc, raw);
            break;
        case venue::kraken:
            r = parse_kraken(c, doc, raw);
            break;
        case venue::okx:
            r = parse_okx(c, doc, raw);
            break;
        case venue::bybit:
            r = parse_bybit(c, doc, raw);
            break;
        case venue::generic:
            break;
        }
        // Trailing bytes after a root object (every adapter walks a root object to its end;
        // Kraken v1's root arrays are read selectively and left alone).
        if (r.status != frame_status::rejected && root == od::json_type::object &&
            doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
            r = malformed("trailing content after JSON");
        }
        // The outcome says what the frame gave: "ticks" only with ticks (a trade message with
        // an empty list gave none), and no ticks kept from a frame that is not applied.
        if (r.status == frame_status::ticks && o.size() == start) r.status = frame_status::ignored;
        if (r.status != frame_status::ticks) o.resize(start);
        if (r.status != frame_status::rejected) r.connection_seq = c.connection_seq;
        return r;
    }
};

venue_parser::venue_parser(venue v, core::symbol_cache& symbols, std::size_t max_frame)
    : p_(std::make_unique<impl>(v, symbols, max_frame)) {}
venue_parser::~venue_parser() = default;

parse_result venue_parser::parse(const char* data, std::size_t len, std::size_t capacity,
                                 core::nanos recv_ts, std::vector<core::tick>& out) {
    return p_->parse(data, len, capacity, recv_ts, out);
}

venue venue_parser::kind() const noexcept {
    return p_->kind;
}

} // namespace seismo::feeds
