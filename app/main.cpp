// seismo: one binary, subcommands (DESIGN §9). Exit codes: 0 success, 2 usage or config error,
// 1 failure.
#include "engine/config.hpp"
#include "engine/core/version.hpp"
#include "engine/journal/output.hpp"
#include "engine/journal/reader.hpp"
#include "engine/journal_replay.hpp"
#include "engine/publish/server.hpp"
#include "engine/replay.hpp"
#include "engine/runtime.hpp"
#include "engine/sim.hpp"
#include "feeds/venue.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <pthread.h>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

using namespace seismo;

constexpr int k_exit_ok = 0;
constexpr int k_exit_failure = 1;
constexpr int k_exit_usage = 2;

engine::config load(const std::string& path) {
    return path.empty() ? engine::load_playbook() : engine::load_config_file(path);
}

int cmd_validate(const std::string& path) {
    const engine::config cfg = engine::load_config_file(path);
    std::cout << engine::describe(cfg);
    std::cout << "ok\n";
    return k_exit_ok;
}

struct replay_args {
    engine::replay_options opts;
    std::string config;
    std::string speed = "max";
    std::string on_corruption = "skip";
    bool no_progress = false;
};

int cmd_inspect(const std::string& path, const std::string& frames_out) {
    const engine::journal_inspection j = engine::inspect_journal(path, frames_out, std::cerr);
    (frames_out == "-" ? std::cerr : std::cout) << engine::inspection_json(j);
    return j.problems == 0 ? k_exit_ok : k_exit_failure;
}

int cmd_replay(replay_args a) {
    engine::replay_options& opts = a.opts;
    double speed = 0;
    if (a.speed != "max") {
        try {
            speed = std::stod(a.speed);
        } catch (const std::exception&) {
            speed = -1;
        }
        if (!(speed > 0))
            throw std::invalid_argument("--speed must be 'max' or a positive number, not '" +
                                        a.speed + "'");
    }
    const bool journal =
        opts.format == "journal" || (opts.format == "auto" && opts.inputs.size() == 1 &&
                                     journal::reader::is_journal(opts.inputs[0]));
    if (journal) {
        if (opts.inputs.size() != 1)
            throw std::invalid_argument("replay one journal (a directory or a segment) at a time");
        std::optional<engine::config> cfg;
        if (!a.config.empty()) cfg = engine::load_config_file(a.config);
        engine::journal_replay_options jo;
        jo.base = opts;
        if (!jo.base.deterministic && cfg) jo.base.deterministic = cfg->engine.deterministic;
        jo.speed = speed;
        jo.stop_on_corruption = a.on_corruption == "stop";
        jo.progress = !a.no_progress;
        const engine::journal_replay_result r =
            engine::run_journal_replay(opts.inputs[0], cfg ? &*cfg : nullptr, jo);
        std::cerr << engine::summary_text(r.stats);
        if (r.problems != 0) {
            std::cerr << "seismo: journal: " << r.problems << " problems, " << r.dropped_bytes
                      << " bytes dropped, " << r.lost_ticks
                      << " consumed ticks lost with their frames\n";
        }
        if (r.stopped) {
            std::cerr << "seismo: replay stopped at damage: " << r.first_problem << "\n";
            return k_exit_failure;
        }
        return k_exit_ok;
    }
    if (speed > 0)
        throw std::invalid_argument(
            "--speed applies to journals; line inputs replay at full speed");
    const engine::config cfg = load(a.config);
    if (!opts.deterministic) opts.deterministic = cfg.engine.deterministic;
    const engine::replay_stats st = engine::run_replay(cfg, opts);
    std::cerr << engine::summary_text(st);
    // Nothing applied is nothing done: say so in the exit code too (the warnings say why).
    if (st.applied + st.references == 0) {
        std::cerr << "seismo: replay applied no tick: failing\n";
        return k_exit_failure;
    }
    return k_exit_ok;
}

int cmd_sim(const engine::sim_options& o, const std::string& out) {
    const std::string text = engine::simulate(o);
    journal::output_file f(out);
    f.write(text);
    f.close();
    return k_exit_ok;
}

struct run_args {
    std::string config;
    std::string out;
    std::string dead_letter;
    std::string listen;
    std::uint64_t seed = 1;
    double speed = 60;
    bool quiet = false;
    bool deterministic = false;
    bool demo = false;
    bool demo_options = false; ///< --speed or --seed given
    std::string record;
    bool feed_mode = false; ///< `seismo feed`
};

/// The live engine until SIGINT or SIGTERM, which drain the queues and flush the outputs. With
/// `feed_mode` (`seismo feed`), the feeds only, every tick published to the [nats] tick stream.
int cmd_run(const run_args& a) {
    const engine::config cfg = load(a.config);
    if (a.feed_mode) {
        if (!cfg.nats)
            throw std::invalid_argument(cfg.file +
                                        ": `seismo feed` publishes to NATS: add a [nats] "
                                        "section with its servers");
        std::size_t sources = 0;
        for (const auto& f : cfg.feeds)
            sources += f.venue == "nats" ? 0 : 1;
        if (sources == 0)
            throw std::invalid_argument(cfg.file + ": `seismo feed` needs at least one [[feed]] "
                                                   "that is not venue \"nats\"");
        for (const auto& f : cfg.feeds) {
            if (f.venue == "nats")
                throw std::invalid_argument(cfg.file + ": [[feed]] '" + f.name +
                                            "' reads NATS: `seismo feed` publishes to it; run "
                                            "that feed in an engine (`seismo run`)");
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    // A process started in the background by a shell without job control inherits SIGINT
    // ignored, and an ignored signal is discarded before sigwait can take it: restore the
    // default so that SIGINT stops seismo however it was started.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGHUP, SIG_DFL);
    pthread_sigmask(SIG_BLOCK, &set, nullptr); // every thread started below inherits the mask
    engine::run_options o;
    o.out = a.out;
    o.print = !a.quiet;
    o.dead_letter = a.dead_letter;
    o.deterministic = a.deterministic || cfg.engine.deterministic;
    if (!a.listen.empty()) {
        publish::listen_address where;
        std::string why;
        if (!publish::parse_listen(a.listen, where, why))
            throw std::invalid_argument("--listen " + why);
        if (const std::string bad = engine::insecure_listener(cfg.server, a.listen); !bad.empty())
            throw std::invalid_argument("--listen: " + bad);
        o.listen = a.listen;
    }
    // With no feeds (the embedded playbook has none) the bundled demo day is the feed.
    o.demo = !a.feed_mode && (a.demo || cfg.feeds.empty());
    o.feed_mode = a.feed_mode;
    if (a.demo_options && !o.demo) {
        throw std::invalid_argument("--speed and --seed pace the bundled demo day, and " +
                                    a.config +
                                    " has feeds: add --demo to play the demo beside them, or "
                                    "leave --speed and --seed out");
    }
    o.demo_speed = a.speed;
    o.demo_seed = a.seed;
    o.record_dir = a.record;
    engine::runtime rt(cfg, o);
    rt.start();
    const std::string host = o.listen.value_or(cfg.server.listen)
                                 .substr(0, o.listen.value_or(cfg.server.listen).rfind(':'));
    if (a.feed_mode) {
        std::cerr << "seismo: feed: " << cfg.feeds.size() << " feeds from " << a.config
                  << ", every tick to NATS stream " << cfg.nats->tick_stream << "\n";
    } else {
        std::cerr << "seismo: " << cfg.signals.size() << " signals from "
                  << (a.config.empty() ? "the embedded playbook" : a.config) << ", "
                  << cfg.feeds.size() + (o.demo ? 1 : 0) << " feeds"
                  << (o.demo
                          ? " (the bundled demo day, " + std::to_string(static_cast<int>(a.speed)) +
                                "x real time, looping)"
                          : "")
                  << "\nseismo: dashboard http://"
                  << (host == "0.0.0.0" || host.empty() ? "127.0.0.1" : host) << ":" << rt.port()
                  << "/  stream ws://" << (host == "0.0.0.0" || host.empty() ? "127.0.0.1" : host)
                  << ":" << rt.port() << "/v1/stream  metrics /metrics  (Ctrl-C to stop)\n";
    }
    if (a.feed_mode) {
        std::cerr << "seismo: metrics http://"
                  << (host == "0.0.0.0" || host.empty() ? "127.0.0.1" : host) << ":" << rt.port()
                  << "/metrics  (Ctrl-C to stop)\n";
    }
    // SIGHUP reloads the config (DESIGN §9; the outcome goes to the log) and reopens the
    // audit log and the dead-letter file (log rotation); SIGINT and SIGTERM stop.
    std::atomic<bool> done{false};
    std::thread waiter([&] {
        for (;;) {
            int sig = 0;
            sigwait(&set, &sig);
            if (sig == SIGHUP && !done.load()) {
                std::cerr << "seismo: SIGHUP: reloading the config, reopening the output files\n";
                rt.reopen_outputs();
                rt.reload(std::nullopt, nullptr); // the control thread logs the outcome
                continue;
            }
            rt.request_stop();
            return;
        }
    });
    rt.wait();
    done.store(true);
    pthread_kill(waiter.native_handle(), SIGTERM); // wake the waiter if we stopped on our own
    waiter.join();
    const engine::run_figures f = rt.figures();
    if (a.feed_mode) {
        std::cerr << "seismo: feed stopped: " << f.frames << " frames, " << f.forwarded
                  << " ticks to NATS, " << f.rejected << " rejected\n";
        return k_exit_ok;
    }
    std::cerr << "seismo: stopped: " << f.frames << " frames, " << f.applied << " ticks applied, "
              << f.rejected << " rejected, " << f.triggers << " triggers, " << f.deliveries
              << " deliveries to subscribers\n";
    for (const auto& w : rt.warnings())
        std::cerr << "seismo: warning: " << w << "\n";
    return k_exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"seismo - a low-latency streaming risk-signal engine"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "seismo " + std::string(core::version()) + " (" +
                                          std::string(core::revision()) + ")");

    // run
    run_args ra;
    auto* run = app.add_subcommand(
        "run",
        "Run the live engine until SIGINT/SIGTERM: the config's [[feed]]s (with no feeds, "
        "or no --config, the bundled demo day looping at --speed), signals, triggers as JSON "
        "lines, and the dashboard, WS pub-sub (/v1/stream) and /metrics on [server].listen. "
        "SIGHUP (or POST /v1/reload) hot-reloads the config without stopping");
    run->add_option("--config", ra.config, "Config file (default: the embedded playbook)");
    run->add_option("--listen", ra.listen,
                    "HOST:PORT for HTTP and WebSocket (overrides [server].listen)");
    auto* speed_opt = run->add_option("--speed", ra.speed,
                                      "Demo pacing: event time per real time (the demo day only: "
                                      "refused with a config that has feeds, unless --demo)")
                          ->check(CLI::Range(0.001, 1e9))
                          ->capture_default_str();
    run->add_flag("--demo", ra.demo,
                  "Add the bundled demo day as a feed even when the config has feeds");
    run->add_option("--record", ra.record,
                    "Record every raw frame and the consumption order to this journal "
                    "directory (replay it with `seismo replay DIR`)");
    run->add_option("--out", ra.out, "Append every trigger to FILE as a JSON line (the audit log)");
    run->add_option("--dead-letter", ra.dead_letter, "Append refused input, with reasons, to FILE");
    run->add_flag("--quiet", ra.quiet, "Do not print triggers on standard output");
    run->add_flag("--deterministic", ra.deterministic, "Leave wall-clock fields out of triggers");
    auto* seed_opt =
        run->add_option("--seed", ra.seed, "Seed of the demo day (the demo day only, as --speed)")
            ->capture_default_str();

    // feed
    run_args fa;
    fa.feed_mode = true;
    fa.quiet = true;
    auto* feed = app.add_subcommand(
        "feed",
        "Run only the config's [[feed]]s and publish every tick they deliver to the [nats] tick "
        "stream (seismo.tick.<feed>.<instrument>), for engines on other machines to read with "
        "venue = \"nats\" feeds; /metrics and /readyz on [server].listen. Until SIGINT/SIGTERM");
    feed->add_option("--config", fa.config, "Config file with [nats] and [[feed]]s")->required();
    feed->add_option("--listen", fa.listen,
                     "HOST:PORT for /metrics, /readyz, /v1/state (overrides [server].listen)");
    feed->add_option("--dead-letter", fa.dead_letter,
                     "Append refused input, with reasons, to FILE");

    // replay
    replay_args rpa;
    engine::replay_options& ro = rpa.opts;
    auto* replay = app.add_subcommand(
        "replay", "Replay recorded input through the signals: a journal (a `run --record` "
                  "directory or segment: the live run's triggers again), generic-tick JSON lines, "
                  "Tardis raw captures (<ISO time> <frame>, parsed by --venue's adapter) or Tardis "
                  "trades CSV; plain, .gz or .zst. Prints triggers as JSON lines");
    replay
        ->add_option("input", ro.inputs,
                     "Journal directory or segment, or input files ('-' for standard input)")
        ->required();
    replay->add_option(
        "--config", rpa.config,
        "Config file (default: for a journal, the config it recorded; else the embedded playbook)");
    replay->add_option("--format", ro.format, "Input format")
        ->check(CLI::IsMember({"auto", "journal", "jsonl", "tardis", "tardis-csv"}))
        ->capture_default_str();
    replay
        ->add_option("--speed", rpa.speed,
                     "Journal pacing: 'max' or a multiple of real time (1, 10, 1000...); "
                     "the output is the same at every speed")
        ->capture_default_str();
    replay
        ->add_option(
            "--on-corruption", rpa.on_corruption,
            "A damaged journal record: 'skip' it (reported) and carry on, or 'stop' (exit 1)")
        ->check(CLI::IsMember({"skip", "stop"}))
        ->capture_default_str();
    replay->add_flag("--no-progress", rpa.no_progress,
                     "No progress bar (or periodic progress lines) on stderr");
    replay->add_option("--plot", ro.plot,
                       "Write a self-contained HTML plot of the replay (prices, signals, "
                       "levels, triggers)");
    std::vector<std::string> venue_names;
    for (const auto* v : feeds::venues())
        venue_names.emplace_back(v->name);
    replay
        ->add_option("--venue", ro.venue,
                     "Venue whose adapter parses Tardis frames (" + feeds::venue_names() +
                         "); for tardis-csv it overrides the exchange column")
        ->check(CLI::IsMember(venue_names));
    replay->add_option("--feed", ro.feed,
                       "The feed the input plays as: its name in dead letters and feed-health "
                       "triggers, and, when it names a [[feed]] of the config, that feed's venue "
                       "and frame limit (default: each input is a feed named by its path)");
    replay->add_option("--out", ro.out, "Triggers output file ('-' = standard output)")
        ->capture_default_str();
    replay->add_option("--ticks", ro.ticks,
                       "Write every applied normalized tick as generic-protocol JSON lines");
    replay->add_option("--summary", ro.summary, "Write the run's figures as JSON");
    replay->add_option("--dead-letter", ro.dead_letter,
                       "Append every refused frame or tick, with its reason, as JSON lines");
    replay->add_flag("--deterministic", ro.deterministic,
                     "Leave wall-clock fields out of triggers (byte-identical output run to run)");
    replay
        ->add_option("--threads", ro.threads,
                     "1: every stage on one thread; 2: parse on one, signals and outputs on "
                     "another, the same bytes out (files of frames; journals and standard "
                     "input are replayed on one); 0: 2 when the process may run on two CPUs "
                     "or more and its cgroup's CPU limit, if any, allows two")
        ->capture_default_str()
        ->check(CLI::Range(0u, 2u));

    // validate
    std::string validate_path;
    auto* validate = app.add_subcommand("validate", "Check a config file and print the signal DAG");
    validate->add_option("config", validate_path, "Config file")->required();

    // inspect
    std::string inspect_path, inspect_frames;
    auto* inspect = app.add_subcommand(
        "inspect",
        "Check a journal (directory or segment) end to end and print what it holds as JSON: "
        "feeds, frames, consumed ticks, health events, time span, damage. Exit 1 when any "
        "damage was found (each reported on stderr)");
    inspect->add_option("journal", inspect_path, "Journal directory or segment")->required();
    inspect->add_option(
        "--frames", inspect_frames,
        "Also write every recorded frame as a JSON line {recv_ts, feed, frame_no, frame} "
        "('-' = standard output; the summary then goes to stderr)");

    // sim
    engine::sim_options so;
    std::string sim_out;
    auto* sim = app.add_subcommand(
        "sim",
        "Generate a deterministic scenario as generic-tick JSON lines (same seed, same bytes)");
    sim->add_option("--scenario", so.scenario, "Scenario")
        ->check(CLI::IsMember(engine::sim_scenarios()))
        ->capture_default_str();
    sim->add_option("--seed", so.seed, "Random seed")->capture_default_str();
    sim->add_option("--stocks", so.stocks, "A-shares in the universe")->capture_default_str();
    sim->add_option("--stock-ticks", so.stock_ticks, "Ticks per A-share")->capture_default_str();
    sim->add_option("--bad-rate", so.bad_rate,
                    "Bad lines (malformed, NaN, negative, late, duplicate, oversize...) injected "
                    "per good line")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    sim->add_option("--out", sim_out, "Output file ('-' = standard output)")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? k_exit_ok : k_exit_usage;
    }

    try {
        ra.demo_options = speed_opt->count() != 0 || seed_opt->count() != 0;
        if (*run) return cmd_run(ra);
        if (*feed) return cmd_run(fa);
        if (*replay) return cmd_replay(rpa);
        if (*validate) return cmd_validate(validate_path);
        if (*inspect) return cmd_inspect(inspect_path, inspect_frames);
        if (*sim) return cmd_sim(so, sim_out);
    } catch (const seismo::engine::config_error& e) {
        std::cerr << "seismo: " << e.what() << "\n";
        return k_exit_usage;
    } catch (const std::invalid_argument& e) {
        std::cerr << "seismo: " << e.what() << "\n";
        return k_exit_usage;
    } catch (const std::exception& e) {
        std::cerr << "seismo: " << e.what() << "\n";
        return k_exit_failure;
    }
    return k_exit_usage;
}
