// Opening a hostile report: 250 MiB files shaped to make a reader slow or large (issue 27: junk
// under an ignored key once took 6-7.7 GB and a minute), each read by parse_recorded_run in a
// process of its own so that its peak resident memory is its own. Prints, per shape, the time,
// the resident memory once the text is made (the text, as the window holds it), the peak while
// reading it, that peak as a multiple of the file's size, and the one-line answer. The last
// shape is the largest report the reader accepts: 250 MiB of consistent events. The promise (README, "Open run"): refused within the caps
// in seconds and under 1 GB; a report that opens costs time linear in its size and memory of a
// few times it. Not run by CTest (timings on a shared machine are not assertions).
//
//   bench_report [MiB]      (default 250)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "ckpt/printable.h"
#include "ckpt/recorded_run.h"
#include "ckpt/session.h"
#include "ckpt/writers.h"

namespace {

double rss_mib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

// A real report of the tutorial MLP, cut open before its closing brace so fields can follow.
std::string real_report() {
    auto spec = ckpt::load_model_spec(CKPT_SOURCE_DIR "/resources/presets/tutorial_mlp.json");
    auto session = ckpt::Session::create(*spec);
    (*session)->step();
    return ckpt::report_to_json((*session)->step(), *spec);
}

// The report with `fill(text, bytes)` appended under "junk", a key the reader ignores, to
// `total` bytes.
std::string with_junk(const std::string& report, size_t total, const std::function<void(std::string&, size_t)>& fill) {
    std::string t = report.substr(0, report.rfind('}'));
    t.reserve(total + 64);  // built once: the text's own memory is the file's size
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    t += ",\n  \"junk\": ";
    fill(t, total - 4);
    t += "\n}\n";
    return t;
}

// The real report with pairs of 64-byte scratch buffers taken and given back at the step's end
// appended to its events until the file is full: `consistent`, with event_count saying so (a
// report that opens: the largest the reader accepts), or not (refused at the first row past it).
std::string with_rows(const std::string& report, size_t total, bool consistent) {
    const ckpt::Result<ckpt::RecordedRun> run = ckpt::parse_recorded_run(report);
    const ckpt::StepReport& r = run->report;
    const int64_t end = r.events.back().live_total;
    const std::string up = "[" + std::to_string(r.step_ns) + ",64,\"temporary\",-1,-1,\"optimizer\"," + std::to_string(end + 64) + "]";
    const std::string down = "[" + std::to_string(r.step_ns) + ",-64,\"temporary\",-1,-1,\"optimizer\"," + std::to_string(end) + "]";
    const std::string pair = ",\n    " + up + ",\n    " + down;
    const size_t cut = report.rfind("\n  ],\n  \"spans\"");
    const size_t pairs = (total - report.size()) / pair.size();
    std::string t;
    t.reserve(total + 64);
    const std::string count = "\"event_count\": " + std::to_string(r.events.size());
    const std::string head = report.substr(0, cut);
    const size_t at = head.find(count);
    t += head.substr(0, at);
    t += "\"event_count\": " + std::to_string(consistent ? r.events.size() + 2 * pairs : r.events.size());
    t += head.substr(at + count.size());
    for (size_t i = 0; i < pairs; ++i) t += pair;
    t += report.substr(cut);
    return t;
}

struct Shape {
    const char* name;
    std::function<std::string(const std::string& report, size_t bytes)> make;
};

std::vector<Shape> shapes() {
    return {
        {"numbers under an ignored key", [](const std::string& r, size_t n) {
             return with_junk(r, n, [](std::string& t, size_t end) {
                 t += "[0";
                 while (t.size() + 2 < end) t += ",0";
                 t += "]";
             });
         }},
        {"small arrays under an ignored key", [](const std::string& r, size_t n) {
             return with_junk(r, n, [](std::string& t, size_t end) {
                 t += "[[]";
                 while (t.size() + 3 < end) t += ",[]";
                 t += "]";
             });
         }},
        {"keys under an ignored key", [](const std::string& r, size_t n) {
             return with_junk(r, n, [](std::string& t, size_t end) {
                 t += "{\"k0\":0";
                 for (size_t i = 1; t.size() + 24 < end; ++i) t += ",\"k" + std::to_string(i) + "\":0";
                 t += "}";
             });
         }},
        {"one long string", [](const std::string& r, size_t n) {
             return with_junk(r, n, [](std::string& t, size_t end) {
                 t += '"';
                 t.append(end - t.size() - 1, 'x');
                 t += '"';
             });
         }},
        {"whitespace (opens)", [](const std::string& r, size_t n) {
             return with_junk(r, n, [](std::string& t, size_t end) {
                 t += "0";
                 t.append(end - t.size(), ' ');
             });
         }},
        {"event rows past event_count", [](const std::string& r, size_t n) { return with_rows(r, n, false); }},
        {"event rows, consistent (opens)", [](const std::string& r, size_t n) { return with_rows(r, n, true); }},
    };
}

}  // namespace

int main(int argc, char** argv) {
    const size_t mib = argc > 1 ? size_t(std::atol(argv[1])) : 250;
    const size_t bytes = mib << 20;
    const std::string report = real_report();
    std::printf("bench_report: %zu MiB reports; a real one (tutorial MLP) is %zu bytes\n", mib, report.size());
    std::printf("%-34s %7s %8s %8s %6s  %s\n", "shape", "seconds", "RSS MiB", "peak MiB", "x file", "answer");
    std::printf("%-34s %7s %8s %8s %6s\n", "", "", "(text)", "(read)", "(peak)");
    for (const Shape& s : shapes()) {
        std::fflush(stdout);
        const pid_t child = fork();
        if (child == 0) {
            std::string text = s.make(report, bytes);
            const double before = rss_mib();  // the text, and what making it took
            const auto t0 = std::chrono::steady_clock::now();
            const ckpt::Result<ckpt::RecordedRun> r = ckpt::parse_recorded_run(text);
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const double peak = rss_mib();
            const std::string answer = r ? "opened, " + std::to_string(r->report.events.size()) + " events"
                                         : ckpt::printable(r.error().message, 90);
            std::printf("%-34s %7.2f %8.0f %8.0f %6.2f  %s\n", s.name, secs, before, peak,
                        peak / (double(text.size()) / (1 << 20)), answer.c_str());
            std::fflush(stdout);
            std::_Exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::printf("%-38s failed (status %d)\n", s.name, status);
    }
    return 0;
}
