// The line reader (plain, gzip or zstd by magic bytes) on arbitrary file contents: lines are
// within the limit and the bytes consumed never go backwards.
#include "engine/journal/line_reader.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unistd.h>

using namespace seismo::journal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string path = [] {
        const char* tmp = std::getenv("TMPDIR");
        return std::string(tmp != nullptr ? tmp : "/tmp") + "/seismo_fuzz_lines_" +
               std::to_string(::getpid());
    }();
    if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
        std::fwrite(data, 1, size, f);
        std::fclose(f);
    }
    constexpr std::size_t k_max = 4096;
    try {
        line_reader r(path, k_max);
        line_reader::line l;
        std::uint64_t consumed = 0;
        while (r.next(l)) {
            if (l.text.size() > k_max) std::abort();
            if (r.bytes() < consumed) std::abort();
            consumed = r.bytes();
        }
    } catch (const std::runtime_error&) {
        // a damaged compressed stream: reported with the file's name
    }
    return 0;
}
