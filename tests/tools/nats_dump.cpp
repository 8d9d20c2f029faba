// nats_dump: prints every message a JetStream stream holds, in stream order, one per line:
// "<stream seq>\t<Nats-Msg-Id>\t<subject>\t<payload>", or with --capture
// "<RFC 3339 stream time> <payload>" (a capture `seismo replay` reads with those receive times).
// A test's independent view of what seismo stored (tests/e2e/nats_test.py).
//
// usage: nats_dump SERVER_URL STREAM [--capture]
#include "engine/publish/nats.hpp"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>

namespace {
std::string rfc3339(std::int64_t ns) {
    const std::time_t secs = ns / 1'000'000'000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(ns % 1'000'000'000));
    return buf;
}
} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: nats_dump SERVER_URL STREAM [--capture]\n";
        return 2;
    }
    const bool capture = argc > 3 && std::strcmp(argv[3], "--capture") == 0;
    try {
        seismo::publish::nats_endpoint e;
        e.servers = {argv[1]};
        e.name = "nats_dump";
        seismo::publish::nats_connection c(e, 5'000'000'000);
        const auto st = seismo::publish::stream_info(c, argv[2]);
        seismo::publish::stored_message m;
        for (std::uint64_t s = st.first_seq; s != 0 && s <= st.last_seq; ++s) {
            if (!seismo::publish::stored_at(c, argv[2], s, m)) continue;
            if (capture)
                std::cout << rfc3339(m.time) << ' ' << m.data << '\n';
            else
                std::cout << m.seq << '\t' << m.id << '\t' << m.subject << '\t' << m.data << '\n';
        }
        std::cout.flush();
        std::cerr << "nats_dump: " << st.messages << " messages in " << argv[2] << "\n";
        return 0;
    } catch (const std::exception& ex) {
        std::cerr << "nats_dump: " << ex.what() << "\n";
        return 1;
    }
}
