// nats_dump: prints every message a JetStream stream holds, in stream order, one per line:
// "<stream seq>\t<Nats-Msg-Id>\t<subject>\t<payload>" (or the payload alone with --data).
// A test's independent view of what seismo stored (tests/e2e/nats_test.py).
//
// usage: nats_dump SERVER_URL STREAM [--data]
#include "engine/publish/nats.hpp"

#include <cstring>
#include <iostream>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: nats_dump SERVER_URL STREAM [--data]\n";
        return 2;
    }
    const bool data_only = argc > 3 && std::strcmp(argv[3], "--data") == 0;
    try {
        seismo::publish::nats_endpoint e;
        e.servers = {argv[1]};
        e.name = "nats_dump";
        seismo::publish::nats_connection c(e, 5'000'000'000);
        const auto st = seismo::publish::stream_info(c, argv[2]);
        seismo::publish::stored_message m;
        for (std::uint64_t s = st.first_seq; s != 0 && s <= st.last_seq; ++s) {
            if (!seismo::publish::stored_at(c, argv[2], s, m)) continue;
            if (data_only)
                std::cout << m.data << '\n';
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
