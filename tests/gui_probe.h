// How much work the GUI thread does in one go: a 5 ms timer on the GUI thread notes, at every
// tick, the CPU time the thread itself used since the tick before (CLOCK_THREAD_CPUTIME_ID) and
// the wall-clock time. The CPU figure is the work done in one event-loop turn, whatever else runs
// on the machine: tst_gui_safety asserts on it. The wall-clock stall also counts the time the
// thread waited for a core, so it depends on the machine's load: bench_gui_stall reports it.
#pragma once

#include <time.h>

#include <QElapsedTimer>
#include <QTimer>
#include <algorithm>

class GuiProbe : public QObject {
public:
    GuiProbe() {
        timer_.setInterval(5);
        connect(&timer_, &QTimer::timeout, this, [this] {
            const qint64 cpu = threadCpuNs();
            worstCpuNs_ = std::max(worstCpuNs_, cpu - lastCpuNs_);
            lastCpuNs_ = cpu;
            worstWallMs_ = std::max(worstWallMs_, clock_.restart());
            ++ticks_;
        });
    }
    void start() {
        worstWallMs_ = 0;
        worstCpuNs_ = 0;
        ticks_ = 0;
        clock_.start();
        lastCpuNs_ = threadCpuNs();
        timer_.start();
    }
    void stop() {
        timer_.stop();
        worstWallMs_ = std::max(worstWallMs_, clock_.elapsed());
        worstCpuNs_ = std::max(worstCpuNs_, threadCpuNs() - lastCpuNs_);
    }
    // The most CPU time the GUI thread spent between two turns of its event loop.
    double worstCpuMs() const { return double(worstCpuNs_) / 1e6; }
    // The longest the timer went without running, in wall-clock time.
    qint64 worstWallMs() const { return worstWallMs_; }
    int ticks() const { return ticks_; }

    static qint64 threadCpuNs() {
        timespec t{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return qint64(t.tv_sec) * 1000000000 + t.tv_nsec;
    }

private:
    QTimer timer_;
    QElapsedTimer clock_;
    qint64 worstWallMs_ = 0, worstCpuNs_ = 0, lastCpuNs_ = 0;
    int ticks_ = 0;
};
