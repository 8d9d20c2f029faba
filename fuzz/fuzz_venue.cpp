// A venue adapter on arbitrary frames (SEISMO_FUZZ_VENUE names which): never crashes, and
// the outcome agrees with what it gave — ticks only with ticks, none kept from any other
// outcome, every tick's price finite and a rejection always with a reason.
#include "engine/core/instrument_registry.hpp"
#include "feeds/venue.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace seismo;

namespace {
feeds::venue venue() {
    feeds::venue v{};
    if (!feeds::parse_venue(SEISMO_FUZZ_VENUE, v)) std::abort();
    return v;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static core::instrument_registry reg(1u << 16);
    static core::symbol_cache syms(reg, reg.venue(SEISMO_FUZZ_VENUE));
    static feeds::venue_parser parser(venue(), syms, 1u << 20);
    static std::vector<core::tick> out;
    std::string frame(reinterpret_cast<const char*>(data), size);
    frame.append(feeds::k_padding, ' ');
    out.clear();
    const feeds::parse_result r = parser.parse(frame.data(), size, frame.size(), 1, out);
    if (r.status == feeds::frame_status::ticks && out.empty()) std::abort();
    if (r.status != feeds::frame_status::ticks && !out.empty()) std::abort();
    if (r.status == feeds::frame_status::rejected && r.detail.empty()) std::abort();
    for (const auto& t : out) {
        if (!std::isfinite(t.px) || t.exch_ts < 0) std::abort();
    }
    return 0;
}
