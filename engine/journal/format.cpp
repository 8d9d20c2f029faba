#include "engine/journal/format.hpp"

#include <algorithm>
#include <cstdio>
#include <dirent.h>

namespace seismo::journal {

std::string segment_name(std::size_t n) {
    char b[32];
    std::snprintf(b, sizeof b, "seismo-%06zu.sjl", n);
    return b;
}

bool list_segments(const std::string& dir, std::vector<segment_file>& out) {
    out.clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return false;
    while (const dirent* e = ::readdir(d)) {
        unsigned n = 0;
        if (std::sscanf(e->d_name, "seismo-%06u.sjl", &n) == 1)
            out.push_back({n, dir + "/" + e->d_name});
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [](const segment_file& a, const segment_file& b) {
        return a.number != b.number ? a.number < b.number : a.path < b.path;
    });
    return true;
}

} // namespace seismo::journal
