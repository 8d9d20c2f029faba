// A subscriber's op messages: parsed or refused with a code and a message, never a crash.
#include "engine/publish/client_op.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace seismo::publish;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static client_op_parser parser;
    client_op op;
    client_error err;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (!parser.parse(text, op, err) && (err.code.empty() || err.message.empty())) std::abort();
    return 0;
}
