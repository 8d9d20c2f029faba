// The config loader from bytes: a config, or a config_error naming the file (and a line when
// there is one) — no other exception, no crash.
#include "engine/config.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        (void)seismo::engine::load_config_string(
            std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml");
    } catch (const seismo::engine::config_error& e) {
        if (e.file() != "fuzz.toml") std::abort();
    }
    return 0;
}
