#pragma once
// The parse floor the throughput benchmarks compare against: a simdjson On-Demand loop that
// finds every line of a frame set and reads the fields seismo reads (sym, px or prev_close,
// ts, sz, seq), nothing else.

#include "bench/frames.hpp"

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace seismo::bench {

/// The floor: find every line and read sym, px (or prev_close), ts, sz, seq with On-Demand.
inline double floor_pass(const frame_set& fs, std::uint64_t& checksum) {
    using clock_type = std::chrono::steady_clock;
    namespace od = simdjson::ondemand;
    od::parser parser;
    const char* data = fs.buffer.data();
    const auto t0 = clock_type::now();
    std::size_t pos = 0;
    while (pos < fs.size) {
        const char* nl = static_cast<const char*>(std::memchr(data + pos, '\n', fs.size - pos));
        const std::size_t len = static_cast<std::size_t>(nl - (data + pos));
        od::document doc;
        if (parser.iterate(data + pos, len, fs.buffer.size() - pos).get(doc) == simdjson::SUCCESS) {
            od::object obj;
            if (doc.get_object().get(obj) == simdjson::SUCCESS) {
                for (auto fr : obj) {
                    if (fr.error() != simdjson::SUCCESS) break;
                    od::field& f = fr.value_unsafe();
                    const od::raw_json_string key = f.key();
                    od::value& v = f.value();
                    if (key.unsafe_is_equal("sym")) {
                        std::string_view s;
                        if (v.get_string().get(s) == simdjson::SUCCESS) checksum += s.size();
                    } else if (key.unsafe_is_equal("px") || key.unsafe_is_equal("prev_close") ||
                               key.unsafe_is_equal("sz")) {
                        double d = 0;
                        if (v.get_double().get(d) == simdjson::SUCCESS)
                            checksum += static_cast<std::uint64_t>(d);
                    } else if (key.unsafe_is_equal("ts")) {
                        std::int64_t i = 0;
                        if (v.get_int64().get(i) == simdjson::SUCCESS)
                            checksum += static_cast<std::uint64_t>(i);
                    } else if (key.unsafe_is_equal("seq")) {
                        std::uint64_t u = 0;
                        if (v.get_uint64().get(u) == simdjson::SUCCESS) checksum += u;
                    }
                }
            }
        }
        pos += len + 1;
    }
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

} // namespace seismo::bench
