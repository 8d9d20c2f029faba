// Times and durations from outside: parse_rfc3339 gives a time in 1970…2262 or refuses; what
// it gives formats and parses back to itself; parse_duration and parse_bytes refuse rather
// than wrap.
#include "engine/core/time.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace seismo::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view s(reinterpret_cast<const char*>(data), size);
    nanos t = 0;
    if (parse_rfc3339(s, t)) {
        if (t < 0) std::abort();
        char buf[k_rfc3339_len];
        format_rfc3339(t, buf);
        nanos back = -1;
        if (!parse_rfc3339(std::string_view(buf, k_rfc3339_len), back) || back != t) std::abort();
    }
    nanos d = 0;
    if (parse_duration(s, d) && d < 0) std::abort();
    return 0;
}
