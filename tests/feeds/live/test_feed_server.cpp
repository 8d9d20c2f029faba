#include "tests/feeds/live/test_feed_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <deque>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace seismo::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
constexpr auto k_tuple = net::as_tuple(net::use_awaitable);

std::string bio_string(BIO* b) {
    char* p = nullptr;
    const long n = BIO_get_mem_data(b, &p);
    return std::string(p, static_cast<std::size_t>(n));
}

} // namespace

tls_identity make_tls_identity(const std::string& host) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    if (key == nullptr) throw std::runtime_error("EVP_EC_gen failed");
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    const std::string san = (host == "127.0.0.1" ? "IP:" : "DNS:") + host;
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_EXTENSION* bc =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, bc, -1);
    X509_EXTENSION_free(bc);
    X509_sign(x, key, EVP_sha256());
    tls_identity id;
    BIO* cb = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(cb, x);
    id.cert_pem = bio_string(cb);
    BIO_free(cb);
    BIO* kb = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(kb, key, nullptr, nullptr, 0, nullptr, nullptr);
    id.key_pem = bio_string(kb);
    BIO_free(kb);
    X509_free(x);
    EVP_PKEY_free(key);
    static std::atomic<int> counter{0};
    id.ca_file = "/tmp/seismo_test_ca_" + std::to_string(::getpid()) + "_" +
                 std::to_string(counter++) + ".pem";
    std::ofstream(id.ca_file) << id.cert_pem;
    return id;
}

struct test_feed_server::impl {
    net::io_context io;
    std::unique_ptr<net::ssl::context> tls;
    tcp::acceptor acceptor{io};
    std::vector<connection_plan> plans;
    std::thread thread;
    mutable std::mutex mu;
    std::vector<std::string> received;
    std::vector<std::chrono::steady_clock::time_point> accepted;
    int count = 0;
    std::atomic<std::uint64_t> broadcast_n{0};
    std::atomic<std::size_t> n_subs{0};

    // Broadcast subscribers: a send function per open, subscribed connection.
    struct subscriber {
        int id;
        std::function<net::awaitable<bool>(const std::string&)> send;
    };
    std::vector<subscriber> subs;

    void record(std::string s) {
        std::lock_guard lock(mu);
        received.push_back(std::move(s));
    }

    /// What a connection's reader coroutine shares with its writer: it outlives either.
    struct conn_state {
        explicit conn_state(const net::any_io_executor& ex) : first(ex) {
            first.expires_at(net::steady_timer::time_point::max());
        }
        bool first_received = false;
        net::steady_timer first;
    };

    // Coroutines take what they use by value: a lambda's captures would die with the lambda.
    template <class Stream>
    net::awaitable<void> read_client(std::shared_ptr<Stream> ws, std::shared_ptr<conn_state> st) {
        beast::flat_buffer buf;
        for (;;) {
            auto [ec, n] = co_await ws->async_read(buf, k_tuple);
            if (ec) break;
            record(beast::buffers_to_string(buf.data()));
            buf.consume(n);
            st->first_received = true;
            st->first.cancel();
        }
        st->first.cancel();
    }

    template <class Stream>
    static net::awaitable<bool> send_frame(std::shared_ptr<Stream> ws, std::string f) {
        auto [ec, n] = co_await ws->async_write(net::buffer(f), k_tuple);
        (void)n;
        co_return !ec;
    }

    template <class Stream>
    net::awaitable<void> serve_ws(std::shared_ptr<Stream> ws, connection_plan plan, int id) {
        // Record everything the client sends, on its own coroutine.
        auto st = std::make_shared<conn_state>(co_await net::this_coro::executor);
        net::co_spawn(co_await net::this_coro::executor, read_client(ws, st), net::detached);
        if (plan.wait_for_subscribe && !st->first_received) {
            co_await st->first.async_wait(k_tuple);
        }
        ws->text(true);
        net::steady_timer t(co_await net::this_coro::executor);
        for (const auto& f : plan.frames) {
            auto [ec, n] = co_await ws->async_write(net::buffer(f), k_tuple);
            if (ec) co_return;
            if (plan.spacing.count() > 0) {
                t.expires_after(plan.spacing);
                co_await t.async_wait(k_tuple);
            }
        }
        switch (plan.then) {
        case connection_plan::after::close_abruptly:
            beast::get_lowest_layer(*ws).close();
            co_return;
        case connection_plan::after::close_gracefully:
            co_await ws->async_close(
                websocket::close_reason(websocket::close_code::going_away, "maintenance"), k_tuple);
            co_return;
        case connection_plan::after::stall:
            break;
        }
        // Stall: stay open (answering pings via the reader) and take broadcast frames.
        subs.push_back({id, [ws](const std::string& f) { return send_frame(ws, f); }});
        n_subs = subs.size();
        // Live until the client goes: the reader ends and the socket closes.
        for (;;) {
            t.expires_after(std::chrono::milliseconds(50));
            co_await t.async_wait(k_tuple);
            if (!beast::get_lowest_layer(*ws).socket().is_open()) break;
            bool still = false;
            for (auto& s : subs)
                still = still || s.id == id;
            if (!still) break;
        }
        std::erase_if(subs, [id](const subscriber& s) { return s.id == id; });
        n_subs = subs.size();
    }

    net::awaitable<void> handle(tcp::socket sock, connection_plan plan, int id) {
        if (plan.what == connection_plan::action::refuse) {
            beast::error_code ec;
            sock.close(ec);
            co_return;
        }
        beast::tcp_stream stream(std::move(sock));
        if (tls) {
            auto ws = std::make_shared<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>(
                std::move(stream), *tls);
            auto [hec] =
                co_await ws->next_layer().async_handshake(net::ssl::stream_base::server, k_tuple);
            if (hec) co_return;
            if (plan.what == connection_plan::action::http_429) co_return; // TLS 429 not needed
            auto [aec] = co_await ws->async_accept(k_tuple);
            if (aec) co_return;
            co_await serve_ws(ws, plan, id);
            co_return;
        }
        if (plan.what == connection_plan::action::http_429) {
            beast::flat_buffer buf;
            beast::http::request<beast::http::string_body> req;
            auto [rec, n] = co_await beast::http::async_read(stream, buf, req, k_tuple);
            if (rec) co_return;
            (void)n;
            beast::http::response<beast::http::string_body> res{
                beast::http::status::too_many_requests, req.version()};
            res.set(beast::http::field::retry_after, "0");
            res.body() = "slow down";
            res.prepare_payload();
            auto [wec, m] = co_await beast::http::async_write(stream, res, k_tuple);
            (void)wec;
            (void)m;
            stream.close();
            co_return;
        }
        auto ws = std::make_shared<websocket::stream<beast::tcp_stream>>(std::move(stream));
        auto [aec] = co_await ws->async_accept(k_tuple);
        if (aec) co_return;
        co_await serve_ws(ws, plan, id);
    }

    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(k_tuple);
            if (ec) co_return;
            connection_plan plan;
            int id = 0;
            {
                std::lock_guard lock(mu);
                id = count++;
                accepted.push_back(std::chrono::steady_clock::now());
                plan = plans[std::min<std::size_t>(static_cast<std::size_t>(id), plans.size() - 1)];
            }
            beast::error_code nec;
            sock.set_option(tcp::no_delay(true), nec);
            net::co_spawn(io, handle(std::move(sock), std::move(plan), id), net::detached);
        }
    }

    // Broadcast frames go through one sender, so no connection ever has two writes at once.
    std::deque<std::string> outbox;
    bool sending = false;

    void enqueue_broadcast(std::string f) {
        outbox.push_back(std::move(f));
        if (!sending) {
            sending = true;
            net::co_spawn(io, send_outbox(), net::detached);
        }
    }

    net::awaitable<void> send_outbox() {
        while (!outbox.empty()) {
            const std::string f = std::move(outbox.front());
            outbox.pop_front();
            auto copy = subs;
            for (auto& s : copy)
                (void)co_await s.send(f);
            n_subs = subs.size();
        }
        sending = false;
    }

    net::awaitable<void> broadcast(std::function<std::string(std::uint64_t)> frame_of,
                                   std::chrono::milliseconds every) {
        net::steady_timer t(io);
        for (std::uint64_t n = 1;; ++n) {
            t.expires_after(every);
            auto [ec] = co_await t.async_wait(k_tuple);
            if (ec) co_return;
            enqueue_broadcast(frame_of(n));
            broadcast_n = n;
        }
    }
};

test_feed_server::test_feed_server(std::vector<connection_plan> plans, const tls_identity* tls)
    : p_(std::make_unique<impl>()) {
    if (plans.empty()) plans.emplace_back();
    p_->plans = std::move(plans);
    if (tls != nullptr) {
        p_->tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
        p_->tls->use_certificate_chain(net::buffer(tls->cert_pem));
        p_->tls->use_private_key(net::buffer(tls->key_pem), net::ssl::context::pem);
    }
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
    p_->acceptor.open(ep.protocol());
    p_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    p_->acceptor.bind(ep);
    p_->acceptor.listen();
    net::co_spawn(p_->io, p_->accept_loop(), net::detached);
    p_->thread = std::thread([this] { p_->io.run(); });
}

test_feed_server::~test_feed_server() {
    p_->io.stop();
    if (p_->thread.joinable()) p_->thread.join();
}

std::uint16_t test_feed_server::port() const {
    return p_->acceptor.local_endpoint().port();
}

std::string test_feed_server::url(const std::string& host, const std::string& path) const {
    return std::string(p_->tls ? "wss://" : "ws://") + host + ":" + std::to_string(port()) + path;
}

std::vector<std::string> test_feed_server::received() const {
    std::lock_guard lock(p_->mu);
    return p_->received;
}

int test_feed_server::connections() const {
    std::lock_guard lock(p_->mu);
    return p_->count;
}

std::vector<std::chrono::steady_clock::time_point> test_feed_server::accept_times() const {
    std::lock_guard lock(p_->mu);
    return p_->accepted;
}

void test_feed_server::start_broadcast(std::function<std::string(std::uint64_t)> frame_of,
                                       std::chrono::milliseconds every) {
    net::co_spawn(p_->io, p_->broadcast(std::move(frame_of), every), net::detached);
}

std::uint64_t test_feed_server::broadcast_count() const {
    return p_->broadcast_n.load();
}

void test_feed_server::broadcast_now(std::string frame) {
    auto* p = p_.get();
    net::post(p_->io, [p, f = std::move(frame)]() mutable { p->enqueue_broadcast(std::move(f)); });
}

std::size_t test_feed_server::subscribers() const {
    return p_->n_subs.load();
}

} // namespace seismo::testing
