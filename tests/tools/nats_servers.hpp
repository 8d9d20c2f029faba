#pragma once
// Real nats-server processes for tests and benchmarks (tests/engine/publish/nats_test.cpp,
// bench/nats_bench.cpp): `n` nodes with JetStream on free loopback ports, each its own store
// directory, routed into one cluster when n > 1; killed, and their stores removed, at the end.
// Header-only: the benchmarks use it without the test libraries.

#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace seismo::test_support {

/// A TCP port free on 127.0.0.1 right now.
inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    (void)::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

class nats_servers {
  public:
    /// Starts `nodes` servers; started() says whether nats-server could be run at all.
    explicit nats_servers(int nodes, const std::string& tag = "seismo-nats") {
        dir_ = std::filesystem::temp_directory_path() / (tag + "-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        std::vector<int> client, route;
        for (int i = 0; i < nodes; ++i) {
            client.push_back(free_port());
            route.push_back(free_port());
        }
        for (int i = 0; i < nodes; ++i) {
            const auto conf = dir_ / ("n" + std::to_string(i) + ".conf");
            std::ofstream f(conf);
            f << "server_name: n" << i << "\nlisten: 127.0.0.1:" << client[i]
              << "\njetstream { store_dir: \"" << (dir_ / ("n" + std::to_string(i))).string()
              << "\" }\n";
            if (nodes > 1) {
                f << "cluster { name: seismo\n listen: 127.0.0.1:" << route[i] << "\n routes: [";
                for (int j = 0, n = 0; j < nodes; ++j) {
                    if (j != i) f << (n++ ? ", " : "") << "nats-route://127.0.0.1:" << route[j];
                }
                f << "]\n}\n";
            }
            f.close();
            const std::string c = conf.string();
            const char* argv[] = {"nats-server", "-c", c.c_str(), nullptr};
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
            posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
            pid_t pid = -1;
            if (posix_spawnp(&pid, "nats-server", &fa, nullptr, const_cast<char**>(argv),
                             environ) != 0) {
                pid = -1;
            }
            posix_spawn_file_actions_destroy(&fa);
            pids_.push_back(pid);
            urls_.push_back("nats://127.0.0.1:" + std::to_string(client[i]));
        }
    }
    ~nats_servers() {
        for (const pid_t p : pids_) {
            if (p <= 0) continue;
            ::kill(p, SIGCONT); // a test may have stopped it
            ::kill(p, SIGKILL);
            ::waitpid(p, nullptr, 0);
        }
        std::filesystem::remove_all(dir_);
    }
    nats_servers(const nats_servers&) = delete;
    nats_servers& operator=(const nats_servers&) = delete;

    [[nodiscard]] bool started() const noexcept {
        for (const pid_t p : pids_) {
            if (p <= 0) return false;
        }
        return !pids_.empty();
    }
    [[nodiscard]] const std::vector<std::string>& urls() const noexcept { return urls_; }
    [[nodiscard]] pid_t pid(std::size_t node) const { return pids_.at(node); }

  private:
    std::filesystem::path dir_;
    std::vector<pid_t> pids_;
    std::vector<std::string> urls_;
};

} // namespace seismo::test_support
