// Where a step's memory events and spans go: kept for the report and handed to a live sink.
// Their times are Clock stamps (backend.h) until the step ends. On a device whose stamps are
// known only once the device has passed them (CUDA events), the sink receives each item as
// soon as its stamp has resolved, in order, checked without waiting whenever a new item
// arrives, and the rest at the end of the step; on the CPU that is at once.
#pragma once

#include <deque>
#include <vector>

#include "backends/backend.h"
#include "ckpt/report.h"
#include "ckpt/session.h"

namespace ckpt {

class Recorder {
public:
    explicit Recorder(Clock& clock) : clock_(clock) {}

    void begin(bool keep, EventSink* sink);
    bool active() const { return keep_ || sink_; }
    int64_t stamp() { return clock_.stamp(); }
    void memory(const MemoryEvent& e) {  // e.time_ns is a stamp; inline: a step has thousands
        if (keep_) events_.push_back(e);
        if (sink_) to_sink(e);
    }
    void span(const Span& s);           // start_ns and end_ns are stamps
    // Resolves every stamp to ns since the step started and delivers what the sink has not had
    // yet; moves the kept events and spans out.
    void finish(std::vector<MemoryEvent>* events, std::vector<Span>* spans);

private:
    struct Item {
        bool is_span;
        MemoryEvent event;
        Span span;
    };
    void to_sink(const MemoryEvent& e);
    void deliver(Item& item);
    void flush(bool wait);

    Clock& clock_;
    bool keep_ = false;
    EventSink* sink_ = nullptr;
    std::vector<MemoryEvent> events_;
    std::vector<Span> spans_;
    std::deque<Item> pending_;  // for the sink, oldest first
    size_t last_events_ = 0, last_spans_ = 0;
};

}  // namespace ckpt
