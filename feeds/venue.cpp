#include "feeds/venue.hpp"

#include "feeds/generic.hpp"
#include "feeds/venues/adapter.hpp"

#include <simdjson.h>

#include <array>

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
