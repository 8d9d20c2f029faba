// The journal reader on a damaged segment: the input is written as a journal directory's one
// segment and read to its end. Every record it returns lies within what was read; damage is
// reported, never a crash, a throw past the constructor, or an allocation beyond a block.
#include "engine/journal/format.hpp"
#include "engine/journal/reader.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace seismo::journal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string dir = [] {
        const char* tmp = std::getenv("TMPDIR");
        std::string d = std::string(tmp != nullptr ? tmp : "/tmp") + "/seismo_fuzz_journal_" +
                        std::to_string(::getpid());
        ::mkdir(d.c_str(), 0700);
        return d;
    }();
    const std::string seg = dir + "/" + segment_name(1);
    if (std::FILE* f = std::fopen(seg.c_str(), "wb")) {
        std::fwrite(data, 1, size, f);
        std::fclose(f);
    }
    try {
        reader r(dir);
        std::size_t problems = 0;
        r.on_problem([&](const problem& p) {
            if (p.what.empty()) std::abort();
            ++problems;
            return true;
        });
        record rec;
        std::uint64_t bytes = 0;
        while (r.next(rec)) {
            bytes += rec.payload.size();
            if (rec.payload.size() > k_max_block_bytes) std::abort();
        }
        if (bytes > size * 64 + 64)
            std::abort(); // records come from the input (zstd at most ~64x here)
        (void)problems;
    } catch (const std::runtime_error&) {
        // not a journal at all: refused at open, with the reason
    }
    return 0;
}
