// Progress of `checkpointlab run` on stderr: a step that takes over a second gets one line,
// redrawn in place at most ten times a second, saying which step, phase and block it is in and
// how far it is (memory events seen against the prediction's count for the same step), then,
// while the same step is timed again, which repeat runs. Only on
// a terminal: with --quiet, or with stderr redirected to a file or a pipe, nothing is printed,
// so logs and scripts see the one-line errors alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "ckpt/session.h"

namespace cli {

class ProgressLine : public ckpt::EventSink {
public:
    // `out` null: silent. `expected_events`: the prediction's event count for a step (0: unknown).
    // A step shorter than `quiet_for` prints nothing; the line is redrawn at most every `redraw`.
    ProgressLine(std::FILE* out, int steps, int blocks, int64_t expected_events,
                 std::chrono::milliseconds quiet_for = std::chrono::seconds(1),
                 std::chrono::milliseconds redraw = std::chrono::milliseconds(100));
    ~ProgressLine() override { end_step(); }
    // stderr when it is a terminal and not quiet, else null.
    static std::FILE* stream_for(bool quiet);

    void begin_step(int step);
    void end_step();  // clears the line
    void on_memory(const ckpt::MemoryEvent& e) override;
    void on_repeat(int repeat, int repeats) override;
    bool shown() const { return ever_shown_; }

private:
    using Clock = std::chrono::steady_clock;
    std::FILE* out_;
    int steps_, blocks_;
    int64_t expected_;
    std::chrono::milliseconds quiet_for_, redraw_;
    int step_ = 0;
    int64_t events_ = 0;
    Clock::time_point start_, drawn_;
    bool on_screen_ = false, ever_shown_ = false;
};

}  // namespace cli
