// The generic tick protocol (DESIGN §4, docs/formats.md) — for vendors of metals, indices,
// equities and macro series — and the generic venue: `{"op":"subscribe","symbols":[...]}` on
// connecting, WebSocket pings. Gaps: `seq` per instrument, which the protocol keeps contiguous.
#include "feeds/generic.hpp"

#include "engine/core/string_map.hpp"
#include "engine/core/time.hpp"
#include "feeds/json_util.hpp"
#include "feeds/tick_check.hpp"
#include "feeds/venues/adapter.hpp"

#include <simdjson.h>

namespace seismo::feeds {

static_assert(k_padding == simdjson::SIMDJSON_PADDING, "k_padding must match simdjson's padding");

namespace {

using detail::num_status;
namespace od = detail::od;

bool is_blank(const char* p, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') return false;
    }
    return true;
}

/// Epoch ms, or ns when above 1e15.
bool timestamp_from_int(std::int64_t v, core::nanos& out) noexcept {
    if (v < 0) return false;
    if (v > 1'000'000'000'000'000LL) {
        out = v;
        return true;
    }
    if (v > INT64_MAX / core::k_ns_per_ms) return false;
    out = v * core::k_ns_per_ms;
    return true;
}

bool read_timestamp(od::value& v, core::nanos& out) noexcept {
    od::json_type t{};
    if (v.type().get(t) != simdjson::SUCCESS) return false;
    if (t == od::json_type::number) {
        std::int64_t i = 0;
        if (v.get_int64().get(i) != simdjson::SUCCESS) return false;
        return timestamp_from_int(i, out);
    }
    if (t == od::json_type::string) {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS || s.empty()) return false;
        if (s.find_first_not_of("0123456789") == std::string_view::npos) {
            std::int64_t i = 0;
            const auto r = std::from_chars(s.data(), s.data() + s.size(), i);
            return r.ec == std::errc{} && timestamp_from_int(i, out);
        }
        return core::parse_rfc3339(s, out);
    }
    return false;
}

enum class key : std::uint8_t {
    sym,
    px,
    ts,
    sz,
    seq,
    seq_space,
    seq_contiguous,
    prev_close,
    kind,
    venue,
    other
};

/// Matches a raw (still escaped) key against the protocol's names without copying it.
key match_raw_key(od::raw_json_string k) noexcept {
    switch (k.raw()[0]) {
    case 's':
        if (k.unsafe_is_equal("sym")) return key::sym;
        if (k.unsafe_is_equal("sz")) return key::sz;
        if (k.unsafe_is_equal("seq")) return key::seq;
        if (k.unsafe_is_equal("seq_space")) return key::seq_space;
        if (k.unsafe_is_equal("seq_contiguous")) return key::seq_contiguous;
        break;
    case 'p':
        if (k.unsafe_is_equal("px")) return key::px;
        if (k.unsafe_is_equal("prev_close")) return key::prev_close;
        break;
    case 't':
        if (k.unsafe_is_equal("ts")) return key::ts;
        break;
    case 'k':
        if (k.unsafe_is_equal("kind")) return key::kind;
        break;
    case 'v':
        if (k.unsafe_is_equal("venue")) return key::venue;
        break;
    default:
        break;
    }
    return key::other;
}

key match_key(std::string_view k) noexcept {
    if (k == "sym") return key::sym;
    if (k == "px") return key::px;
    if (k == "ts") return key::ts;
    if (k == "sz") return key::sz;
    if (k == "seq") return key::seq;
    if (k == "seq_space") return key::seq_space;
    if (k == "seq_contiguous") return key::seq_contiguous;
    if (k == "prev_close") return key::prev_close;
    if (k == "kind") return key::kind;
    if (k == "venue") return key::venue;
    return key::other;
}

/// True when the raw key holds a backslash before its closing quote (an escaped key).
bool has_escape(od::raw_json_string k) noexcept {
    for (const char* p = k.raw(); *p != '"'; ++p) {
        if (*p == '\\') return true;
    }
    return false;
}

} // namespace

struct generic_parser::impl {
    core::symbol_cache* symbols;
    std::size_t max_frame;
    od::parser parser;
    core::string_map<std::uint16_t> venues;

    impl(core::symbol_cache& s, std::size_t max) : symbols(&s), max_frame(max) {}

    /// One tick object. `whole` is the document when the object is all of it (then anything
    /// after the object is refused), null for a batch's element. Nothing is appended on refusal.
    parse_result object(od::object obj, core::nanos recv_ts, std::vector<core::tick>& out,
                        od::document* whole) {
        std::string_view sym;
        std::uint64_t sym_hash = 0;
        bool has_sym = false, has_px = false, has_prev = false;
        std::uint8_t seq_space = 0;
        bool seq_contiguous = true;
        double px = 0, prev = 0;
        // The tick's fields are locals until the end, where the tick is built in the vector:
        // a tick assembled on the stack and copied there stalled on store forwarding.
        core::nanos exch_ts = 0;
        double sz = 0;
        std::uint64_t seq = 0;
        core::venue_id venue = symbols->venue();
        core::tick_kind kind = core::tick_kind::value;
        for (auto fr : obj) {
            if (fr.error() != simdjson::SUCCESS) {
                return parse_result::reject(reject_reason::malformed, "not valid JSON");
            }
            od::field& field = fr.value_unsafe();
            key k = match_raw_key(field.key());
            if (k == key::other && has_escape(field.key())) {
                // An escaped key ("p\u0078"): unescape it and match again (rare, so slow is fine).
                std::string_view name;
                if (field.unescaped_key().get(name) != simdjson::SUCCESS) {
                    return parse_result::reject(reject_reason::malformed, "not valid JSON");
                }
                k = match_key(name);
            }
            od::value& v = field.value();
            if (k == key::sym) {
                if (v.get_string().get(sym) != simdjson::SUCCESS || sym.empty()) {
                    return parse_result::reject(reject_reason::bad_field,
                                                "sym: expected a non-empty string");
                }
                sym_hash = symbols->prefetch(sym); // its slot loads while the other fields parse
                has_sym = true;
            } else if (k == key::px) {
                const num_status st = detail::read_number(v, px);
                if (st != num_status::ok) {
                    return detail::number_error(st, "px: expected a number or numeric string",
                                                "px: not finite");
                }
                has_px = true;
            } else if (k == key::ts) {
                if (!read_timestamp(v, exch_ts)) {
                    return parse_result::reject(
                        reject_reason::bad_timestamp,
                        "ts: expected epoch ms, epoch ns or an RFC 3339 string");
                }
            } else if (k == key::sz) {
                const num_status st = detail::read_number(v, sz);
                if (st != num_status::ok) {
                    return detail::number_error(st, "sz: expected a number or numeric string",
                                                "sz: not finite");
                }
                if (sz < 0) return parse_result::reject(reject_reason::bad_field, "sz: negative");
            } else if (k == key::seq) {
                if (!detail::read_uint(v, seq)) {
                    return parse_result::reject(reject_reason::bad_field,
                                                "seq: expected an unsigned integer");
                }
            } else if (k == key::seq_space) {
                std::uint64_t sp = 0;
                if (!detail::read_uint(v, sp) || sp > core::k_seq_space_mask) {
                    return parse_result::reject(reject_reason::bad_field,
                                                "seq_space: expected 0, 1, 2 or 3");
                }
                seq_space = static_cast<std::uint8_t>(sp);
            } else if (k == key::seq_contiguous) {
                if (v.get_bool().get(seq_contiguous) != simdjson::SUCCESS) {
                    return parse_result::reject(reject_reason::bad_field,
                                                "seq_contiguous: expected true or false");
                }
            } else if (k == key::prev_close) {
                const num_status st = detail::read_number(v, prev);
                if (st != num_status::ok) {
                    return detail::number_error(st,
                                                "prev_close: expected a number or numeric string",
                                                "prev_close: not finite");
                }
                has_prev = true;
            } else if (k == key::kind) {
                std::string_view name;
                if (v.get_string().get(name) != simdjson::SUCCESS) name = {};
                if (name == "trade")
                    kind = core::tick_kind::trade;
                else if (name == "quote")
                    kind = core::tick_kind::quote;
                else if (name == "value")
                    kind = core::tick_kind::value;
                else {
                    return parse_result::reject(reject_reason::bad_field,
                                                "kind: expected \"trade\", \"quote\" or \"value\"");
                }
            } else if (k == key::venue) {
                std::string_view name;
                if (v.get_string().get(name) != simdjson::SUCCESS || name.empty()) {
                    return parse_result::reject(reject_reason::bad_field,
                                                "venue: expected a non-empty string");
                }
                if (const auto* id = venues.find(name)) {
                    venue = core::venue_id{*id};
                } else if (const auto known = symbols->registry().try_venue(name)) {
                    venue = *known;
                    venues.insert(name, core::index(venue));
                } else {
                    return parse_result::reject(reject_reason::registry_full,
                                                "venue: no room for another venue name");
                }
            }
        }
        if (!has_sym) return parse_result::reject(reject_reason::missing_field, "sym: missing");
        if (!has_px && !has_prev) {
            return parse_result::reject(reject_reason::missing_field, "px: missing");
        }
        const core::symbol_cache::entry e = symbols->resolve(sym, sym_hash);
        // One validation for every source's ticks (a previous close alone is judged as a price).
        if (const parse_result r = check_tick(has_px ? px : prev, sz, e);
            r.status == frame_status::rejected) {
            return r;
        }
        if (has_prev && has_px && e.kind == core::value_kind::price && prev <= 0) {
            return parse_result::reject(reject_reason::non_positive, "prev_close: not above zero");
        }
        if (whole != nullptr && whole->current_location().error() != simdjson::OUT_OF_BOUNDS) {
            return parse_result::reject(reject_reason::malformed, "trailing content after JSON");
        }
        if (has_prev) {
            out.emplace_back(exch_ts, recv_ts, prev, 0.0, seq, e.id, venue,
                             core::tick_kind::reference, std::uint8_t{0});
        }
        if (has_px) {
            // The generic protocol's seq counts an instrument's ticks (in its seq_space, 0 unless
            // said): a jump is a gap, unless seq_contiguous is false.
            const auto flags = seq == 0
                                   ? std::uint8_t{0}
                                   : static_cast<std::uint8_t>(
                                         seq_space | (seq_contiguous ? core::k_seq_contiguous : 0));
            out.emplace_back(exch_ts, recv_ts, px, sz, seq, e.id, venue, kind, flags);
        }
        return parse_result::of(frame_status::ticks);
    }

    parse_result parse(const char* data, std::size_t len, std::size_t capacity, core::nanos recv_ts,
                       std::vector<core::tick>& out) {
        if (len > max_frame) {
            return parse_result::reject(reject_reason::oversize, "frame larger than the limit");
        }
        if (is_blank(data, len)) return parse_result::of(frame_status::ignored);
        const std::size_t start = out.size();
        od::document doc;
        if (parser.iterate(data, len, capacity).get(doc) != simdjson::SUCCESS) {
            return parse_result::reject(reject_reason::malformed, "not valid JSON");
        }
        od::json_type type{};
        if (doc.type().get(type) != simdjson::SUCCESS) {
            return parse_result::reject(reject_reason::malformed, "not valid JSON");
        }
        if (type == od::json_type::object) {
            // The common case returns the object's result as it is built, in the caller's
            // slot: assigning it to a local first cost two store-forwarding stalls per frame.
            od::object obj;
            if (doc.get_object().get(obj) != simdjson::SUCCESS) {
                return parse_result::reject(reject_reason::malformed, "not valid JSON");
            }
            return object(obj, recv_ts, out, &doc);
        }
        parse_result r = parse_result::of(frame_status::ticks);
        if (type == od::json_type::array) {
            od::array arr;
            if (doc.get_array().get(arr) != simdjson::SUCCESS) {
                r = parse_result::reject(reject_reason::malformed, "not valid JSON");
            } else {
                for (auto er : arr) {
                    od::value el;
                    od::object obj;
                    if (er.get(el) != simdjson::SUCCESS ||
                        el.get_object().get(obj) != simdjson::SUCCESS) {
                        r = parse_result::reject(reject_reason::malformed,
                                                 "batch element is not an object");
                        break;
                    }
                    r = object(obj, recv_ts, out, nullptr);
                    if (r.status == frame_status::rejected) break;
                }
                if (r.status != frame_status::rejected && out.size() == start) {
                    r = parse_result::of(frame_status::ignored); // empty batch
                }
            }
        } else {
            r = parse_result::reject(reject_reason::malformed, "expected an object or an array");
        }
        if (r.status != frame_status::rejected &&
            doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
            r = parse_result::reject(reject_reason::malformed, "trailing content after JSON");
        }
        if (r.status == frame_status::rejected) out.resize(start);
        return r;
    }
};

generic_parser::generic_parser(core::symbol_cache& symbols, std::size_t max_frame)
    : p_(std::make_unique<impl>(symbols, max_frame)) {}
generic_parser::~generic_parser() = default;

parse_result generic_parser::parse(const char* data, std::size_t len, std::size_t capacity,
                                   core::nanos recv_ts, std::vector<core::tick>& out) {
    return p_->parse(data, len, capacity, recv_ts, out);
}

namespace detail {
namespace {

std::vector<std::string> subscribe_generic(const subscription& s) {
    return {R"({"op":"subscribe","symbols":)" + json_list(s.symbols) + "}"};
}

} // namespace

const venue_info k_generic_info{venue::generic,
                                "generic",
                                "the generic tick protocol (docs/formats.md)",
                                keepalive_kind::ws_ping,
                                {},
                                25 * core::k_ns_per_s,
                                0,
                                &subscribe_generic};

} // namespace detail
} // namespace seismo::feeds
