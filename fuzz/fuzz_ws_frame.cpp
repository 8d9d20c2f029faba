// The server's WebSocket frame parser on arbitrary bytes, fed in pieces whose sizes the first
// bytes choose: never throws or crashes, a message never exceeds the limit, a text message is
// UTF-8, and once failed it stays failed with a close code RFC 6455 allows.
#include "engine/publish/ws_codec.hpp"

#include <simdjson.h>

#include <cstdint>
#include <cstdlib>

using namespace seismo::publish::ws;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t k_max = 4096;
    frame_parser p(k_max);
    const std::size_t step = size == 0 ? 1 : 1 + data[0] % 64;
    frame_parser::message m;
    for (std::size_t at = 0; at < size; at += step) {
        const std::size_t n = std::min(step, size - at);
        p.feed(reinterpret_cast<const char*>(data) + at, n);
        while (p.next(m)) {
            if (m.payload.size() > k_max) std::abort();
            if (m.op == opcode::text &&
                !simdjson::validate_utf8(m.payload.data(), m.payload.size()))
                std::abort();
        }
        if (p.failure() != frame_parser::error::none) {
            const auto code = p.close_code();
            if (code != 1002 && code != 1007 && code != 1009) std::abort();
            if (p.next(m)) std::abort();
            break;
        }
    }
    return 0;
}
