// Tardis.dev inputs: raw capture lines (`<ISO time> <message>`, the message through the venue
// its first byte picks) and CSV lines (through one parser, header first), never crash.
#include "engine/core/instrument_registry.hpp"
#include "engine/core/time.hpp"
#include "feeds/tardis.hpp"
#include "feeds/venue.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace seismo;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static core::instrument_registry reg(1u << 16);
    static std::vector<core::tick> out;
    const std::string_view in(reinterpret_cast<const char*>(data), size);
#ifdef SEISMO_FUZZ_CSV
    static feeds::tardis_csv_parser csv(reg, "");
    std::size_t at = 0;
    while (at <= in.size()) {
        const std::size_t nl = std::min(in.find('\n', at), in.size());
        out.clear();
        const feeds::parse_result r = csv.parse(in.substr(at, nl - at), out);
        if (r.status == feeds::frame_status::rejected && !out.empty()) std::abort();
        for (const auto& t : out) {
            if (t.exch_ts < 0 || t.recv_ts < 0) std::abort();
        }
        at = nl + 1;
    }
#else
    static const std::array<feeds::venue, 5> venues{feeds::venue::binance, feeds::venue::coinbase,
                                                    feeds::venue::kraken, feeds::venue::okx,
                                                    feeds::venue::bybit};
    static std::vector<std::unique_ptr<core::symbol_cache>> caches;
    static std::vector<std::unique_ptr<feeds::venue_parser>> parsers;
    if (parsers.empty()) {
        for (const auto v : venues) {
            caches.push_back(
                std::make_unique<core::symbol_cache>(reg, reg.venue(feeds::to_string(v))));
            parsers.push_back(std::make_unique<feeds::venue_parser>(v, *caches.back()));
        }
    }
    if (size == 0) return 0;
    feeds::venue_parser& p = *parsers[data[0] % venues.size()];
    feeds::tardis_line line;
    if (!feeds::split_tardis_line(in.substr(1), line)) return 0;
    if (line.recv < 0) std::abort();
    std::string frame(line.frame);
    frame.append(feeds::k_padding, ' ');
    out.clear();
    (void)p.parse(frame.data(), line.frame.size(), frame.size(), line.recv, out);
#endif
    return 0;
}
