// Progress of long steps on stderr (cli_progress.h).
#include "cli_progress.h"

#include <unistd.h>

#include <algorithm>
#include <string>

namespace cli {

ProgressLine::ProgressLine(std::FILE* out, int steps, int blocks, int64_t expected_events,
                           std::chrono::milliseconds quiet_for, std::chrono::milliseconds redraw)
    : out_(out), steps_(steps), blocks_(blocks), expected_(expected_events), quiet_for_(quiet_for), redraw_(redraw) {}

std::FILE* ProgressLine::stream_for(bool quiet) { return !quiet && ::isatty(STDERR_FILENO) ? stderr : nullptr; }

void ProgressLine::begin_step(int step) {
    end_step();
    step_ = step;
    events_ = 0;
    start_ = drawn_ = Clock::now();
}

void ProgressLine::end_step() {
    if (!on_screen_) return;
    std::fputs("\r\033[K", out_);  // the line goes; the step's own summary follows
    std::fflush(out_);
    on_screen_ = false;
}

void ProgressLine::on_memory(const ckpt::MemoryEvent& e) {
    ++events_;
    if (!out_) return;
    const Clock::time_point now = Clock::now();
    if (now - start_ < quiet_for_ || (on_screen_ && now - drawn_ < redraw_)) return;
    drawn_ = now;
    std::string line = "step " + std::to_string(step_);
    if (steps_ > 1) line += "/" + std::to_string(steps_);
    line += ": " + std::string(ckpt::phase_name(e.tag.phase));
    if (e.tag.block >= 0 && blocks_ > 0) line += ", block " + std::to_string(e.tag.block + 1) + "/" + std::to_string(blocks_);
    if (expected_ > 0) {
        const int64_t pct = std::min<int64_t>(99, events_ * 100 / expected_);
        line += "  " + std::to_string(pct) + "%";
    }
    const double s = std::chrono::duration<double>(now - start_).count();
    char t[32];
    std::snprintf(t, sizeof t, "  %.1f s", s);
    line += t;
    std::fprintf(out_, "\r\033[K%s", line.c_str());
    std::fflush(out_);
    on_screen_ = ever_shown_ = true;
}

void ProgressLine::on_repeat(int repeat, int repeats) {
    if (!out_) return;
    const Clock::time_point now = Clock::now();
    if (now - start_ < quiet_for_) return;
    std::string line = "step " + std::to_string(step_);
    if (steps_ > 1) line += "/" + std::to_string(steps_);
    line += ": timing it again, repeat " + std::to_string(repeat) + " of " + std::to_string(repeats);
    char t[32];
    std::snprintf(t, sizeof t, "  %.1f s", std::chrono::duration<double>(now - start_).count());
    std::fprintf(out_, "\r\033[K%s%s", line.c_str(), t);
    std::fflush(out_);
    drawn_ = now;
    on_screen_ = ever_shown_ = true;
}

}  // namespace cli
