#include "engine/core/json_writer.hpp"

#include "engine/core/time.hpp"

namespace seismo::core {
namespace {

constexpr char k_hex[] = "0123456789abcdef";

void escape_byte(std::string& out, unsigned char c) {
    out += "\\u00";
    out += k_hex[c >> 4];
    out += k_hex[c & 15];
}

/// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
std::size_t utf8_len(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
    }
    return n;
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            std::size_t j = i + 1;
            while (j < s.size()) {
                const auto d = static_cast<unsigned char>(s[j]);
                if (d < 0x20 || d >= 0x80 || d == '"' || d == '\\') break;
                ++j;
            }
            out.append(s.data() + i, j - i);
            i = j;
            continue;
        }
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c >= 0x80) {
                if (const std::size_t n = utf8_len(s, i); n != 0) {
                    out.append(s.data() + i, n);
                    i += n;
                    continue;
                }
            }
            escape_byte(out, c);
        }
        ++i;
    }
    out += '"';
}

void append_json_time(std::string& out, nanos t) {
    char buf[k_rfc3339_len];
    format_rfc3339(t, buf);
    out += '"';
    out.append(buf, k_rfc3339_len);
    out += '"';
}

} // namespace seismo::core
